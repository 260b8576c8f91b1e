"""Key checks inside ``importobot check`` (D16 opt-in): IOB2xx, IOB204, IOB3xx."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from importobot.commands.check import CheckRequest, run_check
from importobot.keys.fingerprint import fingerprint
from importobot.keys.registry import Registry
from importobot.security import CredentialManager
from tests.keygen import contains_key, new_raw


def _git(repo: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    env.update(
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.invalid",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.invalid",
    )
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True, env=env
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    _git(tmp_path, "init", "-q", "-b", "main")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


def _check(capsys, **kw) -> tuple[int, dict]:
    code = run_check(CheckRequest(fmt="json", **kw))
    return code, json.loads(capsys.readouterr().out)


def test_skipped_note_without_opt_in(repo):
    (repo / "README").write_text("hello\n")
    proc = subprocess.run(
        [sys.executable, "-m", "importobot.cli", "check"],
        cwd=repo,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")},
        timeout=60,
    )
    assert proc.returncode == 0
    assert "key checks skipped (not configured)" in proc.stderr


def test_bad_and_missing_keys_are_findings(repo, monkeypatch, capsys):
    (repo / ".importobot.toml").write_text("key-check = true\n")
    code, report = _check(capsys)
    assert code == 1 and [f["rule"] for f in report["findings"]] == ["IOB201"]
    monkeypatch.setenv("IMPORTOBOT_ENCRYPTION_KEY", "changeme")
    code, report = _check(capsys)
    assert code == 1 and report["findings"][0]["rule"] == "IOB203"
    assert report["findings"][0]["source"] == "env:IMPORTOBOT_ENCRYPTION_KEY"
    assert report["findings"][0]["fingerprint"] is None


def test_set_up_key_committed_in_the_work_tree_is_iob204(repo, monkeypatch, capsys):
    raw = new_raw()
    monkeypatch.setenv("IMPORTOBOT_ENCRYPTION_KEY", base64.b64encode(raw).decode())
    (repo / ".env").write_text(f"X=1\nAPP_ENCRYPTION_KEY={_url(raw)}\n")
    baseline = repo / "baseline.json"
    code, report = _check(capsys, baseline=str(baseline), update_baseline=True)
    rules = sorted(f["rule"] for f in report["findings"] if "suppressed" not in f)
    # The baseline accepts the IOB101 finding but never IOB204 (D13).
    assert "IOB204" in rules and code == 1
    iob204 = next(f for f in report["findings"] if f["rule"] == "IOB204")
    assert (iob204["path"], iob204["line"]) == (".env", 2)
    assert iob204["fingerprint"] == fingerprint(raw)
    assert not contains_key(json.dumps(report), raw)


def test_iob204_in_history_for_a_deleted_file(repo, monkeypatch):
    raw = new_raw()
    (repo / "README").write_text("x\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "init")
    (repo / "config").mkdir()
    (repo / "config" / "app.env").write_text(f"# app\nFERNET_KEY={_url(raw)}\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "add config")
    leaked_in = _git(repo, "rev-parse", "HEAD")
    _git(repo, "rm", "-q", "config/app.env")
    _git(repo, "commit", "-qm", "remove config")
    (repo / "README").write_text("y\n")
    _git(repo, "commit", "-qam", "later")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    env["IMPORTOBOT_ENCRYPTION_KEY"] = _url(raw)
    proc = subprocess.run(
        [sys.executable, "-m", "importobot.cli", "check", "--history", "--format", "json"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    hits = [f for f in report["findings"] if f["rule"] == "IOB204"]
    assert len(hits) == 1
    assert (hits[0]["path"], hits[0]["line"], hits[0]["commit"]) == ("config/app.env", 2, leaked_in)
    assert not contains_key(proc.stdout + proc.stderr, raw)
    text = subprocess.run(
        [sys.executable, "-m", "importobot.cli", "check", "--history"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert "IOB204" in text.stdout and not contains_key(text.stdout + text.stderr, raw)


def test_registered_keys_are_watched_too(repo, monkeypatch, capsys):
    active, other = new_raw(), new_raw()
    monkeypatch.setenv("IMPORTOBOT_ENCRYPTION_KEY", _url(active))
    reg = Registry(str(repo / ".importobot-keys.toml"))
    now = datetime.now(timezone.utc)
    reg.register(fingerprint(active), now - timedelta(days=1))
    reg.register(fingerprint(other), now - timedelta(days=200))
    reg.save()
    (repo / "settings.py").write_text(f'SECRET_KEY = "{base64.b64encode(other).decode()}"\n')
    code, report = _check(capsys)
    rules = [f["rule"] for f in report["findings"]]
    assert "IOB204" in rules and "IOB102" in rules and code == 1
    # Retire it: still reported as a committed key, no longer as compromised active key.
    reg.retire(fingerprint(other), now)
    reg.save()
    code, report = _check(capsys)
    assert "IOB204" not in [f["rule"] for f in report["findings"]]


def test_key_age_in_check(repo, monkeypatch, capsys):
    raw = new_raw()
    monkeypatch.setenv("IMPORTOBOT_ENCRYPTION_KEY", _url(raw))
    reg = Registry(str(repo / ".importobot-keys.toml"))
    reg.register(fingerprint(raw), datetime.now(timezone.utc) - timedelta(days=100))
    reg.save()
    code, report = _check(capsys, max_key_age="90d")
    assert code == 1 and [f["rule"] for f in report["findings"]] == ["IOB301"]
    code, report = _check(capsys, max_key_age="110d")
    assert code == 0 and [f["rule"] for f in report["findings"]] == ["IOB302"]
    code, _ = _check(capsys, max_key_age="110d", strict=True)
    assert code == 1
    with pytest.raises(Exception, match="ambiguous"):
        run_check(CheckRequest(max_key_age="3m"))


def test_stale_ciphertext_iob303_with_a_fixed_clock(repo, monkeypatch, capsys):
    raw = new_raw()
    monkeypatch.setenv("IMPORTOBOT_ENCRYPTION_KEY", _url(raw))
    (repo / ".importobot.toml").write_text('key-check = true\nmax-key-age = "90d"\n')
    cm = CredentialManager(key=raw)
    now = time.time()
    old = cm.encrypt_credential("db-password", now=int(now - 100 * 86400)).token
    fresh = cm.encrypt_credential("other", now=int(now - 5 * 86400)).token
    (repo / "secrets.env").write_text(f"# encrypted\nDB_PASSWORD={old}\nOTHER={fresh}\n")
    fixed = datetime.fromtimestamp(now, tz=timezone.utc)
    code = run_check(CheckRequest(fmt="json"), now=fixed)
    report = json.loads(capsys.readouterr().out)
    stale = [f for f in report["findings"] if f["rule"] == "IOB303"]
    assert code == 0  # a warning (plus IOB304: the key is not registered)
    assert len(stale) == 1
    assert (stale[0]["path"], stale[0]["line"], stale[0]["column"]) == ("secrets.env", 2, 13)
    assert stale[0]["variable"] == "DB_PASSWORD"
    assert not contains_key(json.dumps(report), raw)
    # Re-encrypted with a fresh timestamp (what `importobot rotate` does, D20): quiet.
    (repo / "secrets.env").write_text(f"DB_PASSWORD={cm.encrypt_credential('db-password').token}\n")
    run_check(CheckRequest(fmt="json"), now=fixed)
    report = json.loads(capsys.readouterr().out)
    assert not [f for f in report["findings"] if f["rule"] == "IOB303"]


def test_unreachable_keyring_is_exit_2(repo, monkeypatch):
    env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    env = {k: v for k, v in env.items() if not k.startswith("IMPORTOBOT_")}
    env["IMPORTOBOT_KEYRING_SERVICE"] = "nowhere"
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    proc = subprocess.run(
        [sys.executable, "-m", "importobot.cli", "check"],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "keyring" in proc.stderr.lower() and "Traceback" not in proc.stderr
