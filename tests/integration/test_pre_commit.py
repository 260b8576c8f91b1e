"""The hooks under the real ``pre-commit`` tool, as users install them.

The hook repository is a fresh git repository holding a copy of this checkout's current
files (package, ``pyproject.toml``, ``README.md``, ``.pre-commit-hooks.yaml``) in one
commit, so the test exercises exactly the code under test — the committed HEAD on CI,
uncommitted work locally — and ``rev:`` is that commit's full id. pre-commit builds the
hook environment (``language: python``: pip installs the repository) once per session
under ``PRE_COMMIT_HOME`` (``scripts/test`` sets one; otherwise a session temp dir).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from importobot.keys.fingerprint import fingerprint
from tests.gitrepo import GIT_ENV, commit, git, init_repo, new_key
from tests.keygen import contains_key

ROOT = Path(__file__).resolve().parents[2]
HOOK_FILES = ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml")
HOOK_DIRS = ("importobot", "importobot_enterprise")


@pytest.fixture(scope="session")
def pc_env(tmp_path_factory) -> dict[str, str]:
    """The environment for pre-commit and git: a private cache, an identity, no keys."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    env.update(GIT_ENV)
    env.setdefault("PRE_COMMIT_HOME", str(tmp_path_factory.mktemp("pre-commit-home")))
    env["PRE_COMMIT_COLOR"] = "never"
    return env


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory, pc_env) -> tuple[Path, str]:
    """A git repository with this checkout's hook code in one commit: (path, full sha)."""
    repo = init_repo(tmp_path_factory.mktemp("hook-repo") / "importobot")
    for name in HOOK_FILES:
        shutil.copy2(ROOT / name, repo / name)
    for name in HOOK_DIRS:
        shutil.copytree(
            ROOT / name, repo / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    git(repo, "add", ".")
    sha = commit(repo, "hook code under test")
    # Build the one hook environment all tests share (pip install of the hook repo).
    scratch = init_repo(tmp_path_factory.mktemp("warm") / "repo")
    _write_config(scratch, repo, sha)
    proc = _pre_commit(scratch, pc_env, "install-hooks")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return repo, sha


def _write_config(repo: Path, hook_repo: Path, sha: str, hooks: tuple[str, ...] = ()) -> None:
    ids = hooks or ("importobot-block-keys", "importobot-check-key", "importobot-key-age")
    lines = ["repos:", f"  - repo: {hook_repo}", f"    rev: {sha}", "    hooks:"]
    lines += [f"      - id: {hook_id}" for hook_id in ids]
    (repo / ".pre-commit-config.yaml").write_text("\n".join(lines) + "\n")


def _pre_commit(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture
def user_repo(tmp_path, hook_repo, pc_env) -> Path:
    """A user's fresh repository with only importobot-block-keys installed as a git hook."""
    repo = init_repo(tmp_path / "app")
    _write_config(repo, *hook_repo, hooks=("importobot-block-keys",))
    git(repo, "add", ".pre-commit-config.yaml")
    commit(repo, "pre-commit config")
    proc = _pre_commit(repo, pc_env, "install")
    assert proc.returncode == 0, proc.stderr
    return repo


def _commit(repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "commit", "-m", "change"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_commit_with_a_generated_key_in_env_is_blocked(user_repo, pc_env):
    raw, key = new_key()
    (user_repo / ".env").write_text(f"DEBUG=true\nAPP_ENCRYPTION_KEY={key}\n")
    git(user_repo, "add", ".env")
    before = git(user_repo, "rev-parse", "HEAD")
    proc = _commit(user_repo, pc_env)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "block plaintext encryption keys" in output and "Failed" in output
    assert f".env:2:20 IOB101 APP_ENCRYPTION_KEY {fingerprint(raw)}" in output
    assert "importobot: fix:" in output
    assert not contains_key(output, raw)
    assert git(user_repo, "rev-parse", "HEAD") == before  # nothing was committed


def test_commit_with_a_generated_key_in_a_utf16_env_is_blocked(user_repo, pc_env):
    # PowerShell's `"APP_ENCRYPTION_KEY=$key" > .env` writes UTF-16 LE with a BOM and CRLF:
    # pre-commit tags that file binary, so the hook must take `types: [file]` (issue 16).
    raw, key = new_key()
    text = f"DEBUG=true\r\nAPP_ENCRYPTION_KEY={key}\r\n"
    (user_repo / ".env").write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    (user_repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + os.urandom(64))
    git(user_repo, "add", ".env", "logo.png")
    before = git(user_repo, "rev-parse", "HEAD")
    proc = _commit(user_repo, pc_env)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert f".env:2:20 IOB101 APP_ENCRYPTION_KEY {fingerprint(raw)}" in output
    assert "logo.png" not in output  # a binary file is passed, and skipped
    assert not contains_key(output, raw)
    assert git(user_repo, "rev-parse", "HEAD") == before
    # Without the key the same files pass.
    (user_repo / ".env").write_bytes(b"\xff\xfe" + "DEBUG=true\r\n".encode("utf-16-le"))
    git(user_repo, "add", ".env")
    proc = _commit(user_repo, pc_env)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_placeholders_references_and_fernet_tokens_pass(user_repo, pc_env):
    from cryptography.fernet import Fernet

    token = Fernet(Fernet.generate_key()).encrypt(b"db password").decode()
    (user_repo / ".env").write_text(
        "APP_ENCRYPTION_KEY=changeme\n"
        "SECRET_KEY=${SECRET_KEY}\n"
        f"DB_PASSWORD_ENCRYPTED={token}\n"
        "FERNET_KEY=\n"
    )
    (user_repo / "settings.py").write_text('SECRET_KEY = os.environ["SECRET_KEY"]\n')
    git(user_repo, "add", ".env", "settings.py")
    proc = _commit(user_repo, pc_env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    output = proc.stdout + proc.stderr
    assert "block plaintext encryption keys" in output and "Passed" in output


def test_all_files_scans_committed_files(user_repo, pc_env):
    raw, key = new_key()
    (user_repo / "config").mkdir()
    (user_repo / "config" / "master.key").write_text(key + "\n")
    git(user_repo, "add", "config/master.key")
    git(user_repo, "commit", "-q", "--no-verify", "-m", "sneaked in")
    assert _pre_commit(user_repo, pc_env, "run").returncode == 0  # nothing staged
    proc = _pre_commit(user_repo, pc_env, "run", "--all-files")
    assert proc.returncode == 1 and fingerprint(raw) in proc.stdout
    assert not contains_key(proc.stdout + proc.stderr, raw)


def test_key_hooks_under_pre_commit(tmp_path, hook_repo, pc_env):
    repo = init_repo(tmp_path / "app")
    _write_config(repo, *hook_repo)
    git(repo, "add", ".")
    proc = _pre_commit(repo, pc_env, "run", "importobot-check-key")
    assert proc.returncode == 1 and "IOB201" in proc.stdout, proc.stdout
    raw, key = new_key()
    with_key = {**pc_env, "IMPORTOBOT_ENCRYPTION_KEY": key}
    for hook_id in ("importobot-check-key", "importobot-key-age"):
        proc = _pre_commit(repo, with_key, "run", hook_id)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, output
        assert not contains_key(output, raw)
    # No key where the repository has not opted in to key checks: the hook passes and says so
    # (contributors without a key can commit).
    proc = _pre_commit(repo, pc_env, "run", "importobot-key-age", "--verbose")
    assert proc.returncode == 0 and "key checks skipped (not configured)" in proc.stdout
    # Opted in (a committed key registry): no key fails.
    (repo / ".importobot-keys.toml").write_text("")
    git(repo, "add", ".importobot-keys.toml")
    assert _pre_commit(repo, pc_env, "run", "importobot-key-age").returncode == 1


def test_history_finds_a_key_committed_and_later_deleted(tmp_path, pc_env):
    repo = init_repo(tmp_path / "app")
    raw, key = new_key()
    (repo / ".env").write_text(f"APP_KEY={key}\n")
    git(repo, "add", ".env")
    added = commit(repo, "oops")
    git(repo, "rm", "-q", ".env")
    commit(repo, "remove the key")
    importobot = Path(sys.executable).parent / "importobot"
    proc = subprocess.run(
        [str(importobot), "check", "--history", "--format", "json"],
        cwd=repo,
        env=pc_env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert f'"commit": "{added}"' in proc.stdout and fingerprint(raw) in proc.stdout
    assert not contains_key(proc.stdout + proc.stderr, raw)


def _readme_snippet() -> str:
    """The README's `.pre-commit-config.yaml` block, exactly as documented."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("```yaml\n# .pre-commit-config.yaml\n") + len("```yaml\n")
    return readme[start : readme.index("```", start)]


def test_readme_snippet_works_as_written(tmp_path, hook_repo, pc_env):
    """Paste the README's snippet into a fresh repository with no key; change only repo/rev."""
    snippet = _readme_snippet()
    assert "repo: https://github.com/importobot/importobot" in snippet
    path, sha = hook_repo
    config = []
    for line in snippet.splitlines():
        if line.strip().startswith("- repo:"):
            line = line.split("- repo:")[0] + f"- repo: {path}"
        elif line.strip().startswith("rev:"):
            line = line.split("rev:")[0] + f"rev: {sha}"
        config.append(line)
    repo = init_repo(tmp_path / "app")
    (repo / ".pre-commit-config.yaml").write_text("\n".join(config) + "\n")
    (repo / "app.py").write_text("print('hello')\n")
    git(repo, "add", ".")
    commit(repo, "start")
    env = {k: v for k, v in pc_env.items() if not k.startswith("IMPORTOBOT_")}
    proc = _pre_commit(repo, env, "run", "--all-files")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _pre_commit(repo, env, "install").returncode == 0
    raw, key = new_key()
    (repo / ".env").write_text(f"APP_KEY={key}\n")
    git(repo, "add", ".env")
    proc = _commit(repo, env)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1 and fingerprint(raw) in output, output
    assert not contains_key(output, raw)
