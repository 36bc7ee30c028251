"""/metrics in Prometheus format, with figures that match what happened."""

from __future__ import annotations

from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.support.stack import (
    daemon_settings,
    eventually,
    place_order,
    running_daemon,
    seeded_store,
    tracked,
    wait_for_hooks,
)


async def test_metrics_count_webhooks_calls_and_amounts(
    database_url: str, tmp_path: Path
) -> None:
    """After two member orders: received webhooks, API calls, open amount by currency."""
    async with seeded_store() as simulator:
        settings = daemon_settings(simulator, database_url, tmp_path)
        url = f"http://127.0.0.1:{settings.http.port}/metrics"
        async with running_daemon(settings), aiohttp.ClientSession() as http:
            await wait_for_hooks(simulator)
            orders = [
                place_order(simulator, 1, "10.00"),
                place_order(simulator, 2, "5.50"),
            ]

            async def applied() -> bool:
                for order_id in orders:
                    row = await tracked(database_url, "sim123", order_id)
                    if row is None or row.state != "awaiting_payment":
                        return False
                return True

            await eventually(applied)
            async with http.get(url) as response:
                content_type = response.headers["Content-Type"]
                text = await response.text()

    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert content_type.startswith("text/plain")
    assert samples[("netterms_webhooks_received_total", ())] >= 2
    assert samples[("netterms_webhooks_rejected_total", ())] == 0
    assert samples[("netterms_api_calls_total", ())] > 0
    assert samples[("netterms_api_throttled_total", ())] == 0
    assert samples[("netterms_open_amount", (("currency", "USD"),))] == 15.5
    assert samples[("netterms_held_amount", (("currency", "USD"),))] == 0
    assert samples[("netterms_reconciler_leader", ())] == 1
