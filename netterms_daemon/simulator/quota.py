"""The store's API quota: so many requests per fixed window, told in headers."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class QuotaDecision:
    """Whether a request may pass, and the headers every answer carries."""

    allowed: bool
    headers: dict[str, str]


class Quota:
    """
    Fixed windows in real time, as BigCommerce counts a store's requests.

    Every answer carries X-Rate-Limit-Requests-Left, -Requests-Quota,
    -Time-Window-Ms and -Time-Reset-Ms; a refused one adds X-Retry-After.
    """

    def __init__(
        self,
        requests: int = 150,
        window_s: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.requests = requests
        self.window_s = window_s
        self._monotonic = monotonic
        self._window_start = monotonic()
        self._used = 0
        self.refused = 0

    def take(self) -> QuotaDecision:
        """Count one request, refusing it once the window's quota is spent."""
        now = self._monotonic()
        if now - self._window_start >= self.window_s:
            elapsed_windows = int((now - self._window_start) // self.window_s)
            self._window_start += elapsed_windows * self.window_s
            self._used = 0

        reset_ms = max(0, round((self._window_start + self.window_s - now) * 1000))
        allowed = self._used < self.requests
        if allowed:
            self._used += 1
        else:
            self.refused += 1

        headers = {
            "X-Rate-Limit-Requests-Left": str(self.requests - self._used),
            "X-Rate-Limit-Requests-Quota": str(self.requests),
            "X-Rate-Limit-Time-Window-Ms": str(round(self.window_s * 1000)),
            "X-Rate-Limit-Time-Reset-Ms": str(reset_ms),
        }
        if not allowed:
            headers["X-Retry-After"] = str(max(1, -(-reset_ms // 1000)))
        return QuotaDecision(allowed, headers)
