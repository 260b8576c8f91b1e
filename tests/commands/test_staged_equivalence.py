"""The hook and ``check --staged`` are one code path: identical findings on every D12 case.

Each case builds a repository state, then runs ``importobot-block-keys`` over the files
pre-commit would pass (the staged paths, intent-to-add included) and ``importobot check
--staged --format json``, and compares (path, line, rule, fingerprint, label).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from importobot.cli import cli
from importobot.hooks import block_keys
from importobot.keys.fingerprint import fingerprint
from tests.gitrepo import commit, git, init_repo, new_key

Case = Callable[[Path, str, str], None]


def _staged(repo: Path, _k1: str, k2: str) -> None:
    (repo / ".env").write_text(f"APP_KEY={k2}\n")
    git(repo, "add", ".env")


def _unstaged(repo: Path, _k1: str, k2: str) -> None:
    (repo / ".env").write_text("DEBUG=1\n")
    git(repo, "add", ".env")
    (repo / ".env").write_text(f"DEBUG=1\nAPP_KEY={k2}\n")


def _staged_and_unstaged(repo: Path, k1: str, k2: str) -> None:
    (repo / ".env").write_text(f"APP_KEY={k1}\n")
    git(repo, "add", ".env")
    (repo / ".env").write_text(f"APP_KEY={k1}\nOTHER_KEY={k2}\n")


def _intent_to_add(repo: Path, _k1: str, k2: str) -> None:
    (repo / "new.env").write_text(f"SECRET_KEY={k2}\n")
    git(repo, "add", "-N", "new.env")


def _deleted(repo: Path, _k1: str, _k2: str) -> None:
    git(repo, "rm", "-q", "base.env")


def _renamed(repo: Path, _k1: str, _k2: str) -> None:
    git(repo, "mv", "base.env", "moved.env")


def _binary(repo: Path, _k1: str, k2: str) -> None:
    (repo / "blob.env").write_bytes(b"\0\1\2" + f"APP_KEY={k2}\n".encode())
    git(repo, "add", "blob.env")


def _too_big(repo: Path, _k1: str, k2: str) -> None:
    (repo / ".importobot.toml").write_text('max-file-size = "1KB"\n')
    (repo / "big.env").write_text("X=1\n" * 400 + f"APP_KEY={k2}\n")
    git(repo, "add", "big.env")


def _unmerged(repo: Path, k1: str, k2: str) -> None:
    git(repo, "checkout", "-q", "-b", "side")
    (repo / "conf.env").write_text(f"APP_KEY={k1}\n")
    git(repo, "add", "conf.env")
    commit(repo, "side")
    git(repo, "checkout", "-q", "main")
    (repo / "conf.env").write_text(f"APP_KEY={k2}\n")
    git(repo, "add", "conf.env")
    commit(repo, "main")
    git(repo, "merge", "-q", "side", check=False)


CASES: dict[str, Case] = {
    "staged": _staged,
    "unstaged": _unstaged,
    "staged-and-unstaged": _staged_and_unstaged,
    "intent-to-add": _intent_to_add,
    "deleted": _deleted,
    "renamed": _renamed,
    "binary": _binary,
    "too-big": _too_big,
    "unmerged": _unmerged,
}

_LINE = re.compile(r"^(?P<path>\S+):(?P<line>\d+):\d+ (?P<rule>IOB\d+) \S+ (?P<fp>\S+) .*$")


def _hook_findings(out: str) -> set[tuple[str, int, str, str, str | None]]:
    found = set()
    for line in out.splitlines():
        m = _LINE.match(line)
        if m:
            label = re.search(r" \[(unstaged|ours|theirs)\]$", line)
            found.add(
                (
                    m["path"],
                    int(m["line"]),
                    m["rule"],
                    m["fp"],
                    label.group(1) if label else None,
                )
            )
    return found


def _check_findings(report: str) -> set[tuple[str, int, str, str, str | None]]:
    found = set()
    for f in json.loads(report)["findings"]:
        note = f.get("note") or ""
        label = next((n for n in ("unstaged", "ours", "theirs") if n in note), None)
        found.add((f["path"], f["line"], f["rule"], f["fingerprint"], label))
    return found


@pytest.mark.parametrize("case", sorted(CASES))
def test_hook_and_check_staged_agree(case, tmp_path, monkeypatch, capsys):
    repo = init_repo(tmp_path / "repo")
    monkeypatch.chdir(repo)
    monkeypatch.delenv("IMPORTOBOT_ENCRYPTION_KEY", raising=False)
    (repo / "base.env").write_text("DEBUG=1\n")
    git(repo, "add", ".")
    commit(repo, "base")
    raw1, k1 = new_key()
    raw2, k2 = new_key()
    CASES[case](repo, k1, k2)

    passed = [
        p
        for p in git(repo, "diff", "--cached", "--name-only", "-z", "--diff-filter=ACMRTUXB").split(
            "\0"
        )
        if p
    ]
    # pre-commit adds intent-to-add files (git status " A") to what it passes.
    for entry in git(repo, "status", "--porcelain", "-z").split("\0"):
        if entry.startswith(" A "):
            passed.append(entry[3:])
    passed = list(dict.fromkeys(passed))
    if passed:
        block_keys.main(passed)
    hook_out, _ = capsys.readouterr()
    result = CliRunner().invoke(cli, ["check", "--staged", "--format", "json", "--no-key-check"])
    assert result.exit_code in (0, 1), result.output
    report = result.stdout
    hook = _hook_findings(hook_out)
    check = _check_findings(report)
    assert hook == check, (case, hook_out, report)
    expected_any = case in {"staged", "unstaged", "staged-and-unstaged", "intent-to-add"}
    assert bool(check) is expected_any or case == "unmerged", (case, check)
    if case == "unmerged":
        fps = {fp for *_, fp, _label in check}
        assert fps == {fingerprint(raw1), fingerprint(raw2)}
    if case == "intent-to-add":
        assert {fp for *_, fp, _label in check} == {fingerprint(raw2)}
