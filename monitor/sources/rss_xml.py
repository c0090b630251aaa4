"""XML plumbing for the rss kind's fast reader, in feedparser's terms.

- ``document``: bytes to an lxml root, or None when lxml will not read the
  document as it stands (feedparser then does). Encoding: a byte-order mark,
  else the charset of the Content-Type, else the XML declaration, else UTF-8;
  when the bytes do not decode in that one, the next that does, ending with
  Latin-1. Whitespace before the XML declaration is dropped. A DOCTYPE sends
  the document to feedparser, so no entity is ever expanded here; the parser
  resolves none anyway, loads no DTD and touches no network.
- ``tag_name``, ``attributes``: elements and attributes named as feedparser's
  handlers know them ("dc:creator", "title"; lowercased keys).
- ``resolve``: feedparser's resolution of a URI against xml:base and the
  feed's own address.
- ``fix``: feedparser's repairs of text (UTF-8 read as Latin-1, C1 controls).
- ``markup``, ``leaf_text``, ``date``...: the value of a text element, or
  ``Unsupported`` where feedparser's loose rules would apply.
"""

from __future__ import annotations

import codecs
import contextlib
import re
import threading
import time
from typing import Any

from feedparser.datetimes import _parse_date
from feedparser.html import _cp1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin, make_safe_absolute_uri
from lxml import etree  # type: ignore[import-untyped]

from monitor.sources.rss_entry import Markup, Xhtml

# feedparser's namespace table: the URI of each module to the prefix its
# handlers know it by; RSS and Atom namespaces map to "" (core elements).
_KNOWN_NAMESPACES: dict[str, str] = {
    uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()
}
_XML_NS = "{http://www.w3.org/XML/1998/namespace}"
_BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF8, "utf-8"),
)
_DECLARED = re.compile(rb"<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']")
_DECLARATION = re.compile(r"^<\?xml[^>]*>")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([-\w.:]+)", re.IGNORECASE)
_ROOT_START = re.compile(rb"<[A-Za-z_]")
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_C1 = re.compile("[\x80-\x9f]")
# Absolute http(s) URLs that urljoin returns as they are: lowercase scheme, a host,
# no empty "?" or "#", no ";" (path parameters), no whitespace.
_PLAIN_URL = re.compile(r"https?://[^/?#;\[\]\s]+(?:/[^?#;\s]*)?(?:\?[^#\s]+)?(?:#\S+)?")
_XHTML = "application/xhtml+xml"
_TYPE_NAMES = {"text": "text/plain", "plain": "text/plain", "html": "text/html", "xhtml": _XHTML}
_local = threading.local()  # lxml parsers are not to be shared between threads
_names: dict[str, str] = {}  # Clark tag -> feedparser's name for it


class Unsupported(Exception):
    """A shape the fast reader does not follow feedparser on: feedparser reads the feed."""


def document(body: bytes, content_type: str | None) -> Any:
    """The root element, or None when lxml will not read the document as it stands."""
    bom = next((name for mark, name in _BOMS if body.startswith(mark)), None)
    if bom is not None and bom != "utf-8":
        return _tree(body)  # UTF-16/32 with a mark: libxml2 reads the mark
    data = body[3:] if bom else body
    if data[:1].isspace():
        data = data.lstrip()  # whitespace before <?xml, which XML forbids
    root_start = _ROOT_START.search(data)
    if _DOCTYPE.search(data, 0, root_start.start() if root_start else len(data)):
        return None  # feedparser strips DOCTYPEs and their entities its own way
    declared = _DECLARED.match(data)
    native = _codec(declared.group(1).decode("ascii") if declared else "utf-8")
    charset = _CHARSET.search(content_type or "")
    candidates = [_codec(name) for name in (bom, charset and charset.group(1), native)]
    candidates += ["utf-8", "iso8859-1"]
    encodings = list(dict.fromkeys(name for name in candidates if name))
    if encodings[0] == native:
        root = _tree(data)
        if root is not None or _decodes(data, native):
            return root  # None: the bytes decode, so the XML itself is broken
        encodings.remove(native)
    for encoding in encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return _tree(_DECLARATION.sub("", text, count=1))
    return None


def _tree(data: bytes | str) -> Any:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
        )
    try:
        root = etree.fromstring(data, parser)
    except (etree.XMLSyntaxError, ValueError, LookupError):
        return None
    if root.getroottree().docinfo.doctype:  # one the byte check could not see (UTF-16)
        return None
    return root


