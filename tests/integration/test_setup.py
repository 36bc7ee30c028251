"""`netterms setup` against the simulated store over HTTP: groups, webhooks, drift."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from netterms_daemon.bigcommerce.client import BigCommerceClient
from netterms_daemon.bigcommerce.models import CustomerGroup
from netterms_daemon.config import Secret, Settings, load_settings
from netterms_daemon.errors import ConfigError
from netterms_daemon.setup import (
    WEBHOOK_SCOPES,
    ensure_webhooks,
    resolve_terms,
    run_setup,
)
from netterms_daemon.simulator.server import Simulator
from tests.support.simulator import StoreClient, running_store

PUBLIC_URL = "https://netterms.example/webhooks/bigcommerce"
OLD_URL = "https://old-host.example/webhooks/bigcommerce"
SECRET = "s3cret-value-never-shown"
HEADER = "X-Netterms-Secret"

NAMED_TERMS = """
[[terms]]
group = "Net30 Wholesale"
policy = "net 30"

[[terms]]
group = "Net60 Trade"
policy = "net 60"
"""


def make_settings(
    tmp_path: Path,
    terms: str = NAMED_TERMS,
    *,
    public_url: str | None = PUBLIC_URL,
    secret: str | None = SECRET,
) -> Settings:
    """Settings with these [[terms]] and, when given, the [webhooks] values."""
    config = tmp_path / "netterms.toml"
    config.write_text(terms, encoding="utf-8")
    env = {"NETTERMS_CONFIG": str(config), "NETTERMS_STATE_DIR": str(tmp_path)}
    if public_url is not None:
        env["NETTERMS_WEBHOOKS_PUBLIC_URL"] = public_url
    if secret is not None:
        env["NETTERMS_WEBHOOKS_SECRET"] = secret
    return load_settings(None, env, default_config_path=tmp_path / "none")


def make_client(simulator: Simulator) -> BigCommerceClient:
    """A client for the simulated store, as the daemon would build one."""
    return BigCommerceClient(
        simulator.store.state.store_hash,
        Secret(simulator.store.options.access_token),
        api_url=simulator.url,
    )


@asynccontextmanager
async def seeded_store() -> AsyncIterator[
    tuple[Simulator, StoreClient, BigCommerceClient]
]:
    """A seeded store ("Net30 Wholesale" is 1, "Retail" is 2) and a client for it."""
    async with running_store() as (simulator, raw):
        simulator.store.seed()
        async with make_client(simulator) as client:
            yield simulator, raw, client


def assert_hooks_correct(simulator: Simulator, destination: str = PUBLIC_URL) -> None:
    """Exactly one active hook per scope, at the destination, with the secret."""
    hooks = sorted(simulator.store.state.hooks.values(), key=lambda h: h.scope)
    assert [h.scope for h in hooks] == sorted(WEBHOOK_SCOPES)
    for hook in hooks:
        assert hook.destination == destination
        assert hook.is_active
        assert not hook.deactivated
        assert hook.headers[HEADER] == SECRET


async def test_resolve_terms_creates_a_missing_group_once(tmp_path: Path) -> None:
    """An existing group is found by name; a missing one is created, only once."""
    settings = make_settings(tmp_path)
    async with seeded_store() as (simulator, _, client):
        calls = simulator.store.api_calls
        book, changes = await resolve_terms(settings, client, create_missing=True)

        assert changes == ["created customer group 'Net60 Trade' (id 3)"]
        assert calls["POST /v2/customer_groups"] == 1
        assert calls["GET /v2/customer_groups"] == 1
        found = book.for_group(1)
        assert found is not None
        assert found.group_name == "Net30 Wholesale"
        assert found.entry.policy.text == "net 30"
        created = book.for_group(3)
        assert created is not None
        assert created.group_name == "Net60 Trade"
        assert book.missing == ()
        assert book.for_group(2) is None
        assert book.for_group(None) is None

        again, changes = await resolve_terms(settings, client, create_missing=True)

        assert changes == []
        assert calls["POST /v2/customer_groups"] == 1
        assert again == book
        assert len(simulator.store.state.groups) == 3


async def test_resolve_terms_by_id_never_creates(tmp_path: Path) -> None:
    """A group id is read; an unknown id is reported missing and never created."""
    terms = """
[[terms]]
group_id = 2
policy = "net 15"

