"""sources.yaml: loading, interpolation, validation messages with lines, references, summary."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path
from textwrap import dedent

import pytest
import yaml
from rich.console import Console

from monitor.config import (
    Config,
    HtmlSource,
    MastodonSource,
    TelegramSource,
    WebhookNotifier,
    XSource,
    format_duration,
    load_config,
    load_config_text,
    parse_duration,
    resolve_config_path,
)
from monitor.config.summary import mask_url, render_summary, warnings
from monitor.config.yamldoc import YamlDocument, read_yaml
from monitor.errors import ConfigError, ConfigIssue

SHIPPED = Path(__file__).resolve().parent.parent / "sources.yaml"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # 24 bytes, base64
SELECTOR_HINT = "(write 'css', 'css@attribute' or '@attr')"
EMAIL_WITH_DIGEST = (
    "notifiers: [{{id: m, kind: email, to: [a@example.org], smtp_host: h, "
    "digest: '{expression}'}}]\n"
)

# A small valid gazetteer that reference tests build on (lines 1-8).
GAZETTEER = """\
organizations:
  - {id: kataib-hezbollah, name: Kataib Hezbollah}
  - {id: asaib-ahl-al-haq, name: Asaib Ahl al-Haq}
  - {id: harakat-hezbollah-al-nujaba, name: Harakat Hezbollah al-Nujaba}
leaders:
  - {id: akram-kaabi, name: Akram al-Kaabi, organization: harakat-hezbollah-al-nujaba}
groups:
  factions: [kataib-hezbollah, asaib-ahl-al-haq, akram-kaabi]
