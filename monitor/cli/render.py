"""How statements look in the terminal: the list table and the full `show` view."""

from __future__ import annotations

import difflib
from datetime import datetime, tzinfo
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from monitor.cli.tables import first_line, fitted_table
from monitor.store.models import Statement
from monitor.store.queries import item_json

UTC_FORMAT = "%Y-%m-%d %H:%M UTC"


def when(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def flags(statement: Statement) -> str:
    return "".join(
        flag
        for flag, present in (
            ("E", statement.edited),
            ("D", statement.deleted_at is not None),
            ("R", statement.reply_to is not None),
            ("F", statement.forwarded_from is not None),
        )
        if present
    )


def items_table(
    statements: list[Statement], tz: tzinfo, tz_name: str, width: int = 120
) -> RenderableType:
    if not statements:
        return Text("no statements match")
    columns = [
        ("id", 10),
        ("published", 16),
        ("leader", 24),
        ("source", 24),
        ("lang", 4),
        ("rules", 30),
        ("status", 10),
        ("flags", 5),
    ]
    rows = [
        [
            str(s.id),
            when(s.published_at, tz),
            s.leader_id or "-",
            s.source_id,
            s.language or "-",
            ",".join(sorted(m.rule_id for m in s.matches)) or "-",
            s.status,
            flags(s),
        ]
        for s in statements
    ]
    texts = [s.text for s in statements]
    caption = f"times in {tz_name}; flags: E edited, D deleted, R reply, F forward"
    return fitted_table(columns, rows, texts, width, caption=caption)


def show_json(
    statement: Statement, kind: str | None, alerts: list[Any], links: dict[str, Statement | None]
) -> dict[str, Any]:
    data = item_json(statement, kind)
    data["versions"] = [
        {"version": v.version, "seen_at": v.seen_at.isoformat(), "title": v.title, "text": v.text}
        for v in statement.versions
    ]
    data["matches"] = [
        {"rule": m.rule_id, "severity": m.severity, "version": m.version, "evidence": m.evidence}
        for m in statement.matches
    ]
    data["links"] = {
        relation: {"id": target.id, "first_line": first_line(target.text)}
        for relation, target in links.items()
        if target is not None
    }
    data["alerts"] = [
        {
            "id": a.id,
            "rule": a.rule_id,
            "notifier": a.notifier_id,
            "status": a.status,
            "attempts": a.attempts,
            "last_error": a.last_error,
            "created_at": a.created_at.isoformat(),
            "sent_at": a.sent_at.isoformat() if a.sent_at else None,
        }
        for a in alerts
    ]
    return data


def render_item(
    statement: Statement,
    kind: str | None,
    alerts: list[Any],
    tz: tzinfo,
    links: dict[str, Statement | None] | None = None,
) -> RenderableType:
    header = Table.grid(padding=(0, 2))
    header.add_column(style="bold")
    header.add_column()
    fields = [
        ("statement", str(statement.id)),
        ("leader", statement.leader_id or "-"),
        ("organization", statement.organization_id or "-"),
        ("source", f"{statement.source_id} ({kind or '?'})"),
        ("author", statement.author or "-"),
        ("link", statement.url or "-"),
        (
            "published",
            f"{statement.published_at.strftime(UTC_FORMAT)} / "
            f"{when(statement.published_at, tz)} local",
        ),
        ("fetched", statement.fetched_at.strftime(UTC_FORMAT)),
        ("language", statement.language or "-"),
        ("status", statement.status),
        ("tags", ", ".join(statement.tags or []) or "-"),
    ]
    if statement.deleted_at:
        fields.append(("deleted", statement.deleted_at.strftime(UTC_FORMAT)))
    for relation, reference in (
        ("reply to", statement.reply_to),
        ("quote of", statement.quote_of),
        ("forwarded from", statement.forwarded_from),
    ):
        if reference:
            target = (links or {}).get(relation)
            shown = reference
            if target is not None:
                shown = f"{reference} -> #{target.id}: {first_line(target.text)}"
            fields.append((relation, shown))
    for name, value in fields:
        header.add_row(name, Text(value))
    parts: list[RenderableType] = [header]
    if statement.note:
        parts.append(Text("\nnotes", style="bold"))
        parts.extend(Text("  " + line) for line in statement.note.splitlines())
    parts.extend([Text(""), _highlighted(statement)])
    parts.extend(_versions(statement))
    parts.extend(_analysis(statement))
    parts.extend(_matches(statement))
    if alerts:
        parts.append(Text("\nalerts", style="bold"))
        for alert in alerts:
            error = f" ({alert.last_error})" if alert.last_error else ""
            sent = f", sent {alert.sent_at.strftime(UTC_FORMAT)}" if alert.sent_at else ""
            parts.append(
                Text(
                    f"  {alert.id} rule={alert.rule_id} notifier={alert.notifier_id} "
                    f"{alert.status} attempts={alert.attempts}{sent}{error}"
                )
            )
    return Group(*parts)


def _match_spans(statement: Statement) -> list[tuple[int, int]]:
    """Evidence spans of the matches made against the current text (older versions'
    offsets would point at the wrong words)."""
    current = statement.versions[-1].version if statement.versions else 1
    spans: list[tuple[int, int]] = []
    for match in statement.matches:
        if match.version != current:
            continue
        spans.extend((int(a), int(b)) for a, b in match.evidence.get("spans", []))
        stance = match.evidence.get("stance") or {}
        for cue in stance.get("cues", []):
            spans.extend((int(a), int(b)) for a, b in cue.get("spans", []))
    return spans


def _cue_spans(statement: Statement) -> list[tuple[int, int]]:
    """Where the stance cues that counted fired (the stance is of the current text)."""
    return [
        (int(a), int(b))
        for score in (statement.stance or {}).values()
        for cue in score.get("cues", [])
        if not cue.get("negated")
        for a, b in cue.get("spans", [])
    ]


def _highlighted(statement: Statement) -> Text:
    """The text with rule evidence in reverse video and stance cues underlined."""
    text = Text(statement.text)
    for start, end in _cue_spans(statement):
        text.stylize("underline", start, end)
    for start, end in _match_spans(statement):
        text.stylize("bold reverse", start, end)
    return text


def _versions(statement: Statement) -> list[RenderableType]:
    if len(statement.versions) < 2:
        return []
    parts: list[RenderableType] = [Text(f"\nversions ({len(statement.versions)})", style="bold")]
    for previous, current in zip(statement.versions, statement.versions[1:], strict=False):
        seen = current.seen_at.strftime(UTC_FORMAT)
        parts.append(Text(f"  v{previous.version} -> v{current.version}, seen {seen}"))
        diff = difflib.unified_diff(
            previous.text.splitlines(), current.text.splitlines(), lineterm="", n=1
        )
        for line in list(diff)[2:]:
            style = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
            parts.append(Text("    " + line, style=style))
    return parts


def _analysis(statement: Statement) -> list[RenderableType]:
    parts: list[RenderableType] = []
    if statement.mentions:
        parts.append(Text("\nmentions", style="bold"))
        for mention in statement.mentions:
            alias = mention.get("alias")
            said = f' as "{alias}"' if alias else ""
            parts.append(Text(f"  {mention.get('kind', '?')} {mention.get('id')}{said}"))
    scores = [(label, s) for label, s in (statement.stance or {}).items() if s.get("score")]
    if scores:
        parts.append(Text("\nstance", style="bold"))
        for label, score in sorted(scores, key=lambda item: -float(item[1]["score"])):
            target = f" about {score['target']}" if score.get("target") else ""
            cues = ", ".join(_cue(cue) for cue in score.get("cues", [])) or "-"
            parts.append(Text(f"  {label} {float(score['score']):.2f}{target}; cues: {cues}"))
    return parts


def _cue(cue: dict[str, Any]) -> str:
    marks = [mark for mark in ("negated", "reported") if cue.get(mark)]
    return str(cue.get("query", "?")) + (f" ({', '.join(marks)})" if marks else "")


def _matches(statement: Statement) -> list[RenderableType]:
    if not statement.matches:
        return []
    parts: list[RenderableType] = [Text("\nmatches", style="bold")]
    for match in statement.matches:
        evidence = match.evidence
        bits = [f"terms: {', '.join(evidence.get('terms', [])) or '-'}"]
        stance = evidence.get("stance")
        if stance:
            cues = ", ".join(_cue(c) for c in stance.get("cues", [])) or "-"
            bits.append(f"stance {stance['label']} {float(stance['score']):.2f} (cues: {cues})")
        if evidence.get("mentions"):
            bits.append("mentions: " + ", ".join(evidence["mentions"]))
        if evidence.get("omitted"):
            bits.append("omits: " + str(evidence["omitted"]))
        parts.append(Text(f"  {match.rule_id} [{match.severity}] " + "; ".join(bits)))
    return parts
