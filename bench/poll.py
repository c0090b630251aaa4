"""Polling at scale: 2,000 sources, a cycle where every page is new and one where all answer 304.

    python bench/poll.py [--sources N] [--skip-urlwatch] [--database-url URL]
                         [--profile DIR [--gil]] [--keep DIR]

A local HTTP server (a separate process, so its CPU counts against neither
tool; threaded, HTTP/1.1) serves ``/s/NNNN``: the NNNN-th of the real captures
of ../shared/fixtures/real, cycled: the Telegram channel pages (telegram/) and
the RSS and Atom feeds (rss/, atom/; not the hand-made edge cases of
rss/feedparser_edge/), only those the monitor's parsers accept. Each answer has
a strong ETag; a request whose If-None-Match names it gets a 304. The server
counts its 200s and 304s per cycle.

The monitor: a config with N sources (``kind: telegram`` with ``url:`` and
``backfill: 0``, so the first poll reads the one page the server has, instead
of asking it for older pages; ``kind: rss`` with ``url:`` for the feeds), each
attributed to one of the shipped leaders in turn, and the rules, stances and
gazetteer of the shipped sources.yaml. Its rules notify nobody (``notify:
[]``): matches are still stored, but no alert is written or delivered, so
nothing is printed and no network is needed (the captures are older than
``alert_max_age`` anyway, which would keep them from alerting). A fresh SQLite
database in a temporary folder, or with ``--database-url`` a fresh database
created on that PostgreSQL server (its URL names an existing database to
connect to, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres) and
dropped at the end. ``python -m monitor --config X run --once`` runs twice as a
child process with MONITOR_LOG_LEVEL=WARNING: first every page is new (fetch,
parse, store, match), then every source answers 304.

urlwatch (the PyPI package, ``pip install '.[bench]'``): the same N URLs in a
urls.yaml, a fresh cache, config and hooks file in the temporary folder, every
reporter disabled, run twice the same way (it sends If-None-Match by itself
from its second run on). Without urlwatch installed its half is skipped.

The monitor's modules are byte-compiled before its runs (as pip does when it
installs a package, and as it did urlwatch's): the runs start in this checkout,
so they import its modules, and without the bytecode each run would compile them
all again.

Each run is measured as a child process: wall time, CPU seconds (user + system
of that child, from os.wait4) and peak RSS (its ru_maxrss). Printed: a table
of both tools and cycles with the server's 200/304 counts and what was stored
(the monitor: rows of ``statements``; urlwatch: its cache entries), the ratios
urlwatch/monitor, and the targets: the 304 cycle at least 3x faster (wall)
than urlwatch's, the all-new cycle under 30 s, peak RSS under 300 MB. Exit 1
when a run failed or the server saw other requests than one 200 (first cycle)
or one 304 (second cycle) per source; at the default 2,000 sources, also when
a target is missed (with fewer sources, start-up dominates: targets are shown,
not judged).

``--profile DIR``: the monitor's cycles run under ``py-spy record`` (``pip
install py-spy``; it samples every thread, which cProfile would not), their raw
samples are written to DIR/monitor-CYCLE.txt and the top functions by own and
by cumulative share of the samples are printed; the monitor's figures then
include py-spy's overhead. Every thread that is not idle is sampled, so time
spent waiting for SQLite's write lock shows (in ``BEGIN IMMEDIATE``); with
``--gil`` only the thread holding the GIL is: where the Python CPU time goes.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import json
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from monitor.errors import ParseError
from monitor.sources.base import ParseContext
from monitor.sources.registry import PARSERS

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "fixtures" / "real"
SHIPPED = REPO / "sources.yaml"
DEFAULT_SOURCES = 2000
TARGET_304_RATIO = 3.0  # urlwatch's 304 cycle / the monitor's, wall time
TARGET_NEW_SECONDS = 30.0
TARGET_RSS_MB = 300.0
KINDS = (  # folder, glob, source kind, Content-Type served
    ("telegram", "*.html", "telegram", "text/html; charset=utf-8"),
    ("rss", "*", "rss", "application/rss+xml"),  # no charset: the feeds declare theirs
    ("atom", "*", "rss", "application/atom+xml"),
)
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@dataclass(frozen=True)
class Capture:
    name: str  # relative to REAL
    kind: str  # the monitor's source kind
    content_type: str
    body: bytes
    posts: int

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


def captures() -> list[Capture]:
    """Every Telegram page and feed of REAL that the monitor's parsers accept."""
    found: list[Capture] = []
    for folder, pattern, kind, content_type in KINDS:
        for path in sorted((REAL / folder).glob(pattern)):
            if not path.is_file():
                continue
            body = path.read_bytes()
            context = ParseContext(url=f"http://127.0.0.1/{path.name}", content_type=content_type)
            try:
                posts = len(PARSERS[kind](body, context))
            except ParseError:
                continue  # a capture kept for its error path
            name = str(path.relative_to(REAL))
            found.append(Capture(name, kind, content_type, body, posts))
    return found


