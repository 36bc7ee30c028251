"""`netterms demo`, the README's first command, runs to completion."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from tests.conftest import make_shared_dir
from tests.e2e.test_process import free_port


def test_demo_tells_the_story_and_ends_with_aging() -> None:
    """Terms, a lost webhook found, a hold, payments, overdue, aging; exit 0."""
    state_dir = make_shared_dir("netterms-test-demo-")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NETTERMS_")},
        "NETTERMS_STATE_DIR": str(state_dir),
        "NETTERMS_HTTP_PORT": str(free_port()),
    }
    try:
        result = subprocess.run(
            [sys.executable, "-m", "netterms_daemon", "demo"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)

    out = result.stdout
    assert result.returncode == 0, result.stderr[-2000:]
    assert "order 100: Awaiting Payment, USD 1200.00 due 2027-02-03" in out
    assert "order 105: ON HOLD, credit limit USD 1500.00 exceeded" in out
    assert "order 100: OVERDUE: USD 1200.00 was due 2027-02-03" in out
    assert "order 101: paid, USD 800.00" in out
    assert "no terms: customer group 2 has no terms" in out
    assert "== Aging on 17 March 2027" in out
    total = [line for line in out.splitlines() if line.startswith("total     USD")]
    assert total and total[0].endswith("1,540.00")
    assert result.stderr.strip() == "", "only errors are logged beside the story"
