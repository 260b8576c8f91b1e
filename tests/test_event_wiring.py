"""Hooks, check, key commands and rotation emit their security events through the seam.

The recording sink is installed for real (a dist-info on PYTHONPATH, found through the
``importobot.event_sinks`` entry-point group); every command runs as a subprocess. No
event field may hold a key, a token or a plaintext the command saw.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from importobot.keys.fingerprint import fingerprint
from tests.eventsink import install, recorded
from tests.gitrepo import GIT_ENV, commit, git, init_repo, new_key
from tests.keygen import contains_key

BIN = Path(sys.executable).parent


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    repo = init_repo(tmp_path / "repo")
    git(repo, "remote", "add", "origin", "https://bob:hunter2@git.example.com/team/app.git")
    outside = tmp_path / "events.toml"
    outside.write_text("[events]\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    env.update(GIT_ENV)
    env.update(install(tmp_path))
    env["IMPORTOBOT_EVENTS_CONFIG"] = str(outside)
    return repo, env


def _run(repo: Path, env: dict[str, str], *argv: str, stdin: str = "") -> int:
    proc = subprocess.run(
        [str(BIN / argv[0]), *argv[1:]],
        cwd=repo,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode


def _events(env: dict[str, str]) -> list[dict[str, object]]:
    return [r["event"] for r in recorded(env)]  # type: ignore[misc]


def _no_secret(env: dict[str, str], *raws: bytes, texts: tuple[str, ...] = ()) -> None:
    blob = Path(env["IMPORTOBOT_TEST_SINK_FILE"]).read_text()
    for raw in raws:
        assert not contains_key(blob, raw)
    for text in (*texts, "hunter2"):
        assert text not in blob


def test_hook_and_check_emit_findings(setup):
    repo, env = setup
    raw, key = new_key()
    (repo / ".env").write_text(f"APP_KEY={key}\n")
    git(repo, "add", ".env")
    assert _run(repo, env, "importobot-block-keys", ".env") == 1
    (event,) = _events(env)
    assert event["type"] == "commit.blocked" and event["rule"] == "IOB101"
    assert event["fingerprint"] == fingerprint(raw) and event["path"] == ".env"
    assert event["repository"] == "https://git.example.com/team/app.git"
    assert _run(repo, env, "importobot", "check", "--no-key-check") == 1
    assert [e["type"] for e in _events(env)] == ["commit.blocked", "check.findings"]
    _no_secret(env, raw)


def test_key_commands_and_key_hooks_emit(setup):
    repo, env = setup
    old_raw, old = new_key()
    new_raw, new = new_key()
    env1 = {**env, "IMPORTOBOT_ENCRYPTION_KEY": old}
    assert _run(repo, env1, "importobot", "key", "register", "--created", "2020-01-01") == 0
    assert _run(repo, env1, "importobot-key-age") == 1  # far past 90 days: IOB301
    env2 = {**env, "IMPORTOBOT_ENCRYPTION_KEY": new, "IMPORTOBOT_PREVIOUS_KEYS": old}
    assert _run(repo, env2, "importobot", "key", "register") == 0
    assert _run(repo, env2, "importobot", "key", "retire", fingerprint(old_raw)) == 0
    kinds = [(e["type"], e["fingerprint"]) for e in _events(env)]
    assert kinds == [
        ("key.registered", fingerprint(old_raw)),
        ("key.stale", fingerprint(old_raw)),
        ("key.registered", fingerprint(new_raw)),
        ("key.retired", fingerprint(old_raw)),
    ]
    env3 = {**env, "IMPORTOBOT_ENCRYPTION_KEY": "too-short"}
    assert _run(repo, env3, "importobot-check-key") == 1
    assert _events(env)[-1]["type"] == "key.check_failed"
    _no_secret(env, old_raw, new_raw, texts=("too-short",))


def test_rotation_emits_started_and_finished(setup, tmp_path):
    from cryptography.fernet import Fernet

    repo, env = setup
    old_raw, old = new_key()
    new_raw, new = new_key()
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE creds (id INTEGER PRIMARY KEY, token TEXT)")
        for i in range(5):
            token = Fernet(old.encode()).encrypt(f"plaintext-{i}".encode()).decode()
            conn.execute("INSERT INTO creds (token) VALUES (?)", (token,))
    env1 = {**env, "IMPORTOBOT_ENCRYPTION_KEY": new, "IMPORTOBOT_PREVIOUS_KEYS": old}
    code = _run(
        repo, env1, "importobot", "rotate", "sqlite", str(db), "--table", "creds",
        "--id-column", "id", "--column", "token",
    )  # fmt: skip
    assert code == 0
    events = [e for e in _events(env) if str(e["type"]).startswith("rotation.")]
    assert [e["type"] for e in events] == ["rotation.started", "rotation.finished"]
    assert events[-1]["fingerprint"] == fingerprint(new_raw)
    assert json.loads(json.dumps(events[-1]["counts"]))["rotated"] == 5
    _no_secret(env, old_raw, new_raw, texts=("plaintext-", "gAAAAA"))


def test_no_sink_configured_means_no_lookup(tmp_path):
    repo = init_repo(tmp_path / "repo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    env.update(install(tmp_path))
    _raw, key = new_key()
    (repo / ".env").write_text(f"APP_KEY={key}\n")
    git(repo, "add", ".env")
    commit(repo, "x")
    assert _run(repo, env, "importobot-block-keys", ".env") == 1
    assert recorded(env) == []
