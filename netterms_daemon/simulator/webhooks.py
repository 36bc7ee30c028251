"""Webhook delivery as BigCommerce does it: retries, blocked domains, deactivation.

Each event goes to every active hook whose scope matches, as a POST of the
documented envelope with the hook's custom headers. A delivery that is not
answered with a 2xx in time is retried on BigCommerce's schedule (60 s,
180 s, 300 s, ... about 48 h in all), in the simulated clock's time, so a
fast clock or a jump shortens it. A destination domain whose deliveries
mostly fail is blocked for a while, its events going to the retry queue;
a hook whose last retry fails is deactivated.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
import structlog

from netterms_daemon.simulator.clock import SimulatedClock
from netterms_daemon.simulator.faults import Dice, Faults
from netterms_daemon.simulator.state import JSON, StoreState

log = structlog.get_logger(__name__)

RETRY_SCHEDULE_S = (60, 180, 300, 600, 900, 1800, 3600, 7200, 21600, 50400, 86400)
# Deliveries picked up per tick, and the tick in real seconds.
TICK_S = 0.01
# How far a reordered delivery may be held back, in simulated seconds.
REORDER_HOLD_S = 5.0


@dataclass
class BlockPolicy:
    """When a destination domain is blocked: too many failures in a window."""

    window_s: float = 120.0
    min_requests: int = 100
    min_success: float = 0.9
    block_s: float = 180.0


@dataclass
class Delivery:
    number: int
    hook_id: int
    payload: JSON
    due: float
    attempts: int = 0


@dataclass
class DeliveryCounters:
    """What the control API reports about webhooks."""

    published: int = 0
    delivered: int = 0
    failed: int = 0
    dropped: int = 0
    duplicated: int = 0
    deactivated: int = 0

    def view(self) -> dict[str, int]:
        return dict(vars(self))


@dataclass
class _DomainHealth:
    outcomes: deque[tuple[float, bool, str]] = field(default_factory=deque)
    # Successes among outcomes, kept in step so judging is not a walk of the
    # whole window (tens of thousands of deliveries under load).
    successes: int = 0
    blocked_until: float = 0.0


class WebhookDispatcher:
    """Queues events for the store's hooks and delivers them over real HTTP."""

    def __init__(
        self,
        state: StoreState,
        clock: SimulatedClock,
        faults: Faults,
        dice: Dice,
        *,
        schedule_s: tuple[float, ...] = RETRY_SCHEDULE_S,
        timeout_s: float = 10.0,
        block: BlockPolicy | None = None,
    ) -> None:
        self._state = state
        self._clock = clock
        self._faults = faults
        self._dice = dice
        self._schedule = schedule_s
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._block = block or BlockPolicy()
        self._queue: list[Delivery] = []
        self._numbers = itertools.count(1)
        self._domains: dict[str, _DomainHealth] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self.counters = DeliveryCounters()
        self.attempts: list[JSON] = []

    def publish(self, scope: str, data: JSON) -> None:
        """An event happened: queue it for every active hook that wants it."""
        payload = {
            "scope": scope,
            "store_id": self._state.store_id,
            "data": data,
            "hash": hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest(),
            "created_at": int(self._clock.now().timestamp()),
            "producer": f"stores/{self._state.store_hash}",
        }
        self.counters.published += 1
        for hook in self._state.hooks.values():
            if hook.is_active and hook.matches(scope):
                self._queue_for(hook.id, payload)

    def _queue_for(self, hook_id: int, payload: JSON) -> None:
        if self._dice.happens(self._faults.webhook_drop_rate):
            self.counters.dropped += 1
            return
        copies = 1
        if self._dice.happens(self._faults.webhook_duplicate_rate):
            copies = 2
            self.counters.duplicated += 1
        for _ in range(copies):
            hold = 0.0
            if self._dice.happens(self._faults.webhook_reorder_rate):
                hold = self._dice.uniform(0, REORDER_HOLD_S)
            due = self._clock.monotonic() + hold
            self._queue.append(Delivery(next(self._numbers), hook_id, payload, due))

    def reset(self) -> None:
        """Forget queued deliveries, outcomes, blocks and counters."""
        self._queue.clear()
        self._domains.clear()
        self.attempts.clear()
        self.counters = DeliveryCounters()

    @property
    def pending(self) -> int:
        """Deliveries queued or being retried."""
        return len(self._queue) + len(self._tasks)

    def blocked_domains(self) -> list[JSON]:
        """The hooks admin view of blocked destinations."""
        now = self._clock.monotonic()
        blocked = []
        for domain, health in sorted(self._domains.items()):
            if health.blocked_until <= now:
                continue
            reasons: dict[str, int] = {}
            for _, ok, reason in health.outcomes:
                if not ok:
                    reasons[reason] = reasons.get(reason, 0) + 1
            blocked.append(
                {
                    "destination": domain,
                    "time_left": round(health.blocked_until - now),
                    "reasons": [
                        {
                            "failure_description": reason,
                            "count": count,
                            "timestamp": int(self._clock.now().timestamp()),
                        }
                        for reason, count in sorted(reasons.items())
                    ],
                }
            )
        return blocked

    async def start(self) -> None:
        """Begin delivering."""
        self._session = aiohttp.ClientSession()
        self._runner = asyncio.create_task(self._run(), name="simulator.webhooks")

    async def stop(self) -> None:
        """Stop delivering; queued deliveries are abandoned."""
        tasks = [t for t in (self._runner, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        while True:
            now = self._clock.monotonic()
            due = sorted(
                (d for d in self._queue if d.due <= now),
                key=lambda d: (d.due, d.number),
            )
            for delivery in due:
                self._queue.remove(delivery)
                task = asyncio.create_task(self._attempt(delivery))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            await asyncio.sleep(TICK_S)

    async def _attempt(self, delivery: Delivery) -> None:
        hook = self._state.hooks.get(delivery.hook_id)
        if hook is None or not hook.is_active:
            return
        domain = _domain(hook.destination)
        health = self._domains.setdefault(domain, _DomainHealth())

        if health.blocked_until > self._clock.monotonic():
            self._record(delivery, hook.id, None, "domain blocked")
            self._retry_later(delivery)
            return

        status, reason = await self._post(
            hook.destination, hook.headers, delivery.payload
        )
        ok = status is not None and 200 <= status < 300
        self._record(delivery, hook.id, status, reason)
        self._judge_domain(health, ok, reason)
        if ok:
            self.counters.delivered += 1
            return
        self.counters.failed += 1
        self._retry_later(delivery)

    async def _post(
        self, destination: str, headers: dict[str, str], payload: JSON
    ) -> tuple[int | None, str]:
        assert self._session is not None
        try:
            async with self._session.post(
                destination,
                data=json.dumps(payload),
                headers={**headers, "Content-Type": "application/json"},
                timeout=self._timeout,
            ) as response:
                await response.read()
                return response.status, f"HTTP {response.status}"
        except TimeoutError:
            return None, "timeout"
        except aiohttp.ClientError as exc:
            return None, type(exc).__name__

    def _retry_later(self, delivery: Delivery) -> None:
        delivery.attempts += 1
        if delivery.attempts > len(self._schedule):
            self._deactivate(delivery.hook_id)
            return
        delivery.due = self._clock.monotonic() + self._schedule[delivery.attempts - 1]
        self._queue.append(delivery)

    def _deactivate(self, hook_id: int) -> None:
        hook = self._state.hooks.get(hook_id)
        if hook is None or hook.deactivated:
            return
        hook.is_active = False
        hook.deactivated = True
        hook.modified = self._clock.now()
        self.counters.deactivated += 1
        self._queue = [d for d in self._queue if d.hook_id != hook_id]
        log.info("simulator.hook_deactivated", hook_id=hook_id, scope=hook.scope)

    def _judge_domain(self, health: _DomainHealth, ok: bool, reason: str) -> None:
        now = self._clock.monotonic()
        health.outcomes.append((now, ok, reason))
        health.successes += ok
        while health.outcomes and health.outcomes[0][0] < now - self._block.window_s:
            health.successes -= health.outcomes.popleft()[1]
        total = len(health.outcomes)
        if total < self._block.min_requests:
            return
        successes = health.successes
        if successes / total < self._block.min_success and health.blocked_until <= now:
            health.blocked_until = now + self._block.block_s
            log.info(
                "simulator.domain_blocked", failures=total - successes, total=total
            )

    def _record(
        self, delivery: Delivery, hook_id: int, status: int | None, reason: str
    ) -> None:
        self.attempts.append(
            {
                "number": delivery.number,
                "hook_id": hook_id,
                "scope": delivery.payload["scope"],
                "data": delivery.payload["data"],
                "attempt": delivery.attempts + 1,
                "status": status,
                "outcome": reason,
                "at": self._clock.now().isoformat(timespec="seconds"),
            }
        )


def _domain(destination: str) -> str:
    parts = urlsplit(destination)
    return f"{parts.scheme}://{parts.netloc}"
