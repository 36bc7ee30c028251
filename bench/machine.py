"""Describe the machine a benchmark ran on, for the record beside its figures."""

from __future__ import annotations

import argparse
import os
import platform
from datetime import UTC, datetime
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name, from /proc/cpuinfo where there is one."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float:
    """Total memory in GiB."""
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return round(pages / 2**30, 1)


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: how busy the machine was already."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "load unknown"
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def describe() -> str:
    """One line: date, CPU, cores, memory, OS, Python, and the load at the start."""
    return (
        f"{datetime.now(UTC):%Y-%m-%d} | {cpu_model()} | {os.cpu_count()} cores | "
        f"{memory_gib()} GiB | {platform.system()} {platform.release()} | "
        f"Python {platform.python_version()} | {load_average()} at the start"
    )


def take_no_options(module: str, doc: str | None) -> None:
    """Answer --help with the benchmark's own description, and refuse stray options.

    These benchmarks take no options; without this, `--help` would start a run
    of several minutes instead of saying what the run does.
    """
    benchmark_parser(module, doc).parse_args()


def benchmark_parser(module: str, doc: str | None) -> argparse.ArgumentParser:
    """A parser whose --help is the benchmark's docstring, laid out as written."""
    return argparse.ArgumentParser(
        prog=f"python -m {module}",
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
