"""--help never cites internal design numbers (D12) or files outside the wheel (docs/…)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
from click.testing import CliRunner

from importobot.cli import cli

INTERNAL = re.compile(r"\bD\d{1,2}\b|docs/|\.md\b|DESIGN")


def _commands(group: click.Group, ctx: click.Context, path: list[str]) -> Iterator[list[str]]:
    yield path
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, click.Context(cmd, info_name=name, parent=ctx), [*path, name])
        elif cmd is not None:
            yield [*path, name]


def test_every_help_text_is_self_contained():
    ctx = click.Context(cli, info_name="importobot")
    seen = 0
    for path in _commands(cli, ctx, []):
        result = CliRunner().invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        bad = INTERNAL.findall(result.output)
        assert not bad, (path, bad, result.output)
        seen += 1
    assert seen >= 10


def test_hook_usage_texts_are_self_contained():
    bindir = Path(sys.executable).parent
    for hook in ("importobot-block-keys", "importobot-check-key", "importobot-key-age"):
        out = subprocess.run(
            [str(bindir / hook), "--help"], capture_output=True, text=True, check=False
        ).stdout
        assert out.startswith("usage:"), out
        assert not INTERNAL.findall(out), (hook, out)
