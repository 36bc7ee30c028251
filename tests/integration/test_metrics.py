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
    """After two member orders: webhooks received, API calls, open amount."""
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
                    if row.metafield_id is None:
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
    assert samples[("netterms_metafields_pending", ())] == 0
    assert samples[("netterms_reconciler_leader", ())] == 1


async def test_daemon_serves_the_admin_api_only_with_its_token(
    database_url: str, tmp_path: Path
) -> None:
    """With [api] token set the daemon answers /api/v1/aging to that token only."""
    token = "a-long-admin-token-123"
    async with seeded_store() as simulator:
        settings = daemon_settings(
            simulator, database_url, tmp_path, extra_env={"NETTERMS_API_TOKEN": token}
        )
        url = f"http://127.0.0.1:{settings.http.port}/api/v1/aging"
        async with running_daemon(settings), aiohttp.ClientSession() as http:
            async with http.get(url) as anonymous:
                refused = anonymous.status
            headers = {"Authorization": f"Bearer {token}"}
            async with http.get(url, headers=headers) as allowed:
                body = await allowed.json()
                status = allowed.status

    assert refused == 401
    assert status == 200
    assert body["rows"] == [] and body["totals"] == []
