"""Hostile requests against every route of one running daemon: never a 5xx.

Hypothesis sends malformed, oversized, wrongly authenticated and wrongly
typed requests to POST /webhooks/bigcommerce, to /healthz, /readyz and
/metrics with any method, to every /api/v1 route of the OpenAPI document
(fuzzing its query and path parameters and the Authorization header), to
random paths with random methods, and raw bytes that are not HTTP at all.
The normal suite sends 10,000 requests; `pytest --full` sends 50,000.
Hypothesis runs derandomized, so a run repeats exactly.

No request may be answered 5xx, and no webhook sent here may leave an
inbox row: none is a well-formed delivery with the right secret, except
scopes the daemon ignores. At the end /readyz still answers 200.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import shutil
import socket
import string
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote, urlencode

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netterms_daemon.openapi import API_PREFIX, openapi_document
from netterms_daemon.webhook import HANDLED_SCOPES, WEBHOOK_PATH
from tests.conftest import make_shared_dir
from tests.support.processes import DaemonProcess, daemon_env
from tests.support.stack import SECRET, seeded_store, wait_for_hooks

TOKEN = "fuzz-admin-token-0123456789abcdef"
SECRET_HEADER = "X-Netterms-Secret"
MAX_BODY_BYTES = 256 * 1024
STORE_HASH = "sim123"
NORMAL_EXAMPLES = 10_000
FULL_EXAMPLES = 50_000
# Anything the daemon's envelope check takes as a scope at all.
ANY_SCOPE = re.compile(r"^store/[A-Za-z0-9_/]+$")
_REQUIRED = ("scope", "hash", "created_at", "producer", "data")
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE")


class Probe:
    """One request to send, and what answers it may get."""

    # Not a dataclass: hypothesis prints dataclasses field by field, and a
    # body can be megabytes.
    def __init__(
        self,
        kind: str,
        method: str = "GET",
        target: str = "/",
        headers: list[tuple[str, str | bytes]] | None = None,
        body: bytes | None = None,
        chunked: bool = False,
        raw: bytes | None = None,
        expected: frozenset[int] | None = None,
        may_drop: bool = False,
    ) -> None:
        self.kind = kind
        self.method = method
        self.target = target
        self.headers = headers or []
        self.body = body
        self.chunked = chunked
        self.raw = raw
        self.expected = expected
        self.may_drop = may_drop

    def __repr__(self) -> str:
        # Bodies and targets can be megabytes; a failure report needs the start.
        def cut(value: object) -> str:
            text = repr(value)
            return text if len(text) <= 300 else f"{text[:300]}... ({len(text)})"

        headers = [(name, cut(value)) for name, value in self.headers]
        return (
            f"Probe({self.kind} {self.method} {cut(self.target)} headers={headers}"
            f" chunked={self.chunked} body={cut(self.body)} raw={cut(self.raw)})"
        )


def _valid_envelope(scope: str, resource_id: int) -> dict[str, Any]:
    data: dict[str, Any] = {"type": scope.split("/")[1], "id": resource_id}
    if scope == "store/order/statusUpdated":
        data["status"] = {"previous_status_id": 11, "new_status_id": 7}
    return {
        "scope": scope,
        "store_id": "1000001",
        "data": data,
        "hash": "f" * 40,
        "created_at": 1_700_000_000,
        "producer": f"stores/{STORE_HASH}",
    }


_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
_json_any = st.recursive(
    _json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=8), inner, max_size=4),
    ),
    max_leaves=12,
)
_handled_scopes = st.sampled_from(
    [
        "store/order/created",
        "store/order/updated",
        "store/order/statusUpdated",
        "store/order/archived",
        "store/customer/created",
        "store/customer/updated",
    ]
)
_bad_scope_text = st.text(max_size=40).filter(lambda s: not ANY_SCOPE.match(s))
_ignored_scope = st.from_regex(r"\Astore/[a-z0-9_]{1,12}(/[A-Za-z]{1,12})?\Z").filter(
    lambda s: not HANDLED_SCOPES.match(s)
)
_not_int = _json_any.filter(lambda v: isinstance(v, bool) or not isinstance(v, int))
_not_str = _json_any.filter(lambda v: not isinstance(v, str))
_not_dict = _json_any.filter(lambda v: not isinstance(v, dict))


@st.composite
def _defect(draw: st.DrawFn) -> tuple[str, Any]:
    """One change that makes an envelope invalid, whatever else is in it."""
    return draw(
        st.one_of(
            st.tuples(st.just("scope"), st.one_of(_not_str, _bad_scope_text)),
            st.tuples(
                st.just("hash"),
                st.one_of(_not_str, st.just(""), st.text(min_size=129, max_size=300)),
            ),
            st.tuples(
                st.just("created_at"),
                st.one_of(_not_int, st.integers(max_value=-1)),
            ),
            st.tuples(
                st.just("producer"),
                _json_any.filter(lambda v: v != f"stores/{STORE_HASH}"),
            ),
            st.tuples(st.just("data"), _not_dict),
            st.tuples(
                st.just("data.id"),
                st.one_of(_not_int, st.integers(max_value=0)),
            ),
            st.tuples(st.just("status"), _json_any),
            st.tuples(st.just("missing"), st.sampled_from(_REQUIRED)),
        )
    )


def _apply(envelope: dict[str, Any], name: str, value: Any) -> None:
    if name == "missing":
        envelope.pop(value, None)
    elif name == "data.id":
        data = envelope.get("data")
        envelope["data"] = {**(data if isinstance(data, dict) else {}), "id": value}
        if not HANDLED_SCOPES.match(str(envelope.get("scope"))):
            envelope["scope"] = "store/order/created"
    elif name == "status":
        # Only a defect when it is not the two whole numbers the scope needs.
        good = isinstance(value, dict) and all(
            isinstance(value.get(k), int) and not isinstance(value.get(k), bool)
            for k in ("previous_status_id", "new_status_id")
        )
        data = envelope.get("data")
        data = data if isinstance(data, dict) else {"id": 1}
        envelope["data"] = {**data, "status": None if good else value}
        envelope["scope"] = "store/order/statusUpdated"
    else:
        envelope[name] = value


@st.composite
def _broken_envelope(draw: st.DrawFn) -> bytes:
    """A JSON envelope with one to three defects, and maybe extra keys."""
    envelope = _valid_envelope(
        draw(_handled_scopes), draw(st.integers(min_value=1, max_value=10**6))
    )
    envelope.update(draw(st.dictionaries(st.sampled_from(["x", "y"]), _json_any)))
    # Each defect leaves the envelope invalid, and none undoes an earlier one
    # without leaving its own.
    for name, value in draw(st.lists(_defect(), min_size=1, max_size=3)):
        _apply(envelope, name, value)
    return json.dumps(envelope).encode()


@st.composite
def _ignored_envelope(draw: st.DrawFn) -> bytes:
    """Well formed, rightly signed, but a scope the daemon does not handle."""
    envelope = _valid_envelope("store/order/created", 1)
    envelope["scope"] = draw(_ignored_scope)
    envelope["data"] = draw(st.dictionaries(st.text(max_size=8), _json_any))
    return json.dumps(envelope).encode()


# JSON values Python's parser takes that Postgres' jsonb refuses, or that are
# not JSON at all: a NUL character, lone surrogates, NaN and the infinities,
# and numbers past the range of numeric.
_POISONS = (
    "NaN",
    "Infinity",
    "-Infinity",
    '"\\u0000"',
    '"a\\u0000b"',
    '"\\ud800"',
    '"\\udc00x"',
    "1e999999",
    "-1e999999",
)


@st.composite
def _poisoned_envelope(draw: st.DrawFn) -> bytes:
    """A valid delivery carrying one value that must not reach the inbox."""
    envelope = _valid_envelope(
        draw(_handled_scopes), draw(st.integers(min_value=1, max_value=10**6))
    )
    where = draw(st.sampled_from(["top", "data"]))
    (envelope if where == "top" else envelope["data"])["poison"] = "__POISON__"
    text = json.dumps(envelope).replace('"__POISON__"', draw(st.sampled_from(_POISONS)))
    return text.encode()


_garbage_body = st.one_of(
    st.binary(min_size=1, max_size=300),
    st.text(min_size=1, max_size=300).map(str.encode),
    _json_any.filter(lambda v: not isinstance(v, dict)).map(
        lambda v: json.dumps(v).encode()
    ),
    st.integers(min_value=1, max_value=400).map(lambda n: b"[" * n + b"]" * n),
    st.sampled_from([b"{", b"{not json", b"\xff\xfe{}", b"null", b'{"scope": 1']),
)


@st.composite
def _huge_body(draw: st.DrawFn) -> bytes:
    size = draw(st.integers(min_value=MAX_BODY_BYTES + 1, max_value=3 * MAX_BODY_BYTES))
    return draw(st.sampled_from([b"x", b"{", b" "])) * size


_content_types = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "application/json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=xyz",
            "application/json; charset=utf-16",
            "",
            "*/*",
        ]
    ),
    st.text(alphabet=string.printable.strip(), max_size=30),
)


@st.composite
def webhook_probes(draw: st.DrawFn) -> Probe:
    """POSTs to the webhook path: bad or missing secrets, bodies and types."""
    secret = draw(
        st.one_of(
            st.none(),
            st.just(SECRET),
            st.sampled_from(["", "wrong", SECRET[:-1], SECRET + "x", SECRET.upper()]),
            st.text(alphabet=string.printable.strip(), max_size=60),
        )
    )
    authentic = secret == SECRET
    header = draw(st.sampled_from([SECRET_HEADER, SECRET_HEADER.lower()]))
    kind = draw(
        st.sampled_from(["broken", "garbage", "huge", "ignored", "poisoned", "valid"])
    )
    if authentic and kind == "valid":
        kind = "broken"
    body = draw(
        {
            "broken": _broken_envelope(),
            "garbage": _garbage_body,
            "huge": _huge_body(),
            "ignored": _ignored_envelope(),
            "poisoned": _poisoned_envelope(),
            "valid": st.builds(
                lambda s, i: json.dumps(_valid_envelope(s, i)).encode(),
                _handled_scopes,
                st.integers(min_value=1, max_value=10**6),
            ),
        }[kind]
    )
    headers: list[tuple[str, str | bytes]] = []
    if secret is not None:
        headers.append((header, secret))
    content_type = draw(_content_types)
    if content_type is not None:
        headers.append(("Content-Type", content_type))

    chunked = draw(st.booleans())
    if not authentic:
        expected = frozenset({401})
    elif kind == "huge":
        expected = frozenset({413})
    elif kind == "ignored":
        expected = frozenset({200})
    else:
        expected = frozenset({400})
    return Probe(
        kind=f"webhook.{kind}",
        method="POST",
        target=WEBHOOK_PATH + draw(st.sampled_from(["", "?x=1"])),
        headers=headers,
        body=body,
        chunked=chunked,
        expected=expected,
        may_drop=kind == "huge",
    )


def _routes() -> list[tuple[str, list[dict[str, Any]]]]:
    return [
        (path, operation.get("parameters") or [])
        for path, operations in openapi_document()["paths"].items()
        for operation in operations.values()
    ]


def _number_texts(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    low = schema.get("minimum", 0)
    high = schema.get("maximum", 2**63 - 1)
    return st.one_of(
        st.integers(min_value=low, max_value=high).map(str),
        st.integers(max_value=low - 1).map(str),
        st.integers(min_value=high + 1, max_value=high * 10**6).map(str),
        st.integers(min_value=1, max_value=6000).map(lambda n: "9" * n),
        st.integers(min_value=1, max_value=50).map(lambda n: "0" * n + "1"),
        st.sampled_from(
            ["", "+5", " 5", "5_000", "1e3", "0x10", "\u0663", "\uff15", "NaN"]
        ),
        st.text(max_size=30),
    )


def _parameter_values(parameter: dict[str, Any]) -> st.SearchStrategy[str]:
    schema = parameter.get("schema", {})
    if "enum" in schema:
        return st.one_of(
            st.sampled_from(schema["enum"]),
            st.sampled_from([v.upper() for v in schema["enum"]]),
            st.text(max_size=50),
        )
    if schema.get("type") == "integer":
        return _number_texts(schema)
    return st.text(max_size=50)


_authorization = st.one_of(
    st.none(),
    st.just(f"Bearer {TOKEN}"),
    st.sampled_from(
        [
            f"bearer {TOKEN}",
            f"Bearer  {TOKEN} ",
            f"Basic {TOKEN}",
            f"Bearer {TOKEN[:-1]}",
            f"Bearer {TOKEN}x",
            "Bearer",
            "Bearer ",
            TOKEN,
            "",
        ]
    ),
    st.text(alphabet=string.printable.strip() + " ", max_size=80),
    st.binary(max_size=80)
    .filter(lambda b: b"\r" not in b and b"\n" not in b)
    .map(lambda b: b"Bearer " + b),
    st.integers(min_value=8200, max_value=20000).map(lambda n: "Bearer " + "a" * n),
)


def _query(pairs: list[tuple[str, str]], raw: str) -> str:
    text = urlencode(pairs)
    return f"?{text}{raw}" if text or raw else raw


@st.composite
def api_probes(draw: st.DrawFn) -> Probe:
    """Every /api/v1 route, with fuzzed parameters and Authorization."""
    path, parameters = draw(st.sampled_from(_routes()))
    if "{customer_id}" in path:
        spec = next(p for p in parameters if p["in"] == "path")
        raw_id = draw(_parameter_values(spec))
        path = path.replace("{customer_id}", quote(raw_id, safe=""))
    pairs: list[tuple[str, str]] = []
    for parameter in parameters:
        if parameter["in"] == "query" and draw(st.booleans()):
            name = parameter["name"]
            for _ in range(draw(st.integers(min_value=1, max_value=2))):
                pairs.append((name, draw(_parameter_values(parameter))))
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        pairs.append((draw(st.text(min_size=1, max_size=20)), draw(st.text())))
    raw = draw(st.sampled_from(["", "&", "&%zz", "&%ff=%fe", "&a", "&=1", "#x"]))
    headers: list[tuple[str, str | bytes]] = []
    authorization = draw(_authorization)
    if authorization is not None:
        value = authorization
        headers.append(("Authorization", value))
    method = draw(st.sampled_from(["GET", "GET", "GET", "HEAD", "POST", "DELETE"]))
    return Probe(
        kind="api",
        method=method,
        target=path + _query(pairs, raw),
        headers=headers,
        body=draw(st.one_of(st.none(), st.binary(max_size=100))),
    )


_token_method = st.text(
    alphabet=string.ascii_uppercase, min_size=1, max_size=10
).filter(lambda m: m not in ("CONNECT", "PRI"))


@st.composite
def other_probes(draw: st.DrawFn) -> Probe:
    """The health routes and /metrics with any method, and random paths."""
    path = draw(
        st.one_of(
            st.sampled_from(
                ["/healthz", "/readyz", "/metrics", "/", "/api", "/api/v1"]
            ),
            st.sampled_from([API_PREFIX + "/", WEBHOOK_PATH + "/x", "/webhooks"]),
            st.text(max_size=60).map(lambda t: "/" + quote(t, safe="/?&=%")),
            st.integers(min_value=8200, max_value=20000).map(lambda n: "/" + "a" * n),
            st.sampled_from(["/%zz", "/%00", "/..%2f..%2fetc/passwd", "//x", "/./x"]),
        )
    )
    query = draw(
        st.one_of(st.just(""), st.text(max_size=30).map(lambda t: "?" + quote(t)))
    )
    return Probe(
        kind="other",
        method=draw(st.one_of(st.sampled_from(METHODS), _token_method)),
        target=path + query,
        headers=draw(
            st.lists(
                st.tuples(
                    st.sampled_from(["Accept", "Content-Type", "X-Anything", "Range"]),
                    st.text(alphabet=string.printable.strip(), max_size=30),
                ),
                max_size=3,
            )
        ),
        body=draw(st.one_of(st.none(), st.binary(max_size=200))),
    )


@st.composite
def raw_probes(draw: st.DrawFn) -> Probe:
    """Bytes that are not a well-formed HTTP/1.1 request."""
    raw = draw(
        st.one_of(
            st.binary(min_size=1, max_size=200).map(lambda b: b + b"\r\n\r\n"),
            st.sampled_from(
                [
                    b"GET\r\n\r\n",
                    b"GET / HTTP/9.9\r\n\r\n",
                    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
                    b"POST /webhooks/bigcommerce HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                    b"POST /webhooks/bigcommerce HTTP/1.1\r\nHost: x\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\nzz\r\n\r\n",
                    b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n",
                    b"GET /healthz HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n",
                ]
            ),
        )
    )
    return Probe(kind="raw", raw=raw, may_drop=True)


probes = st.one_of(webhook_probes(), api_probes(), other_probes(), raw_probes())


class Sender:
    """A keep-alive connection to the daemon, opened again when it closes."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._connection: http.client.HTTPConnection | None = None
        self.sent = 0
        self.dropped = 0

    def send(self, probe: Probe) -> int | None:
        """The answer's status; None when the daemon closed without one."""
        self.sent += 1
        if probe.raw is not None:
            return self._send_raw(probe.raw)
        for attempt in range(2):
            try:
                return self._send(probe)
            except (ConnectionError, http.client.HTTPException):
                self._close()
                if attempt or probe.may_drop:
                    self.dropped += 1
                    if probe.may_drop:
                        return None
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close the connection."""
        self._close()

    def _send(self, probe: Probe) -> int:
        if self._connection is None:
            self._connection = http.client.HTTPConnection(
                "127.0.0.1", self._port, timeout=10
            )
        connection = self._connection
        connection.putrequest(probe.method, probe.target, skip_accept_encoding=True)
        for name, value in probe.headers:
            connection.putheader(name, value)
        if probe.body is not None and probe.chunked:
            connection.putheader("Transfer-Encoding", "chunked")
        elif probe.body is not None:
            connection.putheader("Content-Length", str(len(probe.body)))
        connection.endheaders()
        if probe.body is not None:
            connection.send(_chunked(probe.body) if probe.chunked else probe.body)

        response = connection.getresponse()
        response.read()
        if response.will_close:
            self._close()
        return response.status

    def _send_raw(self, raw: bytes) -> int | None:
        with socket.create_connection(("127.0.0.1", self._port), timeout=10) as sock:
            try:
                sock.sendall(raw)
                sock.shutdown(socket.SHUT_WR)
                answer = b""
                while b"\r\n" not in answer:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    answer += chunk
            except ConnectionError:
                answer = b""
        if not answer.startswith(b"HTTP/1."):
            self.dropped += 1
            return None
        return int(answer.split(b" ", 2)[1])

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _chunked(body: bytes) -> bytes:
    size = 64 * 1024
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


def fuzz(sender: Sender, examples: int) -> list[Probe]:
    """Run hypothesis; return the authenticated webhooks answered 200."""
    taken: list[Probe] = []

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.large_base_example,
        ],
    )
    @given(probes)
    def one_request(probe: Probe) -> None:
        status = sender.send(probe)

        if status is None:
            assert probe.may_drop, probe
            return
        assert status < 500, (status, probe)
        if probe.expected is not None:
            assert status in probe.expected, (status, probe)
        if probe.kind.startswith("webhook") and status == 200:
            taken.append(probe)

    one_request()
    return taken


async def _inbox_rows(database_url: str) -> int:
    connection = await asyncpg.connect(database_url)
    try:
        return int(await connection.fetchval("SELECT count(*) FROM inbox_events"))
    finally:
        await connection.close()


@pytest.mark.timeout(600)
async def test_fuzz_no_request_gets_a_5xx_or_stores_a_rejected_webhook(
    database_url: str, full: bool
) -> None:
    """10,000 hostile requests (50,000 with --full): no 5xx, no inbox row, ready."""
    workdir = make_shared_dir("netterms-reliability-")
    examples = FULL_EXAMPLES if full else NORMAL_EXAMPLES
    try:
        async with seeded_store(speed=60) as simulator:
            env = daemon_env(
                simulator, database_url, workdir, extra={"NETTERMS_API_TOKEN": TOKEN}
            )
            daemon = DaemonProcess(env, workdir).start()
            await wait_for_hooks(simulator)
            before = await _inbox_rows(database_url)
            sender = Sender(daemon.port)

            try:
                taken = await asyncio.to_thread(fuzz, sender, examples)
            except BaseException:
                daemon.kill()
                raise
            finally:
                sender.close()

            assert await _inbox_rows(database_url) == before, taken[:5]
            assert all(p.kind == "webhook.ignored" for p in taken)
            assert sender.sent >= examples
            assert daemon.status("/readyz") == 200
            assert daemon.stop() == 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@asynccontextmanager
async def _one_daemon(database_url: str) -> AsyncIterator[DaemonProcess]:
    workdir = make_shared_dir("netterms-reliability-")
    try:
        async with seeded_store(speed=60) as simulator:
            env = daemon_env(simulator, database_url, workdir)
            daemon = DaemonProcess(env, workdir).start()
            try:
                await wait_for_hooks(simulator)
                yield daemon
            finally:
                daemon.kill()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _post(
    port: int, body: bytes, pieces: int = 1, pause_s: float = 0.0, chunked: bool = True
) -> int:
    """POST an authenticated delivery in `pieces`, pausing between them."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("POST", WEBHOOK_PATH)
        connection.putheader(SECRET_HEADER, SECRET)
        connection.putheader("Content-Type", "application/json")
        if chunked:
            connection.putheader("Transfer-Encoding", "chunked")
        else:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders()
        size = -(-len(body) // pieces)
        for start in range(0, len(body), size):
            piece = body[start : start + size]
            connection.send(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            time.sleep(pause_s)
        if chunked:
            connection.send(b"0\r\n\r\n")
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


async def test_fuzz_deeply_nested_json_is_a_400(database_url: str) -> None:
    """An authenticated body of 100,000 nested arrays (200 kB) must be a 400."""
    depth = 100_000
    async with _one_daemon(database_url) as daemon:
        status = await asyncio.to_thread(
            _post, daemon.port, b"[" * depth + b"]" * depth
        )

    assert status == 400


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "length"])
async def test_fuzz_delivery_sent_in_pieces_is_stored(
    database_url: str, chunked: bool
) -> None:
    """A well-formed delivery arriving in two pieces 0.2 s apart is taken, 200."""
    envelope = _valid_envelope("store/order/created", 4242)
    async with _one_daemon(database_url) as daemon:
        status = await asyncio.to_thread(
            _post, daemon.port, json.dumps(envelope).encode(), 2, 0.2, chunked
        )

    assert status == 200
    assert await _inbox_rows(database_url) == 1
