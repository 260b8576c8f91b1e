"""``importobot-block-keys`` at ``pre-push`` under the real pre-commit and a real ``git push``.

At push the hook judges the lines the pushed commits added, not the index: a key that was
committed (``--no-verify``) and removed again before the push is still blocked. The hook
repository and pre-commit cache are the ones of ``test_pre_commit.py``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from importobot.keys.fingerprint import fingerprint
from tests.gitrepo import commit, git, init_repo, new_key
from tests.integration.test_pre_commit import _pre_commit, _write_config, hook_repo, pc_env
from tests.keygen import contains_key

__all__ = ["hook_repo", "pc_env"]  # fixtures used here


@pytest.fixture
def pushing_repo(tmp_path: Path, hook_repo, pc_env) -> Path:
    """A user's repository with block-keys installed as a pre-push hook, and a remote."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    repo = init_repo(tmp_path / "app")
    _write_config(repo, *hook_repo, hooks=("importobot-block-keys",))
    git(repo, "add", ".pre-commit-config.yaml")
    commit(repo, "pre-commit config")
    git(repo, "remote", "add", "origin", f"file://{remote}")
    proc = _pre_commit(repo, pc_env, "install", "--hook-type", "pre-push")
    assert proc.returncode == 0, proc.stderr
    return repo


def _push(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "push", "origin", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _remote_head(repo: Path) -> str:
    return git(repo, "ls-remote", "origin", "refs/heads/main").split("\t")[0]


def test_a_key_committed_and_removed_before_the_push_is_blocked(pushing_repo, pc_env):
    repo = pushing_repo
    (repo / "README.md").write_text("# app\n")
    git(repo, "add", "README.md")
    commit(repo, "readme")
    assert _push(repo, pc_env, "main").returncode == 0  # the first push: clean
    raw, key = new_key()
    (repo / ".env").write_text(f"DEBUG=1\nAPP_ENCRYPTION_KEY={key}\n")
    git(repo, "add", ".env")
    added = commit(repo, "add key")  # committed without the commit hook
    (repo / ".env").write_text("DEBUG=1\nAPP_ENCRYPTION_KEY=${APP_ENCRYPTION_KEY}\n")
    git(repo, "add", ".env")
    commit(repo, "remove key again")
    before = _remote_head(repo)
    proc = _push(repo, pc_env, "main")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert f".env:2:20 IOB101 APP_ENCRYPTION_KEY {fingerprint(raw)}" in output
    assert added[:12] in output
    assert "rewrite them" in output and "importobot: fix: importobot fix .env" in output
    assert not contains_key(output, raw)
    assert _remote_head(repo) == before
    # Rewrite the unpushed commits without the key: the push goes through.
    git(repo, "reset", "-q", "--soft", before)
    commit(repo, "env without a key")
    proc = _push(repo, pc_env, "main")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_key_in_a_file_deleted_before_the_first_push_is_blocked(pushing_repo, pc_env):
    repo = pushing_repo
    raw, key = new_key()
    (repo / "config").mkdir()
    (repo / "config" / "master.key").write_text(key + "\n")
    git(repo, "add", "config/master.key")
    commit(repo, "key file")
    git(repo, "rm", "-q", "config/master.key")
    commit(repo, "delete it")
    proc = _push(repo, pc_env, "main")  # the root commit is pushed: no FROM ref
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "config/master.key" in output and fingerprint(raw) in output
    assert not contains_key(output, raw)
    assert _remote_head(repo) == ""


def test_a_clean_push_passes_and_commits_still_pass(pushing_repo, pc_env):
    repo = pushing_repo
    (repo / "app.py").write_text("import os\nKEY = os.environ['APP_KEY']\n")
    git(repo, "add", "app.py")
    commit(repo, "app")
    proc = _push(repo, pc_env, "main")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # At commit time, a hook run with no text file exits 0 (always_run).
    proc = _pre_commit(repo, pc_env, "install")
    assert proc.returncode == 0
    (repo / "blob.bin").write_bytes(b"\0\1\2")
    git(repo, "add", "blob.bin")
    proc = subprocess.run(
        ["git", "commit", "-m", "binary only"],
        cwd=repo,
        env=pc_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_push_mode_directly_with_pre_commits_variables_emits_push_rejected(tmp_path: Path):
    """The hook's push mode without pre-commit: the variables pre-commit would set."""
    import os
    import sys

    from tests.eventsink import install, recorded
    from tests.gitrepo import GIT_ENV

    repo = init_repo(tmp_path / "app")
    (repo / "README.md").write_text("# app\n")
    git(repo, "add", "README.md")
    base = commit(repo, "init")
    raw, key = new_key()
    (repo / "deploy.env").write_text(f"DEPLOY_SECRET_KEY={key}\n")
    git(repo, "add", "deploy.env")
    added = commit(repo, "key")
    git(repo, "rm", "-q", "deploy.env")
    tip = commit(repo, "gone")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMPORTOBOT_", "PRE_COMMIT"))}
    env.update(GIT_ENV)
    env.update(install(tmp_path))
    outside = tmp_path / "events.toml"
    outside.write_text("[events]\n")
    env.update(
        IMPORTOBOT_EVENTS_CONFIG=str(outside),
        PRE_COMMIT="1",
        PRE_COMMIT_FROM_REF=base,
        PRE_COMMIT_TO_REF=tip,
    )
    script = Path(sys.executable).parent / "importobot-block-keys"
    proc = subprocess.run(  # no file passed: deploy.env no longer exists
        [str(script)], cwd=repo, env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "deploy.env:1:" in proc.stdout and added[:12] in proc.stdout
    assert not contains_key(proc.stdout + proc.stderr, raw)
    [record] = recorded(env)
    assert record["event"]["type"] == "push.rejected"
    assert record["event"]["fingerprint"] == fingerprint(raw)
    # The same range after the key is rewritten away: clean.
    env["PRE_COMMIT_FROM_REF"] = added
    proc = subprocess.run(
        [str(script), "README.md"], cwd=repo, env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
