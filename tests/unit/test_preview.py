"""`netterms terms preview`: the schedule printed, and every mistake one line."""

from __future__ import annotations

import argparse
import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from netterms_daemon.config import Settings, load_settings
from netterms_daemon.preview import add_arguments, run_preview
from netterms_daemon.terms.policy import parse_policy
from netterms_daemon.terms.schedule import compute_schedule

PREFIX = "netterms terms preview: "
NET_30 = ("--policy", "net 30", "--date", "2027-01-01")

TERMS = """
[[terms]]
group = "Wholesale"
policy = "net 30"
roll = "forward"
holiday_country = "US"

[[terms]]
group_id = 7
policy = "50% net 30, balance net 60"
"""


@pytest.fixture
def no_terms(tmp_path: Path) -> Settings:
    """Settings with built-in defaults only: no [[terms]] entries."""
    return load_settings(None, {}, default_config_path=tmp_path / "none")


@pytest.fixture
def with_terms(tmp_path: Path) -> Settings:
    """Settings with a named group that rolls past US holidays, and a group id."""
    path = tmp_path / "netterms.toml"
    path.write_text(TERMS)
    return load_settings(path, {}, default_config_path=tmp_path / "none")


def preview(settings: Settings, *argv: str) -> tuple[int, str]:
    """Run the preview as the CLI would; return the exit status and stdout."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    out = io.StringIO()
    status = run_preview(settings, parser.parse_args(argv), out)
    return status, out.getvalue()


def test_preview_policy_on_a_date(no_terms: Settings) -> None:
    """--policy with --date prints the installment, discount and explanation."""
    status, text = preview(
        no_terms,
        *("--policy", "2/10 net 30", "--date", "2027-01-31"),
        *("--time-zone", "America/Chicago"),
    )

    assert status == 0
    assert text.splitlines() == [
        "policy       2/10 Net 30",
        "order date   2027-01-31 (America/Chicago)",
        "#  due date    amount",
        "1  2027-03-02  USD 1000.00",
        "discount     2% off, USD 20.00, if paid by 2027-02-10",
        "explanation  2/10 Net 30 from 2027-01-31 in America/Chicago; "
        "2% off (USD 20.00) if paid by 2027-02-10",
    ]


def test_preview_policy_options_roll_past_holidays(no_terms: Settings) -> None:
    """--roll and --holiday-country apply to a --policy given on the command line."""
    status, text = preview(
        no_terms,
        *("--policy", "net 30", "--date", "2026-12-02"),
        *("--roll", "backward", "--holiday-country", "US"),
    )

    assert status == 0
    assert "1  2026-12-31 (rolled from 2027-01-01, past New Year's Day)" in text


def test_preview_group_by_name_uses_its_policy_and_rolling(
    with_terms: Settings,
) -> None:
    """--group picks the configured policy, and its rolling past US holidays."""
    status, text = preview(with_terms, "--group", "Wholesale", "--date", "2026-12-02")

    assert status == 0
    lines = text.splitlines()
    assert lines[:4] == [
        "group        Wholesale",
        "policy       Net 30",
        "roll         forward, past weekends and US public holidays",
        "order date   2026-12-02 (UTC)",
    ]
    assert lines[5].split("  ") == [
        "1",
        "2027-01-04 (rolled from 2027-01-01, past New Year's Day and the weekend)",
        "USD 1000.00",
    ]


def test_preview_group_by_id_aligns_installments(with_terms: Settings) -> None:
    """A group given by id is found; amounts of two installments line up."""
    status, text = preview(
        with_terms, "--group", "7", "--date", "2027-01-31", "--amount", "99.99"
    )

    assert status == 0
    assert text.splitlines()[3:6] == [
        "#  due date    amount",
        "1  2027-03-02  USD 50.00",
        "2  2027-04-01  USD 49.99",
    ]


def test_preview_at_late_utc_is_next_day_in_auckland(no_terms: Settings) -> None:
    """23:30Z on Jan 31 is Feb 1 in Auckland, so the order is dated Feb 1."""
    status, text = preview(
        no_terms,
        *("--policy", "net 30", "--at", "2027-01-31T23:30:00Z"),
        *("--time-zone", "Pacific/Auckland", "--currency", "nzd"),
    )

    assert status == 0
    assert "order date   2027-02-01 (Pacific/Auckland)" in text
    assert "1  2027-03-03  NZD 1000.00" in text


def test_preview_json_matches_compute_schedule(no_terms: Settings) -> None:
    """--format json is the schedule's own JSON, as compute_schedule makes it."""
    status, text = preview(
        no_terms,
        *("--policy", "2/10 net 30 eom", "--at", "2027-01-31T23:30:00+00:00"),
        *("--time-zone", "America/Chicago", "--amount", "250.5", "--format", "json"),
    )

    expected = compute_schedule(
        parse_policy("2/10 net 30 eom"),
        datetime(2027, 1, 31, 23, 30, tzinfo=UTC),
        "America/Chicago",
        Decimal("250.5"),
        "USD",
    )
    assert status == 0
    assert json.loads(text) == expected.to_json()


