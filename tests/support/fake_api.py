"""A scripted BigCommerce for unit tests of the client, on aioresponses."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from aioresponses import CallbackResult, aioresponses
from yarl import URL

from tests.contract.contract import ContractViolation, load_contract

API_URL = "https://api.test"
STORE_HASH = "abc123"
TOKEN = "tok-0123456789"
ROOT = f"{API_URL}/stores/{STORE_HASH}"

QUOTA_HEADERS = {
    "X-Rate-Limit-Requests-Quota": "150",
    "X-Rate-Limit-Time-Window-Ms": "30000",
    "X-Rate-Limit-Time-Reset-Ms": "15000",
    "X-Rate-Limit-Requests-Left": "140",
}


class _NoStreamWriter:
    output_size = 0


class MockResponse(aiohttp.ClientResponse):
    """A response aioresponses can build on aiohttp 3.14 and later.

    aiohttp 3.14 made ClientResponse require a stream_writer, which
    aioresponses 0.7.9 does not pass (its issue #289); a response whose
    request was already sent only reads the writer's output size.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _NoStreamWriter())
        super().__init__(*args, **kwargs)


@dataclass(frozen=True)
class Sent:
    """One request the client sent."""

    method: str
    url: URL
    headers: Mapping[str, str]
    body: Any

    @property
    def path(self) -> str:
        """The path after /stores/{hash}, e.g. /v2/orders."""
        return self.url.path.removeprefix(f"/stores/{STORE_HASH}")

    @property
    def query(self) -> dict[str, str]:
        return dict(self.url.query)


class FakeApi:
    """Registers answers by method and path; records every request in order.

    Every request the client sends, and every answer scripted here, is
    checked against the schemas derived from BigCommerce's specs: a request
    the spec would reject, or a fixture BigCommerce could not send, fails.
    """

    def __init__(self, mock: aioresponses) -> None:
        self.mock = mock
        self.sent: list[Sent] = []
        self.violations: list[ContractViolation] = []
        self._contract = load_contract()

    def reply(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        repeat: bool = False,
        exception: Exception | None = None,
        quota_headers: bool = True,
    ) -> None:
        """Answer the next request to path (any query) with this."""
        pattern = re.compile(re.escape(ROOT + path) + r"(\?.*)?$")
        answer_headers = {**(QUOTA_HEADERS if quota_headers else {}), **(headers or {})}
        body = "" if payload is None else json.dumps(payload)

        def record(url: URL, **kwargs: Any) -> CallbackResult:
            data = kwargs.get("data")
            sent = Sent(
                method,
                url,
                dict(kwargs.get("headers") or {}),
                json.loads(data) if data else None,
            )
            self.sent.append(sent)
            self._check(sent, None if exception is not None else status, payload)
            return CallbackResult(
                status=status,
                body=body,
                headers=answer_headers,
                content_type="application/json",
                response_class=MockResponse,
            )

        self.mock.add(
            pattern,
            method=method,
            callback=record,
            repeat=repeat,
            exception=exception,
            response_class=MockResponse,
        )

    def _check(self, sent: Sent, status: int | None, payload: Any) -> None:
        """Check the request, and the scripted answer unless it is a failure."""
        try:
            self._contract.validate_request(sent.method, str(sent.url), None, sent.body)
            if status is not None and checkable(status):
                self._contract.validate_response(
                    sent.method, str(sent.url), status, payload
                )
        except ContractViolation as violation:
            self.violations.append(violation)
            raise

    def of(self, method: str, path: str) -> list[Sent]:
        """The requests sent with this method to exactly this path."""
        return [s for s in self.sent if s.method == method and s.path == path]


def checkable(status: int) -> bool:
    """Statuses whose bodies the spec describes well enough to check."""
    return status < 400 or status in (404, 422)
