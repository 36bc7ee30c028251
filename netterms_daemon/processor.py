"""What an event means for an order: apply terms once, then follow it to paid or closed.

Events arrive late, twice and out of order, and the daemon's own writes
come back as events, so nothing here trusts the event: the order is read
again and the decision is made from the order as it is now and from what
the ledger already holds. Applying terms is split so that a crash at any
point is finished, never repeated, by the next attempt:

1. decide: compute the schedule and record the order as `applying`;
2. write: one PUT sets the status and appends the staff-note line, unless
   the line is already in the notes (the PUT happened before a crash);
3. record the order as awaiting payment (or held), with the status just
   written, so the echo of that write is recognised without a read;
4. wake the metafield writer, which copies the schedule into an app-only
   metafield in a batch with other orders (`metafields.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import structlog

from netterms_daemon import failpoints
from netterms_daemon.bigcommerce.client import BigCommerceClient
from netterms_daemon.bigcommerce.errors import NotFoundError
from netterms_daemon.bigcommerce.models import STATUS_NAMES, Order
from netterms_daemon.clock import Clock
from netterms_daemon.config import OrderSettings
from netterms_daemon.inbox import InboxEvent
from netterms_daemon.ledger import OPEN_STATES, Ledger, NewTrackedOrder, TrackedOrder
from netterms_daemon.membership import Membership
from netterms_daemon.metafields import MetafieldWriter
from netterms_daemon.setup import ResolvedTerms, TermsBook
from netterms_daemon.staffnotes import append_note, terms_line
from netterms_daemon.storefacts import remember_time_zone
from netterms_daemon.terms.schedule import compute_schedule, minor_unit

log = structlog.get_logger(__name__)

AWAITING_PAYMENT = 7
INCOMPLETE = 0
_SKIPPABLE_WHEN_SETTLED = (
    "store/order/created",
    "store/order/updated",
    "store/order/statusUpdated",
)


def status_name(status_id: int) -> str:
    """A status id in words (BigCommerce's system name)."""
    return STATUS_NAMES.get(status_id, f"status {status_id}")


@dataclass(frozen=True)
class CreditDecision:
    """Whether an order fits the customer's credit, and why not."""

    held: bool
    reason: str | None = None
    limit: Decimal | None = None
    open_balance: Decimal | None = None


class OrderProcessor:
    """Turns inbox events into the right effect on orders, exactly once."""

    def __init__(
        self,
        *,
        client: BigCommerceClient,
        ledger: Ledger,
        membership: Membership,
        book: TermsBook,
        orders: OrderSettings,
        clock: Clock,
        metafields: MetafieldWriter,
        credit_limits: dict[int, Decimal] | None = None,
    ) -> None:
        self._client = client
        self.metafields = metafields
        self._ledger = ledger
        self._membership = membership
        self.book = book
        self._orders = orders
        self._clock = clock
        self._credit_limits = credit_limits or {}
        self._time_zone: str | None = None

    async def handle(self, event: InboxEvent, actor: str = "webhook") -> str:
        """Act on one event; return a word saying what happened, for the log."""
        if event.scope.startswith("store/customer/"):
            if event.resource_id is not None:
                await self._membership.forget(event.resource_id)
            return "customer_changed"
        if event.resource_id is None:
            return "no_resource"
        if await self._tells_nothing_new(event):
            return "already_known"
        return await self.handle_order(event.resource_id, actor)

    async def _tells_nothing_new(self, event: InboxEvent) -> bool:
        """
        Whether an event can be passed over without reading the order again.

        Once an order is settled (its terms written, or ignored), only a
        status change or archiving matters, and those come as their own
        events: a plain `updated` (every staff note, every write of ours)
        says nothing netterms acts on, nor does a `created` that arrives
        after the reconciler already found the order on a list page, nor a
        status update to the status the ledger already holds (the echo of
        our own write). Skipping them keeps each new order at one read. What
        is skipped wrongly is caught by the reconciler's next pass, which
        reads changed orders.
        """
        if event.scope not in _SKIPPABLE_WHEN_SETTLED:
            return False
        assert event.resource_id is not None
        tracked = await self._ledger.get(event.resource_id)
        if tracked is None or tracked.state == "applying":
            return False
        if event.scope != "store/order/statusUpdated":
            return True
        status = event.payload.get("data", {}).get("status", {})
        return bool(status.get("new_status_id") == tracked.bc_status_id)

    async def handle_order(
        self, order_id: int, actor: str, order: Order | None = None
    ) -> str:
        """
        Bring netterms' picture of one order up to date with the store.

        The order is read unless the caller read it already (the reconciler
        gets it from a list page, 250 at a time).
        """
        tracked = await self._ledger.get(order_id)
        if order is not None and tracked is not None:
            if _surely_older(order, tracked):
                # The ledger recorded a later version; whatever changed since
                # then comes with a later date, on a later page or webhook.
                return "stale"
            if _maybe_older(order, tracked):
                # A list page read in the same second as our own latest write:
                # dates have whole seconds, so only a fresh read can tell.
                order = None
        if order is None:
            try:
                order = await self._client.order(order_id)
            except NotFoundError:
                order = None

        if order is None:
            if tracked is not None and tracked.state in (*OPEN_STATES, "applying"):
                await self._close(tracked, "deleted from the store", actor)
                return "closed"
            return "not_found"
        if tracked is None:
            tracked = await self._first_sight(order, actor)
            if tracked is None:
                return "waiting"
            if tracked.state == "ignored":
                return "ignored"
        if tracked.state == "applying":
            return await self._apply(order, tracked, actor)
        return await self._follow(order, tracked, actor)

    async def describe_decision(self, order: Order) -> str:
        """What handling this order would do, changing nothing (backfill --dry-run)."""
        tracked = await self._ledger.get(order.id)
        if tracked is not None:
            return f"already tracked ({tracked.state})"
        if order.status_id == INCOMPLETE and not order.is_deleted:
            return "incomplete: would wait for checkout to finish"
        reason = self._not_new_because(order)
        if reason is not None:
            return f"would ignore: {reason}"
        group_id = await self._membership.group_of(
            order.customer_id, self._clock.now(), remember=False
        )
        resolved = self.book.for_group(group_id)
        if resolved is None:
            return f"would ignore: customer group {group_id or 'none'} has no terms"
        schedule = compute_schedule(
            resolved.entry.policy,
            order.date_created,
            await self.store_time_zone(),
            order.total_inc_tax,
            order.currency_code,
        )
        credit = await self._credit(order, resolved)
        if credit.held:
            return f"would hold: {credit.reason}"
        return f"would apply {schedule.explanation}"

    async def _first_sight(self, order: Order, actor: str) -> TrackedOrder | None:
        """Decide what an order netterms has never recorded gets."""
        if order.status_id == INCOMPLETE and not order.is_deleted:
            # Checkout is not finished; a status update from 0 will follow.
            return None

        reason = self._not_new_because(order)
        resolved: ResolvedTerms | None = None
        group_id: int | None = None
        if reason is None:
            group_id = await self._membership.group_of(
                order.customer_id, self._clock.now()
            )
            resolved = self.book.for_group(group_id)
            if resolved is None:
                reason = (
                    f"customer group {group_id} has no terms"
                    if group_id
                    else "the customer is in no customer group"
                )
        if resolved is None:
            return await self._record_ignored(order, group_id, reason or "", actor)

        schedule = compute_schedule(
            resolved.entry.policy,
            order.date_created,
            await self.store_time_zone(),
            order.total_inc_tax,
            order.currency_code,
        )
        credit = await self._credit(order, resolved)
        note = terms_line(schedule, credit.reason if credit.held else None)
        tracked = await self._ledger.record(
            NewTrackedOrder(
                order_id=order.id,
                customer_id=order.customer_id,
                customer_group_id=resolved.group_id,
                group_name=resolved.group_name,
                policy=schedule.policy,
                schedule=schedule.to_json(),
                order_created_at=order.date_created,
                due_date=schedule.first_due,
                amount=schedule.total,
                currency=schedule.currency,
                state="applying",
                target_state="held" if credit.held else "awaiting_payment",
                ignored_reason=None,
                bc_status_id=order.status_id,
                bc_date_modified=order.date_modified,
                explanation=schedule.explanation,
                note_line=note,
                hold_reason=credit.reason,
            ),
            actor=actor,
            action="terms.decided",
            at=self._clock.now(),
        )
        log.info(
            "order.terms_decided",
            order_id=order.id,
            customer_id=order.customer_id,
            group=resolved.group_name,
            due_date=schedule.first_due.isoformat(),
            explanation=schedule.explanation,
        )
        return tracked

    def _not_new_because(self, order: Order) -> str | None:
        if order.is_deleted:
            return "archived before netterms saw it"
        if order.is_guest:
            return "guest order"
        if order.status_id in self._orders.closed_status_ids:
            return f"{status_name(order.status_id)} before terms were applied"
        if order.status_id not in self._orders.new_status_ids:
            return (
                f"first seen in status {status_name(order.status_id)}, not a new order"
            )
        return None

    async def _record_ignored(
        self, order: Order, group_id: int | None, reason: str, actor: str
    ) -> TrackedOrder:
        tracked = await self._ledger.record(
            NewTrackedOrder(
                order_id=order.id,
                customer_id=order.customer_id,
                customer_group_id=group_id,
                group_name=None,
                policy=None,
                schedule=None,
                order_created_at=order.date_created,
                due_date=None,
                amount=order.total_inc_tax,
                currency=order.currency_code or "USD",
                state="ignored",
                target_state=None,
                ignored_reason=reason,
                bc_status_id=order.status_id,
                bc_date_modified=order.date_modified,
            ),
            actor=actor,
            action="order.ignored",
            at=self._clock.now(),
        )
        log.info("order.ignored", order_id=order.id, reason=reason)
        return tracked

    async def _credit(self, order: Order, resolved: ResolvedTerms) -> CreditDecision:
        limit = self._credit_limits.get(
            order.customer_id, resolved.entry.policy.credit_limit
        )
        if limit is None:
            return CreditDecision(held=False)
        owed = await self._ledger.open_balance(
            order.customer_id, order.currency_code, excluding=order.id
        )
        if owed + order.total_inc_tax <= limit:
            return CreditDecision(held=False, limit=limit, open_balance=owed)
        unit = minor_unit(order.currency_code)
        reason = (
            f"credit limit {order.currency_code} {limit.quantize(unit)} exceeded: open "
            f"balance {owed.quantize(unit)} + this order "
            f"{order.total_inc_tax.quantize(unit)}"
        )
        return CreditDecision(held=True, reason=reason, limit=limit, open_balance=owed)

    async def _apply(self, order: Order, tracked: TrackedOrder, actor: str) -> str:
        """Write the decision to BigCommerce, finishing whatever a crash left undone."""
        held = tracked.target_state == "held"
        status_id = self._orders.hold_status_id if held else AWAITING_PAYMENT
        note = tracked.note_line or ""

        if note not in order.staff_notes:
            before = {"status_id": order.status_id}
            order = await self._client.update_order(
                order.id,
                status_id=status_id,
                staff_notes=append_note(order.staff_notes, note),
            )
            failpoints.reach("after_order_update")
            await self._ledger.audit(
                order.id,
                "bigcommerce.order_updated",
                actor=actor,
                at=self._clock.now(),
                before=before,
                after={"status_id": order.status_id, "note_added": note},
            )

        state = "held" if held else "awaiting_payment"
        updated = await self._ledger.update(
            order.id,
            {
                "state": state,
                "bc_status_id": order.status_id,
                "bc_date_modified": order.date_modified,
            },
            actor=actor,
            action="terms.applied",
            at=self._clock.now(),
        )
        self.metafields.wake()
        self._log_applied(updated)

        if order.status_id != status_id:
            # Changed in the store since the terms were written (before a crash).
            return await self._follow(order, updated, actor)
        return "held" if held else "applied"

    def _log_applied(self, tracked: TrackedOrder) -> None:
        fields = {
            "order_id": tracked.order_id,
            "customer_id": tracked.customer_id,
            "amount": str(tracked.amount),
            "currency": tracked.currency,
            "due_date": tracked.due_date.isoformat() if tracked.due_date else None,
        }
        if tracked.state == "held":
            log.warning("credit.limit_exceeded", reason=tracked.hold_reason, **fields)
        else:
            log.info("order.terms_applied", policy=tracked.policy, **fields)

    async def _follow(self, order: Order, tracked: TrackedOrder, actor: str) -> str:
        """An order with terms (or ignored) changed in the store: follow it."""
        if tracked.bc_date_modified and order.date_modified < tracked.bc_date_modified:
            return "stale"

        status = order.status_id
        if order.is_deleted and tracked.state in (*OPEN_STATES, "paid"):
            await self._close(tracked, "archived", actor, order)
            return "closed"
        if tracked.state in OPEN_STATES and status in self._orders.paid_status_ids:
            await self._transition(
                order, tracked, "paid", actor, paid_at=self._clock.now()
            )
            log.info(
                "order.paid",
                order_id=order.id,
                customer_id=order.customer_id,
                amount=str(tracked.amount),
                currency=tracked.currency,
                status=status_name(status),
            )
            return "paid"
        if (
            tracked.state in (*OPEN_STATES, "paid")
            and status in self._orders.closed_status_ids
        ):
            await self._close(tracked, status_name(status), actor, order)
            return "closed"
        if tracked.state == "held" and status == AWAITING_PAYMENT:
            await self._transition(order, tracked, "awaiting_payment", actor)
            log.info("order.hold_released", order_id=order.id)
            return "released"
        if status != tracked.bc_status_id:
            await self._ledger.update(
                order.id,
                {"bc_status_id": status, "bc_date_modified": order.date_modified},
                actor=actor,
                action="status.changed",
                at=self._clock.now(),
            )
            return "status_recorded"
        return "unchanged"

    async def _transition(
        self,
        order: Order,
        tracked: TrackedOrder,
        state: str,
        actor: str,
        paid_at: datetime | None = None,
    ) -> None:
        changes: dict[str, object] = {
            "state": state,
            "bc_status_id": order.status_id,
            "bc_date_modified": order.date_modified,
        }
        if paid_at is not None:
            changes["paid_at"] = paid_at
        await self._ledger.update(
            order.id,
            changes,
            actor=actor,
            action=f"order.{state}",
            at=self._clock.now(),
        )

    async def _close(
        self, tracked: TrackedOrder, reason: str, actor: str, order: Order | None = None
    ) -> None:
        changes: dict[str, object] = {
            "state": "closed",
            "closed_at": self._clock.now(),
            "closed_reason": reason,
        }
        if order is not None:
            changes["bc_status_id"] = order.status_id
            changes["bc_date_modified"] = order.date_modified
        await self._ledger.update(
            tracked.order_id,
            changes,
            actor=actor,
            action="order.closed",
            at=self._clock.now(),
        )
        log.info("order.closed", order_id=tracked.order_id, reason=reason)

    async def store_time_zone(self) -> str:
        """The store's time zone, read once and remembered for reports."""
        if self._time_zone is None:
            zone = (await self._client.store_information()).timezone
            await remember_time_zone(self._ledger.pool, self._ledger.store_hash, zone)
            self._time_zone = zone
        return self._time_zone


def _surely_older(order: Order, tracked: TrackedOrder) -> bool:
    """
    Whether a prefetched order is a version before the one the ledger holds.

    An order still `applying` is read regardless: the write it waits for may
    have reached the store before a crash.
    """
    if tracked.bc_date_modified is None or tracked.state == "applying":
        return False
    return order.date_modified < tracked.bc_date_modified


def _maybe_older(order: Order, tracked: TrackedOrder) -> bool:
    """Whether a prefetched order could predate what the ledger last recorded."""
    if tracked.bc_date_modified is None:
        return False
    return order.date_modified <= tracked.bc_date_modified and (
        order.status_id != tracked.bc_status_id or tracked.state == "applying"
    )
