"""Typed settings from a TOML file, `NETTERMS_*` variables and secret files.

Settings are read once at start into one frozen object and passed down; no
other module reads the environment. Precedence, lowest first: built-in
defaults, the TOML file, environment variables. `[section] key` is overridden
by `NETTERMS_<SECTION>_<KEY>`; a secret may instead name a file to read with
`NETTERMS_<SECTION>_<KEY>_FILE` (or `key_file = "..."` in the TOML file).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from netterms_daemon.errors import ConfigError
from netterms_daemon.terms.policy import Policy, PolicyError, parse_policy
from netterms_daemon.terms.schedule import check_holidays

ENV_PREFIX = "NETTERMS_"
CONFIG_ENV = "NETTERMS_CONFIG"
DEFAULT_CONFIG_PATH = Path("/etc/netterms/netterms.toml")
ROOT_STATE_DIR = Path("/var/lib/netterms")

# Variables that share the prefix but are not settings.
_NOT_SETTINGS = ("NETTERMS_CONFIG", "NETTERMS_TEST_")

LOG_LEVELS = ("debug", "info", "warning", "error")
CRASH_POINTS = ("after_claim", "after_order_update", "during_ack")
LOG_FORMATS = ("auto", "json", "console")


@dataclass(frozen=True)
class Secret:
    """A value that must never be printed: its repr and str are masked."""

    value: str = field(repr=False)

    def reveal(self) -> str:
        """Return the secret itself, for the one place that needs it."""
        return self.value

    def __str__(self) -> str:
        return "***"

    def __repr__(self) -> str:
        return "Secret('***')"


Check = Callable[[Any], str | None]


def _setting(default: Any, check: Check | None = None) -> Any:
    return field(default=default, metadata={"check": check})


def _between(low: float, high: float) -> Check:
    def check(value: float) -> str | None:
        if low <= value <= high:
            return None
        return f"must be between {low:g} and {high:g}, got {value!r}"

    return check


def _one_of(*choices: str) -> Check:
    def check(value: str) -> str | None:
        if value in choices:
            return None
        return f"must be one of {', '.join(choices)}, got {value!r}"

    return check


def _postgres_url(value: Secret) -> str | None:
    if urlsplit(value.reveal()).scheme in ("postgres", "postgresql"):
        return None
    return "must be a postgresql:// URL"


def _origin_url(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"must be an http(s) URL, got {value!r}"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return f"must be a scheme and host only (no path), got {value!r}"
    return None


def _header_name(value: str) -> str | None:
    if value and all(c.isalnum() or c == "-" for c in value):
        return None
    return f"must be an HTTP header name such as X-Netterms-Secret, got {value!r}"


def _day_counts(value: tuple[int, ...]) -> str | None:
    if all(0 < v <= 3650 for v in value):
        return None
    return f"must list day counts such as [7, 30, 60], got {list(value)!r}"


def _status_ids(value: tuple[int, ...]) -> str | None:
    if value and all(0 <= v <= 1000 for v in value):
        return None
    return f"must list order status ids such as [11, 10], got {list(value)!r}"


def _http_url(value: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme in ("http", "https") and parts.netloc:
        return None
    return f"must be an http(s) URL, got {value!r}"


@dataclass(frozen=True)
class DatabaseSettings:
    """Where Postgres is; with no URL an embedded server is started."""

    url: Secret | None = _setting(None, _postgres_url)
    pool_min_size: int = _setting(1, _between(1, 100))
    pool_max_size: int = _setting(10, _between(1, 100))
    connect_timeout_s: float = _setting(60.0, _between(1, 3600))
    command_timeout_s: float = _setting(30.0, _between(1, 3600))
    embedded_run_as: str = _setting("nobody")


@dataclass(frozen=True)
class HttpSettings:
    """The listener for webhooks, health checks and the admin API."""

    host: str = _setting("127.0.0.1")
    port: int = _setting(8080, _between(1, 65535))


@dataclass(frozen=True)
class LogSettings:
    """How much to log, and as JSON lines or for a person at a terminal."""

    level: str = _setting("info", _one_of(*LOG_LEVELS))
    format: str = _setting("auto", _one_of(*LOG_FORMATS))


@dataclass(frozen=True)
class DaemonSettings:
    """Process lifecycle."""

    shutdown_grace_s: float = _setting(20.0, _between(0, 600))
    # For the reliability tests only: die with SIGKILL at this step.
    crash_at: str | None = _setting(None, _one_of(*CRASH_POINTS))


@dataclass(frozen=True)
class BigCommerceSettings:
    """The store netterms serves and how to reach its API."""

    store_hash: str | None = _setting(None)
    access_token: Secret | None = _setting(None)
    api_url: str = _setting("https://api.bigcommerce.com", _origin_url)
    rate_limit_quota: int = _setting(150, _between(2, 100_000))
    rate_limit_window_s: float = _setting(30.0, _between(1, 3600))
    rate_limit_burst: int = _setting(6, _between(1, 100_000))
    max_concurrency: int = _setting(8, _between(1, 100))
    request_timeout_s: float = _setting(30.0, _between(1, 600))
    max_attempts: int = _setting(5, _between(1, 20))
    max_retry_s: float = _setting(120.0, _between(1, 3600))


@dataclass(frozen=True)
class WebhookSettings:
    """Where BigCommerce delivers webhooks, and the header that proves it."""

    public_url: str | None = _setting(None, _http_url)
    secret: Secret | None = _setting(None)
    secret_header: str = _setting("X-Netterms-Secret", _header_name)
    max_body_bytes: int = _setting(256 * 1024, _between(1024, 16 * 1024 * 1024))


def _api_token(value: Secret) -> str | None:
    token = value.reveal()
    if len(token) < 16 or token != token.strip() or any(c.isspace() for c in token):
        return "must be at least 16 characters with no spaces"
    return None


@dataclass(frozen=True)
class ApiSettings:
    """The read-only admin API under /api/v1/: served only with a token."""

    token: Secret | None = _setting(None, _api_token)


@dataclass(frozen=True)
class WorkerSettings:
    """The inbox worker: how many events at once, how often, how patiently."""

    # Off for an instance that only takes webhooks while others process them.
    enabled: bool = _setting(True)
    concurrency: int = _setting(8, _between(1, 256))
    poll_interval_s: float = _setting(5.0, _between(0.05, 3600))
    max_attempts: int = _setting(8, _between(1, 100))
    retry_initial_s: float = _setting(5.0, _between(0.01, 3600))
    retry_max_s: float = _setting(900.0, _between(0.01, 86400))
    lease_s: float = _setting(300.0, _between(1, 86400))
    membership_ttl_s: float = _setting(3600.0, _between(0, 30 * 86400))
    # Schedules are copied to order metafields this many per API call, after
    # waiting this long for others to join a batch.
    metafield_batch_size: int = _setting(50, _between(1, 250))
    metafield_delay_s: float = _setting(2.0, _between(0, 3600))


@dataclass(frozen=True)
class ReconcilerSettings:
    """The periodic pass that catches what webhooks missed and flags overdue orders."""

    enabled: bool = _setting(True)
    interval_s: float = _setting(300.0, _between(0.1, 86400))
    # A paused leader loses the lock after this long without a heartbeat.
    lease_s: float = _setting(30.0, _between(1, 3600))
    lookback_days: int = _setting(7, _between(0, 3650))
    overlap_s: float = _setting(120.0, _between(0, 86400))
    due_soon_days: int = _setting(3, _between(0, 365))
    escalation_days: tuple[int, ...] = _setting((7, 30, 60), _day_counts)
    max_pass_age_s: float = _setting(1200.0, _between(1, 30 * 86400))


@dataclass(frozen=True)
class OrderSettings:
    """Which BigCommerce statuses mean what to netterms (status ids)."""

    new_status_ids: tuple[int, ...] = _setting((1, 7, 11), _status_ids)
    paid_status_ids: tuple[int, ...] = _setting((11, 9, 8, 3, 2, 10), _status_ids)
    closed_status_ids: tuple[int, ...] = _setting((5, 6, 4), _status_ids)
    hold_status_id: int = _setting(12, _between(1, 1000))


SECTIONS: dict[str, type[Any]] = {
    "database": DatabaseSettings,
    "http": HttpSettings,
    "log": LogSettings,
    "daemon": DaemonSettings,
    "bigcommerce": BigCommerceSettings,
    "webhooks": WebhookSettings,
    "api": ApiSettings,
    "worker": WorkerSettings,
    "reconciler": ReconcilerSettings,
    "orders": OrderSettings,
}
TOP_LEVEL_KEYS = ("state_dir", "terms", "credit_limits")


@dataclass(frozen=True)
class TermsEntry:
    """One [[terms]] entry: a customer group (by name or id) and its policy."""

    group: str | None
    group_id: int | None
    policy: Policy

    @property
    def label(self) -> str:
        """How the group is named in messages."""
        return (
            repr(self.group) if self.group is not None else f"group id {self.group_id}"
        )


@dataclass(frozen=True)
class CustomerCreditLimit:
    """A [[credit_limits]] entry: one customer's own limit, above their group's."""

    customer_id: int
    credit_limit: Decimal


@dataclass(frozen=True)
class Settings:
    """Everything netterms was configured with, validated."""

    state_dir: Path
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    log: LogSettings = field(default_factory=LogSettings)
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    bigcommerce: BigCommerceSettings = field(default_factory=BigCommerceSettings)
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)
    api: ApiSettings = field(default_factory=ApiSettings)
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    reconciler: ReconcilerSettings = field(default_factory=ReconcilerSettings)
    orders: OrderSettings = field(default_factory=OrderSettings)
    terms: tuple[TermsEntry, ...] = ()
    credit_limits: tuple[CustomerCreditLimit, ...] = ()
    config_path: Path | None = None
    warnings: tuple[str, ...] = ()

    def public_view(self) -> dict[str, Any]:
        """The settings as plain data with every secret masked, for logs."""
        view: dict[str, Any] = {
            "state_dir": str(self.state_dir),
            "config_path": str(self.config_path) if self.config_path else None,
        }
        view["terms"] = [
            {
                "group": entry.group if entry.group is not None else entry.group_id,
                "policy": entry.policy.describe(),
                "credit_limit": str(entry.policy.credit_limit)
                if entry.policy.credit_limit is not None
                else None,
            }
            for entry in self.terms
        ]
        for name in SECTIONS:
            section = getattr(self, name)
            view[name] = {
                item.name: _public_value(getattr(section, item.name))
                for item in dataclasses.fields(section)
            }
        return view


def _public_value(value: Any) -> Any:
    if isinstance(value, Secret):
        return "***"
    if isinstance(value, Path):
        return str(value)
    return value


def load_settings(
    config_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    default_config_path: Path = DEFAULT_CONFIG_PATH,
    is_root: bool | None = None,
) -> Settings:
    """
    Build the settings, or raise ConfigError listing every problem found.

    Args:
        config_path: the file named by `--config`, which must exist.
        environ: the process environment (injected so tests need not touch
            the real one).
        default_config_path: read when it exists and nothing else names a file.
        is_root: whether the process runs as root, which moves the default
            state directory to /var/lib/netterms.
    """
    env = dict(os.environ if environ is None else environ)
    problems: list[str] = []

    path, source_problem = _choose_config_file(config_path, env, default_config_path)
    if source_problem:
        raise ConfigError([source_problem])

    document: dict[str, Any] = {}
    if path is not None:
        document = _read_toml(path, problems)
    origin = f"in {path}"

    top = _load_top_level(document, env, origin, problems, is_root)
    sections = {
        name: _load_section(name, cls, document.get(name, {}), env, origin, problems)
        for name, cls in SECTIONS.items()
    }
    terms = _load_terms(document.get("terms", []), origin, problems)
    credit_limits = _load_credit_limits(
        document.get("credit_limits", []), origin, problems
    )
    _reject_unknown(document, origin, problems)
    warnings = _unknown_variables(env)
    _check_cross_field(sections, problems)

    if problems:
        raise ConfigError(problems)

    return Settings(
        state_dir=top,
        config_path=path,
        warnings=tuple(warnings),
        terms=terms,
        credit_limits=credit_limits,
        **sections,
    )


_TERMS_KEYS = (
    "group",
    "group_id",
    "policy",
    "credit_limit",
    "roll",
    "holiday_country",
    "holiday_subdivision",
)


def _load_terms(raw: Any, origin: str, problems: list[str]) -> tuple[TermsEntry, ...]:
    """The [[terms]] entries; each problem names the entry by its position."""
    if not isinstance(raw, list):
        problems.append(f"terms ({origin}): write each policy as a [[terms]] table")
        return ()

    entries = []
    for number, table in enumerate(raw, start=1):
        where = f"[[terms]] #{number} ({origin})"
        entry = _load_terms_entry(table, where, problems)
        if entry is not None:
            entries.append(entry)

    groups = [e.group or e.group_id for e in entries]
    for duplicate in sorted({str(g) for g in groups if groups.count(g) > 1}):
        problems.append(
            f"[[terms]] ({origin}): group {duplicate} has more than one policy"
        )
    return tuple(entries)


def _load_terms_entry(table: Any, where: str, problems: list[str]) -> TermsEntry | None:
    if not isinstance(table, dict):
        problems.append(f"{where}: expected a table")
        return None
    for key in table:
        if key not in _TERMS_KEYS:
            problems.append(
                f"{where}: unknown key {key}; known keys: {', '.join(_TERMS_KEYS)}"
            )

    group, group_id = table.get("group"), table.get("group_id")
    if (group is None) == (group_id is None):
        problems.append(
            f'{where}: name the customer group with group = "..." or group_id'
        )
        return None
    if group is not None and (not isinstance(group, str) or not group.strip()):
        problems.append(f"{where}: group must be the group's name")
        return None
    if group_id is not None and (
        isinstance(group_id, bool) or not isinstance(group_id, int)
    ):
        problems.append(f"{where}: group_id must be an integer")
        return None

    text = table.get("policy")
    if not isinstance(text, str):
        problems.append(f'{where}: policy is required, e.g. policy = "net 30"')
        return None
    try:
        policy = parse_policy(
            text,
            rolling=str(table.get("roll", "none")),
            holiday_country=table.get("holiday_country"),
            holiday_subdivision=table.get("holiday_subdivision"),
            credit_limit=table.get("credit_limit"),
        )
        check_holidays(policy)
    except PolicyError as exc:
        problems.append(f"{where}: {exc}")
        return None
    return TermsEntry(group.strip() if group else None, group_id, policy)


def _load_credit_limits(
    raw: Any, origin: str, problems: list[str]
) -> tuple[CustomerCreditLimit, ...]:
    if not isinstance(raw, list):
        problems.append(
            f"credit_limits ({origin}): write each as a [[credit_limits]] table"
        )
        return ()
    found = []
    for number, table in enumerate(raw, start=1):
        where = f"[[credit_limits]] #{number} ({origin})"
        customer = table.get("customer_id") if isinstance(table, dict) else None
        limit = table.get("credit_limit") if isinstance(table, dict) else None
        if isinstance(customer, bool) or not isinstance(customer, int) or customer <= 0:
            problems.append(f"{where}: customer_id must be a customer's id")
            continue
        try:
            amount = Decimal(str(limit))
        except InvalidOperation:
            amount = Decimal(-1)
        if limit is None or not amount.is_finite() or amount < 0:
            problems.append(
                f'{where}: credit_limit must be an amount such as "5000.00"'
            )
            continue
        found.append(CustomerCreditLimit(customer, amount))
    return tuple(found)


def _choose_config_file(
    explicit: Path | None, env: Mapping[str, str], default: Path
) -> tuple[Path | None, str | None]:
    if explicit is not None:
        if not explicit.is_file():
            return None, f"--config {explicit}: no such file"
        return explicit, None

    named = env.get(CONFIG_ENV)
    if named:
        if not Path(named).is_file():
            return None, f"{CONFIG_ENV}={named}: no such file"
        return Path(named), None

    if default.is_file():
        return default, None
    return None, None


def _read_toml(path: Path, problems: list[str]) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{path}: not valid TOML: {exc}")
    except OSError as exc:
        problems.append(f"{path}: cannot be read: {exc.strerror}")
    return {}


def _load_top_level(
    document: Mapping[str, Any],
    env: Mapping[str, str],
    origin: str,
    problems: list[str],
    is_root: bool | None,
) -> Path:
    variable = f"{ENV_PREFIX}STATE_DIR"
    if env.get(variable):
        return Path(env[variable])

    value = document.get("state_dir")
    if value is None:
        return default_state_dir(env, is_root)
    if not isinstance(value, str) or not value:
        problems.append(f"state_dir ({origin}): expected a directory path as text")
        return default_state_dir(env, is_root)
    return Path(value)


def default_state_dir(env: Mapping[str, str], is_root: bool | None = None) -> Path:
    """Where state lives by default: /var/lib as root, the XDG data dir else."""
    if is_root is None:
        is_root = os.geteuid() == 0
    if is_root:
        return ROOT_STATE_DIR

    home = env.get("HOME") or str(Path.home())
    data_home = env.get("XDG_DATA_HOME") or str(Path(home) / ".local" / "share")
    return Path(data_home) / "netterms"


def _load_section(
    name: str,
    cls: type[Any],
    table: Any,
    env: Mapping[str, str],
    origin: str,
    problems: list[str],
) -> Any:
    if not isinstance(table, dict):
        problems.append(f"[{name}] ({origin}): expected a table")
        table = {}

    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for item in dataclasses.fields(cls):
        kind = hints[item.name]
        where_file = f"[{name}] {item.name} ({origin})"
        variable = f"{ENV_PREFIX}{name.upper()}_{item.name.upper()}"
        raw, where = _pick_raw(item.name, kind, table, env, variable, where_file)
        if isinstance(raw, _Problem):
            problems.append(raw.text)
            continue
        if raw is _MISSING:
            continue

        value, error = _convert(raw, kind, from_env=where == variable)
        if error is None:
            error = _run_check(item, value)
        if error is not None:
            label = f"{variable} (environment)" if where == variable else where
            problems.append(f"{label}: {error}")
            continue
        values[item.name] = value

    known = {item.name for item in dataclasses.fields(cls)}
    secrets = {n for n in known if _is_secret(hints[n])}
    for key in table:
        if key in known or (key.endswith("_file") and key[:-5] in secrets):
            continue
        problems.append(
            f"[{name}] {key} ({origin}): unknown key; known keys: "
            + ", ".join(sorted(known))
        )

    return cls(**values)


class _Problem:
    def __init__(self, text: str) -> None:
        self.text = text


_MISSING = object()


def _pick_raw(
    key: str,
    kind: Any,
    table: Mapping[str, Any],
    env: Mapping[str, str],
    variable: str,
    where_file: str,
) -> tuple[Any, str]:
    """Find the winning raw value for one key, and say where it came from."""
    if _is_secret(kind):
        file_variable = f"{variable}_FILE"
        if variable in env and file_variable in env:
            return _Problem(f"{variable} and {file_variable} are both set"), ""
        if file_variable in env:
            return _read_secret_file(env[file_variable], file_variable), variable
        if variable in env:
            return env[variable], variable
        if f"{key}_file" in table:
            label = where_file.replace(f" {key} (", f" {key}_file (", 1)
            return _read_secret_file(table[f"{key}_file"], label), where_file

    if variable in env:
        return env[variable], variable
    if key in table:
        return table[key], where_file
    return _MISSING, ""


def _read_secret_file(path: Any, label: str) -> Any:
    if not isinstance(path, str):
        return _Problem(f"{label}: expected a file path as text")
    try:
        return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        return _Problem(f"{label}: cannot read {path}: {exc.strerror}")


def _is_secret(kind: Any) -> bool:
    return Secret in _members(kind)


def _members(kind: Any) -> tuple[Any, ...]:
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        return typing.get_args(kind)
    if typing.get_origin(kind) is tuple:
        return (tuple,)
    return (kind,)


def _convert(raw: Any, kind: Any, *, from_env: bool) -> tuple[Any, str | None]:
    """Turn a raw TOML or environment value into the field's type."""
    members = [m for m in _members(kind) if m is not type(None)]
    target = members[0]

    if from_env and raw == "" and type(None) in _members(kind):
        return None, None
    if target is Secret:
        if not isinstance(raw, str) or not raw:
            return None, "expected non-empty text"
        return Secret(raw), None
    if target is bool:
        return _to_bool(raw)
    if target is int:
        return _to_number(raw, int, "an integer")
    if target is float:
        return _to_number(raw, float, "a number")
    if target is tuple:
        return _to_int_tuple(raw)
    if target is Path:
        if isinstance(raw, str) and raw:
            return Path(raw), None
        return None, "expected a path as text"
    if isinstance(raw, str):
        return raw, None
    return None, f"expected text, got {raw!r}"