# --- the server (a child process) ---


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # urlwatch opens a new connection per request, ten at a time

    def __init__(self, bodies: list[Capture]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.captures = bodies
        self.etags = [capture.etag for capture in bodies]
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive for the clients that reuse connections
    server: _Server

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        if path == "/_stats":
            with self.server.lock:
                body = json.dumps(self.server.counts).encode()
                if query == "reset":
                    self.server.counts.clear()
            self._answer(200, body, "application/json", {})
            return
        found = re.fullmatch(r"/s/(\d+)", path)
        if found is None:
            self._count("other")
            self._answer(404, b"not found", "text/plain", {})
            return
        number = int(found[1])
        capture = self.server.captures[number % len(self.server.captures)]
        etag = self.server.etags[number % len(self.server.etags)]
        asked = self.headers.get("If-None-Match")
        if asked:
            self._count("conditional")
        if query:
            self._count("with query")
        if asked and etag in (tag.strip() for tag in asked.split(",")):
            self._count("304")
            self._answer(304, b"", None, {"ETag": etag})
            return
        self._count("200")
        self._answer(200, capture.body, capture.content_type, {"ETag": etag})

    def _count(self, key: str) -> None:
        with self.server.lock:
            self.server.counts[key] += 1

    def _answer(
        self, status: int, body: bytes, content_type: str | None, headers: dict[str, str]
    ) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 304:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve(bodies: list[Capture], pipe: Connection) -> None:
    server = _Server(bodies)
    pipe.send(server.server_address[1])
    server.serve_forever()


@contextlib.contextmanager
def feed_server(bodies: list[Capture]) -> Iterator[str]:
    """The server in a child process; yields its base URL."""
    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe()
    process = context.Process(target=_serve, args=(bodies, theirs), daemon=True)
    process.start()
    try:
        if not ours.poll(30):
            raise RuntimeError("the feed server did not start")
        yield f"http://127.0.0.1:{ours.recv()}"
    finally:
        process.terminate()
        process.join(10)


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def take_counts(base_url: str) -> Counter[str]:
    """The server's counts since the last call (which they are reset by)."""
    with _DIRECT.open(f"{base_url}/_stats?reset", timeout=10) as response:
        return Counter(json.loads(response.read()))


# --- measuring a child process ---


@dataclass
class Run:
    tool: str
    cycle: str
    wall: float = 0.0
    cpu: float = 0.0
    rss_mb: float = 0.0
    exit_code: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    stored: int | None = None
    matched: int | None = None
    note: str = ""


def measured(command: list[str], env: dict[str, str], log: Path, run: Run) -> Run:
    """Run ``command`` to its end; fill in ``run`` with its wall time, CPU and peak RSS."""
    with log.open("wb") as out:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=out)
        _, status, usage = os.wait4(process.pid, 0)
        run.wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    run.exit_code = process.returncode
    run.cpu = usage.ru_utime + usage.ru_stime
    run.rss_mb = usage.ru_maxrss / 1024  # kilobytes on Linux
    return run


