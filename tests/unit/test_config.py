"""Settings: precedence, secret files, and one-line errors naming key and source."""

from __future__ import annotations

from pathlib import Path

import pytest

from netterms_daemon.config import Secret, load_settings
from netterms_daemon.errors import ConfigError

NO_DEFAULT = Path("/nonexistent/netterms.toml")


def write(tmp_path: Path, text: str, name: str = "netterms.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def load(
    env: dict[str, str] | None = None,
    config: Path | None = None,
    default: Path = NO_DEFAULT,
    *,
    is_root: bool = False,
) -> object:
    return load_settings(
        config, env or {}, default_config_path=default, is_root=is_root
    )


def problems_of(**kwargs: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(**kwargs)  # type: ignore[arg-type]
    return caught.value.problems


def test_config_defaults_without_any_source() -> None:
    """With no file and no variables, the documented defaults apply."""
    settings = load_settings(
        None, {"HOME": "/home/shop"}, default_config_path=NO_DEFAULT, is_root=False
    )

    assert settings.http.host == "127.0.0.1"
    assert settings.http.port == 8080
    assert settings.database.url is None
    assert settings.log.level == "info"
    assert settings.bigcommerce.api_url == "https://api.bigcommerce.com"
    assert settings.state_dir == Path("/home/shop/.local/share/netterms")
    assert settings.config_path is None


def test_config_state_dir_follows_xdg_and_root() -> None:
    """The state dir is under XDG_DATA_HOME, or /var/lib/netterms as root."""
    user = load_settings(
        None, {"XDG_DATA_HOME": "/data"}, default_config_path=NO_DEFAULT, is_root=False
    )
    root = load_settings(None, {}, default_config_path=NO_DEFAULT, is_root=True)
    override = load_settings(
        None,
        {"NETTERMS_STATE_DIR": "/srv/nt"},
        default_config_path=NO_DEFAULT,
        is_root=True,
    )

    assert user.state_dir == Path("/data/netterms")
    assert root.state_dir == Path("/var/lib/netterms")
    assert override.state_dir == Path("/srv/nt")


def test_config_environment_overrides_file(tmp_path: Path) -> None:
    """A NETTERMS_<SECTION>_<KEY> variable wins over the same key in the file."""
    path = write(tmp_path, '[http]\nport = 9000\nhost = "0.0.0.0"\n')
    settings = load_settings(
        path, {"NETTERMS_HTTP_PORT": "9100"}, default_config_path=NO_DEFAULT
    )

    assert settings.http.port == 9100
    assert settings.http.host == "0.0.0.0"
    assert settings.config_path == path


def test_config_file_choice_precedence(tmp_path: Path) -> None:
    """--config beats NETTERMS_CONFIG, which beats the default path."""
    default = write(tmp_path, "[http]\nport = 1001\n", "default.toml")
    named = write(tmp_path, "[http]\nport = 1002\n", "named.toml")
    explicit = write(tmp_path, "[http]\nport = 1003\n", "explicit.toml")
    env = {"NETTERMS_CONFIG": str(named)}

    assert load_settings(None, {}, default_config_path=default).http.port == 1001
    assert load_settings(None, env, default_config_path=default).http.port == 1002
    assert load_settings(explicit, env, default_config_path=default).http.port == 1003


def test_config_missing_named_file_is_an_error(tmp_path: Path) -> None:
    """A file named by --config or NETTERMS_CONFIG must exist."""
    missing = tmp_path / "missing.toml"

    assert problems_of(config=missing) == [f"--config {missing}: no such file"]
    assert problems_of(env={"NETTERMS_CONFIG": str(missing)}) == [
        f"NETTERMS_CONFIG={missing}: no such file"
    ]


def test_config_secret_from_file_variable(tmp_path: Path) -> None:
    """A secret may come from the file a *_FILE variable names, newline stripped."""
    token_file = write(tmp_path, "s3cr3t-token\n", "token")
    settings = load_settings(
        None,
        {"NETTERMS_BIGCOMMERCE_ACCESS_TOKEN_FILE": str(token_file)},
        default_config_path=NO_DEFAULT,
    )

    assert settings.bigcommerce.access_token == Secret("s3cr3t-token")


def test_config_secret_from_file_key_in_toml(tmp_path: Path) -> None:
    """In the TOML file, `key_file` names the file holding the secret."""
    secret_file = write(tmp_path, "hook-secret", "secret")
    path = write(tmp_path, f'[webhooks]\nsecret_file = "{secret_file}"\n')
    settings = load_settings(path, {}, default_config_path=NO_DEFAULT)

    assert settings.webhooks.secret is not None
    assert settings.webhooks.secret.reveal() == "hook-secret"


def test_config_secret_never_in_repr_or_public_view() -> None:
    """Secrets are masked in repr, str and the logged view of the settings."""
    settings = load_settings(
        None,
        {
            "NETTERMS_BIGCOMMERCE_ACCESS_TOKEN": "tok-123456",
            "NETTERMS_DATABASE_URL": "postgresql://u:pw-987654@db/netterms",
        },
        default_config_path=NO_DEFAULT,
    )

    text = repr(settings) + str(settings.public_view())
    assert "tok-123456" not in text
    assert "pw-987654" not in text
    assert settings.bigcommerce.access_token is not None
    assert settings.bigcommerce.access_token.reveal() == "tok-123456"


def test_config_bad_variable_names_variable() -> None:
    """A bad value in the environment names the variable and says what is expected."""
    assert problems_of(env={"NETTERMS_HTTP_PORT": "eighty"}) == [
        "NETTERMS_HTTP_PORT (environment): expected an integer, got 'eighty'"
    ]


def test_config_bad_file_value_names_key_and_file(tmp_path: Path) -> None:
    """A bad value in the file names the section, key and file."""
    path = write(tmp_path, '[http]\nport = 70000\n[log]\nlevel = "loud"\n')

    assert problems_of(config=path) == [
        f"[http] port (in {path}): must be between 1 and 65535, got 70000",
        f"[log] level (in {path}): must be one of debug, info, warning, error, "
        "got 'loud'",
    ]


def test_config_unknown_key_and_section(tmp_path: Path) -> None:
    """Typos are refused, with the keys that would have been valid."""
    path = write(tmp_path, "[http]\nprot = 1\n[htp]\nport = 1\n")
    problems = problems_of(config=path)

    assert (
        problems[0] == f"[http] prot (in {path}): unknown key; known keys: host, port"
    )
    assert problems[1].startswith(
        f"htp (in {path}): unknown setting; known sections: [database]"
    )


def test_config_invalid_toml(tmp_path: Path) -> None:
    """A file that is not TOML is one line naming the file."""
    path = write(tmp_path, "[http\n")
    (problem,) = problems_of(config=path)

    assert problem.startswith(f"{path}: not valid TOML:")
    assert "\n" not in problem


def test_config_secret_and_file_variable_both_set(tmp_path: Path) -> None:
    """Two sources for one secret are ambiguous, so refused."""
    env = {
        "NETTERMS_WEBHOOKS_SECRET": "a-secret",
        "NETTERMS_WEBHOOKS_SECRET_FILE": str(tmp_path / "x"),
    }

    assert problems_of(env=env) == [
        "NETTERMS_WEBHOOKS_SECRET and NETTERMS_WEBHOOKS_SECRET_FILE are both set"
    ]


def test_config_unreadable_secret_file(tmp_path: Path) -> None:
    """A secret file that cannot be read is named, and its content never shown."""
    missing = tmp_path / "nope"
    (problem,) = problems_of(
        env={"NETTERMS_BIGCOMMERCE_ACCESS_TOKEN_FILE": str(missing)}
    )

    assert problem == (
        f"NETTERMS_BIGCOMMERCE_ACCESS_TOKEN_FILE: cannot read {missing}: "
        "No such file or directory"
    )


def test_config_database_url_must_be_postgres() -> None:
    """A bad database URL is refused without echoing it: it may hold a password."""
    (problem,) = problems_of(env={"NETTERMS_DATABASE_URL": "mysql://u:hunter22@h/d"})

    assert problem == "NETTERMS_DATABASE_URL (environment): must be a postgresql:// URL"


def test_config_api_url_is_origin_only() -> None:
    """The API URL is a scheme and host; the client adds /stores/... itself."""
    (problem,) = problems_of(
        env={"NETTERMS_BIGCOMMERCE_API_URL": "https://x.test/stores/abc"}
    )

    assert "scheme and host only" in problem


def test_config_every_problem_reported_at_once(tmp_path: Path) -> None:
    """All problems come back together, so one run of check shows them all."""
    path = write(tmp_path, "[http]\nport = 0\n")
    problems = problems_of(config=path, env={"NETTERMS_LOG_FORMAT": "xml"})

    assert len(problems) == 2


def test_config_unknown_variable_is_a_warning() -> None:
    """A misspelt NETTERMS_ variable is reported, not silently ignored."""
    settings = load_settings(
        None,
        {"NETTERMS_HTTP_PROT": "1", "NETTERMS_TEST_DATABASE_URL": "x"},
        default_config_path=NO_DEFAULT,
    )

    assert settings.warnings == (
        "NETTERMS_HTTP_PROT is set but is not a netterms setting; it is ignored",
    )


def test_config_terms_entries(tmp_path: Path) -> None:
    """[[terms]] entries name a group by name or id and parse their policy."""
    path = write(
        tmp_path,
        """
[[terms]]
group = "Net30 Wholesale"
policy = "net 30"
credit_limit = "25000.00"

[[terms]]
group_id = 9
policy = "2/10 net 30 eom"
roll = "forward"
holiday_country = "US"

[[credit_limits]]
customer_id = 7
credit_limit = "500.00"
""",
    )
    settings = load_settings(path, {}, default_config_path=NO_DEFAULT)

    first, second = settings.terms
    assert (first.group, first.group_id) == ("Net30 Wholesale", None)
    assert str(first.policy.credit_limit) == "25000.00"
    assert (second.group, second.group_id) == (None, 9)
    assert second.policy.describe() == "2/10 Net 30 EOM"
    assert settings.credit_limits[0].customer_id == 7
    assert settings.public_view()["terms"][0]["policy"] == "Net 30"


def test_config_bad_terms_each_one_line(tmp_path: Path) -> None:
    """Each bad [[terms]] entry is one line naming its position and the problem."""
    path = write(
        tmp_path,
        """
[[terms]]
policy = "net 30"

[[terms]]
group = "A"
policy = "net thirty"

[[terms]]
group = "B"
policy = "net 30"
roll = "forward"
holiday_country = "XX"
""",
    )

    problems = problems_of(config=path)

    assert problems[0] == (
        f"[[terms]] #1 (in {path}): "
        'name the customer group with group = "..." or group_id'
    )
    assert problems[1].startswith(
        f"[[terms]] #2 (in {path}): 'net thirty': 'net thirty' is not"
    )
    assert problems[2] == f"[[terms]] #3 (in {path}): no holiday calendar for XX"


def test_config_status_lists_from_environment() -> None:
    """A status list can be overridden with a comma-separated variable."""
    settings = load_settings(
        None,
        {"NETTERMS_ORDERS_PAID_STATUS_IDS": "11, 10"},
        default_config_path=NO_DEFAULT,
    )

    assert settings.orders.paid_status_ids == (11, 10)
    assert settings.orders.hold_status_id == 12
