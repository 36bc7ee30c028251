"""`netterms backfill` and `reconcile --once` against the simulated store."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from netterms_daemon.admin import reconcile_once, run_backfill
from tests.support.stack import daemon_settings, place_order, seeded_store, tracked

SINCE = datetime(2026, 11, 1, tzinfo=UTC)


async def test_backfill_dry_run_changes_nothing_then_real_run_applies(
    database_url: str, tmp_path: Path
) -> None:
    """--dry-run says what would happen, changing nothing; the real run does it."""
    start = datetime(2026, 11, 20, 15, tzinfo=UTC)
    async with seeded_store(start=start) as simulator:
        member = place_order(simulator, 1, "40.00")
        retail = place_order(simulator, 3, "15.00")
        settings = daemon_settings(
            simulator,
            database_url,
            tmp_path,
            extra_env={"NETTERMS_WEBHOOKS_PUBLIC_URL": ""},
        )
        dry, real, again = io.StringIO(), io.StringIO(), io.StringIO()

        await run_backfill(settings, SINCE, True, dry)
        untouched = simulator.store.state.orders[member].status_id
        nothing_tracked = await tracked(database_url, "sim123", member)
        await run_backfill(settings, SINCE, False, real)
        await run_backfill(settings, SINCE, False, again)

    assert dry.getvalue().splitlines() == [
        f"order {member}: would apply Net 30 from 2026-11-20 in America/Chicago",
        f"order {retail}: would ignore: customer group 2 has no terms",
        "would do: 1 would apply, 1 would ignore",
    ]
    assert untouched == 11 and nothing_tracked is None
    assert real.getvalue().strip() == "done: 1 applied, 1 ignored"
    assert again.getvalue().strip() == "done: no orders", "resumed after the last order"
    assert simulator.store.api_calls["PUT /v2/orders/{order_id}"] == 1


async def test_reconcile_once_prints_the_pass(
    database_url: str, tmp_path: Path
) -> None:
    """One pass on demand catches recent orders and reports what it did."""
    now = datetime.now(UTC)
    async with seeded_store(start=now - timedelta(hours=1)) as simulator:
        order_id = place_order(simulator, 1, "40.00")
        settings = daemon_settings(
            simulator,
            database_url,
            tmp_path,
            extra_env={"NETTERMS_WEBHOOKS_PUBLIC_URL": ""},
        )
        out = io.StringIO()
        await reconcile_once(settings, out)
        row = await tracked(database_url, "sim123", order_id)

    assert row is not None and row.state == "awaiting_payment"
    assert out.getvalue().startswith("1 orders changed since the last pass (1 applied)")
