"""The reliability battery: real daemon processes, the simulated store, real Postgres.

Sizes are scaled down for the normal suite; `pytest --full` runs the sizes
the battery names (1,000 webhooks, a minute of 30 % errors, ...).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from tests.support.processes import STARTED


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


@pytest.fixture(autouse=True)
def end_daemons() -> Iterator[None]:
    """End every daemon a test started, even when the test failed half-way."""
    yield
    for daemon in STARTED:
        if daemon.process is not None and daemon.process.poll() is None:
            daemon.process.send_signal(signal.SIGCONT)
            daemon.process.kill()
            daemon.process.wait(timeout=10)
    STARTED.clear()
