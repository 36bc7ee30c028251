"""Each benchmark answers --help and stray options without starting a run.

A benchmark runs for minutes and takes the machine to itself; someone who
only asked what it measures must get the answer at once, not a run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
BENCHMARKS = [
    "battery",
    "bucket",
    "collect",
    "ingest",
    "memory",
    "processing",
    "reconciler",
]


def run_benchmark(name: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", f"bench.{name}", *arguments],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("name", BENCHMARKS)
def test_help_describes_the_benchmark_and_exits(name: str) -> None:
    done = run_benchmark(name, "--help")

    assert done.returncode == 0, done.stderr
    assert f"python -m bench.{name}" in done.stdout
    assert "bench/" in done.stdout, "the help should say where results go"


@pytest.mark.parametrize("name", BENCHMARKS)
def test_an_unknown_option_is_refused_in_one_line(name: str) -> None:
    done = run_benchmark(name, "--no-such-option")

    assert done.returncode == 2
    assert "unrecognized arguments: --no-such-option" in done.stderr
