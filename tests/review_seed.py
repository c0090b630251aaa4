"""A small store with everything the review commands show, at fixed times and ids:
Arabic and English text, an edit, a deletion, a reply, mentions, stance, a match
with evidence, an alert, a failing source. Seeded through monitor.ingest.ingest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.ingest import Attribution, ingest
from monitor.sources.base import Post
from monitor.store.models import Alert, Match, SourceState, Statement
from monitor.store.session import Database
from tests.helpers import GAZETTEER

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
WAR_TEXT = "نحذر الاحتلال الأمريكي من عواقب التصعيد\nإعلان الحرب على أمريكا واجب على الجميع"
REPLY_V1 = "نعزي عوائل الشهداء الأبرار"
REPLY_V2 = "نعزي عوائل الشهداء الأبرار ونعلن الحداد ثلاثة أيام"
DELETED_TEXT = "We will not accept the presence of foreign forces in Iraq"
ELECTION_TEXT = "بيان صادر عن المكتب السياسي بشأن الانتخابات"


def config_text(feed_url: str = "http://127.0.0.1:9/feed.rss") -> str:
    return (
        GAZETTEER
        + f"""
settings:
  timezone: Asia/Baghdad
sources:
  - id: kaabi-telegram
    kind: rss
    url: {feed_url}
    leader: akram-kaabi
  - id: nujaba-site
    kind: rss
    url: {feed_url}
    leader: akram-kaabi
  - id: hamidawi-x
    kind: rss
    url: {feed_url}
    leader: abu-hussein-al-hamidawi
rules:
  - id: war-on-us
    match: '"إعلان الحرب" AND أمريكا'
    severity: high
"""
    )


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(config_text(), encoding="utf-8")
    return path


def _span(text: str, word: str) -> list[int]:
    start = text.index(word)
    return [start, start + len(word)]


def seed(db: Database) -> None:
    """Statements 1-4, oldest first: 1 war (matched, alerted), 2 a reply to 1, edited,
    3 English and deleted, 4 from another leader on a failing source."""
    kaabi = Attribution("kaabi-telegram", "akram-kaabi", "harakat-hezbollah-al-nujaba")
    site = Attribution("nujaba-site", "akram-kaabi", "harakat-hezbollah-al-nujaba")
    hamidawi = Attribution("hamidawi-x", "abu-hussein-al-hamidawi", "kataib-hezbollah")
    with db.write() as session:
        session.add_all(
            [
                SourceState(id="kaabi-telegram", kind="telegram", next_poll_at=T0),
                SourceState(id="nujaba-site", kind="rss", next_poll_at=T0, last_success_at=T0),
                SourceState(
                    id="hamidawi-x",
                    kind="x",
                    next_poll_at=T0,
                    consecutive_failures=3,
                    last_error="HTTP 503 Service Unavailable",
                    last_error_at=T0 + timedelta(hours=3),
                ),
            ]
        )
        session.flush()

        def post(attribution: Attribution, external_id: str, text: str, minutes: int,
                 **extra: str) -> None:  # fmt: skip
            moment = T0 + timedelta(minutes=minutes)
            item = Post(
                external_id=external_id,
                text=text,
                url=f"https://example.org/{attribution.source_id}/{external_id}",
                published_at=moment,
                **extra,  # type: ignore[arg-type]
            )
            ingest(session, attribution, [item], moment + timedelta(minutes=1))

        post(kaabi, "100", WAR_TEXT, 0)
        post(kaabi, "101", REPLY_V1, 30, reply_to="100")
        post(site, "n-1", DELETED_TEXT, 60)
        post(hamidawi, "x-1", ELECTION_TEXT, 120)
        # The edit of statement 2, seen two hours later.
        edited = Post(
            external_id="101",
            text=REPLY_V2,
            url="https://example.org/kaabi-telegram/101",
            published_at=T0 + timedelta(minutes=30),
            reply_to="100",
        )
        ingest(session, kaabi, [edited], T0 + timedelta(hours=2, minutes=30))

        war, reply, deleted, election = (session.get_one(Statement, i) for i in (1, 2, 3, 4))
        for statement, language in ((war, "ar"), (reply, "ar"), (deleted, "en"), (election, "ar")):
            statement.language = language
        deleted.deleted_at = T0 + timedelta(days=1)
        war.mentions = [
            {"id": "united-states", "kind": "organization", "alias": "أمريكا",
             "start": _span(WAR_TEXT, "أمريكا")[0], "end": _span(WAR_TEXT, "أمريكا")[1]},
        ]  # fmt: skip
        cue = {
            "query": "التصعيد",
            "weight": 1.0,
            "spans": [_span(WAR_TEXT, "التصعيد")],
            "negated": False,
            "reported": False,
        }
        war.stance = {
            "escalation": {"score": 0.82, "target": "us", "cues": [cue], "targets": {"us": 0.82}},
            "de-escalation": {"score": 0.0, "target": None, "cues": [], "targets": {}},
        }
        match = Match(
            rule_id="war-on-us",
            statement_id=1,
            severity="high",
            version=1,
            evidence={
                "terms": ["إعلان الحرب", "أمريكا"],
                "spans": [_span(WAR_TEXT, "إعلان الحرب"), _span(WAR_TEXT, "أمريكا")],
            },
            created_at=T0 + timedelta(minutes=1),
        )
        session.add(match)
        session.flush()
        session.add(
            Alert(
                id="01a20000-0000-7000-8000-000000000001",
                match_id=match.id,
                rule_id="war-on-us",
                statement_id=1,
                notifier_id="console",
                status="sent",
                attempts=1,
                next_attempt_at=T0,
                created_at=T0 + timedelta(minutes=1),
                sent_at=T0 + timedelta(minutes=2),
            )
        )
