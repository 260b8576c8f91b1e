"""Throwaway git repositories for hook and history tests (keys are generated, never stored)."""

from __future__ import annotations

import base64
import os
import subprocess
from pathlib import Path

from tests.keygen import new_raw

#: Identity and defaults for every git call the tests make (no global config needed).
GIT_ENV = {
    "GIT_AUTHOR_NAME": "importobot tests",
    "GIT_AUTHOR_EMAIL": "tests@importobot.invalid",
    "GIT_COMMITTER_NAME": "importobot tests",
    "GIT_COMMITTER_EMAIL": "tests@importobot.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str, check: bool = True, env: dict[str, str] | None = None) -> str:
    """Run git in ``repo``; returns stdout."""
    full = {**os.environ, **GIT_ENV, **(env or {})}
    proc = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env=full,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


def init_repo(path: Path) -> Path:
    """A fresh repository at ``path``."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q")
    return path


def commit(repo: Path, message: str = "change") -> str:
    """Commit what is staged; returns the commit id."""
    git(repo, "commit", "-q", "--no-verify", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def new_key() -> tuple[bytes, str]:
    """A generated key: (raw bytes, Fernet spelling)."""
    raw = new_raw()
    return raw, base64.urlsafe_b64encode(raw).decode()
