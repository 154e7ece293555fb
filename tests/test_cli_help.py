"""Every `ews` command's help shows every word its options were given.

Typer renders help through Rich, which reads `[word]` as markup and drops it: a help
text naming a TOML section (`[outcomes]`) lost the section's name on the screen."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from ews.cli import app


def _commands() -> list[tuple[list[str], Any]]:
    found: list[tuple[list[str], Any]] = []

    def walk(path: list[str], command: Any) -> None:
        found.append((path, command))
        for name, sub in getattr(command, "commands", {}).items():
            walk([*path, name], sub)

    walk([], typer.main.get_command(app))
    return found


def _plain(text: str) -> str:
    """The help's words: the boxes' borders gone and every run of spaces one space."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


@pytest.mark.parametrize(
    ("path", "command"), _commands(), ids=lambda v: " ".join(v) if isinstance(v, list) else ""
)
def test_the_help_shows_every_option_text_whole(path: list[str], command: Any) -> None:
    shown = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "400"}, color=False)
    assert shown.exit_code == 0, shown.output
    screen = _plain(shown.output)
    texts = [
        p.help
        for p in command.params
        if getattr(p, "help", None) and not getattr(p, "hidden", False)
    ]
    if command.help:
        texts.append(command.help.split("\n\n")[0])
    for text in texts:  # `\\[` is how a help text writes a bracket Rich must show
        assert _plain(str(text).replace("\\[", "[")) in screen, (
            f"`ews {' '.join(path)} --help` lost words of: {text}"
        )