def _to_int_tuple(raw: Any) -> tuple[Any, str | None]:
    """A list of integers: a TOML array, or "1,2,3" in a variable."""
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list):
        return None, f"expected a list of integers, got {raw!r}"
    try:
        return tuple(
            int(str(item).strip()) for item in items if str(item).strip()
        ), None
    except ValueError:
        return None, f"expected a list of integers, got {raw!r}"


def _to_bool(raw: Any) -> tuple[Any, str | None]:
    if isinstance(raw, bool):
        return raw, None
    if isinstance(raw, str) and raw.lower() in ("1", "true", "yes", "on"):
        return True, None
    if isinstance(raw, str) and raw.lower() in ("0", "false", "no", "off"):
        return False, None
    return None, f"expected true or false, got {raw!r}"


def _to_number(raw: Any, kind: type[Any], words: str) -> tuple[Any, str | None]:
    if isinstance(raw, bool):
        return None, f"expected {words}, got {raw!r}"
    if isinstance(raw, int) or (kind is float and isinstance(raw, float)):
        return kind(raw), None
    if isinstance(raw, str):
        try:
            return kind(raw.strip()), None
        except ValueError:
            pass
    return None, f"expected {words}, got {raw!r}"


def _run_check(item: dataclasses.Field[Any], value: Any) -> str | None:
    check: Check | None = item.metadata.get("check")
    if check is None or value is None:
        return None
    return check(value)


