"""The README stays true: set-up commands, every setting and command documented."""

from __future__ import annotations

from pathlib import Path

import typer.main

from monitor.cli.app import app
from monitor.config.schema import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_readme_opens_with_the_two_set_up_commands() -> None:
    setup = README.split("## Set up", 1)[1].split("##", 1)[0]
    first = "    pip install . && monitor demo     # main job, fully offline, embedded SQLite\n"
    second = "    pip install '.[test]' && pytest   # the test suite\n"
    assert setup.index(first) < setup.index(second)
    assert README.index("## Set up") < README.index("## Walkthrough")


def test_every_setting_is_documented() -> None:
    for name in Settings.model_fields:
        assert f"| `{name}` |" in README, f"settings.{name} is missing from the README"


def test_every_command_is_documented() -> None:
    group = typer.main.get_command(app)
    names: list[str] = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        sub = getattr(command, "commands", None)
        names.extend(f"monitor {name} {child}" for child in sub) if sub else names.append(
            f"monitor {name}"
        )
    for name in names:
        assert f"`{name}" in README, f"{name} is missing from the README"
