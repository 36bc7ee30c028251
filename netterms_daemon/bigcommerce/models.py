"""Typed values from BigCommerce answers: aware datetimes, Decimal money, int ids.

Only the fields netterms uses are kept. A parser raises KeyError, TypeError
or ValueError on a body that is not what the API documents; the client turns
that into UnexpectedResponseError naming the call.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any

JSON = dict[str, Any]

# BigCommerce's order status ids, their system names and their sort order.
ORDER_STATUSES: tuple[tuple[int, str, int], ...] = (
    (0, "Incomplete", 0),
    (1, "Pending", 1),
    (2, "Shipped", 8),
    (3, "Partially Shipped", 6),
    (4, "Refunded", 11),
    (5, "Cancelled", 9),
    (6, "Declined", 10),
    (7, "Awaiting Payment", 2),
    (8, "Awaiting Pickup", 5),
    (9, "Awaiting Shipment", 4),
    (10, "Completed", 7),
    (11, "Awaiting Fulfillment", 3),
    (12, "Manual Verification Required", 13),
    (13, "Disputed", 12),
    (14, "Partially Refunded", 14),
)
STATUS_NAMES = {status_id: name for status_id, name, _ in ORDER_STATUSES}


def parse_rfc2822(raw: str) -> datetime:
    """A v2 date such as 'Tue, 05 Mar 2019 21:40:11 +0000', as an aware datetime."""
    value = parsedate_to_datetime(raw)
    if value.tzinfo is None:
        raise ValueError(f"date without an offset: {raw!r}")
    return value


def format_rfc2822(value: datetime) -> str:
    """An aware datetime as v2 writes dates: always in UTC, '+0000'."""
    return value.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def parse_iso(raw: str) -> datetime:
    """A v3 ISO 8601 date; a naive one is taken as UTC."""
    value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def money(raw: Any) -> Decimal:
    """A 4-decimal money string (or number) as Decimal, never through float."""
    if isinstance(raw, bool) or raw is None:
        raise TypeError(f"not an amount: {raw!r}")
    return Decimal(str(raw))


@dataclass(frozen=True, slots=True)
class CustomerGroup:
    """A customer group; net-terms policies attach to these by name or id."""

    id: int
    name: str
    is_default: bool = False

    @classmethod
    def parse(cls, body: JSON) -> CustomerGroup:
        """From a /v2/customer_groups item."""
        return cls(int(body["id"]), str(body["name"]), bool(body.get("is_default")))


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer and the group they are in now."""

    id: int
    email: str
    customer_group_id: int | None
    first_name: str = ""
    last_name: str = ""
    company: str = ""

    @classmethod
    def parse(cls, body: JSON) -> Customer:
        """From a /v3/customers item; group 0 means no group."""
        group = body.get("customer_group_id")
        return cls(
            id=int(body["id"]),
            email=str(body.get("email", "")),
            customer_group_id=int(group) if group else None,
            first_name=str(body.get("first_name") or ""),
            last_name=str(body.get("last_name") or ""),
            company=str(body.get("company") or ""),
        )


@dataclass(frozen=True, slots=True)
class Order:
    """An order as v2 returns it."""

    id: int
    customer_id: int
    status_id: int
    status: str
    date_created: datetime
    date_modified: datetime
    total_inc_tax: Decimal
    total_ex_tax: Decimal
    currency_code: str
    staff_notes: str
    payment_status: str
    is_deleted: bool

    @property
    def is_guest(self) -> bool:
        """Guest orders have customer id 0 and can never be on terms."""
        return self.customer_id == 0

    @classmethod
    def parse(cls, body: JSON) -> Order:
        """From a /v2/orders item; the currency is the one the shopper pays in."""
        currency = body.get("default_currency_code") or body.get("currency_code")
        return cls(
            id=int(body["id"]),
            customer_id=int(body["customer_id"]),
            status_id=int(body["status_id"]),
            status=str(body.get("status", "")),
            date_created=parse_rfc2822(body["date_created"]),
            date_modified=parse_rfc2822(body["date_modified"]),
            total_inc_tax=money(body["total_inc_tax"]),
            total_ex_tax=money(body["total_ex_tax"]),
            currency_code=str(currency or ""),
            staff_notes=str(body.get("staff_notes") or ""),
            payment_status=str(body.get("payment_status") or ""),
            is_deleted=bool(body.get("is_deleted", False)),
        )