def _reject_unknown(
    document: Mapping[str, Any], origin: str, problems: list[str]
) -> None:
    for key in document:
        if key in SECTIONS or key in TOP_LEVEL_KEYS:
            continue
        problems.append(
            f"{key} ({origin}): unknown setting; known sections: "
            + ", ".join(f"[{name}]" for name in SECTIONS)
        )


def _unknown_variables(env: Mapping[str, str]) -> list[str]:
    known = {f"{ENV_PREFIX}STATE_DIR"}
    for name, cls in SECTIONS.items():
        for item in dataclasses.fields(cls):
            variable = f"{ENV_PREFIX}{name.upper()}_{item.name.upper()}"
            known.update((variable, f"{variable}_FILE"))

    return [
        f"{variable} is set but is not a netterms setting; it is ignored"
        for variable in sorted(env)
        if variable.startswith(ENV_PREFIX)
        and variable not in known
        and not variable.startswith(_NOT_SETTINGS)
    ]


def _check_cross_field(sections: Mapping[str, Any], problems: list[str]) -> None:
    store = sections["bigcommerce"]
    if store.rate_limit_burst >= store.rate_limit_quota:
        problems.append(
            "[bigcommerce] rate_limit_burst must be below rate_limit_quota "
            f"({store.rate_limit_burst} >= {store.rate_limit_quota})"
        )
    database = sections["database"]
    if database.pool_min_size > database.pool_max_size:
        problems.append(
            "[database] pool_min_size must not exceed pool_max_size "
            f"({database.pool_min_size} > {database.pool_max_size})"
        )
