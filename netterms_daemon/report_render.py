"""Reports for people and programs: tables, statement text, JSON and CSV.

Tables round money to the currency's minor unit and separate thousands;
JSON and CSV carry every digit (see `reports.exact_amount`), so a program
reading them sums exactly what the ledger holds.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal

from netterms_daemon.reports import (
    BUCKETS,
    AgingReport,
    AgingRow,
    OrderLine,
    Statement,
    StatementLine,
    exact_amount,
    rows_in_currency,
)
from netterms_daemon.terms.schedule import minor_unit

TABLE_FORMATS = ("table", "json", "csv")
STATEMENT_FORMATS = ("text", "csv", "json")

_AGING_HEADERS = ["customer", "currency", "orders", *(b[1] for b in BUCKETS), "total"]
_ORDER_HEADERS = ["order", "customer", "group", "state", "amount", "currency", "due",
                  "days overdue", "policy"]  # fmt: skip
_STATEMENT_HEADERS = ["date", "order", "kind", "description", "charge", "payment",
                      "balance"]  # fmt: skip
_STATEMENT_CSV_HEADERS = ["currency", *_STATEMENT_HEADERS, "held"]

_Money = Callable[[Decimal, str], str]


def render_aging(report: AgingReport, fmt: str) -> str:
    """The aging report as a table, JSON or CSV; each currency's total row last."""
    _check_format(fmt, TABLE_FORMATS)
    if fmt == "json":
        return _dumps(report.to_json())

    money = _money if fmt == "table" else exact_amount
    rows = [
        _aging_cells(row, money)
        for total in report.totals
        for row in (*rows_in_currency(report.rows, total.currency), total)
    ]
    if fmt == "csv":
        return _csv(_AGING_HEADERS, rows)

    return _table(_AGING_HEADERS, rows, right=range(2, len(_AGING_HEADERS)))


def render_orders(lines: Sequence[OrderLine], fmt: str) -> str:
    """An order listing as a table, JSON (a list of objects) or CSV."""
    _check_format(fmt, TABLE_FORMATS)
    if fmt == "json":
        return _dumps([line.to_json() for line in lines])

    money = _money if fmt == "table" else exact_amount
    rows = [_order_cells(line, money) for line in lines]
    if fmt == "csv":
        return _csv(_ORDER_HEADERS, rows)

    return _table(_ORDER_HEADERS, rows, right=(0, 1, 4, 7))


def render_statement(statement: Statement, fmt: str) -> str:
    """A statement as text for people, JSON, or CSV (one row per line)."""
    _check_format(fmt, STATEMENT_FORMATS)
    if fmt == "json":
        return _dumps(statement.to_json())
    if fmt == "csv":
        rows = [
            [
                section.currency,
                *_statement_cells(line, section.currency, exact_amount),
                str(line.held).lower(),
            ]
            for section in statement.sections
            for line in section.lines
        ]
        return _csv(_STATEMENT_CSV_HEADERS, rows)

    return _statement_text(statement)


def _statement_text(statement: Statement) -> str:
    out = [
        f"Statement for customer {statement.customer_id} "
        f"on {statement.today.isoformat()}",
        f"Open orders, and payments since {statement.paid_since.isoformat()}",
    ]
    if not statement.sections:
        out += ["", "nothing open and no recent payments"]
    for section in statement.sections:
        unit = section.currency
        rows = [_statement_cells(line, unit, _money) for line in section.lines]
        out += ["", unit, _table(_STATEMENT_HEADERS, rows, right=(1, 4, 5, 6))]
        out.append(f"closing balance  {unit} {_money(section.closing_balance, unit)}")
        out.append(f"overdue          {unit} {_money(section.overdue, unit)}")
        if section.held:
            out.append(f"on hold          {unit} {_money(section.held, unit)}")

    return "\n".join(out) + "\n"


def _aging_cells(row: AgingRow, money: _Money) -> list[str]:
    amounts = [*(getattr(row, field) for field, _ in BUCKETS), row.total]
    shown = "total" if row.customer_id is None else str(row.customer_id)
    return [shown, row.currency, str(row.orders)] + [
        money(amount, row.currency) for amount in amounts
    ]


def _order_cells(line: OrderLine, money: _Money) -> list[str]:
    return [
        str(line.order_id),
        str(line.customer_id),
        line.group_name or "",
        line.state,
        money(line.amount, line.currency),
        line.currency,
        line.due_date.isoformat() if line.due_date else "",
        str(line.days_overdue),
        line.policy or "",
    ]


def _statement_cells(line: StatementLine, currency: str, money: _Money) -> list[str]:
    return [
        line.date.isoformat(),
        str(line.order_id),
        line.kind,
        line.description,
        "" if line.charge is None else money(line.charge, currency),
        "" if line.payment is None else money(line.payment, currency),
        money(line.balance, currency),
    ]


def _check_format(fmt: str, allowed: Sequence[str]) -> None:
    if fmt not in allowed:
        raise ValueError(f"unknown format {fmt!r}: one of {', '.join(allowed)}")


def _table(headers: list[str], rows: list[list[str]], right: Iterable[int]) -> str:
    """Columns two spaces apart, numbers right-aligned, the header line first."""
    aligned = set(right)
    widths = [max([len(h), *(len(r[i]) for r in rows)])
              for i, h in enumerate(headers)]  # fmt: skip

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(width) if i in aligned else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    body = [line(headers), *(line(row) for row in rows)]
    if not rows:
        body.append("(none)")

    return "\n".join(body) + "\n"


def _csv(headers: list[str], rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return buffer.getvalue()


def _dumps(body: object) -> str:
    return json.dumps(body, indent=2) + "\n"


def _money(amount: Decimal, currency: str) -> str:
    """For people: rounded to the minor unit, thousands separated."""
    return f"{amount.quantize(minor_unit(currency), ROUND_HALF_UP):,}"
