"""No symlink is followed into content, no special file is read (check and the hook)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gitrepo import GIT_ENV, commit, git, init_repo, new_key

BIN = Path(sys.executable).parent


def _run(cwd: Path, *argv: str, key_checks: bool = False) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    env.update(GIT_ENV)
    if key_checks:
        env["IMPORTOBOT_ENCRYPTION_KEY"] = new_key()[1]
    return subprocess.run(
        [str(BIN / argv[0]), *argv[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=30,  # a FIFO read or /dev/zero would hang or exhaust memory instead
        check=False,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = init_repo(tmp_path / "repo")
    (repo / "z.env").symlink_to("/dev/zero")
    (repo / "zz.env").symlink_to("/dev/urandom")
    (repo / "ok.txt").write_text("hello\n")
    git(repo, "add", "-A")
    commit(repo, "links")
    os.mkfifo(repo / "f.env")
    return repo


@pytest.mark.parametrize("key_checks", [False, True], ids=["scan", "with-key-checks"])
def test_check_skips_links_and_fifos_with_a_note(repo, key_checks):
    proc = _run(repo, "importobot", "check", "--format", "json", key_checks=key_checks)
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr
    report = json.loads(proc.stdout)
    assert not [f for f in report["findings"] if f["path"] in ("z.env", "zz.env", "f.env")]
    assert report["summary"]["skipped"].get("symlink") == 2, (report["summary"], proc.stderr)
    assert "z.env: skipped, a symbolic link, not followed" in proc.stderr


def test_check_explicit_fifo_is_a_note(repo):
    proc = _run(repo, "importobot", "check", "f.env", "ok.txt", "--no-key-check")
    assert proc.returncode == 0, proc.stderr
    assert "f.env: not a regular file, not read" in proc.stderr


def test_hook_skips_fifo_and_judges_the_link_by_its_index_blob(repo):
    proc = _run(repo, "importobot-block-keys", "f.env", "z.env", "ok.txt")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "f.env: skipped, not a regular file" in proc.stderr


def test_hook_on_an_untracked_link_to_dev_zero(repo):
    (repo / "new.env").symlink_to("/dev/zero")
    proc = _run(repo, "importobot-block-keys", "new.env", "ok.txt")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "new.env: skipped, a symbolic link, not followed" in proc.stderr


def test_a_key_behind_a_link_is_not_read_but_the_links_index_blob_is(repo, tmp_path):
    _raw, key = new_key()
    outside = tmp_path / "outside.env"
    outside.write_text(f"APP_KEY={key}\n")
    (repo / "l.env").symlink_to(outside)
    git(repo, "add", "l.env")
    proc = _run(repo, "importobot-block-keys", "l.env")
    # The commit holds the link (its target's path), not the key.
    assert proc.returncode == 0, proc.stdout + proc.stderr
