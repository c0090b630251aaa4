"""Every kind of rule condition through the real ingest-and-match path, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from monitor.config import load_config_text
from monitor.daemon import build_runtime
from monitor.ingest import ingest
from monitor.pipeline import _analyze_changed, _match_changed, attribution_of, sync_sources
from monitor.rules.analysis import Analyzer
from monitor.rules.engine import Prejudged, RuleSet
from monitor.sources.base import FetchResult, Post
from monitor.store.models import Match, Statement
from monitor.store.session import Database

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
KAABI_100 = "https://t.me/kaabi/100"

CONFIG = """
organizations:
  - {id: kataib-hezbollah, name: Kataib Hezbollah, aliases: [KH, كتائب حزب الله]}
  - {id: harakat-hezbollah-al-nujaba, name: Harakat Hezbollah al-Nujaba,
     aliases: [Nujaba, حركة النجباء]}
  - {id: asaib-ahl-al-haq, name: Asaib Ahl al-Haq, aliases: [AAH, عصائب أهل الحق]}
  - {id: kataib-sayyid-al-shuhada, name: Kataib Sayyid al-Shuhada,
     aliases: [كتائب سيد الشهداء]}
leaders:
  - {id: akram-kaabi, name: Akram Kaabi, aliases: [أكرم الكعبي, Kaabi],
     organization: harakat-hezbollah-al-nujaba}
  - {id: jawad-al-talibawi, name: Jawad al-Talibawi, aliases: [جواد الطليباوي],
     organization: asaib-ahl-al-haq}
groups:
  factions: [kataib-hezbollah, harakat-hezbollah-al-nujaba, asaib-ahl-al-haq,
             kataib-sayyid-al-shuhada]
sources:
  - {id: kaabi-tg, kind: telegram, channel: kaabi, leader: akram-kaabi}
  - {id: talibawi-tg, kind: telegram, channel: talibawi, leader: jawad-al-talibawi}
stances:
  escalation:
    cues: {ar: ['"إعلان الحرب"'], en: ['"declare war"']}
  de-escalation:
    cues: {ar: ['"تعليق العمليات"'], en: ['"suspend operations"']}
rules:
  - id: names-aah
    mentions: {any: [asaib-ahl-al-haq]}
  - id: names-kh-and-han
    mentions: {all: [kataib-hezbollah, harakat-hezbollah-al-nujaba]}
  - id: aah-left-out
    mentions: {group: factions, at_least: 3, omits: asaib-ahl-al-haq}
  - id: escalation
    stance: {label: escalation, min_score: 0.6}
  - id: turn
    stance_shift: {between: [escalation, de-escalation], window: 7d}
  - id: answers-kaabi
    reply_to_leader: akram-kaabi
  - id: reacts-to-kaabi
    reacts_to: {leader: akram-kaabi, window: 1d}
"""


def post(number: int, text: str, minutes: int, **links: str) -> Post:
    return Post(
        external_id=str(number),
        text=text,
        published_at=T0 + timedelta(minutes=minutes),
        sort_key=number,
        **links,  # type: ignore[arg-type]
    )


@pytest.fixture(autouse=True, params=["in the transaction", "prejudged"])
def judged(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test both ways: each rule judged whole in the write transaction, and as a
    poll does it (content conditions judged before, history ones in it)."""
    global PREJUDGE
    PREJUDGE = request.param == "prejudged"
    yield
    PREJUDGE = False


PREJUDGE = False


def feed(db: Database, source: str, leader: str, *posts: Post) -> None:
    config = load_config_text(CONFIG, "rules.yaml")
    runtime = build_runtime(config, db)
    sync_sources(db, config)
    configured = next(s for s in config.sources if s.id == source)
    attribution = attribution_of(config, configured)
    assert attribution.leader_id == leader
    analyses = None
    if PREJUDGE:
        analyses = _analyze_changed(
            runtime, configured, attribution, FetchResult(posts=list(posts))
        )
        assert len(analyses.prejudged) == len(posts)
    with db.write() as session:
        result = ingest(session, attribution, list(posts), T0 + timedelta(days=1))
        _match_changed(session, runtime, result, T0 + timedelta(days=1), analyses)
    runtime.http.close()


def matched(db: Database) -> dict[str, set[str]]:
    """external id -> the rules that matched it."""
    with db.read() as session:
        rows = session.execute(
            select(Statement.source_id, Statement.external_id, Match.rule_id).join(
                Match, Match.statement_id == Statement.id
            )
        )
        found: dict[str, set[str]] = {}
        for row in rows:
            found.setdefault(f"{row.source_id}/{row.external_id}", set()).add(row.rule_id)
        return found


def evidence(db: Database, rule: str) -> dict:  # type: ignore[type-arg]
    with db.read() as session:
        return session.scalars(select(Match.evidence).where(Match.rule_id == rule)).one()


def test_mentions_and_omissions(db: Database) -> None:
    feed(
        db,
        "kaabi-tg",
        "akram-kaabi",
        post(1, "نشكر كتائب حزب الله وحركة النجباء وكتائب سيد الشهداء على مواقفهم", 0),
        post(2, "بيان مشترك مع عصائب أهل الحق وKH", 10),
        post(3, "KH and Nujaba and AAH stand together", 20),
    )
    found = matched(db)
    assert found["kaabi-tg/1"] == {"names-kh-and-han", "aah-left-out"}
    assert found["kaabi-tg/2"] == {"names-aah"}
    assert found["kaabi-tg/3"] == {"names-aah", "names-kh-and-han"}
    omission = evidence(db, "aah-left-out")
    assert omission["omitted"] == "asaib-ahl-al-haq"
    assert omission["mentions"] == [
        "kataib-hezbollah",
        "harakat-hezbollah-al-nujaba",
        "kataib-sayyid-al-shuhada",
    ]
    with db.read() as session:
        stored = session.scalars(select(Statement).where(Statement.external_id == "1")).one()
        assert [m["id"] for m in stored.mentions] == [
            "kataib-hezbollah",
            "harakat-hezbollah-al-nujaba",
            "kataib-sayyid-al-shuhada",
        ]
        first = stored.mentions[0]
        assert stored.text[first["start"] : first["end"]] == "كتائب حزب الله"
        assert stored.language == "ar"


