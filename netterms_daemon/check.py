"""`netterms check`: try every dependency and say what is wrong, a line each."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from netterms_daemon.config import Settings
from netterms_daemon.database import database_url
from netterms_daemon.errors import NettermsError
from netterms_daemon.migrations import latest_version, schema_version


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
