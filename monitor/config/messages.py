"""Pydantic's validation errors, said the way a person editing sources.yaml needs them.

Each error's location is walked through the schema's types alongside the
path: that gives the path as written in the file (a discriminated union puts
the tag, e.g. ``rss``, into the location; the file has no such key) and the
type found there (the model whose keys to list, the literal whose values to list).
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from monitor.config.schema import ConfigDocument
from monitor.config.yamldoc import KeyPath

_SECRET_KEYS = frozenset({"secret", "password", "bearer_token"})
_KIND_NOUNS = {"sources": "source kind", "notifiers": "notifier kind"}
_EXPECTED = {
    "string_type": "a string",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "date_type": "a date like 2024-01-31",
    "date_parsing": "a date like 2024-01-31",
    "date_from_datetime_parsing": "a date like 2024-01-31",
    "date_from_datetime_inexact": "a date like 2024-01-31 (without a time)",
}
_BOUNDS = {
    "greater_than_equal": ("ge", "at least"),
    "greater_than": ("gt", "greater than"),
    "less_than_equal": ("le", "at most"),
    "less_than": ("lt", "less than"),
}


@dataclass(frozen=True)
class Problem:
    """One error: the key path it is reported at, and what to say."""

    path: KeyPath
    message: str


def explain(error: ErrorDetails, blanks: dict[KeyPath, str]) -> Problem:
    path, annotation = _walk(error["loc"])
    kind, given = error["type"], error.get("input")
    if given is None and path in blanks and kind != "missing":
        return Problem(path, f"{blanks[path]} is empty, and this key needs a value")
    if kind == "missing":
        return Problem(path[:-1], f"missing required key '{path[-1]}'")
    if kind == "extra_forbidden":
        _parent, model = _walk(error["loc"][:-1])
        valid = ", ".join(sorted(_unwrap(model).model_fields))
        return Problem(path, f"unknown key '{path[-1]}' (valid keys: {valid})")
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        return _bad_kind(path, annotation, given)
    if kind == "literal_error":
        valid = ", ".join(str(value) for value in get_args(_unwrap(annotation)))
        return Problem(path, f"{_show(given, path)} is not a valid {path[-1]} (valid: {valid})")
    return Problem(path, _plain_message(error, path))


def _bad_kind(path: KeyPath, union: Any, given: Any) -> Problem:
    tags = sorted(tag for member in get_args(_unwrap(union)) for tag in _kind_tags(member))
    noun = _KIND_NOUNS.get(str(path[0]), "kind")
    if isinstance(given, dict) and "kind" in given:
        message = f"{_show(given['kind'], path)} is not a {noun} (valid: {', '.join(tags)})"
        return Problem((*path, "kind"), message)
    return Problem(path, f"missing required key 'kind' (valid: {', '.join(tags)})")


def _plain_message(error: ErrorDetails, path: KeyPath) -> str:
    kind, context = error["type"], error.get("ctx") or {}
    given = _show(error.get("input"), path)
    if kind == "config":
        return str(context["message"])
    if kind == "value_error":
        return str(context.get("error", error["msg"]))
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {given}"
    if kind in _BOUNDS:
        bound, words = _BOUNDS[kind]
        limit = context[bound]
        return f"must be {words} {limit:g}, got {given}"
    if kind in ("too_short", "string_too_short"):
        return "must not be empty"
    return f"{error['msg']} (got {given})"


def _show(value: Any, path: KeyPath) -> str:
    """The value given, for a message; a secret is described, never repeated."""
    if path and path[-1] in _SECRET_KEYS and value is not None:
        return "a value that is not a string" if not isinstance(value, str) else "that value"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, date):
        return value.isoformat()
    return repr(value)


def _walk(loc: tuple[int | str, ...]) -> tuple[KeyPath, Any]:
    """The location as a path in the file, and the type the schema has there (None: unknown)."""
    annotation: Any = ConfigDocument
    path: list[str | int] = []
    for part in loc:
        if part == "[key]":  # the error is about a mapping's key itself
            continue
        member = _tagged_member(annotation, part)
        if member is not None:
            annotation = member  # a discriminator tag: not a key of the file
            continue
        annotation = _child(annotation, part)
        path.append(part)
    return tuple(path), annotation


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated[...] and `| None` down to the type that matters."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType) and type(None) in get_args(annotation):
            others = [arg for arg in get_args(annotation) if arg is not type(None)]
            annotation = others[0] if len(others) == 1 else Union[tuple(others)]  # noqa: UP007
        else:
            return annotation


def _child(annotation: Any, part: str | int) -> Any:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(str(part))
        return field.annotation if field else None
    origin = get_origin(annotation)
    if origin is list and isinstance(part, int):
        return get_args(annotation)[0]
    if origin is dict:
        return get_args(annotation)[1]
    return None


def _tagged_member(annotation: Any, part: str | int) -> Any:
    annotation = _unwrap(annotation)
    if get_origin(annotation) not in (Union, types.UnionType):
        return None
    return next((m for m in get_args(annotation) if part in _kind_tags(m)), None)


def _kind_tags(member: Any) -> tuple[Any, ...]:
    if not (isinstance(member, type) and issubclass(member, BaseModel)):
        return ()
    field = member.model_fields.get("kind")
    if field is None or get_origin(field.annotation) is not Literal:
        return ()
    return get_args(field.annotation)
