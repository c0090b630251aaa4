"""The shipped rules on a corpus of written statements: exactly the expected verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.config import Config, load_config
from monitor.pipeline import attribution_of
from monitor.rules.analysis import Analyzer
from monitor.rules.engine import RuleSet

REPO = Path(__file__).resolve().parents[1]
CORPUS = yaml.safe_load((REPO / "tests" / "data" / "rules_corpus.yaml").read_text("utf-8"))


@pytest.fixture(scope="module")
def shipped() -> tuple[Config, RuleSet, Analyzer]:
    config = load_config(REPO / "sources.yaml", environ={})
    return config, RuleSet.from_config(config), Analyzer.from_config(config)


@pytest.mark.parametrize("case", CORPUS, ids=[case["text"][:40] for case in CORPUS])
def test_shipped_rules(case: dict[str, Any], shipped: tuple[Config, RuleSet, Analyzer]) -> None:
    config, rules, analyzer = shipped
    known: dict[str, Any] = {}
    if "source" in case:
        source = config.source(case["source"])
        assert source is not None
        who = attribution_of(config, source)
        known = {
            "source_id": who.source_id,
            "leader_id": who.leader_id,
            "organization_id": who.organization_id,
        }
    analysis = analyzer.analyze(case["text"])
    matched = [v.rule_id for v in rules.explain(analysis.facts(**known), analysis.doc) if v.matched]
    assert sorted(matched) == sorted(case["rules"])
