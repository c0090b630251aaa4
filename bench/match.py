"""Rule matching speed as the number of rules grows: 10, 1,000 and 10,000 rules.

    python bench/match.py

Statements: the texts of the real captures in ../shared/fixtures/real (the
Telegram pages, the feeds and the Arabic channel mirror). Rules: generated
keyword queries over words drawn from those texts (single words, AND, OR,
phrases, prefixes, NOT), so that some of them really match. Each statement is
analyzed once and matched against every rule set; the figure is statements per
second, analysis included. The target (issue 4): the 10,000-rule figure at
least a third of the 10-rule one, which the term prefilter gives.
"""

from __future__ import annotations

import random
import re
import sys
import time
from pathlib import Path

from monitor.config.schema_rules import Rule
from monitor.errors import MonitorError
from monitor.rules.engine import CompiledRule, RuleSet, StatementFacts
from monitor.rules.matcher import analyze, compile_query
from monitor.sources.base import ParseContext
from monitor.sources.registry import PARSERS
from monitor.text.normalize import tokenize

REAL = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "real"
SIZES = (10, 1_000, 10_000)
TG_TEXT = re.compile(r'<div class="tg-text"[^>]*>(.*?)</div>', re.S)


def statements() -> list[str]:
    texts: list[str] = []
    for kind, pattern in (("telegram", "telegram/*.html"), ("rss", "rss/*.xml"), ("rss", "atom/*")):
        for path in sorted(REAL.glob(pattern)):
            try:
                posts = PARSERS[kind](path.read_bytes(), ParseContext())
            except MonitorError:
                continue
            texts.extend(post.text for post in posts if post.text)
    for path in sorted((REAL / "other" / "naya_foriraq_mirror").glob("*.md")):
        texts.extend(re.sub(r"<[^>]+>", " ", m) for m in TG_TEXT.findall(path.read_text()))
    return texts


def vocabulary(texts: list[str]) -> list[str]:
    words = {token.text for text in texts for token in tokenize(text) if len(token.text) > 3}
    return sorted(words)


def generated_rules(count: int, words: list[str], seed: int = 7) -> RuleSet:
    pick = random.Random(seed).choice
    long_words = [word for word in words if len(word) > 7]
    # The mix of analysts' rules: mostly "who AND what" conjunctions, then phrases,
    # single names, prefixes and exclusions (weights in tenths).
    shapes = [
        (3, lambda: f"({pick(words)} OR {pick(words)}) AND ({pick(words)} OR {pick(words)})"),
        (2, lambda: f"{pick(words)} AND {pick(words)}"),
        (2, lambda: f'"{pick(words)} {pick(words)}"'),
        (1, lambda: pick(words)),
        (1, lambda: f"{pick(long_words)[:6]}* AND {pick(words)}"),
        (1, lambda: f"{pick(words)} AND {pick(words)} NOT {pick(words)}"),
    ]
    weighted = [shape for weight, shape in shapes for _ in range(weight)]
    rng = random.Random(seed + count)
    rules = []
    for number in range(count):
        query = rng.choice(weighted)()
        rule = Rule(id=f"r{number}", match=query)
        rules.append(CompiledRule(rule=rule, query=compile_query(query)))
    return RuleSet(rules)


def rate(rules: RuleSet, texts: list[str], rounds: int = 3) -> tuple[float, int]:
    """(statements per second, matches found), best of ``rounds``."""
    best = float("inf")
    found = 0
    for _ in range(rounds):
        start = time.perf_counter()
        found = 0
        for text in texts:
            found += len(rules.evaluate(StatementFacts(text=text), analyze(text)))
        best = min(best, time.perf_counter() - start)
    return len(texts) / best, found


def main() -> int:
    if not REAL.exists():
        print(f"{REAL} is absent: nothing to measure")
        return 1
    texts = statements()
    words = vocabulary(texts)
    print(f"{len(texts)} statements from the real captures, {len(words)} distinct words")
    figures = {}
    for size in SIZES:
        rules = generated_rules(size, words)
        per_second, found = rate(rules, texts)
        figures[size] = per_second
        print(
            f"{size:>6} rules: {per_second:8.0f} statements/s "
            f"({found} matches, {found / len(texts):.1f} per statement)"
        )
    ratio = figures[SIZES[-1]] / figures[SIZES[0]]
    verdict = "ok" if ratio >= 1 / 3 else "MISSED"
    print(f"10,000 rules run at {ratio:.2f} of the 10-rule speed (target >= 0.33): {verdict}")
    return 0 if ratio >= 1 / 3 else 1


if __name__ == "__main__":
    sys.exit(main())
