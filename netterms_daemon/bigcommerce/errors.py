"""What can go wrong talking to BigCommerce, one class per way a caller reacts."""

from __future__ import annotations

from typing import Any

from netterms_daemon.errors import UpstreamError


class BigCommerceError(UpstreamError):
    """A call failed; the message names the method, path and status."""

    retryable = False
    # The parsed JSON of the error answer, for callers that read more than
    # its words (a batch's 422 lists what was done despite the failures).
    body: Any = None

    def __init__(
        self, method: str, path: str, status: int | None, detail: str = ""
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.detail = detail
        where = f"{method} {path}"
        outcome = f"HTTP {status}" if status is not None else "no response"
        super().__init__(f"{where}: {outcome}" + (f": {detail}" if detail else ""))


class AuthenticationError(BigCommerceError):
    """401 or 403: the token is wrong, revoked, or lacks a scope."""


class NotFoundError(BigCommerceError):
    """404: the resource does not exist (or is not visible to this account)."""


class ValidationError(BigCommerceError):
    """400, 409, 413 or 422: BigCommerce refused the request; detail says why."""


class RateLimitedError(BigCommerceError):
    """429: the store's quota is spent; wait `pause_s` before the next call."""

    retryable = True

    def __init__(
        self, method: str, path: str, status: int, pause_s: float | None
    ) -> None:
        self.pause_s = pause_s
        wait = f"retry in {pause_s:g} s" if pause_s is not None else "no reset given"
        super().__init__(method, path, status, wait)


class ServerError(BigCommerceError):
    """5xx: BigCommerce failed; the request may or may not have taken effect."""

    retryable = True


class TransportError(BigCommerceError):
    """No usable answer: connection refused or reset, or a timeout."""

    retryable = True

    def __init__(
        self, method: str, path: str, detail: str, *, maybe_sent: bool = True
    ) -> None:
        self.maybe_sent = maybe_sent
        super().__init__(method, path, None, detail)


class UnexpectedResponseError(BigCommerceError):
    """A success status with a body that is not what the API documents."""
