"""How fast the telegram parser reads the real t.me/s captures.

    python bench/parse_telegram.py        # prints a table; exit 1 if the bar is missed

For each capture in ../shared/fixtures/real/telegram/: milliseconds per page and
posts per second, the best of several rounds (the least disturbed by other
work on the machine). The bar (issue 3): the real 99 KB page with 20 posts
parses in under 10 ms. ``bench()`` returns the figures for bench/parse.py.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from monitor.sources.base import ParseContext
from monitor.sources.telegram import TelegramAdapter

CAPTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "real" / "telegram"
BAR_PAGE = "tme_s_WalterBloomberg_dom_serialized.html"  # 98 891 bytes, 20 posts
BAR_MS = 10.0
ROUNDS = 7
CONTEXT = ParseContext(url="https://t.me/s/bench", content_type="text/html; charset=utf-8")


def time_page(body: bytes, rounds: int = ROUNDS) -> tuple[float, int]:
    """(best milliseconds per parse, posts found) for one page."""
    posts = len(TelegramAdapter.parse(body, CONTEXT))  # warm up, and count
    start = time.perf_counter()
    TelegramAdapter.parse(body, CONTEXT)
    repeats = max(3, int(0.1 / max(time.perf_counter() - start, 1e-6)))
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(repeats):
            TelegramAdapter.parse(body, CONTEXT)
        best = min(best, (time.perf_counter() - start) / repeats)
    return best * 1000, posts


def bench() -> dict[str, float]:
    """{"telegram <capture> ms/page": ..., "telegram posts/s": ...} over every capture."""
    figures: dict[str, float] = {}
    total_posts = 0
    total_seconds = 0.0
    for path in sorted(CAPTURES.glob("*.html")):
        milliseconds, posts = time_page(path.read_bytes())
        figures[f"telegram {path.stem} ms/page"] = milliseconds
        total_posts += posts
        total_seconds += milliseconds / 1000
    figures["telegram posts/s"] = total_posts / total_seconds if total_seconds else 0.0
    return figures


def main() -> int:
    if not CAPTURES.is_dir():
        print(f"no captures at {CAPTURES}", file=sys.stderr)
        return 2
    print(f"{'capture':62} {'KB':>6} {'posts':>5} {'ms/page':>8} {'posts/s':>9}")
    missed = False
    total_posts, total_seconds = 0, 0.0
    for path in sorted(CAPTURES.glob("*.html")):
        body = path.read_bytes()
        milliseconds, posts = time_page(body)
        total_posts += posts
        total_seconds += milliseconds / 1000
        rate = posts / (milliseconds / 1000) if posts else 0.0
        mark = ""
        if path.name == BAR_PAGE:
            missed = milliseconds >= BAR_MS
            mark = f"  <- bar {BAR_MS:g} ms: {'MISSED' if missed else 'ok'}"
        size = len(body) / 1000
        print(f"{path.name:62} {size:6.1f} {posts:5} {milliseconds:8.2f} {rate:9.0f}{mark}")
    print(f"{'all captures':62} {'':6} {total_posts:5} {'':8} {total_posts / total_seconds:9.0f}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
