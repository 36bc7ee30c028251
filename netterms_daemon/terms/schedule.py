"""Turn a policy and an order into its payment schedule: dates, amounts, explanation.

Pure: the order's creation time comes in as an aware datetime (BigCommerce
gives it in UTC) and is converted to the store's time zone before any date
arithmetic, so an order placed at 23:30 UTC that is already tomorrow in the
store is dated tomorrow. Amounts are exact in the currency's minor units;
the last installment takes the balance, so the installments always sum to
the total.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from netterms_daemon.terms.policy import (
    DateRule,
    Policy,
    PolicyError,
    Rolling,
    RuleKind,
)

# ISO 4217 currencies whose minor unit is not the cent.
_EXPONENTS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip
# No public holiday calendar keeps a due date off business days for this long.
_MAX_ROLL_DAYS = 31


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of a currency: 0.01 for USD, 1 for JPY, 0.001 for KWD."""
    return Decimal(1).scaleb(-_EXPONENTS.get(currency.upper(), 2))


@dataclass(frozen=True)
class Due:
    """One installment of a schedule."""

    number: int
    due_date: date
    amount: Decimal
    percent: Decimal | None
    rolled_from: date | None = None
    rolled_past: str | None = None


@dataclass(frozen=True)
class DiscountOffer:
    """The early-payment discount on offer: recorded and shown, never charged."""

    percent: Decimal
    deadline: date
    amount: Decimal


