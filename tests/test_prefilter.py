"""The term prefilter never drops a rule that matches (it may keep some that do not)."""

from __future__ import annotations

import random

import pytest

from monitor.config.schema_rules import Rule
from monitor.rules.engine import CompiledRule, RuleSet, StatementFacts
from monitor.rules.matcher import analyze, compile_query
from monitor.rules.prefilter import anchors
from monitor.rules.query import parse_query

TEXTS = [
    "أصبح واجباً على الجميع إعلان الحرب على أمريكا وقواعد احتلالها",
    "نعلن تعليق العمليات العسكرية ضد قوات الاحتلال الأمريكي لإفساح المجال للحكومة",
    "The resistance may declare war on America if the occupation does not leave",
    "Kataib Hezbollah announces the suspension of military operations",
    "بيان تعزية باستشهاد ثلة من مجاهدي الحركة والشهداء الأبرار",
    "وللاحتلال الصهيوني نقول: الرد قادم",
]
WORDS = sorted(
    {token.text for text in TEXTS for token in analyze(text).tokens} | {"absent", "غائب", "nothing"}
)


def random_query(rng: random.Random) -> str:
    def atom() -> str:
        word = rng.choice(WORDS)
        roll = rng.random()
        if roll < 0.15:
            return f'"{word} {rng.choice(WORDS)}"'
        if roll < 0.3 and len(word) > 3:
            return word[: rng.randint(2, len(word) - 1)] + "*"
        return word

    def expression(depth: int) -> str:
        if depth == 0 or rng.random() < 0.3:
            return atom()
        operator = rng.choice(["AND", "OR", "NOT", "NEAR/3", ""])
        left, right = expression(depth - 1), expression(depth - 1)
        if operator == "NOT":
            return f"{left} NOT {right}"
        if operator == "NEAR/3":
            return f"{atom()} NEAR/3 {atom()}"
        return f"({left} {operator} {right})" if operator else f"{left} {right}"

    return expression(3)


@pytest.mark.parametrize("seed", range(20))
def test_prefilter_keeps_every_match(seed: int) -> None:
    rng = random.Random(seed)
    queries = [random_query(rng) for _ in range(200)]
    rules = RuleSet(
        [CompiledRule(Rule(id=f"r{i}", match=q), compile_query(q)) for i, q in enumerate(queries)]
    )
    for text in TEXTS:
        doc = analyze(text)
        facts = StatementFacts(text=text)
        expected = {v.rule_id for v in rules.explain(facts, doc) if v.matched}
        assert {m.rule_id for m in rules.evaluate(facts, doc)} == expected


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("America", {"america"}),
        ('"declare war" AND America', {"declare"}),  # one operand is enough: the rarer
        ("war OR truce", {"war", "truce"}),
        ("escalat* AND America", {"america"}),
        ("escalat*", {"escalat*"}),
        ("America NOT truce", {"america"}),
        ("NOT truce", None),
        ("lang:ar OR war", None),
        ("lang:ar AND war", {"war"}),
        ("ceasefire NEAR/3 Israel", {"ceasefire"}),
    ],
)
def test_anchors(query: str, expected: set[str] | None) -> None:
    found = anchors(parse_query(query))
    assert (set(found) if found is not None else None) == expected
