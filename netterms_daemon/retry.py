"""The named retry policies, defined once: what is retried, how often, how long.

Only errors known to be passing are retried, with jittered exponential
backoff, bounded in attempts and in total time. Each pause is logged as
`<name>.retrying` with the attempt and the error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import structlog
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
    wait_random,
)
from tenacity.wait import wait_base

from netterms_daemon.bigcommerce.errors import BigCommerceError, RateLimitedError

log = structlog.get_logger(__name__)

Sleep = Callable[[float], Awaitable[None]]

# Errors that mean "the database is not reachable yet", worth waiting out at start.
DATABASE_CONNECT_ERRORS = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
)


def jittered_backoff(initial_s: float, max_s: float) -> wait_base:
    """initial_s, doubling each try up to max_s, plus up to initial_s of jitter."""
    return wait_exponential(multiplier=initial_s, max=max_s) + wait_random(0, initial_s)


def _log_retry(event: str) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else None
        log.warning(event, attempt=state.attempt_number, error=str(error), wait_s=wait)

    return before_sleep


def database_connect(timeout_s: float) -> AsyncRetrying:
    """Keep trying to reach the database for up to timeout_s."""
    return AsyncRetrying(
        retry=retry_if_exception_type(DATABASE_CONNECT_ERRORS),
        wait=jittered_backoff(0.5, 5),
        stop=stop_after_delay(timeout_s),
        before_sleep=_log_retry("db.connect.retrying"),
        reraise=True,
    )


@dataclass(frozen=True)
class ApiRetryPolicy:
    """How BigCommerce calls are retried."""

    max_attempts: int = 5
    max_total_s: float = 120.0
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 15.0


def _is_retryable(error: BaseException) -> bool:
    return isinstance(error, BigCommerceError) and error.retryable


class _ApiWait:
    """Back off exponentially, except after a 429 that said how long to wait.

    That wait is served by the token bucket, which holds every caller of
    the store, so the retry itself goes straight back into the queue.
    """

    def __init__(self, policy: ApiRetryPolicy) -> None:
        self._backoff = jittered_backoff(policy.initial_backoff_s, policy.max_backoff_s)

    def __call__(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, RateLimitedError) and error.pause_s is not None:
            return 0.0
        return float(self._backoff(state))


def bigcommerce_call(policy: ApiRetryPolicy, sleep: Sleep) -> AsyncRetrying:
    """Retry 429, 5xx, connection errors and timeouts; never other 4xx."""
    return AsyncRetrying(
        retry=retry_if_exception(_is_retryable),
        wait=_ApiWait(policy),
        stop=stop_after_attempt(policy.max_attempts)
        | stop_after_delay(policy.max_total_s),
        sleep=sleep,
        before_sleep=_log_retry("bigcommerce.retrying"),
        reraise=True,
    )
