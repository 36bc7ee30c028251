"""`netterms terms preview`: the schedule a new order would get, touching nothing.

A dry run for the people who write policies: it resolves a policy (a
configured group's, or one given on the command line), dates an imaginary
order in the store's time zone and prints its installments, discount and
explanation, exactly as the daemon would compute them. No store, no
database. Every mistake in the arguments is one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import TextIO
from zoneinfo import ZoneInfo

from netterms_daemon.config import Settings, TermsEntry
from netterms_daemon.terms.policy import Policy, PolicyError, Rolling, parse_policy
from netterms_daemon.terms.schedule import (
    Due,
    Schedule,
    check_holidays,
    check_time_zone,
    compute_schedule,
)

PROG = "netterms terms preview"
EXIT_OK = 0
EXIT_USAGE = 2

_LABEL_WIDTH = 13


class _UsageError(ValueError):
    """An argument that cannot be used; the message is the line to print."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options; values are checked in run_preview, one line per error."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--group",
        metavar="NAME",
        help="a customer group configured in [[terms]], by name or group id",
    )
    source.add_argument(
        "--policy", metavar="TEXT", help='a policy such as "2/10 net 30 eom"'
    )

    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument(
        "--date",
        metavar="YYYY-MM-DD",
        help="the order's date in the store's time zone",
    )
    when.add_argument(
        "--at",
        metavar="INSTANT",
        help="the order's creation time, ISO 8601 with an offset or Z "
        "(e.g. 2027-01-31T23:30:00Z, as BigCommerce reports it)",
    )

    parser.add_argument(
        "--time-zone",
        default="UTC",
        metavar="ZONE",
        help="the store's time zone, as set in BigCommerce, e.g. America/Chicago; "
        "orders are dated in it (default: UTC)",
    )
    parser.add_argument(
        "--amount", default="1000.00", help="the order total (default: 1000.00)"
    )
    parser.add_argument(
        "--currency", default="USD", help="ISO 4217 currency code (default: USD)"
    )
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="a table for people or the stored JSON (default: text)",
    )
    _add_policy_options(parser)


def _add_policy_options(parser: argparse.ArgumentParser) -> None:
    # Defaults are None, not "none", so that giving them with --group is caught.
    options = parser.add_argument_group(
        "with --policy only (with --group the configured entry's options apply)"
    )
    options.add_argument(
        "--roll",
        choices=[rolling.value for rolling in Rolling],
        help="move due dates off weekends and holidays (default: none)",
    )
    options.add_argument(
        "--holiday-country",
        metavar="XX",
        help="ISO country whose public holidays count when rolling, e.g. US",
    )
    options.add_argument(
        "--holiday-subdivision",
        metavar="YY",
        help="state or province of --holiday-country, e.g. CA",
    )


def run_preview(settings: Settings, args: argparse.Namespace, out: TextIO) -> int:
    """Print the schedule an order would get; user errors are one stderr line, 2."""
    try:
        policy, group = _resolve_policy(settings, args)
        schedule = _schedule(policy, args)
    except _UsageError as exc:
        # Messages may quote user input; keep the promise of exactly one line.
        message = " ".join(str(exc).splitlines())
        print(f"{PROG}: {message}", file=sys.stderr)
        return EXIT_USAGE

    if args.format == "json":
        out.write(json.dumps(schedule.to_json(), indent=2) + "\n")
    else:
        out.write(render_text(schedule, policy, group))
    return EXIT_OK


def _resolve_policy(
    settings: Settings, args: argparse.Namespace
) -> tuple[Policy, TermsEntry | None]:
    """The policy to preview, and the configured entry it came from, if any."""
    if args.group is not None:
        if args.roll is not None or args.holiday_country or args.holiday_subdivision:
            raise _UsageError(
                "--roll and --holiday-* go with --policy; with --group the "
                "configured entry's options apply"
            )
        entry = find_entry(settings.terms, args.group)
        return entry.policy, entry

    if args.holiday_subdivision and not args.holiday_country:
        raise _UsageError("--holiday-subdivision needs --holiday-country")
    try:
        policy = parse_policy(
            args.policy,
            rolling=args.roll or Rolling.NONE.value,
            holiday_country=args.holiday_country,
            holiday_subdivision=args.holiday_subdivision,
        )
    except PolicyError as exc:
        raise _UsageError(f"--policy: {exc}") from None
    try:
        check_holidays(policy)
    except PolicyError as exc:
        raise _UsageError(f"--holiday-country: {exc}") from None
    return policy, None


def find_entry(entries: tuple[TermsEntry, ...], wanted: str) -> TermsEntry:
    """The [[terms]] entry for a group name (exact case) or, failing that, id."""
    name = wanted.strip()
    for entry in entries:
        if entry.group == name:
            return entry
    if name.isdigit():
        for entry in entries:
            if entry.group_id == int(name):
                return entry

    if not entries:
        raise _UsageError(
            f"no group {wanted!r}: no [[terms]] entries are configured; "
            "use --policy to try a policy"
        )
    known = ", ".join(entry.label for entry in entries)
    raise _UsageError(f"no group {wanted!r} in [[terms]]; configured: {known}")


