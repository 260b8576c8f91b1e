"""Issue 17 item 1: "done" and `key retire --store` rest on a verification pass.

Values holding Fernet tokens *inside* text (a JSON document, several tokens in one
value) are rotated like the file store's (every other byte kept, compare-and-swap on
the whole value, a token replaced only when a source key opens it); a store is called
done only when every token in it opens under the target key alone and no non-empty
value was skipped unread; `key retire --store` asks the same question.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from importobot.cli import cli
from importobot.keys.fingerprint import fingerprint
from importobot.keys.registry import Registry
from importobot.keys.tokens import find_tokens
from importobot.security import CredentialManager
from importobot_enterprise.key_rotation import SQLiteStore, rotate_store, verify_store
from importobot_enterprise.key_rotation.retire_check import stores_still_holding
from tests.enterprise.helpers import key_text, managers, only
from tests.keygen import contains_key, new_raw

ARGS = ["--table", "creds", "--id-column", "id", "--column", "secret"]


def embedded_rows(old: CredentialManager, stranger: CredentialManager) -> dict[int, str | None]:
    """Values as an application stores them: JSON documents and lists of tokens."""
    t = [old.encrypt_bytes(b"p%d" % i).decode() for i in range(6)]
    return {
        1: json.dumps({"token": t[0]}),
        2: json.dumps({"a": t[1], "nested": {"b": [t[2], "plain"]}, "n": 1}),
        3: f"{t[3]},{t[4]}",
        4: t[5],
        5: json.dumps({"mine": stranger.encrypt_bytes(b"s").decode(), "x": "y"}),
        6: None,
        7: "",
    }


def make_db(path: Path, rows: dict[int, object]) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE creds(id INTEGER PRIMARY KEY, secret TEXT)")
    conn.executemany("INSERT INTO creds VALUES (?, ?)", list(rows.items()))
    conn.commit()
    conn.close()
    return path


def read_db(path: Path) -> dict[int, object]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT id, secret FROM creds ORDER BY id").fetchall())
    finally:
        conn.close()


def skeleton(value: object) -> bytes:
    data = str(value).encode()
    for start, end in reversed(find_tokens(data)):
        data = data[:start] + b"@" + data[end:]
    return data


def tokens_of(value: object) -> list[bytes]:
    data = str(value).encode()
    return [data[s:e] for s, e in find_tokens(data)]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def env_keys(monkeypatch: pytest.MonkeyPatch) -> tuple[bytes, bytes]:
    k0, k1 = new_raw(), new_raw()
    monkeypatch.setenv("IMPORTOBOT_ENCRYPTION_KEY", key_text(k1))
    monkeypatch.setenv("IMPORTOBOT_PREVIOUS_KEYS", key_text(k0))
    return k0, k1


def test_embedded_tokens_are_rotated_every_other_byte_kept(tmp_path: Path) -> None:
    k0, k1, old, new = managers()
    stranger = CredentialManager(new_raw())
    rows = embedded_rows(old, stranger)
    db = make_db(tmp_path / "app.db", rows)
    with SQLiteStore(db, "creds", "id", "secret") as store:
        report = rotate_store(store, old, new, batch_size=2)
    after = read_db(db)
    for i, value in rows.items():
        assert skeleton(after[i]) == skeleton(value), i  # every non-token byte kept
    target = only(k1)
    for i in (1, 2, 3, 4):  # every token a source key opens is now under the target
        got = tokens_of(after[i])
        assert got and all(target.open_token(t)[1] == target.key_fingerprint for t in got), i
    assert after[5] == rows[5]  # no source key opens it: untouched
    assert after[6] is None and after[7] == ""
    assert report.rotated == 6 and report.undecryptable == 1 and report.skipped == 2
    assert report.undecryptable_ids == [5] and report.unverified_ids == [5]
    assert not report.complete


def test_embedded_only_store_rotates_to_done_then_retire_passes(
    tmp_path: Path, env_keys: tuple[bytes, bytes]
) -> None:
    """The acceptance case: SQLite, JSON documents with embedded tokens, CLI end to end."""
    k0, k1 = env_keys
    old = CredentialManager(k0)
    rows = embedded_rows(old, old)  # row 5's token is under the old key too
    db = make_db(tmp_path / "app.db", rows)
    spec = f"sqlite:{db}:creds:id:secret"
    holding = stores_still_holding([spec], fingerprint(k0))
    assert len(holding) == 1 and "ids 1, 2, 3, 4, 5" in holding[0]
    code, out, err = run("rotate", "sqlite", str(db), *ARGS)
    assert code == 0, out + err
    assert "7 rotated" in out and "every value is under" in out
    target = only(k1)
    for i in (1, 2, 3, 4, 5):
        assert all(target.decrypt_bytes(t) for t in tokens_of(read_db(db)[i]))
    assert stores_still_holding([spec], fingerprint(k0)) == []
    code, out, err = run("rotate", "sqlite", str(db), *ARGS, "--verify")
    assert code == 0 and "every value is under" in out, out + err
    assert not contains_key(out + err, k0) and not contains_key(out + err, k1)


def test_unreadable_values_exit_1_named_and_block_retire(
    tmp_path: Path, env_keys: tuple[bytes, bytes]
) -> None:
    k0, k1 = env_keys
    old = CredentialManager(k0)
    token = old.encrypt_bytes(b"v").decode()
    rows: dict[int, object] = {1: token, 2: "not a token at all", 3: "   ", 4: None, 5: 42}
    db = make_db(tmp_path / "app.db", rows)
    code, out, err = run("rotate", "sqlite", str(db), *ARGS)
    assert code == 1, out + err
    assert "every value is under" not in out
    assert "ids 2, 5" in out and "check them by hand" in err
    assert "IMPORTOBOT_PREVIOUS_KEYS" not in err  # not the reason here
    assert only(k1).decrypt_bytes(read_db(db)[1].encode()) == b"v"  # type: ignore[union-attr]
    assert read_db(db)[2] == "not a token at all"
    (holding,) = stores_still_holding([f"sqlite:{db}:creds:id:secret"], fingerprint(k0))
    assert "ids 2, 5" in holding
    code, out, _ = run("rotate", "sqlite", str(db), *ARGS, "--format", "json")
    report = json.loads(out)["reports"][0]
    assert code == 1 and report["unreadable_ids"] == [2, 5] and report["complete"] is False


def test_writer_still_on_the_old_key_during_the_run_is_not_done(
    tmp_path: Path, env_keys: tuple[bytes, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    k0, k1 = env_keys
    old = CredentialManager(k0)
    db = make_db(tmp_path / "app.db", {i: old.encrypt_bytes(b"v").decode() for i in range(1, 9)})
    real = SQLiteStore.replace
    calls = {"n": 0}

    def replace_then_a_writer_strikes(self: SQLiteStore, changes):  # type: ignore[no-untyped-def]
        missed = real(self, changes)
        calls["n"] += 1
        if calls["n"] == 2:  # row 1 was rotated in batch 1; a writer rewrites it: old key
            side = sqlite3.connect(db)
            side.execute("UPDATE creds SET secret = ? WHERE id = 1", (token_under(k0),))
            side.commit()
            side.close()
        return missed

    monkeypatch.setattr(SQLiteStore, "replace", replace_then_a_writer_strikes)
    code, out, err = run("rotate", "sqlite", str(db), *ARGS, "--batch-size", "4")
    assert code == 1, out + err
    assert "8 rotated" in out and "every value is under" not in out
    assert f"1 under {fingerprint(k0)}" in out and "ids: 1" in out
    assert "writer still using the old key" in err and "IMPORTOBOT_PREVIOUS_KEYS" not in err
    monkeypatch.setattr(SQLiteStore, "replace", real)
    code, out, err = run("rotate", "sqlite", str(db), *ARGS)
    assert code == 0 and "1 rotated, 7 already" in out, out + err


def token_under(raw: bytes) -> str:
    return CredentialManager(raw).encrypt_bytes(b"late").decode()


def test_conflict_left_over_says_what_happened(
    tmp_path: Path, env_keys: tuple[bytes, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 17 item 7: a compare-and-swap miss is not "add their key to …"."""
    k0, _ = env_keys
    old = CredentialManager(k0)
    db = make_db(tmp_path / "app.db", {i: old.encrypt_bytes(b"v").decode() for i in range(1, 6)})
    real = SQLiteStore._cas_update

    def row_3_always_moves(self: SQLiteStore, rows):  # type: ignore[no-untyped-def]
        return real(self, [r for r in rows if r[1] != 3])

    monkeypatch.setattr(SQLiteStore, "_cas_update", row_3_always_moves)
    code, out, err = run("rotate", "sqlite", str(db), *ARGS)
    assert code == 1, out + err
    assert "1 value kept changing while being rotated" in out
    assert "changed while being rotated" in err
    assert "IMPORTOBOT_PREVIOUS_KEYS" not in err and "add their key" not in err


