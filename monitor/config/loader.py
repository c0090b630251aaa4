"""Finding and loading sources.yaml: YAML, environment, schema, cross-references.

Every problem found on the way is collected and raised together as one
ConfigError, each located by file, line and key path, so one run of
``monitor check`` shows all there is to fix.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError

from monitor.config.interpolate import interpolate
from monitor.config.messages import Problem, explain
from monitor.config.references import check_references
from monitor.config.schema import Config, ConfigDocument
from monitor.config.yamldoc import KeyPath, YamlDocument, format_path, read_yaml
from monitor.errors import ConfigError, ConfigIssue

DEFAULT_CONFIG_PATH = Path("sources.yaml")
CONFIG_ENV_VAR = "MONITOR_CONFIG"
_SECTIONS = ", ".join(ConfigDocument.model_fields)


def resolve_config_path(explicit: Path | None, environ: Mapping[str, str] | None = None) -> Path:
    """``--config`` if given, else ``$MONITOR_CONFIG``, else ``./sources.yaml``."""
    if explicit is not None:
        return explicit
    from_environment = (os.environ if environ is None else environ).get(CONFIG_ENV_VAR)
    return Path(from_environment) if from_environment else DEFAULT_CONFIG_PATH


def load_config(path: Path, *, environ: Mapping[str, str] | None = None) -> Config:
    """Load and validate a config file; ConfigError lists every problem found."""
    filename = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _error(filename, "no such file (give --config PATH or set $MONITOR_CONFIG)") from None
    except UnicodeDecodeError as error:
        raise _error(filename, f"not UTF-8 text (bad byte at offset {error.start})") from None
    except OSError as error:
        raise _error(filename, f"cannot read the file: {error.strerror or error}") from None
    return load_config_text(text, filename, path=path, environ=environ)


def load_config_text(
    text: str,
    filename: str,
    *,
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Validate config text; ``filename`` is what messages call the file."""
    with _collector_paused():
        return _load(text, filename, path, environ)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The garbage collector off for a while. A large config allocates tens of
    thousands of YAML nodes, dicts and models that all live on, and the collections
    they trigger scan every object of the process, all that the CLI imported too:
    about 40% of loading a 2,000-source file. Cyclic garbage made meanwhile is
    collected once the collector is back on."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load(text: str, filename: str, path: Path | None, environ: Mapping[str, str] | None) -> Config:
    parsed, issues = read_yaml(text, filename)
    if parsed.data is None and issues:
        raise ConfigError(issues)  # a syntax error: there is nothing more to check
    if parsed.data is None:
        parsed = YamlDocument({}, parsed.lines)  # an empty file: every section is optional
    if not isinstance(parsed.data, dict):
        raise ConfigError([*issues, _not_a_mapping(filename, parsed)])
    interpolation = interpolate(parsed.data, os.environ if environ is None else environ)
    document = YamlDocument(interpolation.data, parsed.lines)
    problems = [Problem(key_path, message) for key_path, message in interpolation.problems]
    validated, schema_problems = _validate(document, interpolation.blanks)
    # A value whose ${VAR} failed is reported once, for the variable.
    unresolved = {problem.path for problem in problems}
    problems += [problem for problem in schema_problems if problem.path not in unresolved]
    problems += check_references(document)
    issues += [_issue(filename, document, problem) for problem in problems]
    if issues or validated is None:
        raise ConfigError(_in_file_order(issues))
    return Config.model_validate({**dict(validated), "path": path})


def _validate(
    document: YamlDocument, blanks: dict[KeyPath, str]
) -> tuple[ConfigDocument | None, list[Problem]]:
    try:
        return ConfigDocument.model_validate(document.data), []
    except ValidationError as error:
        return None, [explain(detail, blanks) for detail in error.errors()]


def _not_a_mapping(filename: str, parsed: YamlDocument) -> ConfigIssue:
    what = f"a {type(parsed.data).__name__}"
    return ConfigIssue(
        filename,
        parsed.line_of(()),
        "",
        f"the top level must be a mapping of sections ({_SECTIONS}); this file is {what}",
    )


def _issue(filename: str, document: YamlDocument, problem: Problem) -> ConfigIssue:
    return ConfigIssue(
        filename, document.line_of(problem.path), format_path(problem.path), problem.message
    )


def _in_file_order(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    unique = list(dict.fromkeys(issues))
    return sorted(unique, key=lambda issue: issue.line or 0)


def _error(filename: str, message: str) -> ConfigError:
    return ConfigError([ConfigIssue(filename, None, "", message)])
