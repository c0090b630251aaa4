"""Telegram message markup to plain text, and the small readers the parser shares.

A message's text keeps its line breaks (``<br>``, and block elements such as
``<blockquote>`` and ``<pre>`` on lines of their own) and its links: a link keeps
its visible text, followed by its address in parentheses when the address is
not what is shown already (``profile playlist (https://t.me/telegram/402)``).
Mentions (``@name``), hashtags and cashtags, and addresses shown in full stay as
shown. Spaces are collapsed, lines trimmed, at most one blank line is kept in
a row, and control characters are dropped (a post must never carry terminal
escapes).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urljoin

# C0/C1 controls other than tab and newline.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_BACKGROUND = re.compile(r"background-image:\s*url\(\s*['\"]?([^'\")]+)")
_COUNT = re.compile(r"^([\d.,]+)\s*([KMB]?)$", re.IGNORECASE)
_MULTIPLIERS = {"": 1, "K": 1_000, "M": 1_000_000, "B": 1_000_000_000}
_BLOCK_TAGS = frozenset(
    {"div", "p", "blockquote", "pre", "li", "ul", "ol", "tr", "table", "h1", "h2", "h3", "h4"}
)
INVISIBLE_TAGS = frozenset({"script", "style", "template", "svg"})
T_ME = "https://t.me/"


def render_text(root: Any, links: list[str] | None = None) -> str:
    """Visible text of a message's text element, line breaks and links kept."""
    out: list[str] = []
    found = links if links is not None else []
    _render_inside(root, out, found, pre=root.tag == "pre")
    return tidy("".join(out))


def tidy(text: str) -> str:
    """Spaces collapsed and trimmed on each line, at most one blank line in a row,
    no control characters (what monitor.text.html.normalize_whitespace does, faster)."""
    if _CONTROLS.search(text):
        text = _CONTROLS.sub("", text)
    lines: list[str] = []
    for line in text.split("\n"):
        line = " ".join(line.split())
        if line or (lines and lines[-1]):
            lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def _render_inside(element: Any, out: list[str], links: list[str], pre: bool) -> None:
    if element.text:
        out.append(element.text if pre else element.text.replace("\n", " "))
    for child in element:
        _render(child, out, links, pre)


def _render(element: Any, out: list[str], links: list[str], pre: bool) -> None:
    tag = element.tag
    if not isinstance(tag, str) or tag in INVISIBLE_TAGS:
        pass
    elif tag == "br":
        out.append("\n")
    elif tag == "a":
        if len(element):
            inner: list[str] = []
            _render_inside(element, inner, links, pre)
            visible = "".join(inner).strip()
        else:
            visible = (element.text or "").strip()
        href = element.get("href") or ""
        if href and not href.startswith(("?", "javascript:")):
            href = absolute(href)
            if href not in links:
                links.append(href)
        out.append(link_text(visible, href))
    elif tag == "img":
        out.append(element.get("alt") or "")
    else:
        block = tag in _BLOCK_TAGS
        if block:
            _line_start(out)
        _render_inside(element, out, links, pre or tag == "pre")
        if block:
            _line_start(out)
    if element.tail:
        out.append(element.tail if pre else element.tail.replace("\n", " "))


def _line_start(out: list[str]) -> None:
    """A block starts and ends on a line of its own."""
    for piece in reversed(out):
        if piece:
            if not piece.endswith("\n"):
                out.append("\n")
            return


def link_text(visible: str, href: str) -> str:
    """A link as text: what is shown, plus the address when it says something more."""
    if not href or href.startswith(("?", "javascript:")):
        return visible  # hashtags and searches link to the channel's own search
    if not visible:
        return absolute(href)
    if visible[0] in "@#$" or _same_address(visible, href):
        return visible
    return f"{visible} ({absolute(href)})"


def _bare_address(value: str) -> str:
    value = value.strip().lower()
    scheme, colon, rest = value.partition(":")
    if colon and scheme.isalpha():
        value = rest.removeprefix("//")
    return value.removeprefix("www.").rstrip("/")


def _same_address(visible: str, href: str) -> bool:
    shown, target = _bare_address(visible), _bare_address(href)
    if shown.endswith(("…", "...")):
        return target.startswith(shown.rstrip(".…"))
    return shown == target


# --- small readers ---


def parse_count(value: str) -> int | None:
    """'2.38M' -> 2380000, '1.2K' -> 1200, '217' -> 217; None when unreadable."""
    match = _COUNT.match(value.strip())
    if not match:
        return None
    try:
        number = Decimal(match.group(1).replace(",", ""))
    except InvalidOperation:
        return None
    return int(number * _MULTIPLIERS[match.group(2).upper()])


def absolute(href: str | None) -> str:
    if not href:
        return ""
    href = href.strip()
    if href.startswith("//"):
        return "https:" + href
    if href.startswith(("/", "?")):
        return urljoin(T_ME, href)
    return href


def background(element: Any) -> str:
    match = _BACKGROUND.search(element.get("style") or "")
    return absolute(match.group(1)) if match else ""


def classes(element: Any) -> list[str]:
    classes = element.get("class") if isinstance(element.tag, str) else None
    return classes.split() if classes else []


def class_texts(element: Any) -> dict[str, str]:
    """Each class used inside ``element`` -> the text of the first element that has it."""
    texts: dict[str, str] = {}
    for node in element.iter():
        for name in classes(node):
            if name not in texts:
                texts[name] = squash(all_text(node))
    return texts


def all_text(element: Any) -> str:
    return "".join(element.itertext())


def squash(value: str) -> str:
    return " ".join(value.split())
