"""Issue 17 items 5 and 7: journals keep ids with their type, resume never double-counts,
one lock per file identity, and every bad journal, full disk or odd id type ends in one
line with the documented exit code (never a traceback)."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from importobot.cli import main
from importobot.security import CredentialManager
from importobot_enterprise.key_rotation import (
    FileStore,
    JournalError,
    SQLiteStore,
    StoreError,
    StoreLockedError,
    rotate_store,
)
from importobot_enterprise.key_rotation.ids import decode_id, encode_id, show_id
from tests.conftest import require_service
from tests.enterprise.helpers import key_text, managers, only
from tests.keygen import new_raw

ARGS = ["--table", "creds", "--id-column", "id", "--column", "secret"]

# id type -> six ids of it, as the driver returns them (SQLite: the storage classes).
SQLITE_IDS: dict[str, list[Any]] = {
    "INTEGER": [-(2**63), -5, 0, 7, 2**40, 2**63 - 1],
    "BIGINT": [1, 2, 3, 10, 11, 2**62],
    "NUMERIC": [0.5, 1, 1.25, 2, 3.75, 10],
    "TEXT": ["", "a", "b'\\x00'", "line:1#1", "z" * 300, "\u00e9t\u00e9"],
    "UUID": sorted(str(uuid.uuid4()) for _ in range(6)),
    "BLOB": [b"\x00", b"\x00\t", b"\x01", b"\xff", b"\xff\x00", b"\xff\xff" * 20],
    "TIMESTAMPTZ": [f"2024-01-0{d}T00:00:00+00:00" for d in range(1, 7)],
}


def test_ids_round_trip_through_json() -> None:
    values: list[Any] = [
        None,
        0,
        -(2**63),
        2**63 - 1,
        1.5,
        "b'\\x00\\t'",
        b"\x00\t",
        uuid.uuid4(),
        Decimal("12345678901234567890.000001"),
        Decimal("NaN"),
        datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=2))),
        datetime(2024, 5, 6).date(),
    ]
    for value in values:
        back = decode_id(json.loads(json.dumps(encode_id(value))), "j")
        assert type(back) is type(value) and (back == value or value != value), value
        json.dumps(show_id(value))  # reports can always print it
    assert show_id(b"\x00\t") == "\\x0009"
    for bad in (2**63, -(2**63) - 1, True, [1], {"$id": "bytes", "value": "zz"}, {"x": 1}):
        with pytest.raises(JournalError):
            decode_id(bad, "j")


def _table(path: Path, kind: str, ids: list[Any], manager: CredentialManager) -> Path:
    conn = sqlite3.connect(path)
    conn.execute(f"CREATE TABLE creds(id {kind} PRIMARY KEY, secret TEXT)")
    rows = [(i, manager.encrypt_bytes(b"v%d" % n).decode()) for n, i in enumerate(ids)]
    conn.executemany("INSERT INTO creds VALUES (?, ?)", rows)
    conn.commit()
    conn.close()
    return path


class Interrupted(Exception):
    """Stands for a kill between a committed batch and its journal update."""


def interrupt_after_first_page(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    real = store.write_journal
    calls = {"n": 0}

    def write(data: dict[str, Any]) -> None:
        calls["n"] += 1
        if calls["n"] == 3:  # 1: the run starts, 2: after page 1, 3: after page 2
            raise Interrupted
        real(data)

    monkeypatch.setattr(store, "write_journal", write)


@pytest.mark.parametrize("kind", list(SQLITE_IDS))
def test_sqlite_resume_for_every_id_type(
    tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    k0, k1, old, new = managers()
    ids = SQLITE_IDS[kind]
    db = _table(tmp_path / "c.db", kind, ids, old)
    store = SQLiteStore(db, "creds", "id", "secret")
    interrupt_after_first_page(store, monkeypatch)
    with pytest.raises(Interrupted):
        rotate_store(store, old, new, batch_size=2)
    store.close()
    entry = json.loads((tmp_path / "c.db.importobot-rotation.json").read_text())
    (run,) = entry["runs"].values()
    assert decode_id(run["last_id"], "j") == sorted(ids)[1]
    with SQLiteStore(db, "creds", "id", "secret") as again:
        report = rotate_store(again, old, new, batch_size=2)
    assert report.resumed and report.complete, kind
    assert report.total == 6 and report.rotated + report.already_current == 6
    conn = sqlite3.connect(db)
    values = [v for (v,) in conn.execute("SELECT secret FROM creds")]
    conn.close()
    assert len(values) == 6 and all(only(k1).decrypt_bytes(v) for v in values)


def test_resumed_file_rotation_counts_each_token_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, k1, old, new = managers()
    env = tmp_path / "app.env"
    env.write_text("".join(f"K{i}={old.encrypt_bytes(b'v').decode()}\n" for i in range(5)))
    store = FileStore(env)

    def killed() -> None:  # the rewrite and its journal entry landed; the clean-up did not
        raise Interrupted

    monkeypatch.setattr(store, "clear_journal", killed)
    with pytest.raises(Interrupted):
        rotate_store(store, old, new)
    report = rotate_store(FileStore(env), old, new)
    assert report.resumed and report.complete
    assert (report.total, report.rotated, report.already_current) == (5, 5, 0)
    assert report.checked == 5
    assert not (tmp_path / "app.env.importobot-rotation.json").exists()


def test_hard_linked_sqlite_takes_the_same_lock(tmp_path: Path) -> None:
    _, _, old, new = managers()
    db = _table(tmp_path / "a.db", "INTEGER", [1, 2], old)
    (tmp_path / "other").mkdir()
    twin = tmp_path / "other" / "b.db"
    os.link(db, twin)
    with SQLiteStore(db, "creds", "id", "secret") as first, first.lock():
        with SQLiteStore(twin, "creds", "id", "secret") as second:
            with pytest.raises(StoreLockedError, match="2 hard links"):
                rotate_store(second, old, new)
        # the same name, another process-wide open: still one lock
        with SQLiteStore(db, "creds", "id", "secret") as third:
            with pytest.raises(StoreLockedError, match=f"pid {os.getpid()}"):
                rotate_store(third, old, new)
    with SQLiteStore(twin, "creds", "id", "secret") as second:
        assert rotate_store(second, old, new).complete


def test_where_flock_meets_sqlites_locks_a_hard_linked_db_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from importobot_enterprise.key_rotation.stores import sqlite as sqlite_store

    _, _, old, new = managers()
    db = _table(tmp_path / "a.db", "INTEGER", [1], old)
    monkeypatch.setattr(sqlite_store, "_FLOCK_IS_INDEPENDENT", False)
    with SQLiteStore(db, "creds", "id", "secret") as store:
        assert rotate_store(store, old, new).complete  # one name: the lock file suffices
    os.link(db, tmp_path / "b.db")
    with SQLiteStore(tmp_path / "b.db", "creds", "id", "secret") as store:
        with pytest.raises(StoreError, match="2 hard links"):
            rotate_store(store, old, new)


# -- one line, the right exit code -------------------------------------------------------
@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[bytes, bytes]]:
    k0, k1 = new_raw(), new_raw()
    monkeypatch.setenv("IMPORTOBOT_ENCRYPTION_KEY", key_text(k1))
    monkeypatch.setenv("IMPORTOBOT_PREVIOUS_KEYS", key_text(k0))
    yield k0, k1


def one_line(capsys: pytest.CaptureFixture[str], argv: list[str], code: int) -> str:
    assert main(argv) == code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert err.count("\n") == 1 and err.startswith("importobot: error: "), err
    return err


CORRUPT: dict[str, Any] = {
    "counts is a list": {"counts": [1, 2]},
    "a count is text": {"counts": {"total": "3"}},
    "a count is a float": {"counts": {"rotated": 1.5}},
    "a count is negative": {"counts": {"skipped": -1}},
    "by_source holds text": {"counts": {"by_source": {"iobfp1:0": "x"}}},
    "last_id is 2**63": {"last_id": 2**63},
    "last_id is a list": {"last_id": [1]},
    "last_id is an unknown type": {"last_id": {"$id": "pickle", "value": "x"}},
    "ids is an object": {"undecryptable_ids": {"a": 1}},
    "target is a number": {"target_fingerprint": 7},
}


@pytest.mark.parametrize("case", list(CORRUPT))
def test_corrupt_journal_entry_is_exit_2_one_line(
    tmp_path: Path, keyed: tuple[bytes, bytes], case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    k0, k1 = keyed
    db = _table(tmp_path / "c.db", "INTEGER", [1, 2, 3], CredentialManager(k0))
    entry = {"target_fingerprint": CredentialManager(k1).key_fingerprint, "started": "x"}
    entry.update(CORRUPT[case])
    journal = tmp_path / "c.db.importobot-rotation.json"
    journal.write_text(json.dumps({"version": 1, "runs": {"creds.secret": entry}}))
    before = db.read_bytes()
    err = one_line(capsys, ["rotate", "sqlite", str(db), *ARGS], 2)
    assert "journal" in err
    assert db.read_bytes() == before


@pytest.mark.parametrize(
    "text",
    [
        "[" * 200_000 + "]" * 200_000,
        '{"version": 1, "runs": {"creds.secret": ' + "{" * 100_000 + "}" * 100_001,
        "\x00\xff not json",
        '{"version": 1, "runs": {"creds.secret": [1]}}',
        '{"runs": 3}',
    ],
    ids=["deep list", "deep object", "binary", "entry is a list", "runs is a number"],
)
def test_unparsable_journal_is_exit_2_one_line(
    tmp_path: Path, keyed: tuple[bytes, bytes], text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    k0, _ = keyed
    db = _table(tmp_path / "c.db", "INTEGER", [1], CredentialManager(k0))
    (tmp_path / "c.db.importobot-rotation.json").write_bytes(text.encode("latin-1"))
    err = one_line(capsys, ["rotate", "sqlite", str(db), *ARGS], 2)
    assert "journal" in err


def test_journal_that_is_a_fifo_or_a_symlink_is_refused(
    tmp_path: Path, keyed: tuple[bytes, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    k0, _ = keyed
    env = tmp_path / "a.env"
    env.write_text(f"A={CredentialManager(k0).encrypt_bytes(b'v').decode()}\n")
    journal = tmp_path / "a.env.importobot-rotation.json"
    os.mkfifo(journal)
    assert "not a regular file" in one_line(capsys, ["rotate", "files", str(env)], 2)
    journal.unlink()
    journal.symlink_to(tmp_path / "elsewhere.json")
    assert "journal" in one_line(capsys, ["rotate", "files", str(env)], 2)


def test_json_report_with_blob_ids(
    tmp_path: Path, keyed: tuple[bytes, bytes], capsys: pytest.CaptureFixture[str]
) -> None:
    db = _table(tmp_path / "c.db", "BLOB", [b"\x00\t", b"\x01"], CredentialManager(new_raw()))
    assert main(["rotate", "sqlite", str(db), *ARGS, "--format", "json"]) == 1
    out, err = capsys.readouterr()
    report = json.loads(out)["reports"][0]
    assert report["undecryptable_ids"] == ["\\x0009", "\\x01"] and "Traceback" not in err
    assert main(["rotate", "sqlite", str(db), *ARGS, "--dry-run", "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["reports"][0]["undecryptable"] == 2
    assert main(["rotate", "sqlite", str(db), *ARGS]) == 1
    assert "ids: \\x0009, \\x01" in capsys.readouterr().out


# -- a full disk --------------------------------------------------------------------------
def test_enospc_from_the_lock_file_is_exit_2_data_intact(
    tmp_path: Path,
    keyed: tuple[bytes, bytes],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fault injection at the lock file's write (portable; the tmpfs test is the real one)."""
    k0, _ = keyed
    db = _table(tmp_path / "c.db", "INTEGER", [1, 2], CredentialManager(k0))
    env = tmp_path / "a.env"
    env.write_text(f"A={CredentialManager(k0).encrypt_bytes(b'v').decode()}\n")
    before = db.read_bytes(), env.read_bytes()

    def enospc(fd: int, data: bytes, offset: int) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "pwrite", enospc)
    for argv in (["rotate", "sqlite", str(db), *ARGS], ["rotate", "files", str(env)]):
        err = one_line(capsys, argv, 2)
        assert "disk full" in err and "lock file" in err
    assert (db.read_bytes(), env.read_bytes()) == before
    assert not (tmp_path / "c.db.importobot-rotation.json").exists()


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(mnt)],
        capture_output=True,
        check=False,
    )
    require_service("a tmpfs mount (root)", proc.returncode == 0, "scripts/test runs as root")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_enospc_on_a_full_tmpfs(tiny_tmpfs: Path, tmp_path: Path) -> None:
    k0, k1 = new_raw(), new_raw()
    old = CredentialManager(k0)
    db = _table(tiny_tmpfs / "c.db", "INTEGER", list(range(1, 40)), old)
    env_file = tiny_tmpfs / "a.env"
    env_file.write_text(f"A={old.encrypt_bytes(b'v').decode()}\n")
    filler = tiny_tmpfs / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 512)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    before = db.read_bytes(), env_file.read_bytes()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    env.update(IMPORTOBOT_ENCRYPTION_KEY=key_text(k1), IMPORTOBOT_PREVIOUS_KEYS=key_text(k0))
    for args in (["sqlite", str(db), *ARGS], ["files", str(env_file)]):
        proc = subprocess.run(
            [sys.executable, "-m", "importobot.cli", "rotate", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
        assert "disk full" in proc.stderr
    assert (db.read_bytes(), env_file.read_bytes()) == before
    filler.unlink()
    both = CredentialManager(k1, previous_keys=[k0])
    conn = sqlite3.connect(db)
    assert all(both.decrypt_bytes(v) for (v,) in conn.execute("SELECT secret FROM creds"))
    conn.close()