[[terms]]
group_id = 99
policy = "net 45"
"""
    settings = make_settings(tmp_path, terms)
    async with seeded_store() as (simulator, _, client):
        book, changes = await resolve_terms(settings, client, create_missing=True)

        assert changes == []
        assert book.missing == ("group id 99",)
        retail = book.for_group(2)
        assert retail is not None
        assert retail.group_name == "Retail"
        assert simulator.store.api_calls["POST /v2/customer_groups"] == 0
        assert simulator.store.api_calls["GET /v2/customer_groups"] == 0


async def test_resolve_terms_without_create_lists_missing_names(
    tmp_path: Path,
) -> None:
    """With create_missing=False a missing name is listed, and nothing is made."""
    settings = make_settings(tmp_path)
    async with seeded_store() as (simulator, _, client):
        book, changes = await resolve_terms(settings, client, create_missing=False)

        assert changes == []
        assert book.missing == ("'Net60 Trade'",)
        assert list(book.by_group_id) == [1]
        assert simulator.store.api_calls["POST /v2/customer_groups"] == 0


async def test_resolve_terms_finds_a_group_created_since_the_listing(
    tmp_path: Path,
) -> None:
    """A group made by someone else after the listing (409) is found, not reported."""

    class StaleListing(BigCommerceClient):
        async def customer_groups(self, name: str | None = None) -> list[CustomerGroup]:
            if name is None:
                return []
            return await super().customer_groups(name=name)

    settings = make_settings(tmp_path)
    async with running_store() as (simulator, _):
        simulator.store.seed()
        simulator.store.add_group("Net60 Trade")
        async with StaleListing(
            simulator.store.state.store_hash,
            Secret(simulator.store.options.access_token),
            api_url=simulator.url,
        ) as client:
            book, changes = await resolve_terms(settings, client, create_missing=True)

        assert simulator.store.api_calls["POST /v2/customer_groups"] == 2

    assert changes == []
    assert [(r.group_id, r.group_name) for r in book.by_group_id.values()] == [
        (1, "Net30 Wholesale"),
        (3, "Net60 Trade"),
    ]
    assert len(simulator.store.state.groups) == 3


async def test_resolve_terms_rejects_two_entries_for_one_group(tmp_path: Path) -> None:
    """A name and an id that turn out to be the same group are a config error."""
    terms = """
[[terms]]
group = "Retail"
policy = "net 30"

