"""The simulated store as an HTTP server, standalone or inside a test or the demo.

Every API request passes the same gate a real store applies, in this
order: the store hash in the path, the X-Auth-Token, the rate limit (its
headers on every answer, 429 past the quota), then injected faults: an
injected 429 first (counted in `faults.throttled_injected`, not in the
quota's `refused`), then latency, then an injected 500.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from netterms_daemon.simulator import control, routes_v2, routes_v3
from netterms_daemon.simulator.core import SimulatedStore, StoreOptions
from netterms_daemon.simulator.replies import ApiError, error_response

log = structlog.get_logger(__name__)

# What an injected 429 tells the client: nothing left, wait about a second.
THROTTLE_RESET_MS = 1000

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _version(path: str, root: str) -> str:
    rest = path[len(root) :]
    return "v3" if rest.startswith("/v3") else "v2"


def build_app(store: SimulatedStore) -> web.Application:
    """The aiohttp application serving one simulated store."""
    root = f"/stores/{store.state.store_hash}"

    @web.middleware
    async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(control.CONTROL_ROOT):
            return await handler(request)
        if not request.path.startswith(f"{root}/"):
            return web.json_response(
                [{"status": 404, "message": "No store is served at this path."}],
                status=404,
            )

        version = _version(request.path, root)
        if request.headers.get("X-Auth-Token") != store.options.access_token:
            return error_response(
                version, ApiError(401, "The X-Auth-Token is missing or wrong.")
            )
        accept = request.headers.get("Accept", "*/*")
        if "json" not in accept and "*/*" not in accept:
            return error_response(
                version,
                ApiError(
                    406, "This store answers JSON only; send Accept: application/json."
                ),
            )

        decision = store.quota.take()
        if not decision.allowed:
            response: web.StreamResponse = error_response(
                version,
                ApiError(429, "Too many requests; wait for the quota to reset."),
            )
            response.headers.update(decision.headers)
            return response
        if store.dice.happens(store.faults.api_throttle_rate):
            store.faults.throttled_injected += 1
            return _throttled(version, decision.headers)

        response = await _serve(request, handler, version)
        response.headers.update(decision.headers)
        return response

    async def _serve(
        request: web.Request, handler: Handler, version: str
    ) -> web.StreamResponse:
        route = request.match_info.route.resource
        template = route.canonical if route is not None else request.path
        store.api_calls[f"{request.method} {template[len(root) :]}"] += 1

        if store.faults.api_latency_ms:
            await asyncio.sleep(store.faults.api_latency_ms / 1000)
        if store.dice.happens(store.faults.api_error_rate):
            return error_response(
                version, ApiError(500, "Internal error (injected fault).")
            )
        try:
            return await handler(request)
        except ApiError as error:
            return error_response(version, error)
        except web.HTTPException as exc:
            if exc.status >= 400:
                return error_response(version, ApiError(exc.status, exc.reason))
            raise

    app = web.Application(middlewares=[gate])
    app[routes_v2.store_key] = store
    routes_v2.add_routes(app, root)
    routes_v3.add_routes(app, root)
    control.add_routes(app)
    return app


def _throttled(version: str, quota_headers: dict[str, str]) -> web.StreamResponse:
    """An injected 429 that looks like a spent quota."""
    response: web.StreamResponse = error_response(
        version, ApiError(429, "Too many requests (injected fault).")
    )
    response.headers.update(quota_headers)
    response.headers.update(
        {
            "X-Rate-Limit-Requests-Left": "0",
            "X-Rate-Limit-Time-Reset-Ms": str(THROTTLE_RESET_MS),
            "X-Retry-After": str(THROTTLE_RESET_MS // 1000),
        }
    )
    return response


class Simulator:
    """A simulated store listening on a loopback port, started on purpose only."""

    def __init__(
        self,
        options: StoreOptions | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.store = SimulatedStore(options or StoreOptions())
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        """The port it listens on (chosen by the system when 0 was asked)."""
        return self._port

    @property
    def url(self) -> str:
        """Scheme, host and port: what netterms takes as bigcommerce.api_url."""
        return f"http://{self._host}:{self._port}"

    @property
    def api_root(self) -> str:
        """Where the store's API lives: {url}/stores/{hash}."""
        return f"{self.url}/stores/{self.store.state.store_hash}"

    async def start(self) -> None:
        """Listen, and begin delivering webhooks."""
        self._runner = web.AppRunner(build_app(self.store), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        if self._port == 0:
            self._port = int(self._runner.addresses[0][1])
        await self.store.webhooks.start()
        log.info("simulator.started", api_root=self.api_root)

    async def stop(self) -> None:
        """Stop delivering and listening."""
        await self.store.webhooks.stop()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
