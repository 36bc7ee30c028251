"""POST /webhooks/bigcommerce: authenticate, check, store in the inbox, then answer.

No BigCommerce call happens here. A delivery is answered 200 only after
its inbox row has committed, and 503 when the database cannot take it, so
that BigCommerce retries; nothing is acknowledged that is not stored.
Duplicates (same scope, hash and created_at) are answered 200 and stored
once.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import re
from typing import Any

import asyncpg
import structlog
from aiohttp import web

from netterms_daemon import failpoints
from netterms_daemon.inbox import Inbox

log = structlog.get_logger(__name__)

WEBHOOK_PATH = "/webhooks/bigcommerce"
# The database must answer within this, so BigCommerce hears 503, not a timeout.
STORE_TIMEOUT_S = 1.5
HANDLED_SCOPES = re.compile(r"^store/(order|customer)/[A-Za-z]+$")
_SCOPE = re.compile(r"^store/[A-Za-z0-9_/]+$")


class Rejected(Exception):
    """A delivery refused, with the status and reason the sender is told."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class WebhookReceiver:
    """The handler, holding what it checks against."""

    def __init__(
        self,
        inbox: Inbox,
        *,
        secret: str,
        secret_header: str,
        max_body_bytes: int,
    ) -> None:
        self._inbox = inbox
        self._secret = secret.encode()
        self._secret_header = secret_header
        self._max_body_bytes = max_body_bytes
        self._producer = f"stores/{inbox.store_hash}"
        self.received = 0
        self.rejected = 0
        self._unwinding: set[asyncio.Future[bool]] = set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Receive one delivery."""
        try:
            text, payload, resource_id = await self._accept(request)
        except Rejected as rejection:
            return self._reject(request, rejection)

        if not HANDLED_SCOPES.match(payload["scope"]):
            log.debug("webhook.ignored", scope=payload["scope"])
            return web.Response(status=200)

        try:
            new = await self._store(text, payload, resource_id)
        except asyncpg.DataError as exc:
            # JSON that Python reads but Postgres will not keep (a NUL character,
            # a lone surrogate, a number past numeric's range): the sender's
            # fault, and no retry would help.
            return self._reject(
                request, Rejected(400, f"the body cannot be stored: {exc}")
            )
        except (
            TimeoutError,
            OSError,
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
        ) as exc:
            log.error("webhook.unavailable", error=f"{type(exc).__name__}: {exc}")
            return web.json_response(
                {"error": "the database is unavailable; retry later", "status": 503},
                status=503,
            )

        self.received += 1
        failpoints.reach("during_ack")
        # Debug, not info: one line per delivery costs the route a third of
        # its CPU at peak, and the inbox row already records every delivery.
        log.debug(
            "webhook.received" if new else "webhook.duplicate",
            scope=payload["scope"],
            resource_id=resource_id,
        )
        return web.Response(status=200)

    def _reject(self, request: web.Request, rejection: Rejected) -> web.Response:
        self.rejected += 1
        log.warning(
            "webhook.rejected",
            status=rejection.status,
            reason=rejection.reason,
            remote=request.remote,
        )
        return web.json_response(
            {"error": rejection.reason, "status": rejection.status},
            status=rejection.status,
        )

    async def _store(
        self, text: str, payload: dict[str, Any], resource_id: int | None
    ) -> bool:
        """
        Store the event, or give up after STORE_TIMEOUT_S.

        The store runs as its own task: against a frozen database even the
        rollback after a cancellation waits for the server, so the answer
        must not wait for the cancelled work to unwind. An event stored after
        its 503 comes again from BigCommerce and is then a duplicate.
        """
        task = asyncio.ensure_future(
            self._inbox.store(
                text,
                scope=payload["scope"],
                event_hash=payload["hash"],
                created_at=payload["created_at"],
                resource_id=resource_id,
            )
        )
        done, _ = await asyncio.wait({task}, timeout=STORE_TIMEOUT_S)
        if not done:
            task.cancel()
            self._unwinding.add(task)
            task.add_done_callback(self._forget)
            raise TimeoutError(
                f"the database did not answer within {STORE_TIMEOUT_S} s"
            )
        return task.result()

    def _forget(self, task: asyncio.Future[bool]) -> None:
        self._unwinding.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("webhook.late_failure", error=str(task.exception()))

    async def _accept(
        self, request: web.Request
    ) -> tuple[str, dict[str, Any], int | None]:
        """The body as received, its parsed envelope, and the id it names."""
        self._authenticate(request)
        body = await self._read_body(request)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise Rejected(400, "the body is not UTF-8") from None
        try:
            payload = json.loads(text, parse_constant=_no_constants)
        except ValueError:
            raise Rejected(400, "the body is not JSON") from None
        except RecursionError:
            raise Rejected(400, "the body nests too deeply") from None
        return text, payload, _check_shape(payload, self._producer)

    def _authenticate(self, request: web.Request) -> None:
        given = request.headers.get(self._secret_header, "").encode()
        # compare_digest takes the same time wherever the first difference is.
        if not hmac.compare_digest(given, self._secret):
            raise Rejected(401, f"missing or wrong {self._secret_header} header")

    async def _read_body(self, request: web.Request) -> bytes:
        declared = request.content_length
        if declared is not None and declared > self._max_body_bytes:
            raise Rejected(413, f"body over {self._max_body_bytes} bytes")
        # read(n) returns what has arrived so far; a body may come in pieces.
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > self._max_body_bytes:
                raise Rejected(413, f"body over {self._max_body_bytes} bytes")
            chunks.append(chunk)
        body = b"".join(chunks)
        if not body:
            raise Rejected(400, "the body is empty")
        return body


def _no_constants(name: str) -> None:
    """NaN and Infinity are not JSON, and Postgres would refuse them later."""
    raise ValueError(f"{name} is not JSON")


def _check_shape(payload: Any, producer: str) -> int | None:
    """Check the documented envelope; return the order or customer id it names."""
    if not isinstance(payload, dict):
        raise Rejected(400, "the body must be a JSON object")
    scope = payload.get("scope")
    if not isinstance(scope, str) or not _SCOPE.match(scope):
        raise Rejected(
            400, "scope must be a BigCommerce scope such as store/order/created"
        )
    event_hash = payload.get("hash")
    if not isinstance(event_hash, str) or not 1 <= len(event_hash) <= 128:
        raise Rejected(400, "hash must be a string")
    created_at = payload.get("created_at")
    if (
        isinstance(created_at, bool)
        or not isinstance(created_at, int)
        or created_at < 0
    ):
        raise Rejected(400, "created_at must be Unix seconds")
    if payload.get("producer") != producer:
        raise Rejected(
            400, f"producer must be {producer}; this daemon serves that store only"
        )
    data = payload.get("data")
    if not isinstance(data, dict):
        raise Rejected(400, "data must be an object")
    if not HANDLED_SCOPES.match(scope):
        return None

    resource = data.get("id")
    if isinstance(resource, bool) or not isinstance(resource, int) or resource <= 0:
        raise Rejected(400, "data.id must be the order's or customer's id")
    if scope == "store/order/statusUpdated":
        status = data.get("status")
        if not isinstance(status, dict) or not all(
            isinstance(status.get(k), int) and not isinstance(status.get(k), bool)
            for k in ("previous_status_id", "new_status_id")
        ):
            raise Rejected(
                400, "data.status must carry previous_status_id and new_status_id"
            )
    return resource