[[terms]]
group_id = 2
policy = "net 60"
"""
    settings = make_settings(tmp_path, terms)
    async with seeded_store() as (_, _, client):
        with pytest.raises(ConfigError) as raised:
            await resolve_terms(settings, client, create_missing=True)

    assert raised.value.problems == [
        "[[terms]] 'Retail' and group id 2 both name customer group 2 ('Retail'); "
        "keep one of them"
    ]


async def test_ensure_webhooks_registers_both_scopes_once(tmp_path: Path) -> None:
    """Both hooks are created active with the secret; a second run changes nothing."""
    settings = make_settings(tmp_path)
    async with seeded_store() as (simulator, _, client):
        lines = await ensure_webhooks(settings, client)

        assert lines == [
            f"registered webhook store/order/* -> {PUBLIC_URL} (hook 1)",
            f"registered webhook store/customer/* -> {PUBLIC_URL} (hook 2)",
        ]
        assert_hooks_correct(simulator)
        assert simulator.store.api_calls["POST /v3/hooks"] == 2

        assert await ensure_webhooks(settings, client) == []
        assert simulator.store.api_calls["POST /v3/hooks"] == 2
        assert simulator.store.api_calls["PUT /v3/hooks/{webhook_id}"] == 0


async def test_run_setup_twice_changes_nothing(tmp_path: Path) -> None:
    """The second run of setup reports no change and writes nothing."""
    settings = make_settings(tmp_path)
    async with seeded_store() as (simulator, _, client):
        first = await run_setup(settings, client)
        simulator.store.api_calls.clear()
        with capture_logs() as logs:
            second = await run_setup(settings, client)

    assert len(first.changes) == 3
    assert first.warnings == []
    assert second.changes == []
    assert second.warnings == []
    assert second.book == first.book
    writes = [k for k in simulator.store.api_calls if not k.startswith("GET ")]
    assert writes == []
    done = [e for e in logs if e["event"] == "setup.done"]
    assert done == [
        {
            "event": "setup.done",
            "log_level": "info",
            "changes": 0,
            "warnings": 0,
            "groups": 2,
            "missing_groups": 0,
        }
    ]
    assert not [e for e in logs if e["event"] == "setup.changed"]


async def test_run_setup_fixes_drifted_hooks(tmp_path: Path) -> None:
    """Deactivated, wrong-secret and moved hooks are repaired in place, none added."""
    settings = make_settings(tmp_path)
    async with seeded_store() as (simulator, raw, client):
        await run_setup(settings, client)
        hooks = simulator.store.state.hooks
        order_hook, customer_hook = hooks[1], hooks[2]
        reply = await raw.call("PUT", "/v3/hooks/1", {"is_active": False})
        assert reply.status == 200
        order_hook.headers = {HEADER: "an-old-secret", "X-Custom": "kept"}
        customer_hook.destination = OLD_URL
        customer_hook.deactivated = True
        customer_hook.is_active = False
        simulator.store.api_calls.clear()

        with capture_logs() as logs:
            report = await run_setup(settings, client)

    assert sorted(report.changes) == sorted(
        [
            "webhook store/order/* (hook 1): reactivated",
            f"webhook store/order/* (hook 1): {HEADER} header set to the configured "
            "secret",
            f"webhook store/customer/* (hook 2): moved from {OLD_URL} to {PUBLIC_URL}",
            "webhook store/customer/* (hook 2): reactivated",
        ]
    )
    assert report.warnings == []
    assert all(SECRET not in line for line in report.changes + report.warnings)
    assert all(SECRET not in str(event) for event in logs)
    assert_hooks_correct(simulator)
    assert order_hook.headers == {HEADER: SECRET, "X-Custom": "kept"}
    assert simulator.store.api_calls["POST /v3/hooks"] == 0
    assert simulator.store.api_calls["PUT /v3/hooks/{webhook_id}"] == 2
    assert len([e for e in logs if e["event"] == "setup.changed"]) == 4


async def test_ensure_webhooks_adopts_a_hook_at_another_address(
    tmp_path: Path,
) -> None:
    """A hook of our scope elsewhere is moved; a second one there is only warned of."""
    settings = make_settings(tmp_path)
    async with seeded_store() as (simulator, raw, client):
        for destination in (OLD_URL, "https://elsewhere.example/other"):
            reply = await raw.call(
                "POST",
                "/v3/hooks",
                {"scope": "store/order/*", "destination": destination},
            )
            assert reply.status == 200

        lines = await ensure_webhooks(settings, client)

        assert lines == [
            f"webhook store/order/* (hook 1): moved from {OLD_URL} to {PUBLIC_URL}",
            f"webhook store/order/* (hook 1): {HEADER} header set to the configured "
            "secret",
            f"registered webhook store/customer/* -> {PUBLIC_URL} (hook 3)",
            "warning: hook 2 (store/order/*) also delivers to "
            "https://elsewhere.example/other; netterms does not use it: delete it "
            "if nothing else does",
        ]
        assert len(simulator.store.state.hooks) == 3


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("secret", "NETTERMS_WEBHOOKS_SECRET"),
        ("public_url", "[webhooks] public_url"),
    ],
)
async def test_ensure_webhooks_needs_url_and_secret(
    tmp_path: Path, missing: str, named: str
) -> None:
    """Without the secret or public_url: one ConfigError line, and no API call."""
    settings = make_settings(
        tmp_path,
        public_url=None if missing == "public_url" else PUBLIC_URL,
        secret=None if missing == "secret" else SECRET,
    )
    async with seeded_store() as (simulator, _, client):
        with pytest.raises(ConfigError) as raised:
            await ensure_webhooks(settings, client)

    assert len(raised.value.problems) == 1
    assert named in raised.value.problems[0]
    assert not simulator.store.api_calls


async def test_run_setup_refuses_missing_secret_before_changing_anything(
    tmp_path: Path,
) -> None:
    """A public_url without a secret stops setup before any group is created."""
    settings = make_settings(tmp_path, secret=None)
    async with seeded_store() as (simulator, _, client):
        with pytest.raises(ConfigError):
            await run_setup(settings, client)

    assert not simulator.store.api_calls


async def test_run_setup_without_public_url_warns(tmp_path: Path) -> None:
    """With no public_url, groups are still set up and the report says no hooks."""
    settings = make_settings(tmp_path, public_url=None, secret=None)
    async with seeded_store() as (simulator, _, client):
        report = await run_setup(settings, client)

    assert report.changes == ["created customer group 'Net60 Trade' (id 3)"]
    assert len(report.warnings) == 1
    assert "no webhooks were registered" in report.warnings[0]
    assert "[webhooks] public_url" in report.warnings[0]
    assert not simulator.store.state.hooks


async def test_run_setup_warns_of_a_missing_group_id(tmp_path: Path) -> None:
    """An id entry with no such group becomes a warning in the report."""
    terms = '[[terms]]\ngroup_id = 99\npolicy = "net 30"\n'
    settings = make_settings(tmp_path, terms)
    async with seeded_store() as (_, _, client):
        report = await run_setup(settings, client)

    assert report.book.missing == ("group id 99",)
    assert report.warnings == [
        "[[terms]] group id 99: no such customer group, so its policy applies to no one"
    ]


async def test_ensure_webhooks_warns_of_plain_http(tmp_path: Path) -> None:
    """An http:// public_url is used, but logged and reported as a warning."""
    url = "http://127.0.0.1:8080/webhooks/bigcommerce"
    settings = make_settings(tmp_path, public_url=url)
    async with seeded_store() as (simulator, _, client):
        with capture_logs() as logs:
            lines = await ensure_webhooks(settings, client)
        report = await run_setup(settings, client)

    warnings = [line for line in lines if line.startswith("warning: ")]
    assert len(warnings) == 1
    assert "BigCommerce delivers only to https on port 443" in warnings[0]
    assert_hooks_correct(simulator, url)
    assert report.changes == ["created customer group 'Net60 Trade' (id 3)"]
    assert report.warnings == [warnings[0].removeprefix("warning: ")]
    insecure = [e for e in logs if e["event"] == "setup.insecure_destination"]
    assert insecure == [
        {
            "event": "setup.insecure_destination",
            "log_level": "warning",
            "destination": url,
        }
    ]
