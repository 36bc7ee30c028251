"""The reliability battery: real daemon processes, the simulated store, real Postgres.

Sizes are scaled down for the normal suite; `pytest --full` runs the sizes
the battery names (1,000 webhooks, a minute of 30 % errors, ...).
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--full",
        action="store_true",
        default=False,
        help="run the reliability battery at full size (slow)",
    )


@pytest.fixture
def full(request: pytest.FixtureRequest) -> bool:
    """Whether to run at the battery's full sizes."""
    return bool(request.config.getoption("--full"))
