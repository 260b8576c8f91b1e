"""Git sources: ``check --staged`` (index blobs) and ``check --history`` (added lines)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from importobot.cli import cli
from importobot.keys.fingerprint import fingerprint
from tests.gitrepo import GIT_ENV, commit, git, init_repo, new_key
from tests.keygen import contains_key


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    path = init_repo(tmp_path / "repo")
    monkeypatch.chdir(path)
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)
    return path


def _check(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, ["check", "--format", "json", *args])
    assert result.exit_code in (0, 1, 2), result.output
    text = result.stdout
    return result.exit_code, json.loads(text) if text.strip().startswith("{") else {}


def _keys(report: dict) -> list[tuple[str, int, str, str | None]]:
    return [(f["path"], f["line"], f["fingerprint"], f["commit"]) for f in report["findings"]]


# -- history -----------------------------------------------------------------------------


def test_history_finds_a_key_committed_and_later_deleted(repo):
    raw, key = new_key()
    (repo / "README.md").write_text("# demo\n")
    git(repo, "add", "README.md")
    commit(repo, "init")
    (repo / ".env").write_text(f"DEBUG=1\nAPP_KEY={key}\n")
    git(repo, "add", ".env")
    added = commit(repo, "add env")
    git(repo, "rm", "-q", ".env")
    commit(repo, "remove env")
    code, report = _check()
    assert code == 0  # the work tree is clean
    code, report = _check("--history")
    assert code == 1
    assert _keys(report) == [(".env", 2, fingerprint(raw), added)]
    result = CliRunner().invoke(cli, ["check", "--history"])
    assert added[:12] in result.output and not contains_key(result.output, raw)


def test_history_range_and_line_numbers_in_later_commits(repo):
    raw, key = new_key()
    (repo / "config.py").write_text("".join(f"x{i} = {i}\n" for i in range(50)))
    git(repo, "add", ".")
    first = commit(repo, "one")
    text = (repo / "config.py").read_text().splitlines(keepends=True)
    text.insert(30, f'SECRET_KEY = "{key}"\n')
    (repo / "config.py").write_text("".join(text))
    second = commit_all(repo, "two")
    code, report = _check("--history", f"{first}..HEAD")
    assert code == 1 and _keys(report) == [("config.py", 31, fingerprint(raw), second)]
    code, report = _check(f"--history={first}..{first}")
    assert code == 0 and report["findings"] == []


def commit_all(repo: Path, message: str) -> str:
    git(repo, "commit", "-q", "--no-verify", "-am", message)
    return git(repo, "rev-parse", "HEAD").strip()


def test_merges_are_not_double_counted_but_evil_merges_count(repo):
    raw, key = new_key()
    raw2, key2 = new_key()
    (repo / "a.txt").write_text("base\n")
    git(repo, "add", ".")
    commit(repo, "base")
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / ".env").write_text(f"APP_KEY={key}\n")
    git(repo, "add", ".env")
    on_branch = commit(repo, "key on a branch")
    git(repo, "checkout", "-q", "main")
    (repo / "a.txt").write_text("base\nmain\n")
    commit_all(repo, "main moves")
    git(repo, "merge", "-q", "--no-ff", "--no-edit", "feature")
    code, report = _check("--history")
    assert _keys(report) == [(".env", 1, fingerprint(raw), on_branch)]
    # An evil merge: a line that is in neither parent is the merge's own.
    git(repo, "checkout", "-q", "-b", "f2", "HEAD~1")
    (repo / "b.txt").write_text("f2\n")
    git(repo, "add", "b.txt")
    commit(repo, "f2")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "--no-commit", "f2")
    (repo / "a.txt").write_text(f"base\nmain\nSECRET_KEY={key2}\n")
    git(repo, "add", "a.txt")
    merge = commit(repo, "evil merge")
    code, report = _check("--history")
    assert (("a.txt", 3, fingerprint(raw2), merge)) in _keys(report)
    assert len(report["findings"]) == 2


def test_history_baseline_suppresses_in_every_commit(repo):
    raw, key = new_key()
    (repo / ".env").write_text(f"APP_KEY={key}\n")
    git(repo, "add", ".env")
    commit(repo, "one")
    (repo / ".env").write_text(f"APP_KEY={key}  # primary\n")  # the line changes
    commit_all(repo, "two")
    code, report = _check("--history")
    assert code == 1 and len(report["findings"]) == 2
    doc = {
        "version": 1,
        "findings": [{"rule": "IOB101", "path": ".env", "fingerprint": fingerprint(raw)}],
    }
    (repo / "base.json").write_text(json.dumps(doc))
    code, report = _check("--history", "--baseline", "base.json")
    assert code == 0


def test_history_without_commits_bare_detached_and_shallow(repo, tmp_path):
    code, report = _check("--history")
    assert code == 0 and report["findings"] == []
    raw, key = new_key()
    (repo / ".env").write_text(f"APP_KEY={key}\n")
    git(repo, "add", ".env")
    commit(repo, "key")
    for i in range(3):
        (repo / "n.txt").write_text(f"{i}\n")
        git(repo, "add", "n.txt")
        commit(repo, f"n{i}")
    git(repo, "checkout", "-q", "--detach", "HEAD~1")
    assert _check("--history")[0] == 1
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(bare))
    os.chdir(bare)
    assert _check("--history")[0] == 1
    result = CliRunner().invoke(cli, ["check", "--staged"])
    assert result.exit_code == 2 and "bare" in result.output
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "2", f"file://{repo}", str(shallow))
    os.chdir(shallow)
    result = CliRunner().invoke(cli, ["check", "--history"])
    assert result.exit_code in (0, 1)
    assert "shallow clone" in result.output


def test_history_errors_are_one_line(repo, tmp_path):
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", ".")
    commit(repo)
    result = CliRunner().invoke(cli, ["check", "--history=no-such-rev"])
    assert result.exit_code == 2 and "git log failed" in result.output
    from importobot.git import GitError, iter_history

    with pytest.raises(GitError, match="not a revision range"):
        list(iter_history(str(repo), "--output=/tmp/x"))  # never an option for git
    os.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    os.chdir(tmp_path / "empty")
    result = CliRunner().invoke(cli, ["check", "--history"])
    assert result.exit_code == 2 and "not a usable git repository" in result.output
    broken = tmp_path / "broken"
    init_repo(broken)
    (broken / ".git" / "HEAD").write_text("garbage\n")
    os.chdir(broken)
    assert CliRunner().invoke(cli, ["check", "--history"]).exit_code == 2


def test_history_skips_submodule_pointers(repo, tmp_path):
    sub = init_repo(tmp_path / "sub")
    (sub / "f.txt").write_text("x\n")
    git(sub, "add", ".")
    commit(sub)
    git(
        repo,
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        str(sub),
        "sub",
    )
    commit(repo, "submodule")
    code, report = _check("--history")
    assert code == 0 and report["findings"] == []
    assert _check("--staged")[0] == 0


# -- staged ------------------------------------------------------------------------------


def test_staged_scans_index_blobs_renames_and_differing_files(repo):
    raw, key = new_key()
    (repo / "old.env").write_text(f"APP_KEY={key}\n")
    (repo / "clean.txt").write_text("x\n")
    git(repo, "add", ".")
    commit(repo)
    code, report = _check("--staged")
    assert code == 0 and report["summary"]["files_scanned"] == 0  # nothing staged
    git(repo, "mv", "old.env", "new.env")
    code, report = _check("--staged")
    assert code == 1 and _keys(report) == [("new.env", 1, fingerprint(raw), None)]
    raw2, key2 = new_key()
    (repo / "clean.txt").write_text(f"SECRET_KEY={key2}\n")
    git(repo, "add", "clean.txt")
    (repo / "clean.txt").write_text("x\n")
    code, report = _check("--staged", "clean.txt")
    assert _keys(report) == [("clean.txt", 1, fingerprint(raw2), None)]


def test_staged_before_the_first_commit(repo):
    raw, key = new_key()
    (repo / ".env").write_text(f"APP_KEY={key}\n")
    git(repo, "add", ".env")
    code, report = _check("--staged")
    assert code == 1 and _keys(report)[0][2] == fingerprint(raw)


def test_staged_and_history_together_is_a_usage_error(repo):
    result = CliRunner().invoke(cli, ["check", "--staged", "--history"])
    assert result.exit_code == 2


def test_one_git_log_for_the_whole_history(repo, tmp_path, monkeypatch):
    for i in range(5):
        (repo / f"f{i}.txt").write_text(f"{i}\n")
        git(repo, "add", ".")
        commit(repo, f"c{i}")
    real = subprocess.run(["which", "git"], capture_output=True, text=True).stdout.strip()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "git.log"
    (bindir / "git").write_text(f'#!/bin/sh\necho "$@" >> "{log}"\nexec "{real}" "$@"\n')
    (bindir / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    _check("--history")
    assert sum(" log " in f" {line} " for line in log.read_text().splitlines()) == 1


def test_git_runs_with_our_std_fds_closed(repo):
    """A hook started with stdin closed: the pipe takes fd 0 and must stay open for git."""
    import sys

    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "a.txt")
    probe = (
        "import os\n"
        "os.close(0)\n"
        "from importobot.git import read_index_blobs\n"
        "print(read_index_blobs('.', ['a.txt']))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=repo, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0 and "b'a\\n'" in proc.stdout, proc.stderr


def test_clone_error_message_is_the_same_every_run(tmp_path):
    """A failed clone's message goes into scan-repos reports, which must come out the same
    bytes on every run: curl's elapsed time ("port 9 after 1 ms") is left out."""
    import re

    from importobot.git import CloneError, clone

    messages = []
    for i in range(3):
        with pytest.raises(CloneError) as err:
            clone("https://127.0.0.1:9/unreachable.git", str(tmp_path / f"c{i}"), timeout=60)
        messages.append(str(err.value))
    assert "127.0.0.1" in messages[0]
    assert not re.search(r"after \d+ m?s", messages[0]), messages[0]
    assert len(set(messages)) == 1


def test_first_line_drops_elapsed_times():
    from importobot.git import _first_line

    err = (
        b"fatal: unable to access 'https://h/x/': Failed to connect to h port 9 after 1 ms:"
        b" Couldn't connect to server\nmore\n"
    )
    assert _first_line(err) == (
        "fatal: unable to access 'https://h/x/': Failed to connect to h port 9:"
        " Couldn't connect to server"
    )
    assert _first_line(b"Connection timed out after 10001 milliseconds\n") == (
        "Connection timed out"
    )
    assert _first_line(b"") == "git failed"
