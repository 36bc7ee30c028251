"""The simulator's own control API, under /__simulator/, which BigCommerce does not use.

Tests and people drive what a real store would not let them: inject faults,
move the clock, read counters, reset and seed.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from netterms_daemon.simulator.core import SimulatedStore
from netterms_daemon.simulator.routes_v2 import store_key

CONTROL_ROOT = "/__simulator"


def _store(request: web.Request) -> SimulatedStore:
    return request.app[store_key]


async def _object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json() if request.can_read_body else {}
    except ValueError:
        raise web.HTTPBadRequest(reason="the body is not JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(reason="the body must be a JSON object")
    return body


async def status(request: web.Request) -> web.Response:
    """Counters, clock and faults."""
    store = _store(request)
    return web.json_response(
        {
            "store_hash": store.state.store_hash,
            "now": store.clock.now().isoformat(timespec="seconds"),
            "speed": store.clock.speed,
            "faults": store.faults.view(),
            "api_calls": dict(sorted(store.api_calls.items())),
            "api_calls_total": sum(store.api_calls.values()),
            "rate_limited": store.quota.refused,
            "webhooks": {
                **store.webhooks.counters.view(),
                "pending": store.webhooks.pending,
            },
            "records": {
                "customer_groups": len(store.state.groups),
                "customers": len(store.state.customers),
                "orders": len(store.state.orders),
                "metafields": len(store.state.metafields),
                "hooks": len(store.state.hooks),
            },
        }
    )


async def set_faults(request: web.Request) -> web.Response:
    """Change fault rates, e.g. {"api_error_rate": 0.3}."""
    store = _store(request)
    problems = store.faults.update(await _object(request))
    if problems:
        return web.json_response({"errors": problems}, status=400)
    return web.json_response(store.faults.view())


async def advance_clock(request: web.Request) -> web.Response:
    """Jump the store's clock forward: {"seconds": 86400}."""
    store = _store(request)
    seconds = (await _object(request)).get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        return web.json_response(
            {"errors": ["seconds: a number >= 0 is required"]}, status=400
        )
    store.clock.advance(float(seconds))
    return web.json_response({"now": store.clock.now().isoformat(timespec="seconds")})


async def reset(request: web.Request) -> web.Response:
    """Empty the store; {"seed": true} seeds it again."""
    store = _store(request)
    body = await _object(request)
    store.reset()
    seeded = store.seed() if body.get("seed") else None
    return web.json_response({"reset": True, "seeded": seeded})


async def seed(request: web.Request) -> web.Response:
    """Add the seed data: a Net 30 group, customers in and out of it."""
    return web.json_response(_store(request).seed())


async def deliveries(request: web.Request) -> web.Response:
    """Every webhook delivery attempt so far, in order."""
    return web.json_response(_store(request).webhooks.attempts)


def add_routes(app: web.Application) -> None:
    """Register the control API."""
    app.router.add_get(f"{CONTROL_ROOT}/status", status)
    app.router.add_put(f"{CONTROL_ROOT}/faults", set_faults)
    app.router.add_post(f"{CONTROL_ROOT}/clock/advance", advance_clock)
    app.router.add_post(f"{CONTROL_ROOT}/reset", reset)
    app.router.add_post(f"{CONTROL_ROOT}/seed", seed)
    app.router.add_get(f"{CONTROL_ROOT}/deliveries", deliveries)
