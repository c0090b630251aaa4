"""bench/deliver.py still runs: a small N through the webhook and the email path.

A smoke test, not a measurement: no timing is asserted, only that both paths
print their figure and that every alert was received exactly once.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench" / "deliver.py"
N = 20


@pytest.mark.timeout(120)
def test_the_delivery_bench_runs_with_a_small_n() -> None:
    if not BENCH.exists():  # an sdist carries the tests, not the benches
        pytest.skip(f"{BENCH} is not here")
    result = subprocess.run(
        [sys.executable, str(BENCH), str(N)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"alert delivery, {N} alerts per notifier, SQLite outbox, loopback receivers"
    figures = {}
    for line in lines[1:]:
        found = re.fullmatch(
            r"(\w+) +(\d+) alerts in +([\d.]+) s: +([\d.]+) alerts/s, each received exactly once",
            line,
        )
        assert found, line
        figures[found[1]] = (int(found[2]), float(found[4]))
    assert set(figures) == {"webhook", "email"}
    assert all(count == N and rate > 0 for count, rate in figures.values())


def test_the_delivery_bench_rejects_a_bad_n() -> None:
    if not BENCH.exists():
        pytest.skip(f"{BENCH} is not here")
    result = subprocess.run(
        [sys.executable, str(BENCH), "0"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1 and "N must be at least 1" in result.stderr
