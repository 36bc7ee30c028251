"""`netterms check`: try every dependency and say what is wrong, a line each."""

from __future__ import annotations

import zoneinfo
from collections.abc import Awaitable
from dataclasses import dataclass, replace

import asyncpg

from netterms_daemon.bigcommerce.client import BigCommerceClient
from netterms_daemon.bigcommerce.errors import AuthenticationError, BigCommerceError
from netterms_daemon.config import Settings
from netterms_daemon.database import database_url
from netterms_daemon.errors import NettermsError
from netterms_daemon.migrations import latest_version, schema_version
from netterms_daemon.setup import resolve_terms


@dataclass(frozen=True)
class Finding:
    """One line of the check's answer."""

    ok: bool
    subject: str
    text: str

    def render(self) -> str:
        """The line as printed: status, subject, explanation."""
        return f"{'ok' if self.ok else 'problem':<8} {self.subject:<10} {self.text}"


async def run_checks(settings: Settings) -> list[Finding]:
    """Check the configuration and the database; never raise for a problem found."""
    source = str(settings.config_path) if settings.config_path else "defaults only"
    findings = [Finding(True, "config", f"loaded ({source})")]
    findings += [Finding(False, "config", warning) for warning in settings.warnings]
    findings += await _check_database(settings)
    findings += await _check_store(settings)
    return findings


async def _check_database(settings: Settings) -> list[Finding]:
    where = "configured URL" if settings.database.url else "embedded PostgreSQL"
    try:
        async with database_url(settings) as url:
            connection = await asyncpg.connect(
                url, timeout=min(10.0, settings.database.connect_timeout_s)
            )
            try:
                version = await schema_version(connection)
            finally:
                await connection.close()
    except (NettermsError, OSError, TimeoutError, asyncpg.PostgresError) as exc:
        return [Finding(False, "database", f"{where}: {exc}")]

    found = [Finding(True, "database", f"reachable ({where})")]
    expected = latest_version()
    if version < expected:
        found.append(
            Finding(
                False,
                "schema",
                f"at version {version}, this netterms needs {expected}: "
                "run `netterms migrate` (netterms run also does it at start)",
            )
        )
    elif version > expected:
        found.append(
            Finding(
                False,
                "schema",
                f"at version {version}, newer than this netterms knows ({expected}): "
                "upgrade netterms",
            )
        )
    else:
        found.append(Finding(True, "schema", f"at version {version}, current"))
    return found


async def _check_store(settings: Settings) -> list[Finding]:
    """Reach the store: credentials, time zone, customer groups, webhooks."""
    store = settings.bigcommerce
    if not store.store_hash:
        return [_missing("store_hash", "NETTERMS_BIGCOMMERCE_STORE_HASH")]
    if store.access_token is None:
        return [_missing("access_token", "NETTERMS_BIGCOMMERCE_ACCESS_TOKEN")]

    # A check should answer promptly, not sit through the daemon's retries.
    quick = replace(store, max_attempts=2, max_retry_s=10.0)
    async with BigCommerceClient.from_settings(quick) as client:
        try:
            info = await client.store_information()
        except AuthenticationError as exc:
            return [
                Finding(
                    False,
                    "store",
                    f"the store refused the access token ({exc}); check "
                    "NETTERMS_BIGCOMMERCE_ACCESS_TOKEN and the API account's scopes",
                )
            ]
        except BigCommerceError as exc:
            return [Finding(False, "store", f"cannot reach {store.api_url}: {exc}")]

        found = [Finding(True, "store", f"{info.name!r} ({store.store_hash}) answers")]
        found.append(_time_zone(info.timezone))
        found += await _guarded("groups", _check_groups(client, settings))
        found += await _guarded("webhooks", _check_webhooks(client, settings))
    return found


def _missing(key: str, variable: str) -> Finding:
    return Finding(False, "store", f"[bigcommerce] {key} is not set (or {variable})")


def _time_zone(name: str) -> Finding:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return Finding(
            False, "timezone", f"the store's time zone {name!r} is unknown here"
        )
    return Finding(True, "timezone", f"{name}; due dates are computed in it")


async def _guarded(subject: str, check: Awaitable[list[Finding]]) -> list[Finding]:
    try:
        return await check
    except BigCommerceError as exc:
        return [Finding(False, subject, str(exc))]


async def _check_groups(client: BigCommerceClient, settings: Settings) -> list[Finding]:
    """Every [[terms]] group must exist; `netterms setup` creates missing ones."""
    if not settings.terms:
        return [
            Finding(False, "groups", "no [[terms]] configured: no order will get terms")
        ]
    book, _ = await resolve_terms(settings, client, create_missing=False)
    found = [
        Finding(
            True,
            "groups",
            f"{r.group_name!r} (id {r.group_id}): {r.entry.policy.describe()}",
        )
        for r in sorted(book.by_group_id.values(), key=lambda r: r.group_id)
    ]
    found += [
        Finding(
            False, "groups", f"{label} does not exist in the store; run netterms setup"
        )
        for label in book.missing
    ]
    return found


async def _check_webhooks(
    client: BigCommerceClient, settings: Settings
) -> list[Finding]:
    destination = settings.webhooks.public_url
    hooks = await client.webhooks()
    admin = await client.hooks_admin()

    found = [
        Finding(
            False,
            "webhooks",
            f"BigCommerce has blocked deliveries to {blocked.destination} for "
            f"{blocked.time_left_s} s more "
            f"({', '.join(blocked.reasons) or 'no reason given'})",
        )
        for blocked in admin.blocked_domains
    ]
    if destination is None:
        found.append(
            Finding(
                False,
                "webhooks",
                "[webhooks] public_url is not set, so no webhook can reach netterms",
            )
        )
        return found

    ours = [hook for hook in hooks if hook.destination == destination]
    if not ours:
        found.append(
            Finding(False, "webhooks", f"no webhook delivers to {destination}")
        )
    for hook in ours:
        if hook.is_active:
            found.append(
                Finding(True, "webhooks", f"{hook.scope} delivers to {destination}")
            )
        else:
            found.append(
                Finding(
                    False, "webhooks", f"{hook.scope} (hook {hook.id}) is deactivated"
                )
            )
    return found
