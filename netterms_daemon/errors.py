"""The exception tree every part of netterms raises from."""

from __future__ import annotations


class NettermsError(Exception):
    """Root of every error netterms raises on purpose."""


class ConfigError(NettermsError):
    """The configuration cannot be used; each problem is one line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class StoreError(NettermsError):
    """Postgres refused or could not be reached."""


class MigrationError(StoreError):
    """The database schema cannot be brought to the version this code needs."""


class EmbeddedDatabaseError(StoreError):
    """The embedded PostgreSQL server could not be prepared or started."""


class UpstreamError(NettermsError):
    """BigCommerce answered with an error or could not be reached."""
