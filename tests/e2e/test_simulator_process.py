"""`netterms simulator` as a user runs it: a loopback process, driven like a store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request

from tests.e2e.test_process import free_port

NETTERMS = [sys.executable, "-m", "netterms_daemon"]


def test_simulator_serves_a_seeded_store_until_sigterm() -> None:
    """It prints its API root and token, answers with them, and stops on SIGTERM."""
    port = free_port()
    process = subprocess.Popen(
        [
            *NETTERMS,
            "simulator",
            "--port",
            str(port),
            "--seed",
            "--store-hash",
            "demo42",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "NETTERMS_LOG_FORMAT": "json"},
    )
    try:
        assert process.stdout is not None
        root_line = process.stdout.readline()
        token_line = process.stdout.readline()
        api_root = root_line.split(":", 1)[1].strip()
        token = token_line.split(":", 1)[1].strip()

        request = urllib.request.Request(
            f"{api_root}/v2/customer_groups",
            headers={"X-Auth-Token": token, "Accept": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            groups = json.loads(response.read())

        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    assert api_root == f"http://127.0.0.1:{port}/stores/demo42"
    assert token == "simulator-token"
    assert [g["name"] for g in groups] == ["Net30 Wholesale", "Retail"]
    assert code == 0


def test_simulator_bad_options_are_one_line_each() -> None:
    """Bad options are refused before anything listens, one line each."""
    result = subprocess.run(
        [*NETTERMS, "simulator", "--time-zone", "Mars/Olympus", "--quota", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "netterms simulator: --quota, --window-s and --speed must be positive",
        "netterms simulator: --time-zone 'Mars/Olympus' is not a known time zone",
    ]


def test_daemon_code_never_loads_the_simulator() -> None:
    """The stand-in is reachable only on purpose: daemon modules never import it."""
    probe = (
        "import sys, netterms_daemon.daemon, netterms_daemon.check, "
        "netterms_daemon.bigcommerce.client; "
        "print(sorted(m for m in sys.modules "
        "if m.startswith('netterms_daemon.simulator')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )

    assert result.stdout.strip() == "[]"