def _codec(name: str | None) -> str | None:
    """Python's name for an encoding (None if unknown); gb2312 read as gb18030."""
    if not name:
        return None
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    return "gb18030" if codec == "gb2312" else codec


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def tag_name(element: Any) -> str:
    """feedparser's name for an element: its module's prefix and the lowercased
    local name ("dc:creator"), no prefix for RSS and Atom elements ("title")."""
    tag = element.tag
    found = _names.get(tag)
    if found is not None:
        return found
    if not isinstance(tag, str):
        return ""
    uri, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    lower = uri.lower()
    if "backend.userland.com/rss" in lower:
        lower = "http://backend.userland.com/rss"
    prefix = _KNOWN_NAMESPACES.get(lower)
    if prefix is None:  # an unknown module: feedparser goes by the document's prefix
        given = element.prefix
        return f"{given}:{local.lower()}" if given else local.lower()
    found = f"{prefix}:{local.lower()}" if prefix else local.lower()
    if len(_names) < 10_000:
        _names[tag] = found
    return found


def attributes(element: Any) -> dict[str, str]:
    """Attributes as feedparser keys them: lowercased; rel and type values too."""
    found: dict[str, str] = {}
    for key, value in element.items():
        if key.startswith("{"):
            uri, _, local = key[1:].partition("}")
            prefix = _KNOWN_NAMESPACES.get(uri.lower(), "")
            key = f"{prefix}:{local}" if prefix else local
        key = key.lower()
        found[key] = value.lower() if key in ("rel", "type") else value
    return found


def language_attribute(root: Any) -> str | None:
    value = root.get(_XML_NS + "lang", root.get("lang"))
    return value.replace("_", "-") if value else None


def safe_base(url: str) -> str:
    """The feed's own address as feedparser starts from it (an unsafe scheme dropped)."""
    return str(make_safe_absolute_uri(url, url) or url)


def resolve(element: Any, base: str, uri: str) -> str:
    """feedparser's resolution of ``uri`` at ``element``; an absolute http(s) URL
    that Python's urljoin would give back unchanged is taken as it is."""
    if uri.isascii() and _PLAIN_URL.fullmatch(uri):
        return uri
    return str(_urljoin(_base_of(element, base), uri))


def _base_of(element: Any, base: str) -> str:
    """The base URI in force at ``element`` (xml:base on it and its ancestors)."""
    bases = []
    node = element
    while node is not None:
        value = node.get(_XML_NS + "base") or node.get("base")
        if value:
            bases.append(value)
        node = node.getparent()
    for value in reversed(bases):
        base = (make_safe_absolute_uri(base, value) or base) if base else _urljoin(base, value)
    return base


def fix(text: str) -> str:
    """feedparser's repairs: UTF-8 that was read as Latin-1 is read again, and C1
    controls (windows-1252 read as Latin-1) become the characters meant."""
    if text.isascii():
        return text
    with contextlib.suppress(UnicodeError):
        text = text.encode("iso-8859-1").decode("utf-8")
    return text.translate(_cp1252) if _C1.search(text) else text


# --- text elements ---------------------------------------------------------------


def markup(element: Any, default: str) -> Markup:
    """A text element's value: its text, or the element itself when it is XHTML."""
    if content_type(element, default) == _XHTML:
        return Xhtml(element)
    if not len(element):
        return fix(str(element.text or "").strip())
    return fix(_inline_html(element).strip())


def _inline_html(element: Any) -> str:
    """Markup not escaped inside an HTML or text element, as feedparser reads it: the
    text before the first element as it stands (HTML), then the elements serialized.
    A leading <div> (whose tags it drops) and prefixed elements are left to it."""
    if _local_name(element[0].tag) == "div" or any(
        not isinstance(node.tag, str) or node.tag.startswith("{")
        for node in element.iterdescendants()
    ):
        raise Unsupported
    children = (etree.tostring(child, method="html", encoding=str, with_tail=True)
                for child in element)  # fmt: skip
    return str(element.text or "") + "".join(children)


def _local_name(tag: Any) -> str:
    return tag.rpartition("}")[2].lower() if isinstance(tag, str) else ""


def content_type(element: Any, default: str) -> str:
    attrs = attributes(element)
    kind = map_type(attrs.get("type", default))
    if attrs.get("mode") == "base64" or not (kind.startswith("text/") or kind == _XHTML):
        raise Unsupported  # feedparser decodes base64 or reads other XML as elements
    return kind


def map_type(kind: str) -> str:
    kind = kind.lower()
    return _TYPE_NAMES.get(kind, kind)


def leaf_text(element: Any) -> str:
    if len(element):  # markup inside a plain-text element: feedparser's loose rules
        raise Unsupported
    return str(element.text or "")


def date(element: Any) -> time.struct_time | None:
    parsed: time.struct_time | None = _parse_date(fix(leaf_text(element).strip()))
    return parsed