def test_verify_trusts_the_target_key_alone(
    tmp_path: Path, env_keys: tuple[bytes, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    k0, k1 = env_keys
    db = make_db(tmp_path / "app.db", {1: token_under(k0), 2: token_under(k1)})
    # A previous key from every source: none may be read by --verify.
    keyfile = tmp_path / "prev.keys"
    keyfile.write_text(key_text(k0) + "\n")
    keyfile.chmod(0o600)
    monkeypatch.setenv("IMPORTOBOT_PREVIOUS_KEYS_FILE", str(keyfile))
    before = db.read_bytes()
    for flag in ("--verify", "--only-target"):
        code, out, err = run("rotate", "sqlite", str(db), *ARGS, flag)
        assert code == 1, out + err
        assert "1 under no given key" in out and "ids: 1" in out
        assert fingerprint(k0) not in out  # the old key was never loaded to name it
    assert db.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["app.db", "prev.keys"]
    code, out, err = run("rotate", "sqlite", str(db), *ARGS, "--verify", "--dry-run")
    assert code == 2
    env = tmp_path / "a.env"
    env.write_text(f"A={token_under(k1)}\nB={token_under(k0)}\n")
    code, out, err = run("rotate", "files", str(env), "--only-target")
    assert code == 1 and "ids: line:2#1" in out, out + err


def test_verify_ignores_the_keyrings_previous_entry(tmp_path: Path) -> None:
    """The runbook's verification step for keyring users (real Secret Service)."""
    import keyring

    from tests.conftest import require_service

    try:
        from keyring.backends import SecretService

        usable = isinstance(keyring.get_keyring(), SecretService.Keyring)
    except Exception:  # noqa: BLE001
        usable = False
    require_service("Secret Service", usable, "run under scripts/test (gnome-keyring)")
    k0, k1 = new_raw(), new_raw()
    service = f"importobot-test-{os.getpid()}-{k1.hex()[:6]}"
    keyring.set_password(service, "fernet-key", key_text(k1))
    keyring.set_password(service, "fernet-key.previous", key_text(k0))
    try:
        db = make_db(tmp_path / "app.db", {1: token_under(k0)})
        env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
        env.update(IMPORTOBOT_KEYRING_SERVICE=service, IMPORTOBOT_KEYRING_USERNAME="fernet-key")
        base = [sys.executable, "-m", "importobot.cli", "rotate", "sqlite", str(db), *ARGS]
        plain = subprocess.run(base + ["--dry-run"], env=env, capture_output=True, text=True)
        assert plain.returncode == 0 and "to rotate    1" in plain.stdout, plain.stderr
        proc = subprocess.run(base + ["--verify"], env=env, capture_output=True, text=True)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert "1 under no given key" in proc.stdout
    finally:
        for user in ("fernet-key", "fernet-key.previous"):
            with contextlib.suppress(Exception):
                keyring.delete_password(service, user)


def test_key_retire_cli_refuses_until_verified(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    k0, k1 = new_raw(), new_raw()
    old = CredentialManager(k0)
    db = make_db(tmp_path / "app.db", embedded_rows(old, old))
    reg = Registry(str(tmp_path / ".importobot-keys.toml"))
    reg.register(fingerprint(k0), datetime.now(timezone.utc) - timedelta(days=100))
    reg.save()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    env.update(IMPORTOBOT_ENCRYPTION_KEY=key_text(k1), IMPORTOBOT_PREVIOUS_KEYS=key_text(k0))

    def cli_run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "importobot.cli", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    retire = ["key", "retire", fingerprint(k0), "--store", f"sqlite:{db}:creds:id:secret"]
    refused = cli_run(*retire)
    assert refused.returncode == 2 and "ids 1, 2, 3, 4, 5" in refused.stderr
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert cli_run("rotate", "sqlite", str(db), *ARGS).returncode == 0
    done = cli_run(*retire)
    assert done.returncode == 0, done.stderr
    for proc in (refused, done):
        assert not contains_key(proc.stdout + proc.stderr, k0)
        assert not contains_key(proc.stdout + proc.stderr, k1)


def test_verify_store_api(tmp_path: Path) -> None:
    k0, k1, old, new = managers()
    db = make_db(tmp_path / "app.db", {1: token_under(k1), 2: json.dumps([token_under(k0)])})
    with SQLiteStore(db, "creds", "id", "secret", read_only=True) as store:
        report = verify_store(store, new)
        assert not report.complete and report.unverified_by_key == {old.key_fingerprint: 1}
        assert report.unverified_ids == [2] and report.checked == 2
        assert not verify_store(store, only(k1)).complete
        assert verify_store(store, only(k1)).unverified_by_key == {"none": 1}
