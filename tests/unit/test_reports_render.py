"""Rendering of reports as tables, text, JSON and CSV, from hand-built values."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from netterms_daemon.report_render import (
    render_aging,
    render_orders,
    render_statement,
)
from netterms_daemon.reports import (
    AgingReport,
    AgingRow,
    OrderLine,
    Statement,
    StatementLine,
    StatementSection,
)

D = Decimal
TODAY = date(2026, 3, 15)


def aging_report() -> AgingReport:
    """Two customers in USD, one in JPY, with their totals."""
    zero = D(0)
    rows = (
        AgingRow(7, "JPY", 1, zero, zero, zero, zero, D("1234.5")),
        AgingRow(1, "USD", 2, D("1234.5"), D("0.005"), zero, zero, zero),
        AgingRow(12345, "USD", 1, zero, zero, D("99.99"), zero, zero),
    )
    totals = (
        AgingRow(None, "JPY", 1, zero, zero, zero, zero, D("1234.5")),
        AgingRow(None, "USD", 3, D("1234.5"), D("0.005"), D("99.99"), zero, zero),
    )
    return AgingReport("store1", TODAY, rows, totals)


def order_lines() -> list[OrderLine]:
    """An overdue order with every field, and a held one with none optional."""
    return [
        OrderLine(101, 1, "Net30 Wholesale", "overdue", D("1250.5000"), "USD",
                  date(2026, 3, 1), 14, "Net 30"),
        OrderLine(2002, 12345, None, "held", D("80"), "EUR", None, 0, None),
    ]  # fmt: skip


def a_statement() -> Statement:
    """One USD section with a held charge, a paid order and its payment."""
    lines = (
        StatementLine(date(2026, 1, 2), 201, "charge",
                      "Net 30, due 2026-02-01, on hold", D("400"), None, D("400"),
                      True),
        StatementLine(date(2026, 1, 5), 204, "charge", "Net 30, due 2026-02-04, paid",
                      D("1500.25"), None, D("1900.25"), False),
        StatementLine(date(2026, 2, 1), 204, "payment", "payment received",
                      None, D("1500.25"), D("400"), False),
    )  # fmt: skip
    section = StatementSection("USD", lines, D("400"), D("0"), D("400"))
    return Statement("store1", 1234, TODAY, date(2025, 12, 15), (section,))


def column_end(header: str, name: str) -> int:
    """Where a right-aligned column ends, as its header places it."""
    return header.index(name) + len(name)


def test_render_aging_table_aligns_money_in_minor_units() -> None:
    """Header first; money right-aligned, in minor units, with thousands commas."""
    text = render_aging(aging_report(), "table")

    lines = text.splitlines()
    header = lines[0]
    assert header.split() == [
        "customer", "currency", "orders", "current", "1-30", "31-60", "61-90",
        "90+", "total",
    ]  # fmt: skip
    assert [line.split()[0] for line in lines[1:]] == [
        "7",
        "total",
        "1",
        "12345",
        "total",
    ]
    end = column_end(header, "total")
    assert all(len(line) == end for line in lines)
    assert lines[1].split()[-1] == "1,235"
    assert lines[3].split()[3:8] == ["1,234.50", "0.01", "0.00", "0.00", "0.00"]
    assert lines[3].split()[-1] == "1,234.51"
    assert lines[1].index("JPY") == header.index("currency")


def test_render_aging_json_has_money_as_strings() -> None:
    """JSON rows and totals parse back with exact money strings and ISO dates."""
    body = json.loads(render_aging(aging_report(), "json"))

    assert body["today"] == "2026-03-15"
    assert body["rows"][1] == {
        "customer_id": 1,
        "currency": "USD",
        "orders": 2,
        "current": "1234.50",
        "days_1_30": "0.005",
        "days_31_60": "0.00",
        "days_61_90": "0.00",
        "over_90": "0.00",
        "total": "1234.505",
    }
    assert body["rows"][0]["over_90"] == "1234.5"
    assert body["totals"][1]["total"] == "1334.495"
    assert "customer_id" not in body["totals"][0]


def test_render_aging_csv_parses_back() -> None:
    """CSV has a header row; total rows say 'total' in the customer column."""
    rows = list(csv.DictReader(io.StringIO(render_aging(aging_report(), "csv"))))

    assert [r["customer"] for r in rows] == ["7", "total", "1", "12345", "total"]
    assert rows[3]["31-60"] == "99.99"
    assert rows[4]["total"] == "1334.495"
    assert rows[2]["current"] == "1234.50"


def test_render_orders_table_header_and_alignment() -> None:
    """Order and amount columns are right-aligned under their headers."""
    lines = render_orders(order_lines(), "table").splitlines()

    header = lines[0]
    assert header.startswith("order  customer  group")
    amount_end = column_end(header, "amount")
    assert [line[:amount_end].split()[-1] for line in lines[1:]] == [
        "1,250.50",
        "80.00",
    ]
    assert lines[1][amount_end - len("1,250.50") : amount_end] == "1,250.50"
    assert lines[2][amount_end - len("80.00") : amount_end] == "80.00"
    assert lines[1].split()[-3:] == ["14", "Net", "30"]
    assert "overdue" in lines[1]


def test_render_orders_table_says_none_when_empty() -> None:
    """An empty listing is the header and '(none)'."""
    assert render_orders([], "table").splitlines()[1] == "(none)"


def test_render_orders_json_and_csv_parse_back() -> None:
    """JSON is a list of objects; CSV a header row and one row per order."""
    body = json.loads(render_orders(order_lines(), "json"))
    rows = list(csv.DictReader(io.StringIO(render_orders(order_lines(), "csv"))))

    assert body[0] == {
        "order_id": 101,
        "customer_id": 1,
        "group_name": "Net30 Wholesale",
        "state": "overdue",
        "amount": "1250.50",
        "currency": "USD",
        "due_date": "2026-03-01",
        "days_overdue": 14,
        "policy": "Net 30",
    }
    assert body[1]["due_date"] is None
    assert body[1]["amount"] == "80.00"
    assert rows[0]["amount"] == "1250.50"
    assert rows[0]["days overdue"] == "14"
    assert rows[1]["due"] == ""
    assert rows[1]["group"] == ""


def test_render_statement_text_shows_balances() -> None:
    """Text has a title, the currency, aligned lines and the closing figures."""
    text = render_statement(a_statement(), "text")

    lines = text.splitlines()
    assert lines[0] == "Statement for customer 1234 on 2026-03-15"
    assert "USD" in lines
    header = next(line for line in lines if line.startswith("date"))
    balance_end = column_end(header, "balance")
    body = [line for line in lines if line.startswith("2026-")]
    assert [line[:balance_end].split()[-1] for line in body] == [
        "400.00",
        "1,900.25",
        "400.00",
    ]
    assert "closing balance  USD 400.00" in lines
    assert "overdue          USD 0.00" in lines
    assert "on hold          USD 400.00" in lines


def test_render_statement_text_when_nothing_is_open() -> None:
    """A customer with nothing open and no payments gets a sentence, no table."""
    empty = Statement("store1", 9, TODAY, date(2025, 12, 15), ())

    assert "nothing open and no recent payments" in render_statement(empty, "text")


def test_render_statement_json_and_csv_parse_back() -> None:
    """JSON nests lines per currency; CSV has one row per line, held flagged."""
    body = json.loads(render_statement(a_statement(), "json"))
    rows = list(csv.DictReader(io.StringIO(render_statement(a_statement(), "csv"))))

    (usd,) = body["currencies"]
    assert body["paid_since"] == "2025-12-15"
    assert usd["closing_balance"] == "400.00"
    assert usd["lines"][2] == {
        "date": "2026-02-01",
        "order_id": 204,
        "kind": "payment",
        "description": "payment received",
        "charge": None,
        "payment": "1500.25",
        "balance": "400.00",
        "held": False,
    }
    assert [r["balance"] for r in rows] == ["400.00", "1900.25", "400.00"]
    assert [r["held"] for r in rows] == ["true", "false", "false"]
    assert rows[2]["charge"] == ""
    assert rows[0]["currency"] == "USD"


@pytest.mark.parametrize(
    ("render", "value", "fmt"),
    [
        (render_aging, aging_report(), "text"),
        (render_orders, [], "xml"),
        (render_statement, a_statement(), "table"),
    ],
)
def test_render_rejects_unknown_formats(
    render: Callable[[Any, str], str], value: object, fmt: str
) -> None:
    """Each renderer names the formats it knows instead of guessing."""
    with pytest.raises(ValueError, match="unknown format"):
        render(value, fmt)
