"""`netterms setup`: make the store match the configuration, changing only drift.

Setup finds (or creates) the customer group of every [[terms]] entry and
registers the webhooks the daemon needs. Every step reads first and writes
only what differs, so running it again changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import structlog

from netterms_daemon.bigcommerce.client import BigCommerceClient
from netterms_daemon.bigcommerce.errors import NotFoundError, ValidationError
from netterms_daemon.bigcommerce.models import CustomerGroup, Webhook
from netterms_daemon.config import Settings, TermsEntry
from netterms_daemon.errors import ConfigError

log = structlog.get_logger(__name__)

WEBHOOK_SCOPES = ("store/order/*", "store/customer/*")
# The daemon's webhook route: a hook elsewhere on this path is an old address of ours.
WEBHOOK_PATH = "/webhooks/bigcommerce"
# BigCommerce delivers only to https on the default port.
DELIVERABLE_PORT = 443


@dataclass(frozen=True)
class ResolvedTerms:
    """A [[terms]] entry together with the customer group it names."""

    group_id: int
    group_name: str
    entry: TermsEntry


@dataclass(frozen=True)
class TermsBook:
    """Which policy applies to which customer group id, and what was not found."""

    by_group_id: dict[int, ResolvedTerms]
    missing: tuple[str, ...]

    def for_group(self, group_id: int | None) -> ResolvedTerms | None:
        """The terms of this group; None for no group or a group without terms."""
        if group_id is None:
            return None
        return self.by_group_id.get(group_id)


@dataclass(frozen=True)
class SetupReport:
    """What setup changed, what needs a person's attention, and the terms found."""

    changes: list[str]
    warnings: list[str]
    book: TermsBook


async def run_setup(settings: Settings, client: BigCommerceClient) -> SetupReport:
    """Create missing customer groups and register or repair the webhooks."""
    # Refuse an incomplete [webhooks] section before anything is changed.
    if settings.webhooks.public_url is not None:
        _webhook_target(settings)

    book, changes = await resolve_terms(settings, client, create_missing=True)
    warnings = [
        f"[[terms]] {label}: no such customer group, so its policy applies to no one"
        for label in book.missing
    ]

    if settings.webhooks.public_url is None:
        warnings.append(
            "no webhooks were registered: [webhooks] public_url is not set "
            "(or NETTERMS_WEBHOOKS_PUBLIC_URL)"
        )
    else:
        hook_changes, hook_warnings = await _ensure_webhooks(settings, client)
        changes += hook_changes
        warnings += hook_warnings

    log.info(
        "setup.done",
        changes=len(changes),
        warnings=len(warnings),
        groups=len(book.by_group_id),
        missing_groups=len(book.missing),
    )
    return SetupReport(changes, warnings, book)


# Customer groups


async def resolve_terms(
    settings: Settings, client: BigCommerceClient, *, create_missing: bool
) -> tuple[TermsBook, list[str]]:
    """
    Find the customer group of every [[terms]] entry.

    Args:
        create_missing: create a group named by an entry that does not exist
            yet; a group named by id is never created.

    Returns the book (missing entries named by `TermsEntry.label`) and one
    line per group created. Raises ConfigError when two entries turn out
    to name the same group.
    """
    by_name = await _groups_by_name(settings, client)
    resolved: dict[int, ResolvedTerms] = {}
    missing: list[str] = []
    changes: list[str] = []
    conflicts: list[str] = []

    for entry in settings.terms:
        group = await _find_group(client, entry, by_name, create_missing, changes)
        if group is None:
            missing.append(entry.label)
        elif group.id in resolved:
            conflicts.append(_conflict(resolved[group.id].entry, entry, group))
        else:
            resolved[group.id] = ResolvedTerms(group.id, group.name, entry)

    if conflicts:
        raise ConfigError(conflicts)

    return TermsBook(resolved, tuple(missing)), changes


async def _groups_by_name(
    settings: Settings, client: BigCommerceClient
) -> dict[str, CustomerGroup]:
    """Every group by name, from one listing, when any entry names a group."""
    if all(entry.group is None for entry in settings.terms):
        return {}
    groups = sorted(await client.customer_groups(), key=lambda g: g.id)
    by_name: dict[str, CustomerGroup] = {}
    for group in groups:
        by_name.setdefault(group.name, group)

    return by_name


async def _find_group(
    client: BigCommerceClient,
    entry: TermsEntry,
    by_name: dict[str, CustomerGroup],
    create_missing: bool,
    changes: list[str],
) -> CustomerGroup | None:
    """The entry's group, created when asked and named; None when not found."""
    if entry.group_id is not None:
        return await _group_by_id(client, entry.group_id)
    assert entry.group is not None  # config guarantees a name or an id

    group = by_name.get(entry.group)
    if group is not None or not create_missing:
        return group

    group, created = await _create_group(client, entry.group)
    by_name[group.name] = group
    if created:
        _record(changes, f"created customer group {group.name!r} (id {group.id})")

    return group


async def _group_by_id(
    client: BigCommerceClient, group_id: int
) -> CustomerGroup | None:
    try:
        return await client.customer_group(group_id)
    except NotFoundError:
        return None


async def _create_group(
    client: BigCommerceClient, name: str
) -> tuple[CustomerGroup, bool]:
    """Create a group, or find it when someone made it since the listing (409)."""
    try:
        return await client.create_customer_group(name), True
    except ValidationError as exc:
        if exc.status != 409:
            raise
        found = await client.customer_groups(name=name)
        if not found:
            raise

        return found[0], False


def _conflict(first: TermsEntry, second: TermsEntry, group: CustomerGroup) -> str:
    return (
        f"[[terms]] {first.label} and {second.label} both name customer group "
        f"{group.id} ({group.name!r}); keep one of them"
    )


