"""bench/poll.py still runs: 20 sources, the monitor and (if installed) urlwatch.

A smoke test, not a measurement: no timing is asserted, only that every
cycle is in the printed table with the server's counts (20 answers of 200 in
the first cycle, 20 of 304 in the second) and that the monitor stored statements.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench" / "poll.py"
REAL = REPO.parent / "shared" / "fixtures" / "real"
N = 20
ROW = re.compile(
    r"(?P<tool>monitor|urlwatch) +(?P<cycle>all-new|all-304) +(?P<wall>[\d.]+) +(?P<cpu>[\d.]+)"
    r" +(?P<rss>[\d.]+) +(?P<ok>\d+) +(?P<not_modified>\d+) +(?P<stored>\d+|-)"
    r" +(?P<matches>\d+|-)(?: +(?P<note>.*))?"
)


@pytest.mark.timeout(120)
def test_the_poll_bench_runs_with_twenty_sources() -> None:
    if not BENCH.exists():  # an sdist carries the tests, not the benches
        pytest.skip(f"{BENCH} is not here")
    if not REAL.exists():
        pytest.skip(f"{REAL} is absent: no captures to serve")
    with_urlwatch = importlib.util.find_spec("urlwatch") is not None
    command = [sys.executable, str(BENCH), "--sources", str(N)]
    if not with_urlwatch:
        command.append("--skip-urlwatch")
    result = subprocess.run(
        command, cwd=REPO, capture_output=True, text=True, timeout=110, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert result.stdout.startswith(f"{N} sources ("), output
    rows = {}
    for line in result.stdout.splitlines():
        found = ROW.fullmatch(line.rstrip())
        if found:
            rows[found["tool"], found["cycle"]] = found
    tools = ["monitor", "urlwatch"] if with_urlwatch else ["monitor"]
    assert set(rows) == {(tool, cycle) for tool in tools for cycle in ("all-new", "all-304")}
    for (tool, cycle), row in rows.items():
        expected = (N, 0) if cycle == "all-new" else (0, N)
        assert (int(row["ok"]), int(row["not_modified"])) == expected, (tool, cycle, output)
        assert not row["note"], output  # a failed run or an incomplete summary is noted here
    stored = int(rows["monitor", "all-new"]["stored"])
    assert stored > 0
    assert int(rows["monitor", "all-304"]["stored"]) == stored  # nothing new on a 304
    assert "FAILED" not in result.stdout
    assert "targets (set for 2000 sources: shown, not judged):" in result.stdout
