"""`netterms check` reaching a store over real HTTP: one line per finding."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from netterms_daemon.check import Finding, run_checks
from netterms_daemon.config import load_settings
from tests.contract.contract import load_contract

TOKEN = "check-token-123"
STORE = "chk123"
PUBLIC_URL = "https://netterms.example/webhooks/bigcommerce"


class StandIn:
    """Just enough of a store for the check, answering as the specs say."""

    def __init__(self) -> None:
        self.hooks: list[dict[str, Any]] = [
            {
                "id": 1,
                "client_id": "c",
                "store_hash": STORE,
                "scope": "store/order/*",
                "destination": PUBLIC_URL,
                "is_active": True,
                "headers": {},
                "created_at": 1,
                "updated_at": 1,
            }
        ]
        self.blocked: list[dict[str, Any]] = []
        self.groups: list[dict[str, Any]] = [{"id": 4, "name": "Net30 Wholesale"}]
        self.contract = load_contract()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth_and_contract])
        root = f"/stores/{STORE}"
        app.router.add_get(f"{root}/v2/store", self._store)
        app.router.add_get(f"{root}/v2/customer_groups", self._groups)
        app.router.add_get(f"{root}/v3/hooks", self._hooks)
        app.router.add_get(f"{root}/v3/hooks/admin", self._admin)
        return app

    @web.middleware
    async def _auth_and_contract(self, request: web.Request, handler: Any) -> Any:
        self.contract.validate_request(request.method, str(request.url), None, None)
        if request.headers.get("X-Auth-Token") != TOKEN:
            return web.json_response(
                {"status": 401, "title": "Unauthorized", "type": "about:blank"},
                status=401,
            )
        response = await handler(request)
        body = response.body
        self.contract.validate_response(
            request.method, str(request.url), response.status, body and body.decode()
        )
        return response

    async def _store(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"id": STORE, "name": "Check Shop", "timezone": {"name": "America/Chicago"}}
        )

    async def _groups(self, request: web.Request) -> web.Response:
        groups = [
            g for g in self.groups if request.query.get("name") in (None, g["name"])
        ]
        if not groups:
            return web.Response(status=204)
        return web.json_response(groups)

    async def _hooks(self, request: web.Request) -> web.Response:
        meta = {
            "pagination": {
                "total": len(self.hooks),
                "count": len(self.hooks),
                "per_page": 250,
                "current_page": 1,
                "total_pages": 1,
            }
        }
        return web.json_response({"data": self.hooks, "meta": meta})

    async def _admin(self, request: web.Request) -> web.Response:
        data = {"emails": [], "hooks_list": [], "blocked_domains": self.blocked}
        return web.json_response({"data": data, "meta": {}})


@pytest.fixture
async def stand_in() -> AsyncIterator[tuple[StandIn, str]]:
    store = StandIn()
    server = TestServer(store.app(), host="127.0.0.1")
    await server.start_server()
    yield store, f"http://127.0.0.1:{server.port}"
    await server.close()


def settings_for(database_url: str, api_url: str, tmp_path: Path, **env: str) -> Any:
    base = {
        "NETTERMS_DATABASE_URL": database_url,
        "NETTERMS_BIGCOMMERCE_STORE_HASH": STORE,
        "NETTERMS_BIGCOMMERCE_ACCESS_TOKEN": TOKEN,
        "NETTERMS_BIGCOMMERCE_API_URL": api_url,
        "NETTERMS_WEBHOOKS_PUBLIC_URL": PUBLIC_URL,
        "NETTERMS_STATE_DIR": str(tmp_path),
    }
    config = tmp_path / "netterms.toml"
    config.write_text('[[terms]]\ngroup = "Net30 Wholesale"\npolicy = "net 30"\n')
    return load_settings(config, {**base, **env}, default_config_path=tmp_path / "none")


def problems(findings: list[Finding]) -> list[str]:
    return [f"{f.subject}: {f.text}" for f in findings if not f.ok]


async def test_check_all_good(
    stand_in: tuple[StandIn, str], database_url: str, tmp_path: Path
) -> None:
    """Credentials, time zone, groups and an active hook: every line ok."""
    _, api_url = stand_in

    findings = await run_checks(settings_for(database_url, api_url, tmp_path))

    assert problems(findings) == []
    subjects = [f.subject for f in findings]
    assert subjects == [
        "config",
        "database",
        "schema",
        "store",
        "timezone",
        "groups",
        "webhooks",
    ]
    assert "America/Chicago" in findings[4].text


async def test_check_reports_missing_terms_group(
    stand_in: tuple[StandIn, str], database_url: str, tmp_path: Path
) -> None:
    """A [[terms]] group the store does not have is one line pointing at setup."""
    store, api_url = stand_in
    store.groups.clear()

    found = problems(await run_checks(settings_for(database_url, api_url, tmp_path)))

    assert found == [
        "groups: 'Net30 Wholesale' does not exist in the store; run netterms setup"
    ]


async def test_check_wrong_token_is_one_line(
    stand_in: tuple[StandIn, str], database_url: str, tmp_path: Path
) -> None:
    """A refused token: one problem line naming the variable to fix, never the token."""
    _, api_url = stand_in
    settings = settings_for(
        database_url,
        api_url,
        tmp_path,
        NETTERMS_BIGCOMMERCE_ACCESS_TOKEN="wrong-token-9",
    )

    found = problems(await run_checks(settings))

    assert len(found) == 1
    assert found[0].startswith("store: the store refused the access token")
    assert "NETTERMS_BIGCOMMERCE_ACCESS_TOKEN" in found[0]
    assert "wrong-token-9" not in found[0]


async def test_check_reports_deactivated_hook_and_blocked_domain(
    stand_in: tuple[StandIn, str], database_url: str, tmp_path: Path
) -> None:
    """A dead hook and a blocked destination are each one line."""
    store, api_url = stand_in
    store.hooks[0]["is_active"] = False
    store.blocked.append(
        {
            "destination": "https://netterms.example",
            "time_left": 90,
            "reasons": [{"failure_description": "timeout", "count": 3, "timestamp": 1}],
        }
    )

    found = problems(await run_checks(settings_for(database_url, api_url, tmp_path)))

    assert found == [
        "webhooks: BigCommerce has blocked deliveries to https://netterms.example "
        "for 90 s more (timeout)",
        "webhooks: store/order/* (hook 1) is deactivated",
    ]


async def test_check_missing_hook_and_unset_public_url(
    stand_in: tuple[StandIn, str], database_url: str, tmp_path: Path
) -> None:
    """No hook for our URL, or no URL at all: BigCommerce cannot reach netterms."""
    store, api_url = stand_in
    store.hooks.clear()

    missing = problems(await run_checks(settings_for(database_url, api_url, tmp_path)))
    unset = problems(
        await run_checks(
            settings_for(
                database_url, api_url, tmp_path, NETTERMS_WEBHOOKS_PUBLIC_URL=""
            )
        )
    )

    assert missing == [f"webhooks: no webhook delivers to {PUBLIC_URL}"]
    assert unset == [
        "webhooks: [webhooks] public_url is not set, so no webhook can reach netterms"
    ]


async def test_check_store_unreachable(database_url: str, tmp_path: Path) -> None:
    """A store that does not answer is one line naming where it was looked for."""
    settings = settings_for(database_url, "http://127.0.0.1:9", tmp_path)

    found = problems(await run_checks(settings))

    assert len(found) == 1
    assert found[0].startswith("store: cannot reach http://127.0.0.1:9")


async def test_check_store_not_configured(database_url: str, tmp_path: Path) -> None:
    """Without a store hash the check says which setting to fill in."""
    settings = settings_for(
        database_url, "http://127.0.0.1:9", tmp_path, NETTERMS_BIGCOMMERCE_STORE_HASH=""
    )

    found = problems(await run_checks(settings))

    assert found == [
        "store: [bigcommerce] store_hash is not set "
        "(or NETTERMS_BIGCOMMERCE_STORE_HASH)"
    ]
