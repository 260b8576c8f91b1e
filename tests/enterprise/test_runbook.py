"""docs/Key-Rotation.md matches the CLI: every `importobot …` command and option exists."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click

from importobot.cli import cli

DOC = Path(__file__).resolve().parents[2] / "docs" / "Key-Rotation.md"


def commands() -> list[list[str]]:
    """Argument lists of every `importobot …` command line in the doc's code blocks."""
    found: list[list[str]] = []
    blocks = re.findall(r"```[a-z]*\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    for block in blocks:
        for line in block.splitlines():
            line = line.split(" #", 1)[0].strip()
            line = re.sub(r"^- run:\s*", "", line)
            m = re.search(r"(?:^|\s)importobot (.*)$", line)
            if m and not line.startswith("#"):
                found.append(shlex.split(m.group(1)))
    return found


def resolve(args: list[str]) -> tuple[click.Command | None, list[str], list[str]]:
    """Walk the click tree: (command, the names walked, the remaining arguments)."""
    command: click.Command = cli
    ctx = click.Context(cli, info_name="importobot")
    walked: list[str] = []
    rest = list(args)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        sub = command.get_command(ctx, rest[0])
        if sub is None:
            return None, [*walked, rest[0]], rest[1:]
        walked.append(rest.pop(0))
        ctx = click.Context(sub, parent=ctx, info_name=walked[-1])
        command = sub
    return command, walked, rest


def test_runbook_has_the_steps() -> None:
    found = commands()
    heads = {tuple(resolve(a)[1]) for a in found}
    for needed in [("rotate", "sqlite"), ("rotate", "postgresql"), ("rotate", "files")]:
        assert needed in heads
    assert any("--dry-run" in a for a in found)


def test_every_runbook_command_and_option_exists() -> None:
    for args in commands():
        command, walked, rest = resolve(args)
        if command is None:
            raise AssertionError(
                f"docs/Key-Rotation.md: no command `importobot {' '.join(walked)}`"
            )
        opts = {o for p in command.params for o in getattr(p, "opts", [])} | {"--help"}
        for word in rest:
            if word.startswith("--"):
                assert word.split("=")[0] in opts, f"`importobot {' '.join(walked)}` has no {word}"