def test_preview_unknown_group_lists_configured_ones(
    with_terms: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown group (names match case-sensitively) lists the configured ones."""
    status, text = preview(with_terms, "--group", "wholesale", "--date", "2027-01-01")

    assert (status, text) == (2, "")
    assert capsys.readouterr().err == (
        f"{PREFIX}no group 'wholesale' in [[terms]]; "
        "configured: 'Wholesale', group id 7\n"
    )


def test_preview_group_without_any_terms(
    no_terms: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """With no [[terms]] at all, the one line says so and points to --policy."""
    status, _ = preview(no_terms, "--group", "Wholesale", "--date", "2027-01-01")

    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith(PREFIX)
    assert "no [[terms]] entries are configured" in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        pytest.param(
            ("--policy", "net thirty", "--date", "2027-01-01"),
            "--policy: 'net thirty': 'net thirty' is not a due-date rule",
            id="bad-policy",
        ),
        pytest.param(
            ("--policy", "  ", "--date", "2027-01-01"),
            "the policy is empty",
            id="empty-policy",
        ),
        pytest.param(
            ("--policy", "net 30", "--date", "2027-02-30"),
            "--date '2027-02-30' is not a date such as 2027-01-31 (day is out of",
            id="impossible-date",
        ),
        pytest.param(
            ("--policy", "net 30", "--date", "tomorrow"),
            "--date 'tomorrow' is not a date",
            id="bad-date",
        ),
        pytest.param(
            (*NET_30, "--time-zone", "Mars/Base"),
            "--time-zone 'Mars/Base' is not a known time zone",
            id="unknown-zone",
        ),
        pytest.param(
            ("--policy", "net 30", "--at", "2027-01-31T23:30:00"),
            "--at '2027-01-31T23:30:00' has no offset",
            id="naive-at",
        ),
        pytest.param(
            ("--policy", "net 30", "--at", "2027-01-31"),
            "has no offset",
            id="date-given-to-at",
        ),
        pytest.param(
            ("--policy", "net 30", "--at", "soon"),
            "--at 'soon' is not an ISO 8601 time",
            id="bad-at",
        ),
        pytest.param(
            (*NET_30, "--amount", "-5"),
            "--amount must be zero or more, such as 1000.00, got '-5'",
            id="negative-amount",
        ),
        pytest.param(
            (*NET_30, "--amount", "abc"),
            "--amount must be zero or more, such as 1000.00, got 'abc'",
            id="non-numeric-amount",
        ),
        pytest.param((*NET_30, "--amount", "NaN"), "got 'NaN'", id="nan-amount"),
        pytest.param((*NET_30, "--amount", "1e40"), "too large", id="huge-amount"),
        pytest.param((*NET_30, "--currency", "US"), "--currency", id="bad-currency"),
        pytest.param(
            (*NET_30, "--holiday-country", "XX"),
            "no holiday calendar for XX",
            id="unknown-holiday-country",
        ),
        pytest.param(
            (*NET_30, "--holiday-subdivision", "CA"),
            "--holiday-subdivision needs --holiday-country",
            id="subdivision-alone",
        ),
        pytest.param(
            ("--group", "Wholesale", "--date", "2027-01-01", "--roll", "none"),
            "with --group the configured entry's options apply",
            id="roll-with-group",
        ),
        pytest.param(
            ("--policy", "net 30", "--date", "9999-12-31"),
            "past the year 9999",
            id="date-overflow",
        ),
    ],
)
def test_preview_user_errors_are_one_line_and_exit_2(
    with_terms: Settings,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    needle: str,
) -> None:
    """Each mistake is exactly one prefixed stderr line, exit 2, and no output."""
    status, text = preview(with_terms, *argv)

    err = capsys.readouterr().err
    assert (status, text) == (2, "")
    assert err.startswith(PREFIX)
    assert err.endswith("\n")
    assert err.count("\n") == 1
    assert needle in err