"""


def load(text: str, **environ: str) -> Config:
    return load_config_text(dedent(text), "sources.yaml", environ=environ)


def errors(text: str, **environ: str) -> list[str]:
    """The lines of the ConfigError the text raises."""
    with pytest.raises(ConfigError) as caught:
        load(text, **environ)
    return str(caught.value).splitlines()


# --- the shipped file --------------------------------------------------------------------


def test_shipped_config_loads_with_an_empty_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in set(re.findall(r"\$\{(\w+)", SHIPPED.read_text(encoding="utf-8"))):
        monkeypatch.delenv(name, raising=False)
    config = load_config(SHIPPED)
    assert config.path == SHIPPED
    assert config.settings.timezone == "Asia/Baghdad"
    assert config.settings.proxy is None
    assert len(config.organizations) >= 11
    assert config.group_members("islamic-resistance-factions") == [
        "kataib-hezbollah",
        "harakat-hezbollah-al-nujaba",
        "asaib-ahl-al-haq",
        "kataib-sayyid-al-shuhada",
        "ansar-allah-al-awfiya",
    ]
    assert {rule.id for rule in config.rules} >= {"war-on-us", "escalation", "faction-left-out"}
    assert all(rule.notify == ["console"] for rule in config.rules)
    assert config.enabled_sources() == []
    webhook = config.notifier("ops-webhook")
    assert isinstance(webhook, WebhookNotifier)
    assert webhook.url == "http://127.0.0.1:9000/monitor"
    assert webhook.secret is None


@pytest.mark.parametrize(
    ("leader_id", "expected_aliases"),
    [
        ("akram-kaabi", ["Kaabi", "Ka'abi", "al-Kaabi", "Akram Kaabi", "أكرم الكعبي", "الكعبي"]),
        (
            "abu-hussein-al-hamidawi",
            ["Hamidawi", "Abu Hussein", "Abu Husayn", "Abu Hussain", "أبو حسين الحميداوي"],
        ),
        ("qais-al-khazali", ["Khazali", "Khazaali", "Qais Khazali", "قيس الخزعلي"]),
        ("jawad-al-talibawi", ["Talibawi", "جواد الطليباوي"]),
        ("faleh-al-fayyad", ["Falih al-Fayyadh", "فالح الفياض"]),
    ],
)
def test_shipped_leaders_carry_their_spelling_variants(
    leader_id: str, expected_aliases: list[str]
) -> None:
    leader = load_config(SHIPPED, environ={}).leader(leader_id)
    assert leader is not None
    assert leader.organization is not None
    assert set(expected_aliases) <= {leader.name, *leader.aliases}


def test_shipped_organizations_carry_arabic_names_and_abbreviations() -> None:
    config = load_config(SHIPPED, environ={})
    kh = config.organization("kataib-hezbollah")
    assert kh is not None
    assert {"KH", "كتائب حزب الله"} <= set(kh.aliases)


# --- interpolation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "environ", "expected"),
    [
        ("${UA}", {"UA": "agent/1"}, "agent/1"),
        ("${UA:-fallback}", {}, "fallback"),
        ("${UA:-fallback}", {"UA": ""}, "fallback"),
        ("${UA:-fallback}", {"UA": "set"}, "set"),
        ("bot ${UA} (x)", {"UA": "7"}, "bot 7 (x)"),
        ("costs $$5", {}, "costs $5"),
        ("$${UA}", {"UA": "no"}, "${UA}"),
        ("a: #b ${UA}", {"UA": "'quote' # not yaml"}, "a: #b 'quote' # not yaml"),
    ],
)
def test_interpolation_of_string_values(
    written: str, environ: dict[str, str], expected: str
) -> None:
    config = load(f"settings:\n  user_agent: '{written}'\n", **environ)
    assert config.settings.user_agent == expected


def test_a_whole_reference_that_comes_out_empty_is_none() -> None:
    config = load(
        """\
        settings:
          proxy: ${HTTPS_PROXY:-}
          user_agent: ${UA:-}
        """,
        HTTPS_PROXY="",
    )
    assert config.settings.proxy is None
    assert config.settings.user_agent.startswith("monitor/")  # empty: the default


def test_unset_variable_without_default_is_an_error_with_its_line() -> None:
    text = """\
        notifiers:
          - id: console
            kind: console
          - id: ops-webhook
            kind: webhook
            url: https://hooks.example.org/monitor
            secret: ${WEBHOOK_SECRET}
        """
    assert errors(text) == [
        "sources.yaml:7: notifiers[1].secret: environment variable WEBHOOK_SECRET is not set "
        "(write ${WEBHOOK_SECRET:-} to allow it to be empty)"
    ]


def test_malformed_reference_is_an_error() -> None:
    assert errors("settings:\n  proxy: ${HTTPS_PROXY\n") == [
        "sources.yaml:2: settings.proxy: '${HTTPS_PROXY' is not a reference: "
        "write ${VAR} or ${VAR:-default}, and $$ for a literal $"
    ]


def test_empty_reference_on_a_required_key_says_so() -> None:
    text = """\
        notifiers:
          - {id: mail, kind: email, to: [a@example.org], smtp_host: "${SMTP_HOST:-}"}
        """
    assert errors(text) == [
        "sources.yaml:2: notifiers[0].smtp_host: ${SMTP_HOST:-} is empty, "
        "and this key needs a value"
    ]


def test_numbers_and_booleans_may_come_from_the_environment() -> None:
    config = load("settings:\n  health_port: ${PORT:-8080}\n")
    assert config.settings.health_port == 8080


# --- durations ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("2h", 7200),
        ("1d", 86400),
        ("1h30m", 5400),
        ("1d2h3m4s", 93784),
        ("90", 90),
        (45, 45),
        (" 2m ", 120),
        ("1h 30m", 5400),
    ],
)
def test_parse_duration(written: str | int, seconds: int) -> None:
    assert parse_duration(written) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("5x", "'5x' is not a duration (use e.g. 30s, 5m, 2h, 1d)"),
        ("", "'' is not a duration (use e.g. 30s, 5m, 2h, 1d)"),
        ("m5", "'m5' is not a duration (use e.g. 30s, 5m, 2h, 1d)"),
        ("30m1h", "'30m1h' is not a duration (use e.g. 30s, 5m, 2h, 1d)"),
        ("0s", "'0s' is not a duration greater than zero (use e.g. 30s, 5m, 2h, 1d)"),
        (0, "0 is not a duration greater than zero (use e.g. 30s, 5m, 2h, 1d)"),
        (1.5, "expected a duration (use e.g. 30s, 5m, 2h, 1d), got float"),
        (True, "expected a duration (use e.g. 30s, 5m, 2h, 1d), got bool"),
    ],
)
def test_parse_duration_rejects(written: object, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(written)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(30, "30s"), (300, "5m"), (5400, "1h30m"), (86400, "1d"), (90061, "1d1h1m1s"), (0, "0s")],
)
def test_format_duration(seconds: int, text: str) -> None:
    assert format_duration(timedelta(seconds=seconds)) == text
    if seconds:
        assert parse_duration(text) == timedelta(seconds=seconds)


def test_bad_interval_names_file_line_and_path() -> None:
    text = """\
        sources:
          - id: feed-a
            kind: rss
            url: https://example.org/a.xml
          - id: feed-b
            kind: rss
            url: https://example.org/b.xml
          - id: feed-c
            kind: rss
            url: https://example.org/c.xml
            interval: 5x
        """
    assert errors(text) == [
        "sources.yaml:11: sources[2].interval: '5x' is not a duration (use e.g. 30s, 5m, 2h, 1d)"
    ]


def test_interval_defaults_to_settings() -> None:
    config = load(
        """\
        settings: {default_interval: 10m}
        sources:
          - {id: a, kind: rss, url: "https://example.org/a"}
          - {id: b, kind: rss, url: "https://example.org/b", interval: 30s, enabled: false}
        """
    )
    a, b = config.sources
    assert config.interval_of(a) == timedelta(minutes=10)
    assert config.interval_of(b) == timedelta(seconds=30)
    assert config.enabled_sources() == [a]


# --- schema messages ---------------------------------------------------------------------


def test_unknown_key_lists_the_valid_ones_on_its_line() -> None:
    text = """\
        sources:
          - id: feed
            kind: rss
            url: https://example.org/feed.xml
            intervall: 5m
        """
    assert errors(text) == [
        "sources.yaml:5: sources[0].intervall: unknown key 'intervall' (valid keys: "
        "detect_deletions, enabled, id, interval, kind, language, leader, organization, proxy, "
        "url)"
    ]


def test_unknown_top_level_section() -> None:
    assert errors("setings: {}\n") == [
        "sources.yaml:1: setings: unknown key 'setings' (valid keys: groups, leaders, notifiers, "
        "organizations, rules, settings, sources, stances)"
    ]


def test_unknown_source_kind() -> None:
    text = """\
        sources:
          - id: kaabi
            kind: telegarm
            channel: CHANNEL_NAME
        """
    assert errors(text) == [
        "sources.yaml:3: sources[0].kind: 'telegarm' is not a source kind "
        "(valid: bluesky, html, mastodon, rss, telegram, x, youtube)"
    ]


def test_unknown_notifier_kind_and_missing_kind() -> None:
    text = """\
        notifiers:
          - {id: pager, kind: pager}
          - {id: other}
        """
    assert errors(text) == [
        "sources.yaml:2: notifiers[0].kind: 'pager' is not a notifier kind "
        "(valid: console, email, webhook)",
        "sources.yaml:3: notifiers[1]: missing required key 'kind' "
        "(valid: console, email, webhook)",
    ]


def test_missing_required_key_is_reported_on_the_mapping() -> None:
    text = """\
        sources:
          - id: feed
            kind: rss
            interval: 5m
        """
    assert errors(text) == ["sources.yaml:2: sources[0]: missing required key 'url'"]


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        (
            "settings: {health_port: abc}",
            "settings.health_port: expected a whole number, got 'abc'",
        ),
        (
            "settings: {health_port: 70000}",
            "settings.health_port: must be at most 65535, got 70000",
        ),
        (
            "settings: {max_response_bytes: 0}",
            "settings.max_response_bytes: must be greater than 0, got 0",
        ),
        ("settings: [a]", "settings: expected a mapping, got a list"),
        (
            "stances: {e: {cues: {en: [5]}}}",
            "stances.e.cues.en[0]: expected a query, or {query: ..., weight: ...}, got int",
        ),
        ("rules: [{id: r, match: ''}]", "rules[0].match: must not be empty"),
        (
            "settings: {timezone: Asia/Bagdad}",
            "settings.timezone: 'Asia/Bagdad' is not a time zone "
            "(use an IANA name such as UTC or Asia/Baghdad)",
        ),
        (
            "settings: {proxy: nonsense}",
            "settings.proxy: 'nonsense' is not a proxy URL (e.g. http://proxy.local:3128)",
        ),
        (
            "settings: {email_from: nobody}",
            "settings.email_from: 'nobody' is not an email address (e.g. analysts@example.org)",
        ),
        (
            "organizations: [{id: Kata'ib, name: K}]",
            'organizations[0].id: "Kata\'ib" is not a valid id '
            "(use up to 100 lowercase letters, digits, - and _)",
        ),
        (
            "leaders: [{id: x, name: X, aliases: Kaabi}]",
            "leaders[0].aliases: expected a list, got 'Kaabi'",
        ),
        (
            "rules: [{id: r, match: x, severity: urgent}]",
            "rules[0].severity: 'urgent' is not a valid severity (valid: low, medium, high)",
        ),
        (
            "rules: [{id: r, match: x, enabled: maybe}]",
            "rules[0].enabled: expected true or false, got 'maybe'",
        ),
        (
            "rules: [{id: r, match: x, languages: [arabic]}]",
            "rules[0].languages[0]: 'arabic' is not a language code (use 2 or 3 letters: ar, en)",
        ),
        (
            "rules: [{id: r, stance: {label: e, min_score: 2}}]\nstances: {e: {cues: {en: [x]}}}",
            "rules[0].stance.min_score: must be at most 1, got 2",
        ),
        (
            "sources: [{id: t, kind: telegram, channel: c, since: soon}]",
            "sources[0].since: expected a date like 2024-01-31, got 'soon'",
        ),
        (
            "sources: [{id: t, kind: telegram, channel: c, backfill: -1}]",
            "sources[0].backfill: must be at least 0, got -1",
        ),
        (
            "sources: [{id: f, kind: rss, url: 'ftp://example.org/f'}]",
            "sources[0].url: 'ftp://example.org/f' is not an http(s) URL (e.g. https://example.org/feed)",
        ),
        (
            "notifiers: [{id: w, kind: webhook, url: 'http://h.example', format: xml}]",
            "notifiers[0].format: 'xml' is not a valid format (valid: json, slack)",
        ),
        (
            "notifiers: [{id: m, kind: email, to: [], smtp_host: h}]",
            "notifiers[0].to: must not be empty",
        ),
        (
            "notifiers: [{id: m, kind: email, to: [x], smtp_host: h}]",
            "notifiers[0].to[0]: 'x' is not an email address (e.g. analysts@example.org)",
        ),
        (
            "notifiers: [{id: m, kind: email, to: [a@example.org], smtp_host: h, security: ssl}]",
            "notifiers[0].security: 'ssl' is not a valid security (valid: starttls, tls, none)",
        ),
        ("stances: {e: {cues: {}}}", "stances.e.cues: must not be empty"),
        (
            "stances: {e: {cues: {en: [{query: x, weight: 9}]}}}",
            "stances.e.cues.en[0].weight: must be at most 5, got 9",
        ),
        (
            "{organizations: [{id: x, name: X}], groups: {Factions: [x]}}",
            "groups.Factions: 'Factions' is not a valid id "
            "(use up to 100 lowercase letters, digits, - and _)",
        ),
        ("groups: {factions: []}", "groups.factions: must not be empty"),
    ],
)
def test_bad_values_are_explained(snippet: str, message: str) -> None:
    assert errors(snippet + "\n") == [f"sources.yaml:1: {message}"]


def test_secrets_are_not_repeated_in_messages() -> None:
    lines = errors(
        "notifiers: [{id: w, kind: webhook, url: 'https://h.example', secret: hunter2hunter2}]\n"
    )
    assert len(lines) == 1
    assert "hunter2" not in lines[0]
    assert lines[0].startswith("sources.yaml:1: notifiers[0].secret: must be a Standard Webhooks")


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        (
            "{id: t, kind: telegram}",
            "sources[0]: missing required key 'channel' (or 'url' with the full address to poll)",
        ),
        (
            "{id: t, kind: telegram, channel: c, url: 'https://mirror.example/c'}",
            "sources[0]: give either 'channel' or 'url', not both",
        ),
        (
            "{id: t, kind: telegram, channel: 't.me/c'}",
            "sources[0].channel: 't.me/c' is not a Telegram channel name "
            "(write it without @ or t.me/)",
        ),
        (
            "{id: m, kind: mastodon, account: someone}",
            "sources[0].account: 'someone' is not a Mastodon account (e.g. user@mastodon.social)",
        ),
        (
            "{id: y, kind: youtube}",
            "sources[0]: missing required key 'channel_id' "
            "(or 'url' with the full address to poll)",
        ),
        (
            "{id: b, kind: bluesky, handle: h.bsky.social, url: 'https://b.example'}",
            "sources[0]: give either 'handle' or 'url', not both",
        ),
        (
            "{id: h, kind: html, url: 'https://e.example', selectors: {item: a}}",
            "sources[0].selectors: missing required key 'text'",
        ),
        (
            "{id: h, kind: html, url: 'https://e.example', selectors: {item: a, text: ''}}",
            "sources[0].selectors.text: '' is not a selector " + SELECTOR_HINT,
        ),
        (
            "{id: h, kind: html, url: 'https://e.example', selectors: {item: a, text: 'p@'}}",
            "sources[0].selectors.text: 'p@' is not a selector " + SELECTOR_HINT,
        ),
        (
            "{id: h, kind: html, url: 'https://e.example', selectors: {item: a, text: b}, "
            "follow: true}",
            "sources[0]: follow: true needs selectors.body "
            "(the text to take from each linked page)",
        ),
    ],
)
def test_source_address_and_selector_rules(snippet: str, message: str) -> None:
    assert errors(f"sources:\n  - {snippet}\n") == [f"sources.yaml:2: {message}"]


def test_source_kinds_and_their_keys() -> None:
    config = load(
        """\
        sources:
          - {id: t, kind: telegram, channel: "@CHANNEL_NAME", since: 2024-05-01, backfill: 0}
          - {id: m, kind: mastodon, account: "@someone@mastodon.example"}
          - {id: x, kind: x, handle: "@HANDLE", bearer_token: "${X_TOKEN:-}"}
          - {id: u, kind: x, url: "http://127.0.0.1:8000/x"}
          - id: h
            kind: html
            url: https://example.org/statements
            selectors: {item: article, text: .body, id: "@id", link: "a@href", body: main}
            follow: true
        """
    )
    telegram, mastodon, x_handle, x_url, html = config.sources
    assert isinstance(telegram, TelegramSource)
    assert (telegram.channel, telegram.since, telegram.backfill) == (
        "CHANNEL_NAME",
        date(2024, 5, 1),
        0,
    )
    assert isinstance(mastodon, MastodonSource) and mastodon.account == "someone@mastodon.example"
    assert isinstance(x_handle, XSource) and x_handle.handle == "HANDLE"
    assert x_handle.bearer_token is None
    assert isinstance(x_url, XSource) and x_url.url == "http://127.0.0.1:8000/x"
    assert isinstance(html, HtmlSource) and html.selectors.link == "a@href"


def test_yaml_1_1_booleans_stay_text() -> None:
    # `no` is the language code of Norwegian, not false.
    config = load("stances:\n  s:\n    cues: {no: [fred], en: [peace]}\n")
    assert set(config.stances["s"].cues) == {"no", "en"}


def test_an_empty_section_means_its_default() -> None:
    config = load("settings:\nsources:\nrules:\n")
    assert config.settings.timezone == "UTC"
    assert config.sources == []
    assert config.settings.tz.key == "UTC"


# --- stances, rules, mentions ------------------------------------------------------------


def test_cues_are_strings_or_weighted_queries() -> None:
    config = load(
        """\
        stances:
          escalation:
            target_terms: {en: [America], ar: [أمريكا]}
            cues:
              en: ['"declare war"', {query: truce, weight: -2}]
        """
    )
    cues = config.stances["escalation"].cues["en"]
    assert [(cue.query, cue.weight) for cue in cues] == [('"declare war"', 1.0), ("truce", -2.0)]


def test_rule_defaults() -> None:
    rule = load("rules: [{id: r, match: truce}]\n").rules[0]
    assert (rule.severity, rule.notify, rule.enabled, rule.leaders) == (
        "medium",
        ["console"],
        True,
        [],
    )


def test_rule_without_condition() -> None:
    assert errors("rules:\n  - id: quiet\n    severity: low\n") == [
        "sources.yaml:2: rules[0]: a rule needs at least one of 'match', 'stance', 'mentions', "
        "'stance_shift', 'reply_to_leader', 'reacts_to'"
    ]


def test_query_syntax_error_names_the_column() -> None:
    text = """\
        rules:
          - id: war-on-us
            match: '("declare war" OR "إعلان الحرب" AND America'
        """
    assert errors(text) == ["sources.yaml:3: rules[0].match: expected ')' at column 44"]


def test_cue_and_target_queries_are_checked_too() -> None:
    text = """\
        stances:
          e:
            target_terms: {en: ['"America']}
            cues:
              en: [ok, {query: 'war NEAR/0 us'}]
        rules:
          - {id: r, stance: {label: e, target: us}}
        """
    assert errors(text) == [
        "sources.yaml:3: stances.e.target_terms.en[0]: unterminated quote at column 1",
        "sources.yaml:5: stances.e.cues.en[1].query: NEAR needs a distance of at least 1, "
        "as in NEAR/5 at column 5",
        "sources.yaml:7: rules[0].stance.target: 'us' is not a target of stance 'e' "
        "(its targets: target)",
    ]


@pytest.mark.parametrize(
    ("mentions", "message"),
    [
        ("{}", "give exactly one of 'any', 'all' or 'group' (got none of them)"),
        (
            "{any: [akram-kaabi], group: factions}",
            "give exactly one of 'any', 'all' or 'group' (got any and group)",
        ),
        ("{all: [akram-kaabi], omits: akram-kaabi}", "'omits' goes with 'group', not with 'all'"),
    ],
)
def test_mentions_has_exactly_one_form(mentions: str, message: str) -> None:
    lines = errors(GAZETTEER + f"rules:\n  - {{id: r, mentions: {mentions}}}\n")
    assert lines == [f"sources.yaml:10: rules[0].mentions: {message}"]


def test_mentions_forms() -> None:
    config = load(
        GAZETTEER
        + "rules:\n"
        + "  - {id: a, mentions: {any: [akram-kaabi, kataib-hezbollah]}}\n"
        + "  - {id: g, mentions: {group: factions, at_least: 2, omits: asaib-ahl-al-haq}}\n"
    )
    any_rule, group_rule = config.rules
    assert any_rule.mentions is not None and any_rule.mentions.any == [
        "akram-kaabi",
        "kataib-hezbollah",
    ]
    assert group_rule.mentions is not None
    assert (group_rule.mentions.group, group_rule.mentions.at_least) == ("factions", 2)
    assert config.group_members("factions") == [
        "kataib-hezbollah",
        "asaib-ahl-al-haq",
        "akram-kaabi",
    ]
    assert config.group_members("nobody") == []


# --- notifiers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    ["0 8 * * *", "*/15 * * * *", "0 8-18/2 * * mon-fri", "30 7 1,15 jan,jul 0", "0 0 * * 7"],
)
def test_good_cron(expression: str) -> None:
    text = EMAIL_WITH_DIGEST.format(expression=expression)
    notifier = load(text).notifier("m")
    assert notifier is not None and getattr(notifier, "digest", None) == expression


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("0 8 * *", "it has 4 fields"),
        ("0 25 * * *", "hour 25 is out of range 0-23"),
        ("60 * * * *", "minute 60 is out of range 0-59"),
        ("0 0 0 * *", "day of month 0 is out of range 1-31"),
        ("0 0 * 13 *", "month 13 is out of range 1-12"),
        ("0 0 * * 8", "day of week 8 is out of range 0-7"),
        ("*/0 * * * *", "minute step '0' must be a number above zero"),
        ("0 18-8 * * *", "hour range '18-8' runs backwards"),
        ("0 8 * * funday", "day of week 'funday' is not a number"),
        ("0 8 ,1 * *", "day of month '' is empty or malformed"),
    ],
)
def test_bad_cron(expression: str, problem: str) -> None:
    text = EMAIL_WITH_DIGEST.format(expression=expression)
    assert errors(text) == [
        f"sources.yaml:1: notifiers[0].digest: '{expression}' is not a cron expression: {problem} "
        "(5 fields: minute hour day-of-month month day-of-week, "
        "e.g. '0 8 * * *' or '30 7 * * mon-fri')"
    ]


@pytest.mark.parametrize(
    "secret", ["hunter2", "whsec_", "whsec_not*base64", "whsec_c2hvcnQ=", "xyz_" + SECRET[6:]]
)
def test_bad_webhook_secret(secret: str) -> None:
    text = """\
        notifiers:
          - id: w
            kind: webhook
            url: https://h.example/hook
            secret: ${S}
        """
    assert errors(text, S=secret) == [
        "sources.yaml:5: notifiers[0].secret: must be a Standard Webhooks secret: 'whsec_' "
        "followed by the base64 of 24 to 64 random bytes; make one with: "
        "python -c \"import base64,os;print('whsec_'+base64.b64encode(os.urandom(24)).decode())\""
    ]


def test_good_webhook_secret_and_empty_secret() -> None:
    text = """\
        notifiers:
          - {id: signed, kind: webhook, url: "https://h.example/a", secret: "${S}", timeout: 3s}
          - {id: unsigned, kind: webhook, url: "https://h.example/b", secret: "${EMPTY:-}"}
        """
    config = load(text, S=SECRET)
    signed, unsigned, _console = config.notifiers
    assert isinstance(signed, WebhookNotifier) and signed.secret is not None
    assert signed.secret.get_secret_value() == SECRET
    assert signed.timeout == timedelta(seconds=3)
    assert SECRET not in repr(config)
    assert isinstance(unsigned, WebhookNotifier) and unsigned.secret is None


def test_console_notifier_is_implied() -> None:
    config = load("rules: [{id: r, match: truce}]\n")
    assert [n.id for n in config.notifiers] == ["console"]
    console = config.notifier("console")
    assert console is not None and console.kind == "console"
    assert [n.id for n in config.all_notifiers()] == ["console"]
    assert config.notifier("nope") is None


# --- references --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("addition", "message"),
    [
        (
            "sources: [{id: s, kind: rss, url: 'https://e.example/f', leader: akram-kabi}]",
            "sources[0].leader: 'akram-kabi' is not a leader defined under leaders: "
            "(did you mean 'akram-kaabi'?)",
        ),
        (
            "sources: [{id: s, kind: rss, url: 'https://e.example/f', organization: badr}]",
            "sources[0].organization: 'badr' is not an organization defined under organizations:",
        ),
        (
            "rules: [{id: r, match: x, leaders: [qais]}]",
            "rules[0].leaders[0]: 'qais' is not a leader defined under leaders:",
        ),
        (
            "rules: [{id: r, match: x, organizations: [kh]}]",
            "rules[0].organizations[0]: 'kh' is not an organization defined under organizations:",
        ),
        (
            "rules: [{id: r, match: x, sources: [feed]}]",
            "rules[0].sources[0]: 'feed' is not a source defined under sources:",
        ),
        (
            "rules: [{id: r, match: x, notify: [console, ops-webhook]}]",
            "rules[0].notify[1]: 'ops-webhook' is not a notifier defined under notifiers:",
        ),
        (
            "rules: [{id: r, stance: {label: escalation}}]",
            "rules[0].stance.label: 'escalation' is not a stance defined under stances:",
        ),
        (
            "rules: [{id: r, mentions: {group: resistance}}]",
            "rules[0].mentions.group: 'resistance' is not a group defined under groups:",
        ),
        (
            "rules: [{id: r, mentions: {group: factions, omits: aah}}]",
            "rules[0].mentions.omits: 'aah' is neither a leader nor an organization",
        ),
        (
            "rules: [{id: r, mentions: {any: [akram-kaabi, khazali]}}]",
            "rules[0].mentions.any[1]: 'khazali' is neither a leader nor an organization",
        ),
        (
            "rules: [{id: r, mentions: {all: [nujaba]}}]",
            "rules[0].mentions.all[0]: 'nujaba' is neither a leader nor an organization",
        ),
    ],
)
def test_dangling_references(addition: str, message: str) -> None:
    assert errors(GAZETTEER + addition + "\n") == [f"sources.yaml:9: {message}"]


def test_dangling_references_in_the_gazetteer() -> None:
    text = """\
        organizations: [{id: kataib-hezbollah, name: KH}]
        leaders: [{id: akram-kaabi, name: Akram, organization: nujaba}]
        groups: {factions: [kataib-hezbollah, asaib]}
        """
    assert errors(text) == [
        "sources.yaml:2: leaders[0].organization: 'nujaba' is not an organization defined under "
        "organizations:",
        "sources.yaml:3: groups.factions[1]: 'asaib' is neither a leader nor an organization",
    ]


def test_duplicate_ids() -> None:
    text = """\
        organizations:
          - {id: kh, name: Kataib Hezbollah}
          - {id: kh, name: Kataib Hezbollah again}
        leaders:
          - {id: kh, name: Someone}
        sources:
          - {id: feed, kind: rss, url: "https://e.example/a"}
          - {id: feed, kind: rss, url: "https://e.example/b"}
        rules:
          - {id: r, match: a}
          - {id: r, match: b}
        notifiers:
          - {id: console, kind: console}
          - {id: console, kind: console}
        """
    assert errors(text) == [
        "sources.yaml:3: organizations[1].id: duplicate id 'kh' (first used at line 2)",
        "sources.yaml:5: leaders[0].id: id 'kh' is also an organization "
        "(organizations[0], line 2); "
        "leader and organization ids must differ, as groups and mentions mix them",
        "sources.yaml:8: sources[1].id: duplicate id 'feed' (first used at line 7)",
        "sources.yaml:11: rules[1].id: duplicate id 'r' (first used at line 10)",
        "sources.yaml:14: notifiers[1].id: duplicate id 'console' (first used at line 13)",
    ]


# --- YAML --------------------------------------------------------------------------------


def test_duplicate_yaml_keys() -> None:
    text = """\
        rules:
          - id: r
            match: truce
            severity: low
            match: war
        """
    assert errors(text) == [
        "sources.yaml:5: rules[0].match: duplicate key 'match' (first written at line 3)"
    ]


def test_duplicate_section() -> None:
    assert errors("rules: []\nsources: []\nrules: []\n") == [
        "sources.yaml:3: rules: duplicate key 'rules' (first written at line 1)"
    ]


def test_yaml_syntax_error_has_its_line() -> None:
    text = """\
        sources:
          - id: feed
            kind: rss
             url: https://example.org/feed.xml
        """
    assert errors(text) == [
        "sources.yaml:4: invalid YAML: mapping values are not allowed here at column 9"
    ]


def test_unclosed_quote_points_at_where_it_opened() -> None:
    assert errors('settings:\n  user_agent: "monitor\n\n') == [
        "sources.yaml:4: invalid YAML: found unexpected end of stream "
        "(while scanning a quoted scalar that starts at line 2) at column 1"
    ]


@pytest.mark.parametrize(("text", "what"), [("- a\n- b\n", "a list"), ("just text\n", "a str")])
def test_top_level_must_be_a_mapping(text: str, what: str) -> None:
    assert errors(text) == [
        "sources.yaml:1: the top level must be a mapping of sections (settings, organizations, "
        f"leaders, groups, sources, stances, rules, notifiers); this file is {what}"
    ]


def test_anchors_and_merge_keys_work() -> None:
    config = load(
        """\
        sources:
          - &base {id: a, kind: rss, url: "https://e.example/a", interval: 2m}
          - {<<: *base, id: b, url: "https://e.example/b"}
        """
    )
    assert [(s.id, s.interval) for s in config.sources] == [
        ("a", timedelta(minutes=2)),
        ("b", timedelta(minutes=2)),
    ]


def test_many_errors_are_reported_together_in_file_order() -> None:
    text = """\
        settings:
          timezone: Mars/Olympus
        sources:
          - id: feed
            kind: rss
            url: https://example.org/feed.xml
            interval: 5x
            leader: nobody
        rules:
          - id: r
            match: truce
            notify: [pager]
        """
    assert errors(text) == [
        "sources.yaml:2: settings.timezone: 'Mars/Olympus' is not a time zone "
        "(use an IANA name such as UTC or Asia/Baghdad)",
        "sources.yaml:7: sources[0].interval: '5x' is not a duration (use e.g. 30s, 5m, 2h, 1d)",
        "sources.yaml:8: sources[0].leader: 'nobody' is not a leader defined under leaders:",
        "sources.yaml:12: rules[0].notify[0]: 'pager' is not a notifier defined under notifiers:",
    ]


def test_config_error_carries_issues() -> None:
    with pytest.raises(ConfigError) as caught:
        load("sources:\n  - {id: feed, kind: rss}\n")
    (issue,) = caught.value.issues
    assert (issue.file, issue.line, issue.path, issue.message) == (
        "sources.yaml",
        2,
        "sources[0]",
        "missing required key 'url'",
    )


# --- files and paths ---------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == f"{path}: no such file (give --config PATH or set $MONITOR_CONFIG)"


def test_file_path_is_kept_and_named_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("rules: [{id: r, match: truce}]\n", encoding="utf-8")
    assert load_config(path, environ={}).path == path
    path.write_text("rules: [{id: r}]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert str(caught.value).startswith(f"{path}:1: rules[0]: a rule needs")


def test_resolve_config_path_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_CONFIG", "/etc/monitor/from-env.yaml")
    assert resolve_config_path(Path("given.yaml")) == Path("given.yaml")
    assert resolve_config_path(None) == Path("/etc/monitor/from-env.yaml")
    monkeypatch.setenv("MONITOR_CONFIG", "")
    assert resolve_config_path(None) == Path("sources.yaml")
    monkeypatch.delenv("MONITOR_CONFIG")
    assert resolve_config_path(None) == Path("sources.yaml")
    assert resolve_config_path(None, {"MONITOR_CONFIG": "x.yaml"}) == Path("x.yaml")


# --- summary -----------------------------------------------------------------------------


def _render(config: Config) -> str:
    console = Console(record=True, width=100)
    console.print(render_summary(config))
    return console.export_text()


def test_summary_of_the_shipped_file_fits_one_screen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MONITOR_DATABASE_URL", raising=False)
    config = load_config(SHIPPED, environ={})
    text = _render(config)
    assert len(text.splitlines()) <= 40
    for name in ("kaabi-telegram", "news-rss", "war-on-us", "faction-left-out", "ops-webhook"):
        assert name in text
    assert "Asia/Baghdad" in text
    assert "islamic-resistance-factions (5)" in text


def test_summary_never_prints_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MONITOR_DATABASE_URL", raising=False)
    config = load(
        """\
        settings:
          database_url: postgresql+psycopg://monitor:db-pass-123@db.example/monitor
        sources:
          - {id: talibawi-x, kind: x, handle: HANDLE, bearer_token: "${TOKEN}"}
        rules:
          - {id: truce-watch, match: truce, notify: [mail, hook, slack]}
        notifiers:
          - {id: mail, kind: email, to: [a@example.org], smtp_host: smtp.example,
             username: u, password: "${SMTP_PASSWORD}"}
          - {id: hook, kind: webhook, url: "https://h.example/hook?token=tok-456", secret: "${S}"}
          - {id: slack, kind: webhook, url: "https://hooks.slack.com/services/T0/B0/slack-789",
             format: slack}
        """,
        TOKEN="bearer-000",
        SMTP_PASSWORD="smtp-pass-321",
        S=SECRET,
    )
    text = _render(config)
    for secret in ("db-pass-123", "bearer-000", "smtp-pass-321", SECRET, "tok-456", "slack-789"):
        assert secret not in text
    assert "postgresql+psycopg://monitor:***@db.example/monitor" in text
    assert "talibawi-x" in text and "truce-watch" in text
    assert "https://h.example/... (json, signed)" in text
    assert "standard output" in text  # the implied console notifier


def test_mask_url() -> None:
    assert mask_url("postgresql://u:p%40ss@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert mask_url("sqlite:///monitor.db") == "sqlite:///monitor.db"


def test_warnings() -> None:
    config = load(
        """\
        sources:
          - {id: feed, kind: rss, url: "https://e.example/f", enabled: false}
        notifiers:
          - {id: hook, kind: webhook, url: "http://hooks.example/x"}
          - {id: local, kind: webhook, url: "http://127.0.0.1:9000/x", secret: "${S}"}
        """,
        S=SECRET,
    )
    assert warnings(config) == [
        "no source is enabled: `monitor run` has nothing to poll",
        "no rule is enabled: statements are stored but nothing alerts",
        "notifier 'hook': no secret, so deliveries are unsigned",
        "notifier 'hook': posts over plain http to hooks.example",
    ]


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, 9):
        previous = f"*a{n - 1}"
        lines.append(f"a{n}: &a{n} [{', '.join([previous] * 10)}]")
    with pytest.raises(ConfigError) as caught:
        load_config_text("\n".join(lines) + "\n", "bomb.yaml")
    [issue] = caught.value.issues
    assert issue.message == "the file expands to more than 200000 values (nested YAML aliases?)"


def test_an_empty_file_is_a_config_with_nothing_in_it() -> None:
    config = load_config_text("", "empty.yaml")
    assert config.sources == [] and config.rules == []
    assert [n.id for n in config.notifiers] == ["console"]


REACTION_BASE = """
leaders: [{id: akram-kaabi, name: Akram Kaabi}, {id: jawad-al-talibawi, name: Jawad}]
stances:
  escalation: {cues: {en: ["declare war"]}}
  de-escalation: {cues: {en: [truce]}}
