"""YAML text to plain Python data, remembering the line of every key and list item.

PyYAML composes nodes (which carry their position) and we build the data from
them ourselves, so each value's key path maps to a line, and a key written
twice in one mapping is an error instead of silently keeping the last one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from monitor.errors import ConfigIssue

KeyPath = tuple[str | int, ...]

# Aliases are expanded where they are used, so nested anchors can blow a small
# file up exponentially ("billion laughs"); no real config comes near this.
MAX_VALUES = 200_000

_BOOL_TAG = "tag:yaml.org,2002:bool"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"


# YAML 1.2 booleans: only true/false. YAML 1.1 also reads yes/no/on/off as
# booleans, which turns the language code `no` (Norwegian) into False.
_YAML12_RESOLVERS = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_YAML12_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


class _Loader(yaml.SafeLoader):
    """PyYAML's pure-Python parser, with YAML 1.2 booleans: the reference, whose
    error messages (and line numbers) are what a bad config is told."""


class _FastLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's parser, with YAML 1.2 booleans: about 10x faster than _Loader on a
    large config (a 2,000-source file: about 0.6 s down to 0.06 s). Its nodes carry the
    same start marks (line, column), but its error messages are worded differently,
    so a text it rejects is parsed again with _Loader for the message."""


for _loader in (_Loader, _FastLoader):
    _loader.yaml_implicit_resolvers = {
        first: list(resolvers) for first, resolvers in _YAML12_RESOLVERS.items()
    }
    _loader.add_implicit_resolver(_BOOL_TAG, _YAML12_BOOL, list("tTfF"))


@dataclass
class YamlDocument:
    """The data of a YAML file and the 1-based line of each key path in it."""

    data: Any
    lines: dict[KeyPath, int]

    def line_of(self, path: KeyPath) -> int | None:
        """The line of a path, or of its nearest ancestor present in the file."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None


class _TooLarge(Exception):
    def __init__(self, node: yaml.Node) -> None:
        self.node = node


@dataclass
class _Builder:
    filename: str
    constructor: SafeConstructor = field(default_factory=SafeConstructor)
    lines: dict[KeyPath, int] = field(default_factory=dict)
    issues: list[ConfigIssue] = field(default_factory=list)
    _open: set[int] = field(default_factory=set)
    _flattened: set[int] = field(default_factory=set)
    _built: int = 0

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        self._built += 1
        if self._built > MAX_VALUES:
            raise _TooLarge(node)
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _STR_TAG:
                return node.value  # what the constructor would return, without its dispatch
            return self.constructor.construct_object(node)
        with self._entered(node, path) as ok:
            if not ok:
                return None
            if isinstance(node, yaml.SequenceNode):
                return [self._item(item, (*path, index)) for index, item in enumerate(node.value)]
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
        return None

    @contextmanager
    def _entered(self, node: yaml.Node, path: KeyPath) -> Iterator[bool]:
        # An alias may point at a node that contains it; building that would never end.
        if id(node) in self._open:
            self._issue(node, path, "a YAML alias refers to a node that contains it")
            yield False
            return
        self._open.add(id(node))
        try:
            yield True
        finally:
            self._open.discard(id(node))

    def _item(self, node: yaml.Node, path: KeyPath) -> Any:
        self.lines.setdefault(path, node.start_mark.line + 1)
        return self.build(node, path)

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        # An aliased mapping is built once per use but checked and merged only once:
        # after flattening, merged keys and the keys overriding them look like duplicates.
        if id(node) not in self._flattened:
            self._flattened.add(id(node))
            self._reject_duplicates(node, path)
            # `<<: *anchor` merges: explicit keys come after the merged ones, so they win.
            self.constructor.flatten_mapping(node)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self._issue(key_node, path, "a key must be a plain text, not a list or mapping")
                continue
            # Keys stay as written: `no:` is the language code, not False; `1:` is "1".
            key = str(key_node.value)
            self.lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = self.build(value_node, (*path, key))
        return result

    def _reject_duplicates(self, node: yaml.MappingNode, path: KeyPath) -> None:
        first_line: dict[str, int] = {}
        for key_node, _value in node.value:
            if (
                not isinstance(key_node, yaml.ScalarNode)
                or key_node.tag == "tag:yaml.org,2002:merge"
            ):
                continue
            key, line = str(key_node.value), key_node.start_mark.line + 1
            if key in first_line:
                self._issue(
                    key_node,
                    (*path, key),
                    f"duplicate key '{key}' (first written at line {first_line[key]})",
                )
            else:
                first_line[key] = line

    def _issue(self, node: yaml.Node, path: KeyPath, message: str) -> None:
        line = node.start_mark.line + 1
        self.issues.append(ConfigIssue(self.filename, line, format_path(path), message))


def read_yaml(text: str, filename: str) -> tuple[YamlDocument, list[ConfigIssue]]:
    """Parse YAML text; syntax errors and duplicate keys come back as issues."""
    try:
        root = _compose(text)
    except yaml.MarkedYAMLError as error:
        return YamlDocument(None, {}), [_syntax_issue(error, filename)]
    except yaml.YAMLError as error:
        return YamlDocument(None, {}), [ConfigIssue(filename, None, "", f"invalid YAML: {error}")]
    if root is None:
        return YamlDocument(None, {}), []
    builder = _Builder(filename)
    try:
        data = builder.build(root, ())
    except yaml.MarkedYAMLError as error:  # an unknown !tag, a merge of a non-mapping
        return YamlDocument(None, {}), [_syntax_issue(error, filename)]
    except _TooLarge as error:
        message = f"the file expands to more than {MAX_VALUES} values (nested YAML aliases?)"
        line = error.node.start_mark.line + 1
        return YamlDocument(None, {}), [ConfigIssue(filename, line, "", message)]
    builder.lines[()] = root.start_mark.line + 1
    return YamlDocument(data, builder.lines), builder.issues


def _compose(text: str) -> yaml.Node | None:
    """The node tree of the text: libyaml's when it is there and accepts the text,
    else the pure-Python parser's (and its error, worded as the messages expect)."""
    if yaml.__with_libyaml__:
        try:
            return yaml.compose(text, Loader=_FastLoader)
        except (yaml.YAMLError, UnicodeError):
            # A lone surrogate cannot be encoded for libyaml: UnicodeEncodeError.
            pass
    return yaml.compose(text, Loader=_Loader)


def _syntax_issue(error: yaml.MarkedYAMLError, filename: str) -> ConfigIssue:
    mark, opened = error.problem_mark, error.context_mark
    context = f" ({error.context})" if error.context else ""
    if context and opened is not None and (mark is None or opened.line != mark.line):
        # e.g. an unclosed quote: the error is found at the end, the cause is where it began
        context = f" ({error.context} that starts at line {opened.line + 1})"
    column = f" at column {mark.column + 1}" if mark is not None else ""
    line = mark.line + 1 if mark is not None else None
    problem = error.problem or "syntax error"
    return ConfigIssue(filename, line, "", f"invalid YAML: {problem}{context}{column}")


def format_path(path: KeyPath) -> str:
    """``('sources', 2, 'selectors', 'item')`` -> ``sources[2].selectors.item``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text
