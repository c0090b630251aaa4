"""How well the stance scorers agree with a hand-labelled sample of real posts.

    python bench/stance_accuracy.py                # held-out (test) half, every scorer
    python bench/stance_accuracy.py --split dev    # the half the lexicon was tuned on
    python bench/stance_accuracy.py --errors       # also list the posts each scorer gets wrong
    python bench/stance_accuracy.py --model DIR    # also an embedding scorer on a model directory

The sample, tests/data/stance_sample.yaml, labels every distinct post of the
@naya_foriraq mirror pages in ../shared/fixtures/real/other/naya_foriraq_mirror/
(how, in its header); the texts are read from those pages with the project's
own html parser, as the pipeline would store them. Without the fixtures the
bench says so and exits 0.

Scorers, each deciding "takes the stance" at score >= 0.6 (the shipped rules'
min_score):

- none: says no stance, ever (the accuracy any scorer must beat: stances are rare);
- bag: the naive baseline, a bag of cue words: any of the domain's escalation or
  de-escalation words present (BAG_OF_WORDS below), whatever the grammar;
- lexicon: LexiconScorer with the shipped sources.yaml `stances:`;
- embedding: EmbeddingScorer on the multilingual USE model, when the
  `stance-model` extra is installed (else reported as skipped).

For each: accuracy, precision, recall, F1 and the confusion counts per label, on
all posts and on the "hard" ones (those with escalation/de-escalation
vocabulary), and the target agreement on the true positives (us / israel /
anything else).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "tests" / "data" / "stance_sample.yaml"
FIXTURES = REPO.parent / "shared" / "fixtures" / "real"
LABELS = ("escalation", "de-escalation")
THRESHOLD = 0.6
NAMED_TARGETS = ("us", "israel")

# The naive baseline: the words an analyst would first put in a keyword rule.
BAG_OF_WORDS = {
    "escalation": (
        "escalat* OR war OR attack* OR strike* OR retaliat* OR respon* OR revenge OR "
        "تصعيد OR التصعيد OR حرب OR الحرب OR رد OR الرد OR ردنا OR سنرد OR ضرب* OR "
        "استهداف OR هجوم OR ثأر OR الثأر OR انتقام OR عدوان"
    ),
    "de-escalation": (
        'truce OR ceasefire OR "de-escalat*" OR calm OR pause OR suspend* OR peace OR '
        'negotiat* OR هدنة OR تهدئة OR "وقف إطلاق النار" OR "وقف النار" OR تعليق OR خفض OR '
        "سلام OR اتفاق OR مفاوضات OR التفاوض OR ضبط"
    ),
}

Prediction = dict[str, tuple[bool, str | None]]  # label -> (takes the stance, target)


@dataclass(frozen=True)
class Example:
    id: str
    file: str
    split: str
    hard: bool
    gold: dict[str, str | None]  # label -> target ("us", "israel", "other", "unnamed") or None
    text: str


def load_sample(sample: Path = SAMPLE, fixtures: Path = FIXTURES) -> list[Example] | None:
    """The labelled posts with their texts; None when the fixture pages are absent."""
    from monitor.config import Selectors
    from monitor.sources.base import ParseContext
    from monitor.sources.html_page import parse_listing

    data = yaml.safe_load(sample.read_text(encoding="utf-8"))
    folder = fixtures / data["fixtures"]
    if not folder.is_dir():
        return None
    selectors = Selectors(item="div.tg-post", id="@id", text=".tg-text")
    context = ParseContext(url="https://example.org/naya", content_type="text/html; charset=utf-8")
    texts: dict[str, dict[str, str]] = {}
    examples = []
    for post in data["posts"]:
        if post["file"] not in texts:
            body = (folder / post["file"]).read_bytes()
            listing = parse_listing(body, context, selectors)
            texts[post["file"]] = {p.external_id: p.text for p in listing.posts}
        gold = {label: post[label] or None for label in LABELS}
        examples.append(
            Example(post["id"], post["file"], post["split"], post["hard"], gold,
                    texts[post["file"]][post["id"]])
        )  # fmt: skip
    return examples


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    target_right: int = 0
    wrong: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def accuracy(self) -> float:
        return (self.tp + self.tn) / self.n if self.n else 0.0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _target_class(target: str | None) -> str:
    return target if target in NAMED_TARGETS else "other"


def evaluate(
    examples: Iterable[Example], predict: Callable[[str], Prediction], label: str
) -> Counts:
    counts = Counts()
    for example in examples:
        said, target = predict(example.text)[label]
        gold = example.gold[label]
        if said and gold:
            counts.tp += 1
            counts.target_right += _target_class(target) == _target_class(gold)
        elif said:
            counts.fp += 1
            counts.wrong.append(f"FP {example.id}")
        elif gold:
            counts.fn += 1
            counts.wrong.append(f"FN {example.id} ({gold})")
        else:
            counts.tn += 1
    return counts


def bag_of_words() -> Callable[[str], Prediction]:
    from monitor.rules.matcher import analyze, compile_query

    queries = {label: compile_query(query) for label, query in BAG_OF_WORDS.items()}

    def predict(text: str) -> Prediction:
        doc = analyze(text)
        return {label: (q.match(doc) is not None, None) for label, q in queries.items()}

    return predict


def from_scorer(scorer: Any, threshold: float = THRESHOLD) -> Callable[[str], Prediction]:
    from monitor.rules.matcher import analyze

    cache: dict[str, Prediction] = {}

    def predict(text: str) -> Prediction:
        if text not in cache:
            scores = scorer.score(text, analyze(text))
            cache[text] = {
                label: (scores[label].score >= threshold, scores[label].target) for label in LABELS
            }
        return cache[text]

    return predict


def scorers(
    config_path: Path = REPO / "sources.yaml", models: Iterable[str] = ()
) -> dict[str, Callable[[str], Prediction]]:
    """Every scorer that can run here; the embedding one only with its extra installed,
    and one more embedding scorer per model directory given."""
    from monitor.config import load_config
    from monitor.errors import ConfigError
    from monitor.rules.stance_embedding import NEUTRAL, PROTOTYPES, EmbeddingScorer, load_encoder
    from monitor.rules.stance_lexicon import LexiconScorer

    config = load_config(config_path, environ={})
    lexicon = LexiconScorer.from_config(config)
    found = {
        "none": lambda text: dict.fromkeys(LABELS, (False, None)),
        "bag": bag_of_words(),
        "lexicon": from_scorer(lexicon),
    }
    try:
        found["embedding"] = from_scorer(EmbeddingScorer.from_config(config))
    except ConfigError as error:
        print(f"embedding scorer skipped: {error}", file=sys.stderr)
    for model in models:
        scorer = EmbeddingScorer(load_encoder(model), PROTOTYPES, NEUTRAL, lexicon)
        name = next((part for part in reversed(Path(model).parts) if part != "model"), model)
        found[name[:10]] = from_scorer(scorer)
    return found


HEADER = (
    f"{'scorer':<10} {'label':<14} {'posts':<10} {'n':>4} {'acc':>6} {'prec':>6} {'rec':>6} "
    f"{'F1':>6} {'tp':>4} {'fp':>4} {'fn':>4} {'tn':>4} {'target':>7}"
)


def row(name: str, label: str, subset: str, counts: Counts) -> str:
    return (
        f"{name:<10} {label:<14} {subset:<10} {counts.n:>4} {counts.accuracy:>6.3f} "
        f"{counts.precision:>6.3f} {counts.recall:>6.3f} {counts.f1:>6.3f} {counts.tp:>4} "
        f"{counts.fp:>4} {counts.fn:>4} {counts.tn:>4} {counts.target_right:>3}/{counts.tp:<3}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("test", "dev", "all"), default="test")
    parser.add_argument("--errors", action="store_true", help="list the misclassified posts")
    parser.add_argument(
        "--model", action="append", default=[], help="also an embedding scorer on this model dir"
    )
    args = parser.parse_args(argv)
    examples = load_sample()
    if examples is None:
        print(f"skipped: the real fixtures are absent ({FIXTURES}); nothing to measure")
        return 0
    chosen = [e for e in examples if args.split in ("all", e.split)]
    print(f"{len(chosen)} posts ({args.split} split), score >= {THRESHOLD} counts as the stance;")
    print("target: true positives whose target agrees (us / israel / anything else)\n")
    print(HEADER)
    for name, predict in scorers(models=args.model).items():
        for label in LABELS:
            for subset, members in (("all", chosen), ("hard", [e for e in chosen if e.hard])):
                counts = evaluate(members, predict, label)
                print(row(name, label, subset, counts))
                if args.errors and subset == "all" and counts.wrong:
                    print("    " + ", ".join(counts.wrong))
    return 0


if __name__ == "__main__":
    sys.exit(main())