@dataclass(frozen=True)
class Schedule:
    """An order's frozen payment schedule."""

    policy: str
    order_date: date
    time_zone: str
    currency: str
    total: Decimal
    installments: tuple[Due, ...]
    discount: DiscountOffer | None
    explanation: str

    @property
    def first_due(self) -> date:
        """When the first money is due: past it, the order is overdue."""
        return self.installments[0].due_date

    @property
    def final_due(self) -> date:
        """When the last installment is due."""
        return self.installments[-1].due_date

    def to_json(self) -> dict[str, Any]:
        """Plain JSON: dates as YYYY-MM-DD, money as strings."""
        return {
            "policy": self.policy,
            "order_date": self.order_date.isoformat(),
            "time_zone": self.time_zone,
            "currency": self.currency,
            "total": str(self.total),
            "installments": [
                {
                    "number": due.number,
                    "due_date": due.due_date.isoformat(),
                    "amount": str(due.amount),
                    "percent": None if due.percent is None else str(due.percent),
                    "rolled_from": due.rolled_from.isoformat()
                    if due.rolled_from
                    else None,
                    "rolled_past": due.rolled_past,
                }
                for due in self.installments
            ],
            "discount": None
            if self.discount is None
            else {
                "percent": str(self.discount.percent),
                "deadline": self.discount.deadline.isoformat(),
                "amount": str(self.discount.amount),
            },
            "explanation": self.explanation,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Schedule:
        """Read back what to_json wrote."""
        discount = data.get("discount")
        return cls(
            policy=data["policy"],
            order_date=date.fromisoformat(data["order_date"]),
            time_zone=data["time_zone"],
            currency=data["currency"],
            total=Decimal(data["total"]),
            installments=tuple(
                Due(
                    number=item["number"],
                    due_date=date.fromisoformat(item["due_date"]),
                    amount=Decimal(item["amount"]),
                    percent=None
                    if item["percent"] is None
                    else Decimal(item["percent"]),
                    rolled_from=date.fromisoformat(item["rolled_from"])
                    if item.get("rolled_from")
                    else None,
                    rolled_past=item.get("rolled_past"),
                )
                for item in data["installments"]
            ),
            discount=None
            if discount is None
            else DiscountOffer(
                Decimal(discount["percent"]),
                date.fromisoformat(discount["deadline"]),
                Decimal(discount["amount"]),
            ),
            explanation=data["explanation"],
        )


def order_date(created_at: datetime, time_zone: str) -> date:
    """The calendar date of an order in the store's time zone."""
    if created_at.tzinfo is None:
        raise ValueError("the order time must carry its offset")
    return created_at.astimezone(_zone(time_zone)).date()


def compute_schedule(
    policy: Policy, created_at: datetime, time_zone: str, total: Decimal, currency: str
) -> Schedule:
    """The schedule an order placed at created_at gets under policy."""
    ordered = order_date(created_at, time_zone)
    unit = minor_unit(currency)
    total = total.quantize(unit, ROUND_HALF_UP)

    dues: list[Due] = []
    allotted = Decimal(0)
    for number, installment in enumerate(policy.installments, start=1):
        if installment.percent is None:
            amount = total - allotted
        else:
            amount = (total * installment.percent / 100).quantize(unit, ROUND_HALF_UP)
        allotted += amount
        natural = due_date(installment.rule, ordered)
        rolled, reason = roll(natural, policy)
        dues.append(
            Due(
                number=number,
                due_date=rolled,
                amount=amount,
                percent=installment.percent,
                rolled_from=natural if rolled != natural else None,
                rolled_past=reason,
            )
        )

    discount = None
    if policy.discount is not None:
        discount = DiscountOffer(
            percent=policy.discount.percent,
            deadline=ordered + timedelta(days=policy.discount.days),
            amount=(total * policy.discount.percent / 100).quantize(
                unit, ROUND_HALF_UP
            ),
        )

    return Schedule(
        policy=policy.describe(),
        order_date=ordered,
        time_zone=time_zone,
        currency=currency.upper(),
        total=total,
        installments=tuple(dues),
        discount=discount,
        explanation=_explain(policy, ordered, time_zone, dues, discount, currency),
    )


def due_date(rule: DateRule, ordered: date) -> date:
    """Where a rule puts the due date for an order of this date, before rolling."""
    if rule.kind is RuleKind.NET_DAYS:
        return ordered + timedelta(days=rule.days)
    if rule.kind is RuleKind.END_OF_MONTH:
        return _month_end(ordered.year, ordered.month) + timedelta(days=rule.days)
    if rule.kind is RuleKind.END_OF_NEXT_MONTH:
        year, month = _add_months(ordered.year, ordered.month, 1)
        return _month_end(year, month) + timedelta(days=rule.days)
    if rule.kind is RuleKind.DAY_OF_NEXT_MONTH:
        ahead = (
            2 if rule.cutoff_day is not None and ordered.day > rule.cutoff_day else 1
        )
        year, month = _add_months(ordered.year, ordered.month, ahead)
        return date(year, month, min(rule.days, calendar.monthrange(year, month)[1]))
    return ordered


def roll(natural: date, policy: Policy) -> tuple[date, str | None]:
    """Move a due date off weekends and holidays as the policy says; say past what."""
    if policy.rolling is Rolling.NONE:
        return natural, None

    step = timedelta(days=1 if policy.rolling is Rolling.FORWARD else -1)
    calendar_of = _holidays(policy.holiday_country, policy.holiday_subdivision)
    current = natural
    passed: list[str] = []
    for _ in range(_MAX_ROLL_DAYS):
        reason = _closed_because(current, calendar_of)
        if reason is None:
            break
        if reason not in passed:
            passed.append(reason)
        current += step
    else:
        raise PolicyError(f"no business day within {_MAX_ROLL_DAYS} days of {natural}")

    return current, " and ".join(passed) if passed else None


def _closed_because(day: date, calendar_of: holidays.HolidayBase | None) -> str | None:
    if calendar_of is not None and day in calendar_of:
        return str(calendar_of.get(day))
    if day.weekday() >= 5:
        return "the weekend"
    return None


@lru_cache(maxsize=64)
def _holidays(
    country: str | None, subdivision: str | None
) -> holidays.HolidayBase | None:
    if country is None:
        return None
    try:
        return holidays.country_holidays(country, subdiv=subdivision)
    except NotImplementedError as exc:
        raise PolicyError(
            f"no holiday calendar for {country} {subdivision or ''}".strip()
        ) from exc


def check_holidays(policy: Policy) -> None:
    """Raise PolicyError now if the policy's holiday calendar does not exist."""
    _holidays(policy.holiday_country, policy.holiday_subdivision)


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PolicyError(f"unknown time zone {name!r}") from None


def check_time_zone(name: str) -> None:
    """Raise PolicyError if the time zone is unknown."""
    _zone(name)


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _add_months(year: int, month: int, count: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + count
    return index // 12, index % 12 + 1


def _explain(
    policy: Policy,
    ordered: date,
    time_zone: str,
    dues: list[Due],
    discount: DiscountOffer | None,
    currency: str,
) -> str:
    text = f"{policy.describe()} from {ordered.isoformat()} in {time_zone}"
    if len(dues) > 1:
        text += ": " + ", ".join(
            f"{currency.upper()} {due.amount} due {due.due_date.isoformat()}"
            for due in dues
        )
    reasons = []
    for due in dues:
        if due.rolled_past and due.rolled_past not in reasons:
            reasons.append(due.rolled_past)
    if reasons:
        text += f", rolled past {' and '.join(reasons)}"
    if discount is not None:
        text += (
            f"; {_plain(discount.percent)}% off ({currency.upper()} {discount.amount}) "
            f"if paid by {discount.deadline.isoformat()}"
        )
    return text


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")