rules:
"""


def test_reaction_and_shift_conditions() -> None:
    config = load_config_text(
        REACTION_BASE
        + "  - {id: a, reacts_to: akram-kaabi}\n"
        + "  - {id: b, reply_to_leader: {leader: akram-kaabi, window: 2d}}\n"
        + "  - {id: c, stance_shift: {between: [escalation, de-escalation], window: 3d}}\n",
        "sources.yaml",
    )
    a, b, c = config.rules
    assert a.reacts_to is not None and a.reacts_to.leader == "akram-kaabi"
    assert a.reacts_to.window == timedelta(days=1)
    assert b.reply_to_leader is not None and b.reply_to_leader.window == timedelta(days=2)
    assert c.stance_shift is not None and c.stance_shift.between == ["escalation", "de-escalation"]
    assert c.stance_shift.window == timedelta(days=3) and c.stance_shift.min_score == 0.6


def test_reaction_and_shift_references_are_checked() -> None:
    assert errors(
        REACTION_BASE
        + "  - {id: a, reacts_to: akram-kabi}\n"
        + "  - {id: b, reply_to_leader: {leader: nobody}}\n"
        + "  - {id: c, stance_shift: {between: [escalation, calm]}}\n"
    ) == [
        "sources.yaml:7: rules[0].reacts_to: 'akram-kabi' is not a leader defined under "
        "leaders: (did you mean 'akram-kaabi'?)",
        "sources.yaml:8: rules[1].reply_to_leader.leader: 'nobody' is not a leader defined "
        "under leaders:",
        "sources.yaml:9: rules[2].stance_shift.between[1]: 'calm' is not a stance defined "
        "under stances:",
    ]


# --- the YAML parsers ---------------------------------------------------------------------

# Anchors and merges, YAML 1.1 words that must stay text, numbers, dates, nulls,
# quoting styles, block scalars, Arabic: what libyaml and PyYAML must read alike.
YAML_SAMPLE = """\
defaults: &defaults {interval: 5m, enabled: true, language: ar}
sources:
  - <<: *defaults
    id: feed
    kind: rss
    url: 'https://example.org/feed.xml'
  - {<<: *defaults, id: "chan", kind: telegram, channel: x, backfill: 0, since: 2026-11-01}
