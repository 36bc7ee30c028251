"""The reconciler: make the daemon's picture true again, on a schedule, in one daemon.

Webhooks get lost, merchants mark orders paid in the control panel, due
dates pass at night. Each pass, run by whichever daemon holds the leader
lock:

- backfill: orders modified since the stored watermark (less an overlap),
  read 250 a page and handled exactly as the webhook path handles them,
  which also notices payment, cancellation and archiving;
- overdue: open orders past their due date in the store's time zone are
  flagged once (log, staff note, metafield), and escalated at day counts;
- due soon: a reminder event a few days before the due date, once;
- webhooks: deactivated hooks are re-enabled, blocked domains reported.

A pass costs API calls in proportion to what changed, never to the number
of open orders: a quiet pass is one orders page, the hook list and the
hooks admin view.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
import structlog

from netterms_daemon.bigcommerce.client import BigCommerceClient
from netterms_daemon.bigcommerce.models import Order
from netterms_daemon.clock import Clock
from netterms_daemon.config import ReconcilerSettings
from netterms_daemon.ledger import Ledger, TrackedOrder
from netterms_daemon.locks import order_lock, try_leadership
from netterms_daemon.metafields import schedule_value
from netterms_daemon.overdue import due_soon, escalating, newly_overdue
from netterms_daemon.processor import OrderProcessor
from netterms_daemon.staffnotes import NOTE_PREFIX, append_note
from netterms_daemon.storefacts import day_in_zone, get_state, put_state

log = structlog.get_logger(__name__)

WATERMARK_KEY = "orders.watermark"
LAST_SUCCESS_KEY = "reconciler.last_success"
Connect = Callable[[], Awaitable[asyncpg.Connection]]


class LeadershipLost(Exception):
    """This daemon no longer leads; the pass stops before writing more."""


@dataclass
class PassReport:
    """What one pass did, for its summary line."""

    changed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    overdue: int = 0
    escalated: int = 0
    due_soon: int = 0
    reactivated: int = 0
    blocked_domains: int = 0
    api_calls: int = 0
    duration_ms: float = 0.0

    def count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1


class Reconciler:
    """One store's reconciler: `run` competes to lead, `run_pass` does one pass."""

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        client: BigCommerceClient,
        processor: OrderProcessor,
        ledger: Ledger,
        settings: ReconcilerSettings,
        clock: Clock,
        public_url: str | None,
        connect: Connect,
    ) -> None:
        self._pool = pool
        self._client = client
        self._processor = processor
        self._ledger = ledger
        self._settings = settings
        self._clock = clock
        self._public_url = public_url
        self._connect = connect
        self.store_hash = ledger.store_hash
        self.is_leader = False
        self._leader_connection: asyncpg.Connection | None = None
        # The heartbeat and the per-order fencing checks share the leader
        # session, and asyncpg refuses a second query while one is in flight;
        # unserialised, that refusal would read as a lost session.
        self._leader_queries = asyncio.Lock()
        self._stopping: asyncio.Event | None = None
        self.passes = 0
        self.last_pass_s = 0.0
        self.failures = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Compete for leadership until stop; while leader, pass every interval."""
        self._stopping = stop
        while not stop.is_set():
            connection = await self._connect()
            try:
                if await try_leadership(connection, self.store_hash):
                    await self._lead(connection, stop)
            finally:
                self.is_leader = False
                with contextlib.suppress(Exception):
                    await connection.close()
            await _wait(stop, self._settings.interval_s)

    async def _lead(self, connection: asyncpg.Connection, stop: asyncio.Event) -> None:
        """
        Pass every interval while the leader lock's session lives.

        The session is given an idle timeout of `lease_s` and pinged at a third
        of it: a daemon that is paused (SIGSTOP, a frozen VM) stops pinging,
        Postgres ends its session, the lock is free for another daemon, and
        when this one resumes its next check finds the session gone and it
        writes nothing more.
        """
        lease_ms = int(self._settings.lease_s * 1000)
        await connection.execute(f"SET idle_session_timeout = {lease_ms}")
        self._leader_connection = connection
        self.is_leader = True
        log.info("reconciler.leader_acquired", store_hash=self.store_hash)
        heartbeat = asyncio.create_task(self._heartbeat(connection, stop))
        try:
            while not stop.is_set() and not heartbeat.done():
                await self._guarded_pass()
                if await _wait(stop, self._settings.interval_s):
                    return
                if not await self._still_leader():
                    return
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            self._leader_connection = None

    async def _heartbeat(
        self, connection: asyncpg.Connection, stop: asyncio.Event
    ) -> None:
        """Keep the leader session from idling out while this daemon runs."""
        while not await _wait(stop, self._settings.lease_s / 3):
            if not await self._alive(connection):
                log.warning("reconciler.leadership_lost")
                return

    async def _still_leader(self) -> bool:
        """Fence writes: False once the leader session is gone (checked per order)."""
        connection = self._leader_connection
        if connection is None:
            return True  # a single pass on demand competes for no leadership
        if await self._alive(connection):
            return True
        log.warning("reconciler.leadership_lost")
        self.is_leader = False
        return False

    async def _alive(self, connection: asyncpg.Connection) -> bool:
        async with self._leader_queries:
            return await _session_alive(connection)

    async def _guarded_pass(self) -> None:
        try:
            await self.run_pass()
        except asyncio.CancelledError:
            raise
        except LeadershipLost:
            log.warning("reconciler.pass_abandoned", reason="leadership lost")
        except Exception as exc:
            self.failures += 1
            log.error("reconciler.failed", error=f"{type(exc).__name__}: {exc}")

    async def run_pass(self, actor: str = "reconciler") -> PassReport:
        """One pass: backfill, overdue, due soon, webhooks; then a summary line."""
        started = time.monotonic()
        calls_before = self._client.calls
        report = PassReport()

        await self._backfill(report, actor)
        today = day_in_zone(self._clock.now(), await self._processor.store_time_zone())
        await self._flag_overdue(today, report, actor)
        # Terms applied in this pass (and any left by a crash) get metafields.
        await self._processor.metafields.flush()
        await self._escalate(today, report)
        await self._remind_due_soon(today, report, actor)
        await self._check_webhooks(report)

        report.api_calls = self._client.calls - calls_before
        report.duration_ms = round((time.monotonic() - started) * 1000, 1)
        await self._put_state(LAST_SUCCESS_KEY, self._clock.now().isoformat())
        self.passes += 1
        self.last_pass_s = report.duration_ms / 1000
        log.info(
            "reconciler.pass",
            changed=report.changed,
            outcomes=report.outcomes,
            overdue=report.overdue,
            escalated=report.escalated,
            due_soon=report.due_soon,
            reactivated=report.reactivated,
            blocked_domains=report.blocked_domains,
            api_calls=report.api_calls,
            duration_ms=report.duration_ms,
        )
        return report

    async def _backfill(self, report: PassReport, actor: str) -> None:
        """Handle every order modified since the watermark, as a webhook would."""
        watermark = await self._watermark()
        since = watermark - timedelta(seconds=self._settings.overlap_s)
        newest = watermark
        async for order in self._client.orders(modified_since=since):
            report.changed += 1
            report.count(await self._handle(order, actor))
            newest = max(newest, order.date_modified)
        if newest > watermark:
            await self._put_state(WATERMARK_KEY, newest.isoformat())

    async def _handle(self, order: Order, actor: str) -> str:
        if self._stopping is not None and self._stopping.is_set():
            # Shutting down: the next pass (here or elsewhere) does the rest.
            raise LeadershipLost("the daemon is stopping")
        if not await self._still_leader():
            raise LeadershipLost("the leader session ended during a pass")
        async with order_lock(self._pool, self.store_hash, order.id) as got:
            if not got:
                # A worker holds it right now; it reads the order itself.
                return "busy"
            return await self._processor.handle_order(order.id, actor, order=order)

    async def _watermark(self) -> datetime:
        stored = await self._get_state(WATERMARK_KEY)
        if stored is not None:
            return datetime.fromisoformat(str(stored))
        # The first pass ever looks back a while; older history is for backfill.
        return self._clock.now() - timedelta(days=self._settings.lookback_days)

    async def _flag_overdue(self, today: date, report: PassReport, actor: str) -> None:
        flagged = await newly_overdue(self._pool, self.store_hash, today)
        values: dict[int, str] = {}
        for tracked in flagged:
            if await self._mark_overdue(tracked, today, actor):
                report.overdue += 1
                # One without a metafield yet gets the marked value in its batch.
                if tracked.metafield_id is not None and tracked.schedule is not None:
                    overdue_since = (tracked.due_date or today) + timedelta(days=1)
                    values[tracked.metafield_id] = schedule_value(
                        tracked.schedule, overdue_since
                    )
        if values:
            await self._client.update_order_metafields(values)

    async def _mark_overdue(
        self, tracked: TrackedOrder, today: date, actor: str
    ) -> bool:
        due = tracked.due_date or today
        line = (
            f"{NOTE_PREFIX} OVERDUE since {due + timedelta(days=1)}, "
            f"{tracked.currency} {tracked.amount:.2f} unpaid"
        )
        async with order_lock(self._pool, self.store_hash, tracked.order_id) as got:
            if not got:
                return False
            order = await self._client.order(tracked.order_id)
            if line not in order.staff_notes:
                await self._client.update_order(
                    tracked.order_id, staff_notes=append_note(order.staff_notes, line)
                )
            await self._ledger.update(
                tracked.order_id,
                {"overdue_flagged_at": self._clock.now()},
                actor=actor,
                action="order.overdue",
                at=self._clock.now(),
            )
        log.warning("order.overdue", **_due_fields(tracked, today))
        return True

    async def _escalate(self, today: date, report: PassReport) -> None:
        for step in sorted(self._settings.escalation_days, reverse=True):
            for tracked in await escalating(self._pool, self.store_hash, today, step):
                await self._ledger.update(
                    tracked.order_id,
                    {"escalation_days": step},
                    actor="reconciler",
                    action="order.overdue_escalated",
                    at=self._clock.now(),
                )
                report.escalated += 1
                log.warning(
                    "order.overdue_escalated",
                    step_days=step,
                    **_due_fields(tracked, today),
                )

    async def _remind_due_soon(
        self, today: date, report: PassReport, actor: str
    ) -> None:
        days = self._settings.due_soon_days
        for tracked in await due_soon(self._pool, self.store_hash, today, days):
            await self._ledger.update(
                tracked.order_id,
                {"due_soon_flagged_at": self._clock.now()},
                actor=actor,
                action="order.due_soon",
                at=self._clock.now(),
            )
            report.due_soon += 1
            fields = _due_fields(tracked, today)
            del fields["days_overdue"]
            log.info("order.due_soon", **fields)

    async def _check_webhooks(self, report: PassReport) -> None:
        if not self._public_url:
            return
        for hook in await self._client.webhooks():
            if hook.destination == self._public_url and not hook.is_active:
                if not await self._still_leader():
                    raise LeadershipLost("the leader session ended during a pass")
                await self._client.reactivate_webhook(hook.id)
                report.reactivated += 1
                log.warning("webhook.reactivated", hook_id=hook.id, scope=hook.scope)
        admin = await self._client.hooks_admin()
        for blocked in admin.blocked_domains:
            report.blocked_domains += 1
            log.error(
                "webhook.domain_blocked",
                destination=blocked.destination,
                time_left_s=blocked.time_left_s,
                reasons=list(blocked.reasons),
            )

    async def _get_state(self, name: str) -> Any:
        return await get_state(self._pool, self.store_hash, name)

    async def _put_state(self, name: str, value: Any) -> None:
        if not await self._still_leader():
            raise LeadershipLost("the leader session ended during a pass")
        await put_state(self._pool, self.store_hash, name, value)


def _due_fields(tracked: TrackedOrder, today: date) -> dict[str, Any]:
    """What an alert on a due date needs: who, how much, when, how late."""
    due = tracked.due_date or today
    return {
        "order_id": tracked.order_id,
        "customer_id": tracked.customer_id,
        "amount": str(tracked.amount),
        "currency": tracked.currency,
        "due_date": due.isoformat(),
        "days_overdue": (today - due).days,
    }


async def last_success(pool: asyncpg.Pool, store_hash: str) -> datetime | None:
    """When the leader last finished a pass, for /readyz."""
    raw = await get_state(pool, store_hash, LAST_SUCCESS_KEY)
    return datetime.fromisoformat(str(raw)) if raw is not None else None


async def _wait(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep, or return True at once when stop is set."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


async def _session_alive(connection: asyncpg.Connection) -> bool:
    try:
        await asyncio.wait_for(connection.fetchval("SELECT 1"), timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
        return False
    return True
