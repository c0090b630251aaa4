"""bench/daemon.py still runs: a small number of due sources, both cases.

A smoke test, not a measurement: no rate is asserted, only that both cases print
their figures and that the server was asked for every source exactly once.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench" / "daemon.py"
N = 40
ROW = re.compile(
    r"(?P<case>slots|per host) +(?P<per_host>\d+) +(?P<seconds>[\d.]+)"
    r" +(?P<rate>[\d.]+) +(?P<claims>\d+)  (?P<check>.*)"
)


@pytest.mark.timeout(120)
def test_the_daemon_bench_runs_with_a_few_sources() -> None:
    if not BENCH.exists():  # an sdist carries the tests, not the benches
        pytest.skip(f"{BENCH} is not here")
    result = subprocess.run(
        [sys.executable, str(BENCH), "--sources", str(N)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert result.stdout.startswith(f"{N} due sources, 16 poll slots, one daemon"), output
    rows = {row["case"]: row for row in map(ROW.fullmatch, result.stdout.splitlines()) if row}
    assert set(rows) == {"slots", "per host"}, output
    assert (rows["slots"]["per_host"], rows["per host"]["per_host"]) == ("16", "4")
    for row in rows.values():
        assert row["check"] == "every source requested once", output
        assert float(row["rate"]) > 0 and int(row["claims"]) >= 1


def test_the_daemon_bench_rejects_a_bad_count() -> None:
    if not BENCH.exists():
        pytest.skip(f"{BENCH} is not here")
    result = subprocess.run(
        [sys.executable, str(BENCH), "--sources", "0"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2 and "--sources must be at least 1" in result.stderr
