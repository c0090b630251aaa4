"""The daemon's polling rate: how many polls a second one `monitor run` starts when
many sources are due at once.

    python bench/daemon.py [--sources N] [--database-url URL]

N sources (default 1,000) serve a one-item feed on a local server, each with an
hourly interval, so each is polled once. The real daemon (monitor.scheduler.Daemon:
its ticks, claims with leases, thread pool and per-host limit) runs in this
process until the server has answered every source, then stops. Each poll is
cheap (a tiny feed, nothing to match), so the figure is the rate at which the
daemon claims and starts polls, not the speed of parsing (bench/poll.py measures
that). Every source is on the one local server; two cases, by what holds the
polls back:

- slots: ``max_concurrent_polls`` (16), with ``per_host_connections`` as high;
- per host: ``per_host_connections`` (4, the default), as it does for Telegram
  channels, which are all on t.me.

Before polls that end claimed the sources left due, a daemon started at most
16 polls (or 4 of one host) a tick, one tick a second. Each line says whether
every source was requested exactly once; the script exits 1 if not.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

from monitor.config import load_config_text
from monitor.demo.server import FeedServer
from monitor.scheduler import Daemon
from monitor.store.migrate import upgrade
from monitor.store.session import open_database

sys.path.insert(0, str(Path(__file__).resolve().parent))
from poll import monitor_database  # bench/poll.py: a fresh database

SLOTS = 16
CASES = [("slots", SLOTS), ("per host", 4)]
FEED = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
    "<link>http://127.0.0.1/</link><description>d</description><item><guid>{n}</guid>"
    "<title>t</title><description>بيان رقم {n}</description>"
    "<pubDate>Mon, 07 Dec 2026 09:00:00 GMT</pubDate></item></channel></rss>"
)


def config_text(server: FeedServer, count: int, per_host: int) -> str:
    sources = "".join(
        f"  - id: bench-{n:05d}\n    kind: rss\n    url: {server.url(f'/f{n}.rss')}\n"
        "    interval: 1h\n"
        for n in range(count)
    )
    return (
        "settings:\n"
        f"  max_concurrent_polls: {SLOTS}\n  per_host_connections: {per_host}\n"
        "  interval_jitter: 0\n  log_format: text\n"
        f"sources:\n{sources}"
    )


async def run_until_polled(daemon: Daemon, server: FeedServer, paths: list[str]) -> float:
    started = time.monotonic()
    running = asyncio.create_task(daemon.run())
    while not all(server.requests[path] for path in paths):
        if running.done():
            running.result()  # raises what stopped it
            raise RuntimeError("the daemon stopped by itself")
        await asyncio.sleep(0.005)
    seconds = time.monotonic() - started
    daemon.request_stop()
    await running
    return seconds


def measure(count: int, per_host: int, database_url: str) -> tuple[float, int, bool]:
    """Seconds until every source was polled, claims made, every source asked once."""
    with FeedServer() as server:
        paths = [f"/f{n}.rss" for n in range(count)]
        for n, path in enumerate(paths):
            server.serve(path, FEED.format(n=n).encode())
        config = load_config_text(config_text(server, count, per_host), "bench.yaml")
        db = open_database(database_url)
        try:
            upgrade(db)
            daemon = Daemon(config, db)
            claims = 0
            claim = daemon._claim

            def counted_claim() -> object:
                nonlocal claims
                claims += 1
                return claim()

            daemon._claim = counted_claim  # type: ignore[method-assign]
            seconds = asyncio.run(run_until_polled(daemon, server, paths))
            once = all(server.requests[path] == 1 for path in paths)
        finally:
            db.dispose()
    return seconds, claims, once


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", type=int, default=1000, help="due sources (default 1000)")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server (a fresh database is made on it); default: SQLite",
    )
    args = parser.parse_args(argv)
    if args.sources < 1:
        parser.error("--sources must be at least 1")
    logging.disable(logging.CRITICAL)  # one line per poll would be the figure measured
    print(f"{args.sources} due sources, {SLOTS} poll slots, one daemon")
    print(f"{'held by':<12} {'per host':>8} {'seconds':>8} {'polls/s':>8} {'claims':>7}  check")
    failed = False
    for name, per_host in CASES:
        with (
            tempfile.TemporaryDirectory() as folder,
            monitor_database(Path(folder), args.database_url) as url,
        ):
            seconds, claims, once = measure(args.sources, per_host, url)
        failed |= not once
        check = "every source requested once" if once else "FAILED: a source requested twice"
        print(
            f"{name:<12} {per_host:>8} {seconds:>8.2f} {args.sources / seconds:>8.1f} "
            f"{claims:>7}  {check}"
        )
    print("(seconds include the daemon's start: syncing the sources into the database)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