def child_env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARIABLES}
    env.pop("MONITOR_DATABASE_URL", None)
    env.pop("MONITOR_CONFIG", None)
    env["NO_PROXY"] = "127.0.0.1,localhost"
    env["MONITOR_LOG_LEVEL"] = "WARNING"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["HOME"] = str(folder / "home")  # urlwatch makes ~/.config/urlwatch
    env["XDG_CONFIG_HOME"] = str(folder / "home" / ".config")
    env["XDG_CACHE_HOME"] = str(folder / "home" / ".cache")
    (folder / "home").mkdir(exist_ok=True)
    return env


def tail(path: Path, lines: int = 25) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# --- the monitor ---


def monitor_config(base_url: str, bodies: list[Capture], count: int, database_url: str) -> Any:
    shipped = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    settings = dict(shipped.get("settings") or {})
    settings["database_url"] = database_url
    settings.pop("proxy", None)
    leaders = [leader["id"] for leader in shipped.get("leaders") or []]
    sources = []
    for number in range(count):
        capture = bodies[number % len(bodies)]
        source: dict[str, Any] = {
            "id": f"bench-{number:04d}",
            "kind": capture.kind,
            "url": f"{base_url}/s/{number:04d}",
        }
        if capture.kind == "telegram":
            source["backfill"] = 0  # the newest page only: the server has no older ones
        if leaders:
            source["leader"] = leaders[number % len(leaders)]
        sources.append(source)
    rules = [{**rule, "notify": []} for rule in shipped.get("rules") or []]
    return {**shipped, "settings": settings, "sources": sources, "rules": rules, "notifiers": []}


@contextlib.contextmanager
def monitor_database(folder: Path, server_url: str | None) -> Iterator[str]:
    """A fresh SQLite file in ``folder``, or a fresh database on a PostgreSQL server."""
    if server_url is None:
        yield f"sqlite:///{folder / 'monitor.db'}"
        return
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"bench_poll_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def count_rows(database_url: str, table: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def run_monitor(
    base_url: str,
    bodies: list[Capture],
    count: int,
    folder: Path,
    server_url: str | None,
    profile: Path | None,
    gil: bool = False,
) -> list[Run]:
    runs: list[Run] = []
    with monitor_database(folder, server_url) as database_url:
        config = folder / "monitor.yaml"
        config.write_text(
            yaml.safe_dump(
                monitor_config(base_url, bodies, count, database_url),
                allow_unicode=True,
                sort_keys=False,
            ),
            encoding="utf-8",
        )
        env = child_env(folder)
        env["MONITOR_DATABASE_URL"] = database_url
        byte_compile_monitor(env)
        command = [sys.executable, "-m", "monitor", "--config", str(config), "run", "--once"]
        take_counts(base_url)
        for cycle in ("all-new", "all-304"):
            run = Run("monitor", cycle)
            full = command
            if profile is not None:
                full = [
                    *py_spy(),
                    *("record", "--format", "raw", "--nolineno", "--rate", "100"),
                    *(["--gil"] if gil else []),
                    *("--output", str(profile / f"monitor-{cycle}.txt"), "--"),
                    *command,
                ]
                run.note = "under py-spy"
            log = folder / f"monitor-{cycle}.log"
            measured(full, env, log, run)
            run.counts = take_counts(base_url)
            run.stored = count_rows(database_url, "statements")
            if run.exit_code != 0:
                run.note = (run.note + f"; exit {run.exit_code}").lstrip("; ")
                print(f"monitor {cycle} exited {run.exit_code}; its output ends:\n{tail(log)}\n")
            run.matched = count_rows(database_url, "matches")
            summary = re.search(r"^(\d+) sources polled, (\d+) new", log.read_text(), re.M)
            if summary is None or int(summary[1]) != count:
                run.note = (run.note + "; summary: not every source polled").lstrip("; ")
            runs.append(run)
    return runs


