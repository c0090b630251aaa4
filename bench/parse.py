"""Parser speed on the real captures: posts per second per kind, and the Telegram bar.

    python bench/parse.py

Reads ../shared/fixtures/real (the captures of third parties' pages and API
answers). For every kind: posts/s over all its captures (best of several
rounds). The Telegram figures and the bar (a 20-post page in under 10 ms) come
from bench/parse_telegram.py. Exit 1 if the bar is missed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from parse_telegram import BAR_MS, BAR_PAGE
from parse_telegram import bench as telegram_bench

from monitor.errors import ParseError
from monitor.sources.base import ParseContext, Post
from monitor.sources.registry import PARSERS

REAL = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "real"
CAPTURES = {
    "rss": ["rss/*.xml", "rss/*.rss", "atom/*"],
    "youtube": ["youtube/*.xml"],
    "bluesky": ["bluesky/getAuthorFeed_*.json"],
    "mastodon": ["mastodon/accounts_id_statuses_limit5_page*.json",
                 "mastodon/timelines_public_*.json"],
    "x": ["x/tweepy_v2_*tweets*.json", "x/tweepy_v2_home_*.json", "x/v2_users_*.json"],
}  # fmt: skip
ROUNDS = 5


def _best(parse: Callable[[], list[Post]]) -> tuple[float, int]:
    posts = len(parse())
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        parse()
        best = min(best, time.perf_counter() - start)
    return best, posts


def kind_rate(kind: str, patterns: list[str]) -> tuple[int, int, float]:
    """(files, posts, posts per second) over every capture of a kind that parses."""
    parser = PARSERS[kind]
    files = posts = 0
    seconds = 0.0
    for pattern in patterns:
        for path in sorted(REAL.glob(pattern)):
            body = path.read_bytes()
            context = ParseContext(url="https://example.org/" + path.name)
            try:
                took, count = _best(lambda b=body, c=context: parser(b, c))
            except ParseError:
                continue  # the deliberately broken captures
            files += 1
            posts += count
            seconds += took
    return files, posts, posts / seconds if seconds else 0.0


def main() -> int:
    if not REAL.exists():
        print(f"{REAL} is absent: nothing to measure")
        return 1
    print(f"{'kind':10} {'files':>5} {'posts':>6} {'posts/s':>10}")
    for kind, patterns in CAPTURES.items():
        files, posts, rate = kind_rate(kind, patterns)
        print(f"{kind:10} {files:5d} {posts:6d} {rate:10.0f}")
    figures = telegram_bench()
    print(f"{'telegram':10} {'':5} {'':6} {figures['telegram posts/s']:10.0f}")
    bar = figures[f"telegram {Path(BAR_PAGE).stem} ms/page"]
    verdict = "ok" if bar < BAR_MS else "MISSED"
    print(f"\ntelegram 20-post page ({BAR_PAGE}): {bar:.2f} ms (bar {BAR_MS:.0f} ms): {verdict}")
    return 0 if bar < BAR_MS else 1


if __name__ == "__main__":
    sys.exit(main())