@dataclass(frozen=True, slots=True)
class OrderStatus:
    """One of the store's order statuses; match on id, labels can be renamed."""

    id: int
    name: str
    custom_label: str

    @classmethod
    def parse(cls, body: JSON) -> OrderStatus:
        """From a /v2/order_statuses item."""
        name = str(body.get("name") or body.get("system_label") or "")
        return cls(int(body["id"]), name, str(body.get("custom_label") or name))


@dataclass(frozen=True, slots=True)
class Metafield:
    """An order metafield; netterms keeps the payment schedule in one."""

    id: int
    resource_id: int
    namespace: str
    key: str
    value: str
    permission_set: str

    @classmethod
    def parse(cls, body: JSON) -> Metafield:
        """From a /v3/orders/.../metafields item."""
        return cls(
            id=int(body["id"]),
            resource_id=int(body["resource_id"]),
            namespace=str(body["namespace"]),
            key=str(body["key"]),
            value=str(body["value"]),
            permission_set=str(body["permission_set"]),
        )


@dataclass(frozen=True, slots=True)
class MetafieldWrite:
    """A metafield to create or update, for one order."""

    order_id: int
    namespace: str
    key: str
    value: str
    permission_set: str = "app_only"
    description: str = ""

    def body(self) -> JSON:
        """The JSON body the API takes."""
        body: JSON = {
            "namespace": self.namespace,
            "key": self.key,
            "value": self.value,
            "permission_set": self.permission_set,
        }
        if self.description:
            body["description"] = self.description
        return body


@dataclass(frozen=True)
class MetafieldBatch:
    """What one batch create did: the metafields made, the writes refused, why."""

    created: list[Metafield]
    refused: list[MetafieldWrite]
    reason: str


@dataclass(frozen=True, slots=True)
class Webhook:
    """A hook registered by this API account."""

    id: int
    scope: str
    destination: str
    is_active: bool
    headers: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def parse(cls, body: JSON) -> Webhook:
        """From a /v3/hooks item; times are Unix seconds."""
        return cls(
            id=int(body["id"]),
            scope=str(body["scope"]),
            destination=str(body["destination"]),
            is_active=bool(body.get("is_active", True)),
            headers={str(k): str(v) for k, v in (body.get("headers") or {}).items()},
            created_at=_unix(body.get("created_at")),
            updated_at=_unix(body.get("updated_at")),
        )


def _unix(raw: Any) -> datetime | None:
    return datetime.fromtimestamp(int(raw), UTC) if raw is not None else None


@dataclass(frozen=True, slots=True)
class BlockedDomain:
    """A destination BigCommerce stopped delivering to for a while."""

    destination: str
    time_left_s: int
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class HooksAdmin:
    """The hooks admin view: deactivated hooks and blocked domains."""

    emails: tuple[str, ...]
    hook_statuses: dict[int, str]
    blocked_domains: tuple[BlockedDomain, ...]

    @classmethod
    def parse(cls, body: JSON) -> HooksAdmin:
        """From the data of GET /v3/hooks/admin."""
        blocked = tuple(
            BlockedDomain(
                destination=str(item.get("destination", "")),
                time_left_s=int(item.get("time_left") or 0),
                reasons=tuple(
                    str(reason.get("failure_description", ""))
                    for reason in item.get("reasons") or []
                ),
            )
            for item in body.get("blocked_domains") or []
        )
        return cls(
            emails=tuple(str(e) for e in body.get("emails") or []),
            hook_statuses={
                int(hook["id"]): str(hook.get("status", ""))
                for hook in body.get("hooks_list") or []
            },
            blocked_domains=blocked,
        )


@dataclass(frozen=True, slots=True)
class StoreInfo:
    """The store's identity and business time zone."""

    id: str
    name: str
    timezone: str
    currency: str
    plan_level: str

    @classmethod
    def parse(cls, body: JSON) -> StoreInfo:
        """From GET /v2/store."""
        zone = body.get("timezone") or {}
        return cls(
            id=str(body["id"]),
            name=str(body.get("name", "")),
            timezone=str(zone["name"]),
            currency=str(body.get("currency", "")),
            plan_level=str(body.get("plan_level", "")),
        )