def byte_compile_monitor(env: dict[str, str]) -> None:
    """Byte-compile the monitor package the runs will import (from this checkout:
    they start in it), as pip does at install time, and so for urlwatch. Otherwise,
    with PYTHONDONTWRITEBYTECODE set (as the runs have it, and as some machines set it
    for everything), every run would compile every module from source again."""
    where = subprocess.run(
        [sys.executable, "-c", "import monitor, os; print(os.path.dirname(monitor.__file__))"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    compiled = subprocess.run(
        [sys.executable, "-m", "compileall", "-q", where], env=env, capture_output=True, text=True
    )
    if compiled.returncode != 0:  # a read-only checkout: measured as it is, and said so
        print(f"could not byte-compile {where}; the monitor's runs compile it each time")


def py_spy() -> list[str]:
    beside = Path(sys.executable).parent / "py-spy"
    return [str(beside)] if beside.exists() else ["py-spy"]


# --- urlwatch ---


def urlwatch_installed() -> bool:
    return importlib.util.find_spec("urlwatch") is not None


URLWATCH = "import sys; from urlwatch.cli import main; sys.argv[0] = 'urlwatch'; sys.exit(main())"


def run_urlwatch(base_url: str, count: int, folder: Path) -> list[Run]:
    from urlwatch.storage import DEFAULT_CONFIG  # a bench-only dependency

    home = folder / "urlwatch"
    home.mkdir()
    urls = home / "urls.yaml"
    urls.write_text(
        yaml.safe_dump_all(
            {"name": f"bench-{number:04d}", "url": f"{base_url}/s/{number:04d}"}
            for number in range(count)
        )
    )
    reporters = {
        name: {"enabled": False}
        for name, settings in DEFAULT_CONFIG["report"].items()
        if isinstance(settings, dict) and "enabled" in settings
    }
    config = home / "urlwatch.yaml"
    config.write_text(yaml.safe_dump({"report": reporters}))
    cache = home / "cache.db"
    hooks = home / "hooks.py"  # absent: no hooks
    command = [sys.executable, "-c", URLWATCH, "--urls", str(urls), "--config", str(config)]
    command += ["--cache", str(cache), "--hooks", str(hooks)]
    env = child_env(folder)
    take_counts(base_url)
    runs: list[Run] = []
    for cycle in ("all-new", "all-304"):
        run = Run("urlwatch", cycle)
        log = folder / f"urlwatch-{cycle}.log"
        measured(command, env, log, run)
        run.counts = take_counts(base_url)
        run.stored = count_rows(f"sqlite:///{cache}", "CacheEntry")
        if run.exit_code != 0:
            run.note = f"exit {run.exit_code}"
            print(f"urlwatch {cycle} exited {run.exit_code}; its output ends:\n{tail(log)}\n")
        runs.append(run)
    return runs


# --- the report ---


def check(runs: list[Run], count: int) -> list[str]:
    """What went wrong: a failed run, or other requests than one 200 or one 304 per source."""
    problems: list[str] = []
    for run in runs:
        expected = "200" if run.cycle == "all-new" else "304"
        other = sum(n for key, n in run.counts.items() if key in ("200", "304", "other")) - count
        if run.counts[expected] != count or other:
            problems.append(
                f"{run.tool} {run.cycle}: the server saw {run.counts['200']} x 200, "
                f"{run.counts['304']} x 304, {run.counts['other']} other requests; "
                f"expected {count} x {expected} and nothing else"
            )
        if run.exit_code != 0:
            problems.append(f"{run.tool} {run.cycle}: exit code {run.exit_code}")
    return problems


def print_table(runs: list[Run]) -> None:
    print(
        f"{'tool':9} {'cycle':8} {'wall s':>7} {'CPU s':>7} {'peak RSS MB':>11} "
        f"{'HTTP 200':>8} {'HTTP 304':>8} {'stored':>7} {'matches':>7}  note"
    )
    for run in runs:
        stored = "-" if run.stored is None else str(run.stored)
        matched = "-" if run.matched is None else str(run.matched)
        print(
            f"{run.tool:9} {run.cycle:8} {run.wall:7.2f} {run.cpu:7.2f} {run.rss_mb:11.1f} "
            f"{run.counts['200']:8d} {run.counts['304']:8d} {stored:>7} {matched:>7}  "
            f"{run.note}".rstrip()
        )
    print(
        "stored: the monitor's rows of statements, urlwatch's cache entries; "
        "matches: rows of matches"
    )


def print_ratios(runs: list[Run]) -> None:
    by = {(run.tool, run.cycle): run for run in runs}
    print("\nurlwatch / monitor:")
    for cycle in ("all-new", "all-304"):
        ours, theirs = by.get(("monitor", cycle)), by.get(("urlwatch", cycle))
        if ours is None or theirs is None:
            continue
        figures = ", ".join(
            f"{label} {getattr(theirs, name) / max(getattr(ours, name), 1e-9):.2f}x"
            for label, name in (("wall", "wall"), ("CPU", "cpu"), ("peak RSS", "rss_mb"))
        )
        print(f"  {cycle:8} {figures}")


def targets(runs: list[Run]) -> list[tuple[str, str, bool | None]]:
    """(target, figure, met); met is None when it cannot be judged (urlwatch skipped)."""
    by = {(run.tool, run.cycle): run for run in runs}
    new, not_modified = by[("monitor", "all-new")], by[("monitor", "all-304")]
    theirs = by.get(("urlwatch", "all-304"))
    verdicts: list[tuple[str, str, bool | None]] = []
    if theirs is None:
        verdicts.append((f"304 cycle >= {TARGET_304_RATIO:.0f}x faster than urlwatch's", "-", None))
    else:
        ratio = theirs.wall / max(not_modified.wall, 1e-9)
        verdicts.append(
            (
                f"304 cycle >= {TARGET_304_RATIO:.0f}x faster than urlwatch's",
                f"{ratio:.2f}x ({theirs.wall:.2f} s / {not_modified.wall:.2f} s)",
                ratio >= TARGET_304_RATIO,
            )
        )
    verdicts.append(
        (
            f"all-new cycle under {TARGET_NEW_SECONDS:.0f} s",
            f"{new.wall:.2f} s",
            new.wall < TARGET_NEW_SECONDS,
        )
    )
    peak = max(new.rss_mb, not_modified.rss_mb)
    verdicts.append(
        (f"peak RSS under {TARGET_RSS_MB:.0f} MB", f"{peak:.1f} MB", peak < TARGET_RSS_MB)
    )
    return verdicts


IDLE_LEAVES = (  # py-spy counts threads blocked in C (an idle pool's queue.get) as busy
    "_worker (concurrent/futures/thread.py)",
    "Condition.wait (threading.py)",
    "Event.wait (threading.py)",
    "Thread.join (threading.py)",
)


def print_profile(raw: Path, cycle: str, top: int = 15) -> None:
    """Top functions of py-spy's raw (collapsed) samples, as shares of the busy samples:
    by own time, by cumulative time (the monitor's functions), and by the monitor's
    innermost function on the stack (where its time goes, libraries included)."""
    own: Counter[str] = Counter()
    cumulative: Counter[str] = Counter()
    innermost: Counter[str] = Counter()
    total = idle = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, number = line.rpartition(" ")
        if not stack or not number.isdigit():
            continue
        samples = int(number)
        frames = [frame for frame in stack.split(";")[1:] if frame]  # [0] is the thread
        if not frames:
            continue
        if frames[-1] in IDLE_LEAVES:
            idle += samples
            continue
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            if "(monitor/" in frame:
                cumulative[frame] += samples
        ours = [frame for frame in frames if "(monitor/" in frame]
        innermost[ours[-1] if ours else f"(outside monitor/) {frames[-1]}"] += samples
    if not total:
        print(f"\nprofile {raw}: no samples")
        return
    print(
        f"\nprofile of the monitor's {cycle} cycle ({raw}): {total} busy thread samples "
        f"({idle} idle ones left out)"
    )
    for title, counter in (
        ("own time", own),
        ("cumulative time, the monitor's functions", cumulative),
        ("the monitor's innermost function on the stack", innermost),
    ):
        print(f"  top {top} by {title}:")
        for frame, samples in counter.most_common(top):
            print(f"    {100 * samples / total:5.1f}%  {frame}")


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sources", type=int, default=DEFAULT_SOURCES, metavar="N", help="default 2000"
    )
    parser.add_argument("--skip-urlwatch", action="store_true", help="measure the monitor only")
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="a PostgreSQL server (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres): "
        "a fresh database is created there and dropped at the end (default: SQLite)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="run the monitor's cycles under py-spy, raw samples to DIR/monitor-CYCLE.txt",
    )
    parser.add_argument(
        "--gil",
        action="store_true",
        help="with --profile: sample only the thread holding the GIL (Python CPU time; "
        "without it every thread that is not idle, lock waits included)",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="a new folder to keep the configs, databases and logs in",
    )
    options = parser.parse_args(argv)
    if options.sources < 1:
        parser.error("--sources must be at least 1")
    return options


