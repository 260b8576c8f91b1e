"""`importobot key retire --store`: an old key is never retired while a store needs it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from importobot.keys.fingerprint import fingerprint
from importobot.keys.registry import Registry
from importobot.security import CredentialManager
from tests.enterprise.helpers import key_text, make_sqlite, plaintexts
from tests.keygen import contains_key, new_raw


def _run(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "importobot.cli", *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_retire_waits_until_every_store_is_rotated(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    old, new = new_raw(), new_raw()
    db = make_sqlite(tmp_path / "app.db", CredentialManager(old), plaintexts(50))
    env_file = tmp_path / "secrets.env"
    env_file.write_text(f"DB_PASSWORD={CredentialManager(old).encrypt_credential('pw').token}\n")
    reg = Registry(str(tmp_path / ".importobot-keys.toml"))
    reg.register(fingerprint(old), datetime.now(timezone.utc) - timedelta(days=100))
    reg.save()
    env = {"IMPORTOBOT_ENCRYPTION_KEY": key_text(new), "IMPORTOBOT_PREVIOUS_KEYS": key_text(old)}
    stores = ["--store", f"files:{env_file}", "--store", f"sqlite:{db}:creds:id:secret"]

    refused = _run(tmp_path, env, "key", "retire", *stores)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "still encrypts values" in refused.stderr and "app.db" in refused.stderr
    assert (
        Registry.load(str(tmp_path / ".importobot-keys.toml")).get(fingerprint(old)).retired is None
    )

    assert _run(tmp_path, env, "rotate", "files", str(env_file)).returncode == 0
    still = _run(tmp_path, env, "key", "retire", *stores)
    assert still.returncode == 2 and "app.db" in still.stderr and "secrets.env" not in still.stderr
    rotated = _run(
        tmp_path,
        env,
        "rotate",
        "sqlite",
        str(db),
        "--table",
        "creds",
        "--id-column",
        "id",
        "--column",
        "secret",
    )
    assert rotated.returncode == 0, rotated.stderr

    done = _run(tmp_path, env, "key", "retire", *stores)
    assert done.returncode == 0, done.stderr
    assert fingerprint(old) in done.stdout
    assert Registry.load(str(tmp_path / ".importobot-keys.toml")).get(fingerprint(old)).retired
    for proc in (refused, still, rotated, done):
        assert not contains_key(proc.stdout + proc.stderr, old)
        assert not contains_key(proc.stdout + proc.stderr, new)


def test_retire_check_needs_the_old_key_configured(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    old, new = new_raw(), new_raw()
    f = tmp_path / "t.env"
    f.write_text(f"X={CredentialManager(old).encrypt_credential('v').token}\n")
    env = {"IMPORTOBOT_ENCRYPTION_KEY": key_text(new)}
    proc = _run(tmp_path, env, "key", "retire", fingerprint(old), "--store", f"files:{f}")
    assert proc.returncode == 2 and "not configured as a previous key" in proc.stderr
    env["IMPORTOBOT_PREVIOUS_KEYS"] = key_text(old)
    bad = _run(tmp_path, env, "key", "retire", fingerprint(old), "--store", "mongo:x")
    assert bad.returncode == 2 and "expected files:PATH" in bad.stderr
