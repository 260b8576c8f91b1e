"""``importobot rotate``: exit codes 0/1/2, dry runs change no byte, keys never on argv."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from importobot.cli import cli
from importobot.security import CredentialManager
from tests.enterprise.helpers import key_text, make_sqlite, plaintexts, sqlite_values
from tests.keygen import contains_key, new_raw


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> tuple[bytes, bytes]:
    """Old key as previous, new key active, both in the environment."""
    k0, k1 = new_raw(), new_raw()
    monkeypatch.setenv("IMPORTOBOT_ENCRYPTION_KEY", key_text(k1))
    monkeypatch.setenv("IMPORTOBOT_PREVIOUS_KEYS", key_text(k0))
    return k0, k1


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_sqlite_dry_run_then_rotate(tmp_path: Path, keys: tuple[bytes, bytes]) -> None:
    k0, k1 = keys
    plains = plaintexts(120)
    db = make_sqlite(tmp_path / "app.db", CredentialManager(k0), plains)
    before = db.read_bytes()
    args = [
        "rotate",
        "sqlite",
        str(db),
        "--table",
        "creds",
        "--id-column",
        "id",
        "--column",
        "secret",
    ]
    code, out = run(*args, "--dry-run")
    assert code == 0, out
    assert "to rotate    120" in out and CredentialManager(k1).key_fingerprint in out
    assert db.read_bytes() == before and os.listdir(tmp_path) == ["app.db"]
    code, out = run(*args, "--batch-size", "50")
    assert code == 0, out
    assert "120 rotated" in out and "importobot key retire" in out
    assert CredentialManager(k0).key_fingerprint in out
    assert not contains_key(out, k0) and not contains_key(out, k1)
    only_new = CredentialManager(k1, previous_keys=[])
    assert [only_new.decrypt_bytes(str(v)) for v in sqlite_values(db).values()] == plains


def test_undecryptable_exit_1_lists_ids(tmp_path: Path, keys: tuple[bytes, bytes]) -> None:
    k0, _ = keys
    db = make_sqlite(tmp_path / "app.db", CredentialManager(new_raw()), plaintexts(3))
    code, out = run(
        "rotate",
        "sqlite",
        str(db),
        "--table",
        "creds",
        "--id-column",
        "id",
        "--column",
        "secret",
        "--format",
        "json",
    )
    assert code == 1
    data = json.loads(out[: out.rindex("}") + 1])
    assert data["reports"][0]["undecryptable_ids"] == [1, 2, 3]


def test_usage_and_environment_errors_exit_2(tmp_path: Path, monkeypatch) -> None:
    db = make_sqlite(tmp_path / "app.db", CredentialManager(new_raw()), plaintexts(1))
    code, out = run(
        "rotate", "sqlite", str(db), "--table", "creds", "--id-column", "id", "--column", "secret"
    )
    assert code == 2 and "IMPORTOBOT_ENCRYPTION_KEY" in out  # no key configured
    monkeypatch.setenv("IMPORTOBOT_ENCRYPTION_KEY", key_text(new_raw()))
    code, out = run(
        "rotate", "sqlite", str(db), "--table", "nope", "--id-column", "id", "--column", "x"
    )
    assert code == 2 and "no table" in out
    code, out = run(
        "rotate",
        "postgresql",
        "host=127.0.0.1 password=hunter2x dbname=x",
        "--table",
        "t",
        "--id-column",
        "id",
        "--column",
        "c",
    )
    assert code == 2 and "PGPASSWORD" in out and "hunter2x" not in out
    code, _ = run("rotate", "sqlite", str(db), "--table", "creds")
    assert code == 2


def test_files_symlinked_env_mode_and_fresh_time(tmp_path: Path, keys: tuple[bytes, bytes]) -> None:
    k0, k1 = keys
    real = tmp_path / "conf" / "app.env"
    real.parent.mkdir()
    hundred_days = int(time.time()) - 100 * 86400
    token = CredentialManager(k0).encrypt_bytes(b"db-pass", now=hundred_days).decode()
    real.write_text(f"# app\nDB_PASSWORD={token}\nOTHER=1\n")
    real.chmod(0o600)
    link = tmp_path / ".env"
    link.symlink_to(real)
    before = real.read_bytes()
    code, out = run("rotate", "files", str(link), "--dry-run")
    assert code == 0 and real.read_bytes() == before
    code, out = run("rotate", "files", str(link))
    assert code == 0, out
    assert link.is_symlink() and stat.S_IMODE(real.stat().st_mode) == 0o600
    from importobot.keys.tokens import token_timestamp

    new_token = real.read_text().splitlines()[1].split("=", 1)[1]
    assert (token_timestamp(new_token) or 0) > time.time() - 3600
    assert CredentialManager(k1, previous_keys=[]).decrypt_bytes(new_token) == b"db-pass"


def test_real_console_script_exit_codes(tmp_path: Path) -> None:
    """The installed entry point: no traceback, one line, exit 2 without a key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    f = tmp_path / "t.txt"
    f.write_text("x\n")
    proc = subprocess.run(
        [sys.executable, "-m", "importobot.cli", "rotate", "files", str(f)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1


def test_no_iob303_after_rotating_a_100_day_old_token(
    tmp_path: Path, keys: tuple[bytes, bytes]
) -> None:
    """Acceptance: fresh timestamps (D20) make `importobot check` stop reporting IOB303."""
    k0, _ = keys
    hundred_days = int(time.time()) - 100 * 86400
    env_file = tmp_path / "app.env"
    token = CredentialManager(k0).encrypt_bytes(b"v", now=hundred_days).decode()
    env_file.write_text(f"API_TOKEN={token}\n")
    config = tmp_path / ".importobot.toml"
    config.write_text('max-key-age = "90d"\nkey-check = true\n')

    def iob303() -> bool:
        _, out = run("check", "--format", "json", "--config", str(config), str(env_file))
        return "IOB303" in out

    assert iob303()
    assert run("rotate", "files", str(env_file))[0] == 0
    assert not iob303()


@pytest.mark.parametrize("tty", [True, False])
def test_progress_bar_only_on_a_terminal(tmp_path: Path, tty: bool) -> None:
    import pty

    k0, k1 = new_raw(), new_raw()
    db = make_sqlite(tmp_path / "app.db", CredentialManager(k0), plaintexts(3000))
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    env.update(
        IMPORTOBOT_ENCRYPTION_KEY=key_text(k1), IMPORTOBOT_PREVIOUS_KEYS=key_text(k0), TERM="xterm"
    )
    cmd = [
        sys.executable,
        "-m",
        "importobot.cli",
        "rotate",
        "sqlite",
        str(db),
        "--table",
        "creds",
        "--id-column",
        "id",
        "--column",
        "secret",
        "--batch-size",
        "100",
    ]
    if not tty:
        proc = subprocess.run(cmd, capture_output=True, env=env, timeout=120, check=False)
        assert proc.returncode == 0
        assert b"rotating" not in proc.stderr and b"\x1b[" not in proc.stderr + proc.stdout
        return
    master, slave = pty.openpty()
    proc2 = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    assert proc2.wait(timeout=120) == 0
    os.close(master)
    assert b"rotating" in seen


def test_journal_target_mismatch_and_lock_exit_2(tmp_path: Path, keys: tuple[bytes, bytes]) -> None:
    from importobot_enterprise.key_rotation import SQLiteStore
    from importobot_enterprise.key_rotation.durable import store_lock

    k0, k1 = keys
    db = make_sqlite(tmp_path / "app.db", CredentialManager(k0), plaintexts(20))
    other = CredentialManager(new_raw()).key_fingerprint
    with SQLiteStore(db, "creds", "id", "secret") as store:
        store.write_journal({"target_fingerprint": other, "last_id": 5, "started": "x"})
    args = [
        "rotate",
        "sqlite",
        str(db),
        "--table",
        "creds",
        "--id-column",
        "id",
        "--column",
        "secret",
    ]
    code, out = run(*args)
    assert code == 2 and other in out and CredentialManager(k1).key_fingerprint in out
    assert "--new-target" in out
    with store_lock(db):
        code, out = run(*args, "--new-target")
    assert code == 2 and f"pid {os.getpid()}" in out
    code, out = run(*args, "--new-target")
    assert code == 0 and "20 rotated" in out
