"""``${VAR}``, ``${VAR:-default}`` and ``$$`` in string values, from the environment.

Runs on the parsed data, never on the raw text: a secret that contains YAML
syntax (``: #``, quotes) is then just a string and cannot change the document.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from monitor.config.yamldoc import KeyPath

# `$$`, or `${...}` up to the first `}` (or the end, which is an error below).
_TOKEN = re.compile(r"\$\$|\$\{(?P<body>[^}]*)(?P<close>\}?)")
_BODY = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>.*))?", re.DOTALL)


@dataclass
class Interpolation:
    """The data with every reference replaced, and what went wrong where."""

    data: Any
    # Values that were one whole ${...} resolving to "" and became None, with their text.
    blanks: dict[KeyPath, str] = field(default_factory=dict)
    problems: list[tuple[KeyPath, str]] = field(default_factory=list)


def interpolate(data: Any, environ: Mapping[str, str]) -> Interpolation:
    result = Interpolation(data=None)
    result.data = _walk(data, (), environ, result)
    return result


def _walk(value: Any, path: KeyPath, environ: Mapping[str, str], result: Interpolation) -> Any:
    if isinstance(value, dict):
        return {key: _walk(item, (*path, key), environ, result) for key, item in value.items()}
    if isinstance(value, list):
        return [_walk(item, (*path, index), environ, result) for index, item in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value
    try:
        text = substitute(value, environ)
    except ValueError as error:
        result.problems.append((path, str(error)))
        return value
    # `proxy: ${HTTPS_PROXY:-}` with nothing set means "no proxy", not an empty proxy.
    if text == "" and _is_single_reference(value):
        result.blanks[path] = value
        return None
    return text


def substitute(text: str, environ: Mapping[str, str]) -> str:
    """Replace the references in one string; ValueError names the first bad one."""

    def replace(token: re.Match[str]) -> str:
        if token.group(0) == "$$":
            return "$"
        body = _BODY.fullmatch(token.group("body"))
        if body is None or not token.group("close"):
            raise ValueError(
                f"{token.group(0)!r} is not a reference: write ${{VAR}} or ${{VAR:-default}}, "
                "and $$ for a literal $"
            )
        name, default = body.group("name"), body.group("default")
        value = environ.get(name, "")
        if default is not None:
            # Like the shell's ${VAR:-x}: the default also replaces an empty value.
            return value or default
        if name not in environ:
            raise ValueError(
                f"environment variable {name} is not set "
                f"(write ${{{name}:-}} to allow it to be empty)"
            )
        return value

    return _TOKEN.sub(replace, text)


def _is_single_reference(text: str) -> bool:
    token = _TOKEN.fullmatch(text)
    return token is not None and token.group(0) != "$$"