def _schedule(policy: Policy, args: argparse.Namespace) -> Schedule:
    """Check the order's details and compute its schedule as the daemon would."""
    zone = _time_zone(args.time_zone)
    created_at = _created_at(args.date, args.at, zone)
    amount = _amount(args.amount)
    currency = _currency(args.currency)

    try:
        return compute_schedule(policy, created_at, args.time_zone, amount, currency)
    except PolicyError as exc:
        # e.g. a holiday calendar with no business day near a due date.
        raise _UsageError(str(exc)) from None
    except OverflowError:
        raise _UsageError("the due dates would fall past the year 9999") from None
    except InvalidOperation:
        # Decimal quantize refuses totals with more digits than its precision.
        raise _UsageError(f"--amount {args.amount!r} is too large") from None


def _time_zone(name: str) -> ZoneInfo:
    try:
        check_time_zone(name)
    except PolicyError:
        raise _UsageError(
            f"--time-zone {name!r} is not a known time zone; "
            "use an IANA name such as America/Chicago"
        ) from None
    return ZoneInfo(name)


def _created_at(day: str | None, instant: str | None, zone: ZoneInfo) -> datetime:
    """
    The order's creation time.

    A bare date becomes noon in the store's zone: far from midnight, so the
    order is dated that very day whatever the zone's offset or DST change.
    """
    if day is not None:
        return datetime.combine(_date(day), time(12), tzinfo=zone)
    if instant is None:
        raise _UsageError("give the order's --date or its creation time --at")

    try:
        moment = datetime.fromisoformat(instant)
    except ValueError:
        raise _UsageError(
            f"--at {instant!r} is not an ISO 8601 time such as 2027-01-31T23:30:00Z"
        ) from None
    if moment.tzinfo is None:
        raise _UsageError(
            f"--at {instant!r} has no offset; add Z or e.g. -06:00, "
            "or give the store's date with --date"
        )
    return moment


def _date(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        # Python's reason helps for 2027-02-30, not for a mere "Invalid isoformat".
        reason = "" if str(exc).startswith("Invalid") else f" ({exc})"
        raise _UsageError(
            f"--date {raw!r} is not a date such as 2027-01-31{reason}"
        ) from None


def _amount(raw: str) -> Decimal:
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value < 0:
        raise _UsageError(
            f"--amount must be zero or more, such as 1000.00, got {raw!r}"
        )
    return value.copy_abs()  # so that "-0" shows as 0.00


def _currency(raw: str) -> str:
    code = raw.strip().upper()
    if len(code) != 3 or not (code.isascii() and code.isalpha()):
        raise _UsageError(f"--currency must be a code such as USD, got {raw!r}")
    return code


def render_text(schedule: Schedule, policy: Policy, group: TermsEntry | None) -> str:
    """The schedule as a small aligned table, for reading at a terminal."""
    lines = []
    if group is not None:
        name = group.group if group.group is not None else f"id {group.group_id}"
        lines.append(_field("group", name))
    lines.append(_field("policy", schedule.policy))
    if policy.rolling is not Rolling.NONE:
        lines.append(_field("roll", _describe_rolling(policy)))
    lines.append(
        _field(
            "order date",
            f"{schedule.order_date.isoformat()} ({schedule.time_zone})",
        )
    )
    lines.extend(_installment_table(schedule))
    lines.append(_field("discount", _describe_discount(schedule)))
    lines.append(_field("explanation", schedule.explanation))

    return "\n".join(lines) + "\n"


def _field(label: str, value: str) -> str:
    return f"{label:<{_LABEL_WIDTH}}{value}"


def _installment_table(schedule: Schedule) -> list[str]:
    """Number, due date (with where it was rolled from) and amount, aligned."""
    rows = [("#", "due date", "amount")]
    rows.extend(
        (str(due.number), _describe_due_date(due), f"{schedule.currency} {due.amount}")
        for due in schedule.installments
    )
    number_width = max(len(row[0]) for row in rows)
    date_width = max(len(row[1]) for row in rows)
    # Amounts align on the right so their decimal points line up.
    amount_width = max(len(row[2]) for row in rows[1:])

    lines = [f"{'#':<{number_width}}  {'due date':<{date_width}}  amount"]
    lines.extend(
        f"{number:<{number_width}}  {due_date:<{date_width}}  {amount:>{amount_width}}"
        for number, due_date, amount in rows[1:]
    )
    return lines


def _describe_due_date(due: Due) -> str:
    text = due.due_date.isoformat()
    if due.rolled_from is None:
        return text
    reason = f", past {due.rolled_past}" if due.rolled_past else ""
    return f"{text} (rolled from {due.rolled_from.isoformat()}{reason})"


def _describe_discount(schedule: Schedule) -> str:
    offer = schedule.discount
    if offer is None:
        return "none"
    percent = format(offer.percent.normalize(), "f")
    return (
        f"{percent}% off, {schedule.currency} {offer.amount}, "
        f"if paid by {offer.deadline.isoformat()}"
    )


def _describe_rolling(policy: Policy) -> str:
    calendar = "weekends"
    if policy.holiday_country is not None:
        region = policy.holiday_country
        if policy.holiday_subdivision is not None:
            region += f"-{policy.holiday_subdivision}"
        calendar += f" and {region} public holidays"
    return f"{policy.rolling.value}, past {calendar}"
