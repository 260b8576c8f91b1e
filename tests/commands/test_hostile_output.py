"""Hostile names and pipes never produce a traceback or a forged report line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from importobot._text import plural, printable
from tests.gitrepo import GIT_ENV, init_repo, new_key
from tests.keygen import contains_key

BIN = Path(sys.executable).parent


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    env.update(GIT_ENV)
    env.update(extra)
    return env


def _run(cwd: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(BIN / argv[0]), *argv[1:]],
        cwd=cwd,
        capture_output=True,
        env=_env(**env),
        timeout=60,
        check=False,
    )


def test_printable_escapes_controls_and_undecodable_bytes():
    assert printable("a\nb") == "a\\nb"
    assert printable("\x1b[31mred") == "\\x1b[31mred"
    assert printable(os.fsdecode(b"\xff.env")) == "\\xff.env"
    assert printable("caf\u00e9.env") == "caf\u00e9.env"
    assert plural(1, "error") == "1 error" and plural(2, "error") == "2 errors"


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github"])
@pytest.mark.parametrize("locale", ["C.UTF-8", "C"])
def test_non_utf8_file_name_with_a_finding(tmp_path, fmt, locale):
    repo = init_repo(tmp_path / "repo")
    raw, key = new_key()
    name = b"\xff\nFORGED.env"
    with open(os.path.join(os.fsencode(repo), name), "w") as handle:
        handle.write(f"APP_KEY={key}\n")
    out = tmp_path / f"report.{fmt}"
    proc = _run(
        repo,
        "importobot",
        "check",
        "--no-key-check",
        "--format",
        fmt,
        "--output",
        str(out),
        LC_ALL=locale,
        PYTHONUTF8="0",
    )
    assert proc.returncode == 1, proc.stderr
    assert b"Traceback" not in proc.stderr
    data = out.read_bytes()
    data.decode("utf-8")  # valid UTF-8, whatever the name
    assert not contains_key(data + proc.stderr, raw)
    shown = urllib.parse.unquote(data.decode()) if fmt == "sarif" else data.decode()
    assert "\\xff\\nFORGED.env" in shown.replace("\\\\", "\\")
    for line in data.decode().splitlines():
        assert not line.startswith("FORGED")
    if fmt in ("json", "sarif"):
        json.loads(data)
    proc = _run(repo, "importobot", "check", "--no-key-check", "--format", fmt, LC_ALL=locale)
    assert proc.returncode == 1 and b"Traceback" not in proc.stderr
    assert b"\nFORGED" not in proc.stdout


def test_output_failure_leaves_no_partial_file(tmp_path):
    repo = init_repo(tmp_path / "repo")
    _raw, key = new_key()
    (repo / ".env").write_text(f"APP_KEY={key}\n")
    proc = _run(repo, "importobot", "check", "--output", str(tmp_path / "no" / "dir" / "r.txt"))
    assert proc.returncode == 2
    assert b"Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[-1].startswith(b"importobot: error: --output ")
    assert not (tmp_path / "no").exists()


def test_hook_into_a_closed_pipe(tmp_path):
    repo = init_repo(tmp_path / "repo")
    lines = "".join(f"K{i}_KEY={new_key()[1]}\n" for i in range(2000))
    (repo / ".env").write_text(lines)
    for argv in (["importobot-block-keys", ".env"], ["importobot", "check", "--no-key-check"]):
        proc = subprocess.run(  # noqa: S602 - the pipe is the point
            f"{BIN / argv[0]} {' '.join(argv[1:])} | head -1",
            shell=True,
            cwd=repo,
            capture_output=True,
            env=_env(),
            timeout=60,
            check=False,
        )
        assert b"Traceback" not in proc.stderr, proc.stderr.decode()[-2000:]
        assert b"BrokenPipeError" not in proc.stderr
        assert proc.stdout.count(b"\n") == 1


@pytest.mark.parametrize(
    "argv",
    [["check", "--bogus"], ["check", "--format", "xml"], ["nope"], ["key", "retire", "--x"]],
)
def test_click_usage_errors_are_one_line_plus_usage(tmp_path, argv):
    proc = _run(tmp_path, "importobot", *argv)
    assert proc.returncode == 2
    err = proc.stderr.decode()
    assert b"Traceback" not in proc.stderr
    lines = err.splitlines()
    assert len(lines) == 2, err
    assert lines[0].startswith("importobot: error: ")
    assert "--help" in lines[1]


def test_text_report_plurals(tmp_path):
    repo = init_repo(tmp_path / "repo")
    _raw, key = new_key()
    (repo / ".env").write_text(f"APP_KEY={key}\n")
    proc = _run(repo, "importobot", "check", "--no-key-check")
    tail = proc.stdout.decode().splitlines()[-3]  # then the env-file line and the fix command
    assert tail.startswith("1 finding (1 error, 0 warnings) in 1 file scanned"), tail
