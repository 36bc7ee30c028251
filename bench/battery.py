"""Run the reliability battery at its full sizes and record what it showed.

Run from the repository root: `.venv/bin/python -m bench.battery [--runs N]`.

The battery (`tests/reliability/`) is part of the normal suite at reduced
sizes; this runs it as `pytest tests/reliability --full`: kill -9 in the
middle of 1,000 webhooks, Postgres stopped and frozen for 10 s during a
burst, the store answering 30 % 429s and 5xx for a minute, 1,000 duplicated
and reordered deliveries, SIGTERM during 1,000, two daemons sharing 1,000,
and 50,000 fuzzed requests. Each run is a separate pytest process with its
own embedded PostgreSQL. --runs (default 3) repeats it, so that a test that
passes only sometimes shows. Every test's outcome and duration is read from
pytest's JUnit XML and written to bench/results/battery.md and battery.json.

This is a record of passing, not a speed figure: durations are mostly the
waits the tests are built around (a minute of faults, 10 s outages).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

from bench.machine import benchmark_parser, describe

RESULTS = Path(__file__).parent / "results"
COMMAND = [sys.executable, "-m", "pytest", "tests/reliability", "--full"]


@dataclass(frozen=True)
class Outcome:
    """One test's result in one run."""

    test: str
    passed: bool
    seconds: float


def outcomes_from(junit_xml: Path) -> list[Outcome]:
    """Every test case in a JUnit XML report; passed unless it failed or skipped."""
    found = []
    for case in ElementTree.parse(junit_xml).getroot().iter("testcase"):
        module = case.get("classname", "").rsplit(".", 1)[-1]
        failed = any(
            case.find(tag) is not None for tag in ("failure", "error", "skipped")
        )
        found.append(
            Outcome(
                test=f"{module}::{case.get('name', '?')}",
                passed=not failed,
                seconds=float(case.get("time", "0")),
            )
        )
    return found


def run_once(number: int, runs: int) -> tuple[list[Outcome], float]:
    """One full-size run in its own pytest process; its outcomes and wall time."""
    with tempfile.TemporaryDirectory(prefix="netterms-battery-") as scratch:
        report = Path(scratch) / "junit.xml"
        print(f"run {number} of {runs}: {' '.join(COMMAND[2:])}", flush=True)
        started = time.monotonic()
        finished = subprocess.run(
            [*COMMAND, "-q", "-p", "no:cacheprovider", f"--junitxml={report}"],
            check=False,
        )
        elapsed = time.monotonic() - started
        if not report.exists():
            sys.exit(
                f"bench.battery: pytest wrote no report (exit {finished.returncode})"
            )
        outcomes = outcomes_from(report)
    passed = sum(o.passed for o in outcomes)
    print(f"run {number}: {passed} of {len(outcomes)} passed in {elapsed:.0f} s")
    return outcomes, elapsed


def write_fragments(machine: str, runs: list[tuple[list[Outcome], float]]) -> None:
    """The battery's section of RESULTS.md and its figures."""
    clean_runs = sum(all(o.passed for o in outcomes) for outcomes, _ in runs)
    tests = sorted({o.test for outcomes, _ in runs for o in outcomes})
    walls = [elapsed for _, elapsed in runs]
    records = [
        {
            "name": "full-size runs in which every test passed",
            "value": clean_runs,
            "unit": f"of {len(runs)}",
            "target": "every run",
            "met": clean_runs == len(runs),
        },
        {
            "name": "tests in the battery",
            "value": len(tests),
            "unit": "",
            "target": None,
            "met": None,
        },
        {
            "name": "wall time of one full-size run",
            "value": round(statistics.median(walls), 1),
            "min": round(min(walls), 1),
            "max": round(max(walls), 1),
            "unit": "s",
            "target": None,
            "met": None,
        },
    ]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "battery.json").write_text(json.dumps(records, indent=2) + "\n")

    rows = []
    for test in tests:
        seen = [o for outcomes, _ in runs for o in outcomes if o.test == test]
        seconds = [o.seconds for o in seen]
        passed = sum(o.passed for o in seen)
        rows.append(
            f"| `{test}` | {passed} of {len(runs)} | {statistics.median(seconds):.1f} "
            f"({min(seconds):.1f} to {max(seconds):.1f}) |"
        )
    lines = [
        "## Reliability battery at full size (`.venv/bin/python -m bench.battery`)",
        "",
        f"Machine: {machine}",
        "",
        f"{len(runs)} runs of `pytest tests/reliability --full`, each its own "
        f"process and embedded PostgreSQL: {clean_runs} of {len(runs)} runs "
        f"passed every test; a run took {statistics.median(walls):.0f} s "
        f"({min(walls):.0f} to {max(walls):.0f}).",
        "",
        "| test | passed | seconds: median (min to max) |",
        "| --- | --- | --- |",
        *rows,
        "",
    ]
    (RESULTS / "battery.md").write_text("\n".join(lines))


def main() -> None:
    parser = benchmark_parser("bench.battery", __doc__)
    parser.add_argument("--runs", type=int, default=3, help="full-size runs (3)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    machine = describe()
    print(f"machine: {machine}", flush=True)
    runs = [run_once(number, args.runs) for number in range(1, args.runs + 1)]

    write_fragments(machine, runs)
    print((RESULTS / "battery.md").read_text())


if __name__ == "__main__":
    main()
