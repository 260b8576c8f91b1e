"""``check PATH`` uses the configuration of the repository holding PATH, from anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from importobot.keys.fingerprint import fingerprint
from tests.gitrepo import GIT_ENV, commit, git, init_repo, new_key
from tests.keygen import contains_key


def _importobot(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    env.update(GIT_ENV)
    return subprocess.run(
        [sys.executable, "-m", "importobot.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def configured(tmp_path: Path) -> tuple[Path, bytes, bytes]:
    """A repo with a baselined key in .env, an excluded key, and a new key."""
    repo = init_repo(tmp_path / "repo")
    accepted_raw, accepted = new_key()
    excluded_raw, excluded = new_key()
    (repo / "fixtures").mkdir()
    (repo / "fixtures" / "app.env").write_text(f"APP_KEY={excluded}\n")
    (repo / ".env").write_text(f"APP_KEY={accepted}\n")
    (repo / "pyproject.toml").write_text(
        '[tool.importobot]\nexclude = ["fixtures/**"]\nbaseline = ".importobot-baseline.json"\n'
    )
    baseline = {
        "version": 1,
        "findings": [{"rule": "IOB101", "path": ".env", "fingerprint": fingerprint(accepted_raw)}],
    }
    (repo / ".importobot-baseline.json").write_text(json.dumps(baseline))
    git(repo, "add", "-A")
    commit(repo, "init")
    return repo, accepted_raw, excluded_raw


def test_check_abs_path_from_root_honours_baseline_and_excludes(configured):
    repo, accepted_raw, excluded_raw = configured
    proc = _importobot(Path("/"), "check", str(repo), "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout)
    assert report["findings"] == []
    assert not contains_key(proc.stdout + proc.stderr, accepted_raw)
    proc = _importobot(Path("/"), "check", str(repo), "--format", "json", "--show-suppressed")
    suppressed = json.loads(proc.stdout)["findings"]
    assert [(f["rule"], f["suppressed"]) for f in suppressed] == [("IOB101", "baseline")]
    assert suppressed[0]["path"].endswith(".env")


def test_check_from_a_subdirectory_applies_excludes_and_baseline(configured):
    repo, _accepted_raw, _excluded_raw = configured
    sub = repo / "fixtures"
    proc = _importobot(sub, "check", "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["findings"] == []
    proc = _importobot(sub, "check", "..", "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_new_key_is_still_found_from_outside(configured):
    repo, _a, _e = configured
    raw, key = new_key()
    (repo / "settings.py").write_text(f'SECRET_KEY = "{key}"\n')
    proc = _importobot(Path("/"), "check", str(repo), "--format", "json")
    assert proc.returncode == 1
    (finding,) = json.loads(proc.stdout)["findings"]
    assert finding["fingerprint"] == fingerprint(raw)


def test_history_dot_finds_a_committed_and_deleted_key(tmp_path):
    repo = init_repo(tmp_path / "repo")
    raw, key = new_key()
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", ".")
    commit(repo, "one")
    (repo / ".env").write_text(f"APP_KEY={key}\n")
    git(repo, "add", ".env")
    added = commit(repo, "add key")
    git(repo, "rm", "-q", ".env")
    commit(repo, "remove key")
    proc = _importobot(repo, "check", "--history", ".", "--format", "json")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    (finding,) = json.loads(proc.stdout)["findings"]
    assert (finding["path"], finding["commit"], finding["fingerprint"]) == (
        ".env",
        added,
        fingerprint(raw),
    )
    # PATHs limit history like git log -- PATH.
    proc = _importobot(repo, "check", "--history", "a.txt", "--format", "json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["findings"] == []
    # The old spelling of a range still works, and --rev-range is its new name.
    for args in (["--history=HEAD~1..HEAD"], ["--history", "--rev-range", "HEAD~1..HEAD"]):
        proc = _importobot(repo, "check", *args, "--format", "json")
        assert proc.returncode == 0, proc.stderr
    proc = _importobot(repo, "check", "--history", "--rev-range", "HEAD~2..HEAD~1")
    assert proc.returncode == 1
