"""Terms: every rule at month ends, leap days, year ends and time-zone edges."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netterms_daemon.terms.policy import PolicyError, Rolling, parse_policy
from netterms_daemon.terms.schedule import (
    Schedule,
    compute_schedule,
    minor_unit,
    order_date,
)

CHICAGO = "America/Chicago"


def at(day: str, zone: str = CHICAGO, hour: int = 12) -> datetime:
    """Noon (or another hour) on a day in a zone, as an aware datetime in UTC."""
    local = datetime.fromisoformat(day).replace(hour=hour, tzinfo=ZoneInfo(zone))
    return local.astimezone(UTC)


def due(policy: str, day: str, **options: str) -> list[str]:
    schedule = compute_schedule(
        parse_policy(policy, **options), at(day), CHICAGO, Decimal("100.00"), "USD"
    )
    return [d.due_date.isoformat() for d in schedule.installments]


@pytest.mark.parametrize(
    ("policy", "ordered", "expected"),
    [
        ("net 30", "2027-01-31", "2027-03-02"),
        ("net 30", "2027-12-15", "2028-01-14"),
        ("net 30", "2028-02-01", "2028-03-02"),  # 2028 is a leap year
        ("net 0", "2027-06-01", "2027-06-01"),
        ("net 30 eom", "2027-01-01", "2027-03-02"),
        ("net 30 eom", "2027-01-31", "2027-03-02"),
        ("net 30 eom", "2028-02-10", "2028-03-30"),  # end of Feb 29
        ("net 30 eom", "2027-12-31", "2028-01-30"),
        ("net 15 end of next month", "2027-01-20", "2027-03-15"),
        ("net 0 end of next month", "2027-12-05", "2028-01-31"),
        ("day 10 next month", "2027-01-31", "2027-02-10"),
        ("day 31 next month", "2027-01-15", "2027-02-28"),  # clamped to month end
        ("day 31 next month", "2028-01-15", "2028-02-29"),
        ("day 10 next month cutoff 25", "2027-01-25", "2027-02-10"),
        ("day 10 next month cutoff 25", "2027-01-26", "2027-03-10"),
        (
            "day 10 next month cutoff 25",
            "2027-11-30",
            "2028-01-10",
        ),  # over the year end
        ("due on receipt", "2027-02-28", "2027-02-28"),
    ],
)
def test_rule_due_dates(policy: str, ordered: str, expected: str) -> None:
    """Each rule lands where it should, at month ends, leap days and year ends."""
    assert due(policy, ordered) == [expected]


def test_order_date_is_taken_in_the_store_zone() -> None:
    """23:30 UTC on Jan 31 is already Feb 1 in Auckland, still Jan 31 in Chicago."""
    placed = datetime(2027, 1, 31, 23, 30, tzinfo=UTC)

    assert order_date(placed, "Pacific/Auckland") == date(2027, 2, 1)
    assert order_date(placed, CHICAGO) == date(2027, 1, 31)

    auckland = compute_schedule(
        parse_policy("net 30 eom"), placed, "Pacific/Auckland", Decimal(10), "NZD"
    )
    chicago = compute_schedule(
        parse_policy("net 30 eom"), placed, CHICAGO, Decimal(10), "USD"
    )
    assert auckland.first_due == date(2027, 3, 30)
    assert chicago.first_due == date(2027, 3, 2)


def test_order_time_without_offset_is_refused() -> None:
    """A naive datetime is refused: placing it in a zone would slice, not convert."""
    with pytest.raises(ValueError, match="offset"):
        order_date(datetime(2027, 1, 31, 23, 30), CHICAGO)


def test_installments_split_exactly() -> None:
    """Shares round to cents; the balance takes what is left, so the sum is exact."""
    schedule = compute_schedule(
        parse_policy("33.33% net 30, 33.33% net 60, balance net 90"),
        at("2027-03-01"),
        CHICAGO,
        Decimal("100.00"),
        "USD",
    )

    assert [d.amount for d in schedule.installments] == [
        Decimal("33.33"),
        Decimal("33.33"),
        Decimal("33.34"),
    ]
    assert [d.due_date.isoformat() for d in schedule.installments] == [
        "2027-03-31",
        "2027-04-30",
        "2027-05-30",
    ]


def test_discount_recorded_never_charged() -> None:
    """2/10 net 30: the full amount stays due; discount and its deadline are shown."""
    schedule = compute_schedule(
        parse_policy("2/10 net 30"),
        at("2027-01-31"),
        CHICAGO,
        Decimal("1250.00"),
        "USD",
    )

    assert schedule.installments[0].amount == Decimal("1250.00")
    assert schedule.discount is not None
    assert schedule.discount.amount == Decimal("25.00")
    assert schedule.discount.deadline == date(2027, 2, 10)
    assert schedule.explanation == (
        "2/10 Net 30 from 2027-01-31 in America/Chicago; "
        "2% off (USD 25.00) if paid by 2027-02-10"
    )


def test_rolling_forward_past_a_holiday_and_weekend() -> None:
    """Net 30 EOM from Nov 2026 falls on Dec 30... and from Dec 2026 on a Saturday."""
    policy = parse_policy("net 1 eom", rolling="forward", holiday_country="US")
    schedule = compute_schedule(policy, at("2026-12-10"), CHICAGO, Decimal(10), "USD")

    # Dec 31 + 1 = Jan 1 2027 (New Year's Day, a Friday) -> Jan 2-3 weekend -> Jan 4.
    assert schedule.first_due == date(2027, 1, 4)
    assert schedule.installments[0].rolled_from == date(2027, 1, 1)
    assert schedule.explanation == (
        "Net 1 EOM from 2026-12-10 in America/Chicago, "
        "rolled past New Year's Day and the weekend"
    )


def test_rolling_backward_and_subdivision_holidays() -> None:
    """Backward rolling goes to the business day before; state holidays count."""
    backward = parse_policy("net 0 eom", rolling="backward")
    texas = parse_policy(
        "net 0", rolling="forward", holiday_country="US", holiday_subdivision="TX"
    )

    # Jan 31 2027 is a Sunday: back to Friday Jan 29.
    assert compute_schedule(
        backward, at("2027-01-05"), CHICAGO, Decimal(1), "USD"
    ).first_due == (date(2027, 1, 29))
    # Jan 19 2027 is Confederate Memorial Day in Texas, a state holiday.
    texan = compute_schedule(texas, at("2027-01-19"), CHICAGO, Decimal(1), "USD")
    assert texan.first_due == date(2027, 1, 20)


def test_schedule_round_trips_through_json() -> None:
    """The frozen schedule is stored as JSON and read back unchanged."""
    schedule = compute_schedule(
        parse_policy("2/10 50% net 30, balance net 60 eom", rolling="forward"),
        at("2027-05-14"),
        CHICAGO,
        Decimal("999.99"),
        "USD",
    )

    assert Schedule.from_json(schedule.to_json()) == schedule


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("net thirty", "not a due-date rule"),
        ("net 30 eow", "not a due-date rule"),
        ("50% net 30, 60% net 60", "add up to 110%"),
        ("60% net 30, 50% net 60", "add up to 110"),
        ("balance net 30, 50% net 60", "only the last"),
        ("net 30, net 60", "each installment starts with a share"),
        ("0/10 net 30", "above 0"),
        ("day 32 next month", "from 1 to 31"),
        ("net 99999", "more than"),
    ],
)
def test_bad_policies_say_why(text: str, message: str) -> None:
    """A policy that cannot be understood is refused with the reason."""
    with pytest.raises(PolicyError, match=message):
        parse_policy(text)


def test_policy_options_validated() -> None:
    """Rolling and credit limit settings are checked when the policy is read."""
    with pytest.raises(PolicyError, match="roll must be"):
        parse_policy("net 30", rolling="sideways")
    with pytest.raises(PolicyError, match="credit_limit"):
        parse_policy("net 30", credit_limit="lots")
    assert parse_policy("net 30", credit_limit="25000.00").credit_limit == Decimal(
        "25000.00"
    )
    assert parse_policy("NET 30 EOM", rolling="Forward").rolling is Rolling.FORWARD


def test_minor_units_by_currency() -> None:
    """Yen have no cents; dinars have three decimals."""
    assert minor_unit("JPY") == Decimal(1)
    assert minor_unit("KWD") == Decimal("0.001")
    assert minor_unit("usd") == Decimal("0.01")


# Properties

ZONES = [
    "UTC",
    CHICAGO,
    "Pacific/Auckland",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Asia/Kolkata",
]
RULES = ["net {n}", "net {n} eom", "net {n} end of next month", "day {d} next month",
         "day {d} next month cutoff {c}", "due on receipt"]  # fmt: skip

moments = st.datetimes(
    min_value=datetime(2020, 1, 1),
    max_value=datetime(2035, 12, 31),
    timezones=st.just(UTC),
)
rules = st.builds(
    lambda template, n, d, c: template.format(n=n, d=d, c=c),
    st.sampled_from(RULES),
    st.integers(0, 400),
    st.integers(1, 31),
    st.integers(1, 31),
)
amounts = st.decimals(
    min_value=Decimal("0.01"), max_value=Decimal("10000000"), places=4
)


@settings(max_examples=300, deadline=None)
@given(
    moment=moments,
    zone=st.sampled_from(ZONES),
    rule=rules,
    rolling=st.sampled_from(["none", "forward", "backward"]),
)
def test_property_no_due_date_before_the_order(
    moment: datetime, zone: str, rule: str, rolling: str
) -> None:
    """Without backward rolling, no due date precedes the store-local order date."""
    schedule = compute_schedule(
        parse_policy(rule, rolling=rolling, holiday_country="US"),
        moment,
        zone,
        Decimal(1),
        "USD",
    )

    for installment in schedule.installments:
        natural = installment.rolled_from or installment.due_date
        assert natural >= schedule.order_date
        if rolling != "backward":
            assert installment.due_date >= schedule.order_date


@settings(max_examples=300, deadline=None)
@given(
    total=amounts,
    currency=st.sampled_from(["USD", "JPY", "KWD", "EUR"]),
    shares=st.lists(st.integers(1, 30), min_size=0, max_size=3),
)
def test_property_installments_sum_to_total(
    total: Decimal, currency: str, shares: list[int]
) -> None:
    """However the total is split, installments add up exactly, in minor units."""
    parts = [f"{share}% net {30 * (i + 1)}" for i, share in enumerate(shares)]
    text = ", ".join([*parts, "balance net 120"]) if parts else "net 30"
    schedule = compute_schedule(
        parse_policy(text), at("2027-01-01"), CHICAGO, total, currency
    )

    unit = minor_unit(currency)
    assert sum(d.amount for d in schedule.installments) == schedule.total
    assert all(d.amount % unit == 0 for d in schedule.installments)
    assert abs(schedule.total - total) <= unit / 2


@settings(max_examples=300, deadline=None)
@given(moment=moments, zone=st.sampled_from(ZONES), days=st.integers(0, 400))
def test_property_net_n_is_n_days_in_the_store_zone(
    moment: datetime, zone: str, days: int
) -> None:
    """Before rolling, net N is exactly N calendar days after the local order date."""
    schedule = compute_schedule(
        parse_policy(f"net {days}"), moment, zone, Decimal(1), "USD"
    )

    local_day = moment.astimezone(ZoneInfo(zone)).date()
    assert schedule.order_date == local_day
    assert schedule.first_due - local_day == timedelta(days=days)


@settings(max_examples=300, deadline=None)
@given(
    moment=moments,
    rule=rules,
    direction=st.sampled_from(["forward", "backward"]),
    place=st.sampled_from([("US", None), ("US", "CA"), ("GB", "ENG"), ("DE", None)]),
)
def test_property_rolling_lands_on_a_business_day(
    moment: datetime, rule: str, direction: str, place: tuple[str, str | None]
) -> None:
    """A rolled due date is a weekday that is no public holiday there."""
    import holidays

    country, subdivision = place
    policy = parse_policy(
        rule,
        rolling=direction,
        holiday_country=country,
        holiday_subdivision=subdivision,
    )
    schedule = compute_schedule(policy, moment, CHICAGO, Decimal(1), "USD")

    calendar_of = holidays.country_holidays(country, subdiv=subdivision)
    for installment in schedule.installments:
        assert installment.due_date.weekday() < 5
        assert installment.due_date not in calendar_of