stances:
  s:
    cues: {no: [fred, yes, on, off], en: [peace, ~, null, 1.5, 0x1F]}
note: |
  كتائب حزب الله
  second line
folded: >
  one
  two
"""


def _parsed_without_libyaml(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[YamlDocument, list[ConfigIssue]]:
    with monkeypatch.context() as patch:
        patch.setattr(yaml, "__with_libyaml__", False)
        return read_yaml(text, "sources.yaml")


@pytest.mark.parametrize("text", [YAML_SAMPLE, SHIPPED.read_text(encoding="utf-8")])
def test_libyaml_reads_what_the_python_parser_reads(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, fast_issues = read_yaml(text, "sources.yaml")
    slow, slow_issues = _parsed_without_libyaml(text, monkeypatch)
    assert fast.data == slow.data and fast.lines == slow.lines
    assert fast_issues == slow_issues


def test_yaml_1_1_words_and_types_with_either_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    for document, _ in (
        read_yaml(YAML_SAMPLE, "sources.yaml"),
        _parsed_without_libyaml(YAML_SAMPLE, monkeypatch),
    ):
        cues = document.data["stances"]["s"]["cues"]
        assert cues == {"no": ["fred", "yes", "on", "off"], "en": ["peace", None, None, 1.5, 31]}
        assert document.data["sources"][0]["enabled"] is True
        assert document.data["sources"][1]["since"] == date(2026, 11, 1)
        assert document.line_of(("sources", 1, "backfill")) == 7


@pytest.mark.skipif(not yaml.__with_libyaml__, reason="PyYAML built without libyaml")
def test_libyaml_parses_and_pyyaml_words_the_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    loaders: list[type] = []
    compose = yaml.compose

    def spy(stream: str, Loader: type) -> yaml.Node | None:
        loaders.append(Loader)
        return compose(stream, Loader=Loader)

    monkeypatch.setattr(yaml, "compose", spy)
    read_yaml(YAML_SAMPLE, "sources.yaml")
    assert [loader.__name__ for loader in loaders] == ["_FastLoader"]
    loaders.clear()
    _, issues = read_yaml("a: [1\n", "sources.yaml")
    assert [loader.__name__ for loader in loaders] == ["_FastLoader", "_Loader"]
    # libyaml would say "did not find expected ',' or ']'".
    assert [str(issue) for issue in issues] == [
        "sources.yaml:2: invalid YAML: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence that starts at line 1) at column 1"
    ]


def test_text_libyaml_cannot_take_gets_the_python_parsers_message() -> None:
    # A lone surrogate: libyaml cannot even be given it (UTF-8), PyYAML names it.
    _, issues = read_yaml("a: \udc80\n", "sources.yaml")
    assert len(issues) == 1 and "invalid YAML" in issues[0].message
