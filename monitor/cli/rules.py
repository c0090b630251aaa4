"""`monitor rules test`: which rules match a text or a stored statement, and why."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from monitor.cli import options
from monitor.cli.context import database, load, out
from monitor.config import Config
from monitor.pipeline import attribution_of
from monitor.rules.analysis import Analysis, Analyzer
from monitor.rules.engine import History, NoHistory, RuleSet, StatementFacts, Verdict
from monitor.store.history import StoreHistory
from monitor.store.queries import get_item

app = typer.Typer(help="Rules: try them on a text or a stored statement.", no_args_is_help=True)


@app.command("test", help="Show every rule's verdict with its evidence.")
def test_command(
    ctx: typer.Context,
    text: Annotated[str | None, typer.Option("--text", help="A statement to try.")] = None,
    item: Annotated[
        int | None, typer.Option("--item", help="A stored statement's id to try.")
    ] = None,
    leader: Annotated[
        str | None, typer.Option(help="The leader the text is from (with --text).")
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="The source the text is from (with --text).")
    ] = None,
    lang: Annotated[str | None, typer.Option("--lang", help="Its language (with --text).")] = None,
    as_json: options.Json = False,
) -> None:
    if (text is None) == (item is None):
        raise typer.BadParameter("give exactly one of --text or --item")
    config = load(ctx)
    _check_ids(config, leader, source)
    rules = RuleSet.from_config(config)
    analyzer = Analyzer.from_config(config)
    if text is not None:
        analysis = analyzer.analyze(text, lang)
        facts = analysis.facts(language=lang, **_who(config, leader, source))
        _report(rules, facts, analysis, NoHistory(), as_json)
        return
    assert item is not None
    db = database(config, reading=True)
    try:
        with db.read() as session:
            statement = get_item(session, item)
            analysis = analyzer.analyze(statement.text, statement.language)
            facts = analysis.facts(
                language=statement.language,
                leader_id=statement.leader_id,
                source_id=statement.source_id,
                organization_id=statement.organization_id,
                statement_id=statement.id,
                published_at=statement.published_at,
                reply_to=statement.reply_to,
                quote_of=statement.quote_of,
            )
            _report(rules, facts, analysis, StoreHistory(session), as_json)
    finally:
        db.dispose()


def _who(config: Config, leader: str | None, source: str | None) -> dict[str, str | None]:
    """Leader, source and organization of a typed text, as a configured source would give."""
    source_config = config.source(source) if source else None
    if source_config is not None:
        attribution = attribution_of(config, source_config)
        leader = leader or attribution.leader_id
        organization = attribution.organization_id
    else:
        leader_config = config.leader(leader) if leader else None
        organization = leader_config.organization if leader_config else None
    return {"leader_id": leader, "source_id": source, "organization_id": organization}


def _check_ids(config: Config, leader: str | None, source: str | None) -> None:
    if leader is not None and config.leader(leader) is None:
        raise typer.BadParameter(f"{leader!r} is not a leader of the config", param_hint="--leader")
    if source is not None and config.source(source) is None:
        raise typer.BadParameter(f"{source!r} is not a source of the config", param_hint="--source")


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    data: dict[str, Any] = {
        "rule": verdict.rule_id,
        "matched": verdict.matched,
        "evidence": verdict.evidence,
    }
    if verdict.evidence.get("stance") is not None:
        data["stance"] = verdict.evidence["stance"]
    if verdict.reason:
        data["reason"] = verdict.reason
    return data


def _report(
    rules: RuleSet, facts: StatementFacts, analysis: Analysis, history: History, as_json: bool
) -> None:
    verdicts = rules.explain(facts, analysis.doc, history)
    if as_json:
        for verdict in verdicts:
            print(json.dumps(verdict_json(verdict), ensure_ascii=False))
        return
    out.print(Group(_analysis_lines(facts, analysis), _verdict_table(verdicts)))


def _analysis_lines(facts: StatementFacts, analysis: Analysis) -> Text:
    stance = ", ".join(
        f"{label} {score.score:.2f}" + (f" ({score.target})" if score.target else "")
        for label, score in analysis.stance.items()
    )
    return Text(
        f"language: {facts.language or '-'}   mentions: {', '.join(facts.mentions) or '-'}\n"
        f"stance: {stance or '-'}"
    )


def _verdict_table(verdicts: list[Verdict]) -> Table:
    table = Table(pad_edge=False)
    table.add_column("rule", no_wrap=True)
    table.add_column("matched", no_wrap=True)
    table.add_column("why", overflow="fold")
    for verdict in verdicts:
        table.add_row(
            Text(verdict.rule_id),
            "yes" if verdict.matched else "no",
            Text(_why(verdict)),
        )
    return table


def _why(verdict: Verdict) -> str:
    if not verdict.matched:
        return verdict.reason or ""
    evidence = verdict.evidence
    parts = []
    if evidence.get("terms"):
        parts.append("terms: " + ", ".join(evidence["terms"]))
    stance = evidence.get("stance")
    if stance:
        cues = ", ".join(cue["query"] for cue in stance.get("cues", []) if not cue.get("negated"))
        parts.append(f"stance {stance['label']} {stance['score']:.2f} (cues: {cues or '-'})")
    if evidence.get("mentions"):
        parts.append("mentions: " + ", ".join(evidence["mentions"]))
    if evidence.get("omitted"):
        parts.append("omits: " + evidence["omitted"])
    if evidence.get("stance_shift"):
        shift = evidence["stance_shift"]
        parts.append(
            f"shift from {shift['from']['label']} (statement {shift['from']['statement']}) "
            f"to {shift['to']['label']}"
        )
    if evidence.get("reaction"):
        reaction = evidence["reaction"]
        parts.append(
            f"{reaction['relation']} {reaction['leader']} (statement {reaction['statement']})"
        )
    return "; ".join(parts)
