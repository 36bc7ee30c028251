"""What a terms policy is, and how it is written: "net 30", "2/10 net 30 eom", ...

A policy is one or more installments, each a share of the order total due
at a date rule, with an optional early-payment discount and optional rolling
of due dates onto business days. Parsing is strict: anything not understood
is an error that says what was expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum


class PolicyError(ValueError):
    """A policy text or setting that cannot be understood; the message says why."""


class RuleKind(Enum):
    """When an installment falls due, relative to the order date."""

    NET_DAYS = "net"  # N days after the order
    END_OF_MONTH = "eom"  # N days after the end of the order's month
    END_OF_NEXT_MONTH = "eonm"  # N days after the end of the next month
    DAY_OF_NEXT_MONTH = "day"  # day D of the next month, later past a cut-off
    ON_RECEIPT = "receipt"  # the order date itself


@dataclass(frozen=True)
class DateRule:
    """One due-date rule; `days` is N or D depending on the kind."""

    kind: RuleKind
    days: int = 0
    cutoff_day: int | None = None

    def describe(self) -> str:
        """The rule in words, as explanations show it."""
        if self.kind is RuleKind.NET_DAYS:
            return f"Net {self.days}"
        if self.kind is RuleKind.END_OF_MONTH:
            return f"Net {self.days} EOM"
        if self.kind is RuleKind.END_OF_NEXT_MONTH:
            return f"Net {self.days} after the end of next month"
        if self.kind is RuleKind.DAY_OF_NEXT_MONTH:
            text = f"Day {self.days} of next month"
            if self.cutoff_day is not None:
                text += (
                    f" (orders after the {_ordinal(self.cutoff_day)}: the month after)"
                )
            return text
        return "Due on receipt"


@dataclass(frozen=True)
class Installment:
    """A share of the total (None: the balance left) due under a rule."""

    percent: Decimal | None
    rule: DateRule

    def describe(self) -> str:
        share = "balance" if self.percent is None else f"{_plain(self.percent)}%"
        return f"{share} {self.rule.describe()}"


@dataclass(frozen=True)
class Discount:
    """An early-payment discount: percent off if paid within days. Never charged."""

    percent: Decimal
    days: int


class Rolling(Enum):
    """What happens to a due date that falls on a weekend or public holiday."""

    NONE = "none"
    FORWARD = "forward"
    BACKWARD = "backward"


@dataclass(frozen=True)
class Policy:
    """A complete terms policy, as configured for a customer group."""

    text: str
    installments: tuple[Installment, ...]
    discount: Discount | None = None
    rolling: Rolling = Rolling.NONE
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    credit_limit: Decimal | None = None

    def describe(self) -> str:
        """The policy in words, e.g. 'Net 30 EOM' or '2/10 Net 30'."""
        if len(self.installments) == 1 and self.installments[0].percent is None:
            body = self.installments[0].rule.describe()
        else:
            body = ", ".join(i.describe() for i in self.installments)
        if self.discount is not None:
            body = f"{_plain(self.discount.percent)}/{self.discount.days} {body}"
        return body


_RULE = re.compile(
    r"""^(?:
        net\s+(?P<net>\d+)
          (?:\s+(?P<month>eom|end\s+of\s+month|end\s+of\s+next\s+month))?
      | (?:due\s+)?on\s+receipt
      | day\s+(?P<day>\d+)\s+(?:of\s+)?next\s+month(?:\s+cut-?off\s+(?P<cutoff>\d+))?
    )$""",
    re.VERBOSE,
)
_SHARE = re.compile(
    r"^(?:(?P<percent>\d+(?:\.\d+)?)\s*%|(?P<balance>balance))\s+(?P<rest>.+)$"
)
_DISCOUNT = re.compile(
    r"^(?P<percent>\d+(?:\.\d+)?)\s*/\s*(?P<days>\d+)\s+(?P<rest>.+)$"
)

MAX_DAYS = 3650


def parse_policy(
    text: str,
    *,
    rolling: str = "none",
    holiday_country: str | None = None,
    holiday_subdivision: str | None = None,
    credit_limit: str | Decimal | None = None,
) -> Policy:
    """Read a policy: 'net 30', '2/10 net 30 eom', '50% net 30, balance net 60'."""
    normalised = " ".join(text.lower().split())
    if not normalised:
        raise PolicyError("the policy is empty")

    discount = None
    match = _DISCOUNT.match(normalised)
    if match:
        discount = Discount(
            _percent(match["percent"], text), _days(match["days"], text)
        )
        normalised = match["rest"]

    installments = _installments(normalised, text)
    return Policy(
        text=text.strip(),
        installments=installments,
        discount=discount,
        rolling=_rolling(rolling),
        holiday_country=holiday_country.upper() if holiday_country else None,
        holiday_subdivision=holiday_subdivision.upper()
        if holiday_subdivision
        else None,
        credit_limit=_credit_limit(credit_limit),
    )


def _installments(normalised: str, text: str) -> tuple[Installment, ...]:
    parts = [part.strip() for part in normalised.split(",")]
    if len(parts) == 1:
        return (Installment(None, _rule(parts[0], text)),)

    found = []
    stated = Decimal(0)
    for index, part in enumerate(parts):
        match = _SHARE.match(part)
        if match is None:
            raise PolicyError(
                f"{text!r}: each installment starts with a share such as '50%' "
                f"or 'balance', got {part!r}"
            )
        last = index == len(parts) - 1
        if match["balance"] and not last:
            raise PolicyError(f"{text!r}: only the last installment may be the balance")
        if match["percent"]:
            stated += _percent(match["percent"], text)
        percent = None if last else _percent(match["percent"], text)
        found.append(Installment(percent, _rule(match["rest"], text)))

    before_last = sum((i.percent for i in found if i.percent is not None), Decimal(0))
    if before_last >= 100:
        raise PolicyError(
            f"{text!r}: the shares before the last add up to {before_last}%"
        )
    last_is_balance = _SHARE.match(parts[-1])
    if last_is_balance is not None and last_is_balance["percent"] and stated != 100:
        raise PolicyError(
            f"{text!r}: the shares add up to {stated}%; end with 'balance' "
            "or make them 100%"
        )
    return tuple(found)


def _rule(part: str, text: str) -> DateRule:
    match = _RULE.match(part)
    if match is None:
        raise PolicyError(
            f"{text!r}: {part!r} is not a due-date rule; use 'net N', 'net N eom', "
            "'net N end of next month', 'day D next month [cutoff C]' "
            "or 'due on receipt'"
        )
    if match["net"] is not None:
        kind = RuleKind.NET_DAYS
        if match["month"]:
            kind = (
                RuleKind.END_OF_NEXT_MONTH
                if "next" in match["month"]
                else RuleKind.END_OF_MONTH
            )
        return DateRule(kind, _days(match["net"], text))
    if match["day"] is not None:
        day = int(match["day"])
        cutoff = int(match["cutoff"]) if match["cutoff"] else None
        if not 1 <= day <= 31 or (cutoff is not None and not 1 <= cutoff <= 31):
            raise PolicyError(f"{text!r}: days of the month run from 1 to 31")
        return DateRule(RuleKind.DAY_OF_NEXT_MONTH, day, cutoff)
    return DateRule(RuleKind.ON_RECEIPT)


def _days(raw: str, text: str) -> int:
    days = int(raw)
    if days > MAX_DAYS:
        raise PolicyError(f"{text!r}: {days} days is more than {MAX_DAYS}")
    return days


def _percent(raw: str, text: str) -> Decimal:
    value = Decimal(raw)
    if not 0 < value < 100:
        raise PolicyError(
            f"{text!r}: a percentage must be above 0 and below 100, got {raw}"
        )
    return value


def _rolling(raw: str) -> Rolling:
    try:
        return Rolling(raw.lower())
    except ValueError:
        raise PolicyError(
            f"roll must be none, forward or backward, got {raw!r}"
        ) from None


def _credit_limit(raw: str | Decimal | None) -> Decimal | None:
    if raw is None:
        return None
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise PolicyError(
            f'credit_limit must be an amount such as "25000.00", got {raw!r}'
        ) from None
    if not value.is_finite() or value < 0:
        raise PolicyError(f"credit_limit must be zero or more, got {raw!r}")
    return value


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _ordinal(day: int) -> str:
    suffix = (
        "th"
        if 11 <= day % 100 <= 13
        else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    )
    return f"{day}{suffix}"