# Webhooks


async def ensure_webhooks(settings: Settings, client: BigCommerceClient) -> list[str]:
    """
    Have exactly one active hook per scope deliver to public_url with the secret.

    Returns one line per change, then one `warning: ...` line per thing a
    person should look at. Raises ConfigError, before any call, when
    public_url or the secret is not configured.
    """
    changes, warnings = await _ensure_webhooks(settings, client)
    return changes + [f"warning: {warning}" for warning in warnings]


async def _ensure_webhooks(
    settings: Settings, client: BigCommerceClient
) -> tuple[list[str], list[str]]:
    """The changes made and the warnings, kept apart for the report."""
    destination, headers = _webhook_target(settings)
    warnings = _destination_warnings(destination)

    hooks = await client.webhooks()
    changes: list[str] = []
    for scope in WEBHOOK_SCOPES:
        same_scope = [hook for hook in hooks if hook.scope == scope]
        ours = _pick_ours(same_scope, destination)
        if ours is None:
            await _create_hook(client, scope, destination, headers, changes)
        else:
            await _repair_hook(client, ours, destination, headers, changes)
        warnings += [_leftover(hook) for hook in same_scope if hook is not ours]

    return changes, warnings


def _webhook_target(settings: Settings) -> tuple[str, dict[str, str]]:
    """The destination and the secret header, or ConfigError naming what is unset."""
    hooks = settings.webhooks
    problems = []
    if hooks.public_url is None:
        problems.append(
            "[webhooks] public_url is not set (or NETTERMS_WEBHOOKS_PUBLIC_URL); "
            "setup needs it to register webhooks"
        )
    if hooks.secret is None:
        problems.append(
            "[webhooks] secret is not set (NETTERMS_WEBHOOKS_SECRET or "
            "NETTERMS_WEBHOOKS_SECRET_FILE); webhooks must carry it"
        )
    if hooks.public_url is None or hooks.secret is None:
        raise ConfigError(problems)
    return hooks.public_url, {hooks.secret_header: hooks.secret.reveal()}


def _destination_warnings(destination: str) -> list[str]:
    """Say so when a real store would refuse to deliver to this destination."""
    parts = urlsplit(destination)
    if parts.scheme == "http":
        log.warning("setup.insecure_destination", destination=destination)
        return [
            f"[webhooks] public_url {destination} is plain http: BigCommerce "
            "delivers only to https on port 443 (the simulator accepts http)"
        ]
    if parts.port not in (None, DELIVERABLE_PORT):
        log.warning("setup.undeliverable_port", destination=destination)
        return [
            f"[webhooks] public_url {destination} uses port {parts.port}: "
            "BigCommerce delivers only to https on port 443"
        ]
    return []


def _pick_ours(hooks: list[Webhook], destination: str) -> Webhook | None:
    """
    The hook of one scope to keep: the one at our destination, else the best other.

    The listing holds only this API account's hooks, so a hook of our scope
    elsewhere is an old address of ours: moving it beats adding a second.
    """
    for hook in hooks:
        if hook.destination == destination:
            return hook
    our_paths = {WEBHOOK_PATH, urlsplit(destination).path}
    ranked = sorted(
        hooks,
        key=lambda h: (
            urlsplit(h.destination).path not in our_paths,
            not h.is_active,
            h.id,
        ),
    )

    return ranked[0] if ranked else None


async def _create_hook(
    client: BigCommerceClient,
    scope: str,
    destination: str,
    headers: Mapping[str, str],
    changes: list[str],
) -> None:
    hook = await client.create_webhook(scope, destination, headers)
    _record(changes, f"registered webhook {scope} -> {destination} (hook {hook.id})")


async def _repair_hook(
    client: BigCommerceClient,
    hook: Webhook,
    destination: str,
    secret: Mapping[str, str],
    changes: list[str],
) -> None:
    """Put right whatever differs, in one update, with a line per fix."""
    where = f"webhook {hook.scope} (hook {hook.id})"
    moved = hook.destination != destination
    reactivate = not hook.is_active
    headers = (
        None if _carries(hook.headers, secret) else _with_secret(hook.headers, secret)
    )
    if not (moved or reactivate or headers is not None):
        return

    await client.update_webhook(
        hook.id,
        destination=destination if moved else None,
        is_active=True if reactivate else None,
        headers=headers,
    )

    if moved:
        _record(changes, f"{where}: moved from {hook.destination} to {destination}")
    if reactivate:
        _record(changes, f"{where}: reactivated")
    if headers is not None:
        names = ", ".join(secret)
        _record(changes, f"{where}: {names} header set to the configured secret")


def _carries(headers: Mapping[str, str], secret: Mapping[str, str]) -> bool:
    """Whether the hook sends the secret, and no other value under that name."""
    return all(
        [v for k, v in headers.items() if k.lower() == name.lower()] == [value]
        for name, value in secret.items()
    )


def _with_secret(
    headers: Mapping[str, str], secret: Mapping[str, str]
) -> dict[str, str]:
    """Other custom headers kept; any spelling of the secret's name replaced."""
    names = {name.lower() for name in secret}
    kept = {k: v for k, v in headers.items() if k.lower() not in names}
    return {**kept, **secret}


def _leftover(hook: Webhook) -> str:
    return (
        f"hook {hook.id} ({hook.scope}) also delivers to {hook.destination}; "
        "netterms does not use it: delete it if nothing else does"
    )


def _record(changes: list[str], line: str) -> None:
    """Log a change as it is made, so a later failure does not hide it."""
    log.info("setup.changed", change=line)
    changes.append(line)
