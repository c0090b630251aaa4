"""HTML fragments (feed summaries, post bodies) to plain text with line breaks kept."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup

_BLOCK_TAGS = ("p", "div", "li", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "pre")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
# C0 and C1 control characters other than tab and newline: a feed can carry
# terminal escape sequences, which must never reach an analyst's terminal.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_BLANK_LINES = re.compile(r"\n{3,}")


def html_to_text(fragment: str) -> str:
    """Visible text of an HTML fragment; <br> and block ends become line breaks."""
    if "<" not in fragment and "&" not in fragment:
        return normalize_whitespace(fragment)
    soup = BeautifulSoup(fragment, "lxml")
    for invisible in soup(["script", "style", "template"]):
        invisible.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for block in soup.find_all(_BLOCK_TAGS):
        block.append("\n")
    return normalize_whitespace(soup.get_text())


def normalize_whitespace(text: str) -> str:
    text = _CONTROLS.sub("", text.replace("\r\n", "\n"))
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
