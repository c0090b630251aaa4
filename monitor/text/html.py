"""HTML fragments (feed summaries, post bodies) to plain text with line breaks kept.

Parsed with lxml's HTML parser (libxml2, the parser BeautifulSoup's "lxml"
builder drives, so the text is the same) and walked once: a fragment takes
tens of microseconds where a BeautifulSoup tree took about a millisecond, and
feeds turn hundreds of them to text per poll.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

_BLOCK_TAGS = frozenset(
    ("p", "div", "li", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "pre")
)
_INVISIBLE_TAGS = frozenset(("script", "style", "template"))
_PRESERVE_TAGS = frozenset(("pre", "textarea"))
_ASCII_SPACES = " \n\t\x0c\r"
# libxml2 stops building the tree at this nesting depth (256) and drops the rest.
_MAX_DEPTH = 250
# Runs of spaces, or one space that is not " " (so that most word gaps do not match).
_SPACES = re.compile(r"[\t\r\f\v\u00a0][ \t\r\f\v\u00a0]*| [ \t\r\f\v\u00a0]+")
# C0 and C1 control characters other than tab and newline: a feed can carry
# terminal escape sequences, which must never reach an analyst's terminal.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_BLANK_LINES = re.compile(r"\n{3,}")
_NAMES: dict[Any, str] = {}  # tag -> local name
_local = threading.local()  # lxml parsers are not to be shared between threads


def html_to_text(fragment: str) -> str:
    """Visible text of an HTML fragment; <br> and block ends become line breaks;
    script, style and template are dropped; entities decoded; controls removed."""
    if "<" not in fragment and "&" not in fragment:
        return normalize_whitespace(fragment)
    try:
        root = etree.fromstring(fragment, _parser())
    except ValueError:  # a str that carries an encoding declaration: lxml refuses it
        root = etree.fromstring(fragment.encode("utf-8", "replace"), _parser("utf-8"))
    if root is None:  # nothing but whitespace, comments or processing instructions
        return ""
    text = element_text(root)
    if text is None:  # libxml2 cut the tree at its depth limit: let BeautifulSoup read it
        return _soup_text(fragment)
    return text


def element_text(element: Any) -> str | None:
    """The text of a parsed (X)HTML element under the rules of ``html_to_text``
    (elements matched by local name, so namespaced XHTML reads the same); None
    when the tree reaches libxml2's nesting limit, where it may have been cut."""
    pieces: list[str] = []
    add = pieces.append
    preserving = depth = 0  # open <pre>/<textarea>; elements open
    walk = etree.iterwalk(element, events=("start", "end", "comment", "pi"))
    for event, node in walk:
        name = _NAMES.get(node.tag) or _name(node.tag)
        if event == "start":
            depth += 1
            if depth >= _MAX_DEPTH:
                return None
            if name in _INVISIBLE_TAGS:
                walk.skip_subtree()
            elif name == "br":
                add("\n")
            else:
                if name in _PRESERVE_TAGS:
                    preserving += 1
                text = node.text
                if text:
                    add(text if preserving or text.strip(_ASCII_SPACES) else _collapse(text))
            continue
        if event == "end":
            depth -= 1
            if name in _BLOCK_TAGS:
                add("\n")
            if name in _PRESERVE_TAGS:
                preserving -= 1
        # After an element's end, a comment or a processing instruction: its tail.
        tail = node.tail
        if tail and node is not element:
            add(tail if preserving or tail.strip(_ASCII_SPACES) else _collapse(tail))
    return normalize_whitespace("".join(pieces))


def _collapse(text: str) -> str:
    # As BeautifulSoup does: a string of ASCII whitespace alone becomes one
    # newline (when it holds one) or one space.
    return "\n" if "\n" in text else " "


def _name(tag: Any) -> str:
    """An element's local name, lowercased; "" for comments, PIs and entities."""
    name = tag.rpartition("}")[2].lower() if isinstance(tag, str) else ""
    if len(_NAMES) < 10_000:
        _NAMES[tag] = name
    return name


def _parser(encoding: str | None = None) -> Any:
    """This thread's HTML parser (for bytes in ``encoding``, if given)."""
    parsers: dict[str | None, Any] = _local.__dict__.setdefault("parsers", {})
    parser = parsers.get(encoding)
    if parser is None:
        parser = parsers[encoding] = etree.HTMLParser(no_network=True, encoding=encoding)
    return parser


def _soup_text(fragment: str) -> str:
    # Imported for the rare tree this deep: BeautifulSoup (with soupsieve) is about
    # 50 ms of every start-up of `run` otherwise.
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(fragment, "lxml")
    for invisible in soup(list(_INVISIBLE_TAGS)):
        invisible.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for block in soup.find_all(list(_BLOCK_TAGS)):
        block.append("\n")
    return normalize_whitespace(soup.get_text())


def normalize_whitespace(text: str) -> str:
    """Runs of spaces become one, lines lose the spaces at their ends, three or
    more line breaks become two, control characters go."""
    text = _SPACES.sub(" ", _CONTROLS.sub("", text.replace("\r\n", "\n")))
    if "\n" in text:
        text = "\n".join([line.strip() for line in text.split("\n")])
        if "\n\n\n" in text:
            text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()