def main(argv: list[str] | None = None) -> int:
    options = arguments(argv)
    if not REAL.exists():
        print(f"{REAL} is absent: nothing to serve", file=sys.stderr)
        return 1
    bodies = captures()
    count = options.sources
    telegram = sum(1 for n in range(count) if bodies[n % len(bodies)].kind == "telegram")
    posts = sum(bodies[n % len(bodies)].posts for n in range(count))
    database = "PostgreSQL" if options.database_url else "SQLite"
    print(
        f"{count} sources ({telegram} Telegram pages, {count - telegram} feeds; {len(bodies)} "
        f"captures cycled, {posts} posts), {database}, {os.cpu_count()} CPUs, "
        f"load {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    with_urlwatch = not options.skip_urlwatch
    if with_urlwatch and not urlwatch_installed():
        print("urlwatch is not installed (pip install '.[bench]'): its half is skipped")
        with_urlwatch = False
    with contextlib.ExitStack() as stack:
        if options.profile is not None:
            options.profile.mkdir(parents=True, exist_ok=True)
        if options.keep is not None:
            options.keep.mkdir(parents=True)
            folder = options.keep
        else:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-poll-")))
        base = stack.enter_context(feed_server(bodies))
        runs = run_monitor(
            base,
            bodies,
            count,
            folder,
            options.database_url,
            options.profile,
            options.gil,
        )
        if with_urlwatch:
            runs += run_urlwatch(base, count, folder)
    print()
    print_table(runs)
    print_ratios(runs)
    judged = count == DEFAULT_SOURCES
    print(
        "\ntargets"
        + ("" if judged else f" (set for {DEFAULT_SOURCES} sources: shown, not judged)")
        + ":"
    )
    missed = False
    for target, figure, met in targets(runs):
        verdict = "-" if met is None else ("met" if met else "MISSED")
        missed = missed or (judged and met is False)
        print(f"  {target:45} {figure:32} {verdict}")
    print(f"load after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    problems = check(runs, count)
    for problem in problems:
        print(f"FAILED: {problem}")
    if options.profile is not None:
        for cycle in ("all-new", "all-304"):
            raw = options.profile / f"monitor-{cycle}.txt"
            if raw.exists():
                print_profile(raw, cycle)
    return 1 if problems or missed else 0


if __name__ == "__main__":
    sys.exit(main())
