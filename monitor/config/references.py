"""The checks that span sections: unique ids, references that resolve, queries that parse.

They run on the plain data (after interpolation), not on the validated
models, so they report alongside schema errors in the same run: a user sees
every problem of the file at once. Values of the wrong shape are skipped here;
the schema reports those.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any

from monitor.config.messages import Problem
from monitor.config.yamldoc import KeyPath, YamlDocument, format_path
from monitor.errors import QuerySyntaxError

# Where each kind of reference is written: a pattern of keys, "*" for any index or key.
_REFERENCES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("sources", "*", "leader"), "leader"),
    (("sources", "*", "organization"), "organization"),
    (("leaders", "*", "organization"), "organization"),
    (("groups", "*", "*"), "member"),
    (("rules", "*", "leaders", "*"), "leader"),
    (("rules", "*", "organizations", "*"), "organization"),
    (("rules", "*", "sources", "*"), "source"),
    (("rules", "*", "notify", "*"), "notifier"),
    (("rules", "*", "stance", "label"), "stance"),
    (("rules", "*", "mentions", "group"), "group"),
    (("rules", "*", "mentions", "omits"), "member"),
    (("rules", "*", "mentions", "any", "*"), "member"),
    (("rules", "*", "mentions", "all", "*"), "member"),
    (("rules", "*", "stance_shift", "between", "*"), "stance"),
    (("rules", "*", "reply_to_leader"), "leader"),
    (("rules", "*", "reply_to_leader", "leader"), "leader"),
    (("rules", "*", "reacts_to"), "leader"),
    (("rules", "*", "reacts_to", "leader"), "leader"),
)
_UNDEFINED = {
    "leader": "is not a leader defined under leaders:",
    "organization": "is not an organization defined under organizations:",
    "source": "is not a source defined under sources:",
    "notifier": "is not a notifier defined under notifiers:",
    "stance": "is not a stance defined under stances:",
    "group": "is not a group defined under groups:",
    "member": "is neither a leader nor an organization",
}
_QUERIES = (
    ("rules", "*", "match"),
    ("stances", "*", "target_terms", "*", "*"),
    ("stances", "*", "cues", "*", "*"),
    ("stances", "*", "cues", "*", "*", "query"),
    ("stances", "*", "targets", "*", "*", "*"),
    ("stances", "*", "negators", "*", "*"),
)
# The list sections whose items carry an `id`, and what one item is called.
_ID_LISTS = {
    "organizations": "organization",
    "leaders": "leader",
    "sources": "source",
    "rules": "rule",
    "notifiers": "notifier",
}
_NAME_MAPS = {"stances": "stance", "groups": "group"}  # sections keyed by name


@dataclass(frozen=True)
class _Known:
    """The names a reference of each kind may use."""

    names: dict[str, set[str]]

    @classmethod
    def of(cls, data: Any) -> _Known:
        names = {kind: set(_ids(data, section)) for section, kind in _ID_LISTS.items()}
        names["notifier"].add("console")  # implied when not defined
        names["member"] = names["leader"] | names["organization"]
        for section, kind in _NAME_MAPS.items():
            mapping = data.get(section) if isinstance(data, dict) else None
            names[kind] = set(mapping) if isinstance(mapping, dict) else set()
        return cls(names)


def check_references(document: YamlDocument) -> list[Problem]:
    data = document.data
    return [
        *_duplicate_ids(document),
        *_leader_organization_clashes(document),
        *_dangling(data, _Known.of(data)),
        *_bad_queries(data),
        *_unknown_targets(data),
    ]


def _stance_target_keys(stance: Any) -> set[str]:
    """The target keys a stance offers: its `targets`, "target" for `target_terms`,
    else the built-in us and israel."""
    if isinstance(stance, dict) and isinstance(stance.get("targets"), dict):
        return set(stance["targets"])
    if isinstance(stance, dict) and stance.get("target_terms"):
        return {"target"}
    from monitor.rules.stance_defaults import TARGETS  # the rules package imports this one

    return set(TARGETS)


def _unknown_targets(data: Any) -> Iterator[Problem]:
    stances = data.get("stances") if isinstance(data, dict) else None
    if not isinstance(stances, dict):
        return
    for path, target in _find(data, ("rules", "*", "stance", "target")):
        label_path, _ = path[:-1], None
        condition = _find_one(data, label_path)
        label = condition.get("label") if isinstance(condition, dict) else None
        if not isinstance(target, str) or label not in stances:
            continue  # a wrong label is reported as such
        keys = _stance_target_keys(stances[label])
        if target not in keys:
            yield Problem(
                path,
                f"{target!r} is not a target of stance {label!r} (its targets: "
                f"{', '.join(sorted(keys))})",
            )


def _dangling(data: Any, known: _Known) -> Iterator[Problem]:
    for pattern, kind in _REFERENCES:
        for path, value in _find(data, pattern):
            if isinstance(value, str) and value not in known.names[kind]:
                message = f"{value!r} {_UNDEFINED[kind]}"
                close = get_close_matches(value, sorted(known.names[kind]), n=1)
                yield Problem(path, message + (f" (did you mean {close[0]!r}?)" if close else ""))


def _duplicate_ids(document: YamlDocument) -> Iterator[Problem]:
    for section in _ID_LISTS:
        first: dict[str, KeyPath] = {}
        for path, value in _find(document.data, (section, "*", "id")):
            if not isinstance(value, str):
                continue
            if value in first:
                line = document.line_of(first[value])
                yield Problem(path, f"duplicate id {value!r} (first used at line {line})")
            else:
                first[value] = path


def _leader_organization_clashes(document: YamlDocument) -> Iterator[Problem]:
    # Groups and mention conditions mix leader and organization ids.
    organizations: dict[str, KeyPath] = {}
    for path, value in _find(document.data, ("organizations", "*", "id")):
        if isinstance(value, str):
            organizations.setdefault(value, path[:-1])
    for path, value in _find(document.data, ("leaders", "*", "id")):
        if isinstance(value, str) and value in organizations:
            where = format_path(organizations[value])
            line = document.line_of(organizations[value])
            yield Problem(
                path,
                f"id {value!r} is also an organization ({where}, line {line}); leader and "
                "organization ids must differ, as groups and mentions mix them",
            )


def _bad_queries(data: Any) -> Iterator[Problem]:
    # Imported here: the rules package imports this one, for the models.
    from monitor.rules.query import parse_query

    for pattern in _QUERIES:
        for path, value in _find(data, pattern):
            if not isinstance(value, str) or not value.strip():
                continue  # the schema reports what is not a non-empty string
            try:
                parse_query(value)
            except QuerySyntaxError as error:
                yield Problem(path, f"{error.message} at column {error.column}")


def _find_one(data: Any, path: KeyPath) -> Any:
    for key in path:
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _ids(data: Any, section: str) -> Iterator[str]:
    for _path, value in _find(data, (section, "*", "id")):
        if isinstance(value, str):
            yield value


def _find(data: Any, pattern: tuple[str, ...], at: KeyPath = ()) -> Iterator[tuple[KeyPath, Any]]:
    """Every (path, value) in the data matching the pattern; "*" is any list index or key."""
    if not pattern:
        yield at, data
        return
    head, rest = pattern[0], pattern[1:]
    if head == "*" and isinstance(data, list):
        for index, item in enumerate(data):
            yield from _find(item, rest, (*at, index))
    elif head == "*" and isinstance(data, dict):
        for key, item in data.items():
            yield from _find(item, rest, (*at, key))
    elif isinstance(data, dict) and head in data:
        yield from _find(data[head], rest, (*at, head))
