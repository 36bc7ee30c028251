"""Driving the simulated store over HTTP, checking every exchange against the specs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp

from netterms_daemon.simulator.core import StoreOptions
from netterms_daemon.simulator.server import Simulator
from tests.contract.contract import load_contract


@dataclass(frozen=True)
class Reply:
    """One answer: status, headers, and the JSON body (None when empty)."""

    status: int
    headers: Mapping[str, str]
    body: Any


class StoreClient:
    """A raw HTTP client for the simulated store, as a user with curl would be.

    Each request and each answer is validated against the schemas derived
    from BigCommerce's specs (answers with 4xx/5xx only where declared).
    """

    def __init__(self, simulator: Simulator, session: aiohttp.ClientSession) -> None:
        self.simulator = simulator
        self.session = session
        self.contract = load_contract()
        self.token = simulator.store.options.access_token

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> Reply:
        """Send one request to {api_root}{path}, e.g. path='/v2/orders'."""
        url = f"{self.simulator.api_root}{path}"
        sent_headers = {"X-Auth-Token": self.token, "Accept": "application/json"}
        sent_headers.update(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body)
            sent_headers["Content-Type"] = "application/json"
        if check:
            self.contract.validate_request(method, url, params, body)

        async with self.session.request(
            method, url, params=params, data=data, headers=sent_headers
        ) as response:
            raw = await response.read()
            reply = Reply(
                response.status,
                dict(response.headers),
                json.loads(raw) if raw.strip() else None,
            )
        if check and (reply.status < 400 or reply.status in (404, 409, 422)):
            self.contract.validate_response(method, url, reply.status, reply.body)
        return reply

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call the simulator's own control API under /__simulator."""
        async with self.session.request(
            method, f"{self.simulator.url}/__simulator{path}", json=body
        ) as response:
            return await response.json()


@asynccontextmanager
async def running_store(
    options: StoreOptions | None = None,
) -> AsyncIterator[tuple[Simulator, StoreClient]]:
    """A simulator on a free loopback port, and a client for it."""
    async with (
        Simulator(options or StoreOptions(random_seed=7)) as simulator,
        aiohttp.ClientSession() as session,
    ):
        yield simulator, StoreClient(simulator, session)