def test_stance_rule_and_stored_scores(db: Database) -> None:
    feed(db, "kaabi-tg", "akram-kaabi", post(1, "أصبح واجباً على الجميع إعلان الحرب على أمريكا", 0))
    assert matched(db)["kaabi-tg/1"] == {"escalation"}
    stance = evidence(db, "escalation")["stance"]
    assert stance["label"] == "escalation" and stance["score"] >= 0.6
    assert [cue["query"] for cue in stance["cues"]] == ['"إعلان الحرب"']
    with db.read() as session:
        stored = session.scalars(select(Statement)).one()
        assert stored.stance["escalation"]["score"] >= 0.6
        assert stored.stance["de-escalation"]["score"] == 0.0


def test_stance_shift_of_one_leader(db: Database) -> None:
    feed(
        db,
        "kaabi-tg",
        "akram-kaabi",
        post(1, "إعلان الحرب على الاحتلال واجب", 0),
        post(2, "نعلن تعليق العمليات العسكرية", 60 * 24 * 2),
        post(3, "نعلن تعليق العمليات مرة أخرى", 60 * 24 * 3),
    )
    found = matched(db)
    assert "turn" not in found.get("kaabi-tg/1", set())  # nothing before it
    assert "turn" in found["kaabi-tg/2"]
    assert "turn" not in found.get("kaabi-tg/3", set())  # the same stance again
    shift = evidence(db, "turn")["stance_shift"]
    assert shift["from"]["label"] == "escalation" and shift["to"]["label"] == "de-escalation"


def test_a_shift_needs_the_earlier_stance_inside_the_window(db: Database) -> None:
    feed(
        db,
        "kaabi-tg",
        "akram-kaabi",
        post(1, "إعلان الحرب على الاحتلال واجب", 0),
        post(2, "نعلن تعليق العمليات العسكرية", 60 * 24 * 10),
    )
    assert "turn" not in matched(db).get("kaabi-tg/2", set())


def test_replies_and_reactions(db: Database) -> None:
    feed(db, "kaabi-tg", "akram-kaabi", post(100, "قرار المقاومة مستقل", 0, url=KAABI_100))
    feed(
        db,
        "talibawi-tg",
        "jawad-al-talibawi",
        # A reply by link to Kaabi's post, two hours later.
        post(7, "ردنا على البيان واضح", 120, reply_to=KAABI_100),
        # Names him the same day, without a link.
        post(8, "نقول للشيخ أكرم الكعبي إن القرار للجميع", 180),
        # Names him, but two days after he last spoke.
        post(9, "كلمة إلى أكرم الكعبي", 60 * 48),
    )
    found = matched(db)
    assert found["talibawi-tg/7"] == {"answers-kaabi", "reacts-to-kaabi"}
    assert found["talibawi-tg/8"] == {"reacts-to-kaabi"}
    assert "talibawi-tg/9" not in found
    reaction = evidence(db, "answers-kaabi")["reaction"]
    assert reaction["leader"] == "akram-kaabi" and reaction["relation"] == "reply"


def test_a_reply_within_one_channel_by_message_number(db: Database) -> None:
    feed(
        db,
        "kaabi-tg",
        "akram-kaabi",
        post(200, "بيان أول", 0),
        post(201, "تكملة للبيان", 5, reply_to="200"),
    )
    # His own reply is a reply to himself: reply_to_leader holds, reacts_to does not.
    found = matched(db)
    assert "answers-kaabi" in found["kaabi-tg/201"]
    assert "reacts-to-kaabi" not in found["kaabi-tg/201"]


def test_a_prejudgement_is_used_only_for_the_facts_it_was_made_with() -> None:
    config = load_config_text(
        CONFIG.replace(
            "rules:\n", "rules:\n  - {id: kaabi-war, match: الحرب, leaders: [akram-kaabi]}\n"
        ),
        "rules.yaml",
    )
    rules = RuleSet.from_config(config)
    analysis = Analyzer.from_config(config).analyze("إعلان الحرب على الاحتلال واجب", "ar")
    kaabi = analysis.facts(source_id="kaabi-tg", leader_id="akram-kaabi")
    talibawi = analysis.facts(source_id="kaabi-tg", leader_id="jawad-al-talibawi")
    assert "kaabi-war" in {m.rule_id for m in rules.evaluate(kaabi, analysis.doc)}
    # Prejudged for another leader: the leaders filter refused it then, so it is
    # judged again for this one.
    before = rules.prejudge(talibawi, analysis.doc)
    assert "kaabi-war" not in {rules.rules[i].rule.id for i, _ in before.passed}
    again = rules.evaluate(kaabi, analysis.doc, prejudged=before)
    assert "kaabi-war" in {m.rule_id for m in again}
    # Prejudged for the same facts: trusted as it is (here, told that nothing passed).
    trusted = Prejudged(rules.prejudge(kaabi, analysis.doc).decided_by, ())
    assert rules.evaluate(kaabi, analysis.doc, prejudged=trusted) == []
