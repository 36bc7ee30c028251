"""The staff-note lines: staff's words are kept, ours are recognisable."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from netterms_daemon.staffnotes import (
    NOTE_PREFIX,
    STAFF_NOTES_LIMIT,
    append_note,
    terms_line,
)
from netterms_daemon.terms.policy import parse_policy
from netterms_daemon.terms.schedule import Schedule, compute_schedule


def net30_order_schedule() -> Schedule:
    """Net 30 on USD 120.00 ordered at noon in Chicago on 2027-03-01."""
    return compute_schedule(
        parse_policy("net 30"),
        datetime(2027, 3, 1, 18, tzinfo=UTC),
        "America/Chicago",
        Decimal("120.00"),
        "USD",
    )


def test_terms_line_names_policy_due_date_and_amount() -> None:
    line = terms_line(net30_order_schedule(), None)

    assert line.startswith(NOTE_PREFIX)
    assert "due 2027-03-31" in line
    assert "USD 120.00" in line


def test_terms_line_for_a_hold_says_why_and_what_release_would_give() -> None:
    line = terms_line(net30_order_schedule(), "credit limit USD 100.00 exceeded")

    assert line.startswith(f"{NOTE_PREFIX} ON HOLD, credit limit USD 100.00 exceeded")
    assert "Terms if released:" in line
    assert "due 2027-03-31" in line


def test_append_note_keeps_what_staff_wrote() -> None:
    assert append_note("", "netterms: x") == "netterms: x"
    assert append_note("call before shipping\n\n", "netterms: x") == (
        "call before shipping\nnetterms: x"
    )


def test_append_note_cuts_our_line_not_staffs_at_the_limit() -> None:
    staff = "s" * (STAFF_NOTES_LIMIT - 5)

    combined = append_note(staff, "netterms: a long line")

    assert len(combined) == STAFF_NOTES_LIMIT
    assert combined.startswith(staff)
