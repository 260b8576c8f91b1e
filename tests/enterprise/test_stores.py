"""SQLite and file stores: compare-and-swap, journals, resume, locks, D22 file rules."""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from pathlib import Path

import pytest

from importobot.exceptions import DecryptionError
from importobot.security import CredentialManager
from importobot_enterprise.key_rotation import (
    FileStore,
    JournalMismatchError,
    SQLiteStore,
    StoreError,
    StoreLockedError,
    rotate_store,
    stores_holding,
)
from importobot_enterprise.key_rotation.durable import store_lock
from importobot_enterprise.key_rotation.stores.base import Change
from importobot_enterprise.key_rotation.stores.files import find_tokens
from tests.enterprise.helpers import make_sqlite, managers, only, plaintexts, sqlite_values
from tests.keygen import contains_key, new_raw


def _all_under(values: dict[int, object], raw: bytes, plains: list[bytes]) -> None:
    target = only(raw)
    for i, value in values.items():
        token = value if isinstance(value, bytes) else str(value).encode()
        assert target.decrypt_bytes(token) == plains[i - 1]


@pytest.mark.parametrize("blob", [False, True])
def test_sqlite_rotation_keeps_type_and_every_value(tmp_path: Path, blob: bool) -> None:
    k0, k1, old, new = managers()
    plains = plaintexts(1200)
    db = make_sqlite(tmp_path / "c.db", old, plains, blob=blob)
    with SQLiteStore(db, "creds", "id", "secret") as store:
        report = rotate_store(store, old, new, batch_size=100)
    assert (report.rotated, report.total, report.complete) == (1200, 1200, True)
    values = sqlite_values(db)
    assert all(isinstance(v, bytes if blob else str) for v in values.values())
    _all_under(values, k1, plains)
    assert not (tmp_path / "c.db.importobot-rotation.json").exists()
    # Twice is harmless: everything is recognised as done.
    with SQLiteStore(db, "creds", "id", "secret") as store:
        again = rotate_store(store, old, new)
    assert (again.rotated, again.already_current) == (0, 1200)
    assert sqlite_values(db) == values


def test_sqlite_skips_null_empty_and_non_tokens_and_lists_undecryptable(tmp_path: Path) -> None:
    _, k1, old, new = managers()
    db = make_sqlite(tmp_path / "c.db", old, plaintexts(3))
    stranger = CredentialManager(new_raw())
    conn = sqlite3.connect(db)
    conn.executemany(
        "INSERT INTO creds VALUES (?, ?, ?)",
        [(10, "n", None), (11, "e", ""), (12, "p", "plain text"), (13, "s", "")],
    )
    conn.execute(
        "UPDATE creds SET secret = ? WHERE id = 13", (stranger.encrypt_bytes(b"q").decode(),)
    )
    conn.commit()
    conn.close()
    before = sqlite_values(db)[13]
    with SQLiteStore(db, "creds", "id", "secret") as store:
        report = rotate_store(store, old, new)
    assert (report.rotated, report.skipped, report.undecryptable) == (3, 3, 1)
    assert report.undecryptable_ids == [13] and not report.complete
    assert sqlite_values(db)[13] == before


def test_sqlite_dry_run_changes_no_byte(tmp_path: Path) -> None:
    _, _, old, new = managers()
    db = make_sqlite(tmp_path / "c.db", old, plaintexts(50))
    before = db.read_bytes()
    with SQLiteStore(db, "creds", "id", "secret", read_only=True) as store:
        report = rotate_store(store, old, new, dry_run=True)
    assert report.rotated == 50 and report.dry_run
    assert db.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["c.db"]


def test_sqlite_compare_and_swap_never_overwrites(tmp_path: Path) -> None:
    _, k1, old, new = managers()
    db = make_sqlite(tmp_path / "c.db", old, plaintexts(3))
    with SQLiteStore(db, "creds", "id", "secret") as store:
        (page,) = list(store.pages(10))
        # A writer (already on the new key) changes row 2 after we read it.
        fresh = new.encrypt_bytes(b"written meanwhile").decode()
        side = sqlite3.connect(db)
        side.execute("UPDATE creds SET secret = ? WHERE id = 2", (fresh,))
        side.commit()
        side.close()
        changes = [Change(c, new.encrypt_bytes(b"x")) for c in page.cells]
        assert store.replace(changes) == [2]
    assert sqlite_values(db)[2] == fresh


def test_sqlite_conflicts_are_reread_in_a_later_pass(tmp_path: Path, monkeypatch) -> None:
    k0, k1, old, new = managers()
    plains = plaintexts(20)
    db = make_sqlite(tmp_path / "c.db", old, plains)
    store = SQLiteStore(db, "creds", "id", "secret")
    real = store._cas_update
    calls = {"n": 0}

    def flaky(rows):  # the first batch misses row 5 as if it had changed
        calls["n"] += 1
        updated = real(rows)
        return updated - {5} if calls["n"] == 1 else updated

    monkeypatch.setattr(store, "_cas_update", flaky)
    report = rotate_store(store, old, new, batch_size=50)
    store.close()
    # Row 5 was in fact written, so the re-read finds it done.
    assert report.complete and (report.rotated, report.already_current) == (19, 1)
    _all_under(sqlite_values(db), k1, plains)


def test_sqlite_refuses_non_unique_id_and_quotes_identifiers(tmp_path: Path) -> None:
    _, _, old, new = managers()
    db = tmp_path / "q.db"
    conn = sqlite3.connect(db)
    conn.execute('CREATE TABLE "we""ird tbl"("the id" TEXT UNIQUE, "sec ret" TEXT, dup INTEGER)')
    conn.execute(
        'INSERT INTO "we""ird tbl" VALUES (?, ?, 1)', ("a", old.encrypt_bytes(b"v").decode())
    )
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not unique"):
        SQLiteStore(db, 'we"ird tbl', "dup", "sec ret")
    with pytest.raises(StoreError, match="no column"):
        SQLiteStore(db, 'we"ird tbl', "the id", "nope")
    with pytest.raises(StoreError, match="no table"):
        SQLiteStore(db, "x; DROP TABLE t", "the id", "sec ret")
    with SQLiteStore(db, 'main.we"ird tbl', "the id", "sec ret") as store:
        assert rotate_store(store, old, new).rotated == 1


def test_sqlite_journal_resume_and_new_target(tmp_path: Path) -> None:
    k0, k1, old, new = managers()
    plains = plaintexts(30)
    db = make_sqlite(tmp_path / "c.db", old, plains)
    store = SQLiteStore(db, "creds", "id", "secret")
    other = new_raw()
    store.write_journal(
        {"target_fingerprint": only(other).key_fingerprint, "last_id": 10, "started": "x"}
    )
    with pytest.raises(JournalMismatchError) as info:
        rotate_store(store, old, new)
    assert only(other).key_fingerprint in str(info.value) and new.key_fingerprint in str(info.value)
    report = rotate_store(store, old, new, new_target=True)
    assert report.rotated == 30 and not report.resumed
    # A journal with our target resumes after its last id.
    store.write_journal(
        {"target_fingerprint": new.key_fingerprint, "last_id": 25, "started": "x", "counts": {}}
    )
    newer = CredentialManager(new_raw(), previous_keys=[k1, k0])
    with pytest.raises(JournalMismatchError):
        rotate_store(store, new, newer)
    resumed = rotate_store(store, old, new)
    assert resumed.resumed and resumed.total == 5
    store.close()


def test_sqlite_disk_full_fails_cleanly(tmp_path: Path) -> None:
    k0, k1, old, new = managers()
    plains = plaintexts(3000)
    db = make_sqlite(tmp_path / "c.db", old, plains)
    conn = sqlite3.connect(db)
    conn.execute("CREATE INDEX creds_secret ON creds(secret)")  # new tokens need new pages
    conn.commit()
    conn.execute("VACUUM")
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.close()
    with SQLiteStore(db, "creds", "id", "secret", pragmas={"max_page_count": pages}) as store:
        with pytest.raises(StoreError, match="full") as info:
            rotate_store(store, old, new, batch_size=200)
    assert info.value.__context__ is None and info.value.__cause__ is None  # D6
    values = sqlite_values(db)
    both = CredentialManager(k1, previous_keys=[k0])
    assert [both.decrypt_bytes(str(v)) for v in values.values()] == plains
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with SQLiteStore(db, "creds", "id", "secret") as store:
        assert rotate_store(store, old, new).complete
    _all_under(sqlite_values(db), k1, plains)


def test_wrong_old_key_changes_nothing(tmp_path: Path) -> None:
    k0 = new_raw()
    old = CredentialManager(k0)
    wrong = CredentialManager(new_raw())
    target = CredentialManager(new_raw(), previous_keys=[])
    db = make_sqlite(tmp_path / "c.db", old, plaintexts(40))
    env = tmp_path / ".env"
    env.write_text(f"A={old.encrypt_bytes(b'a').decode()}\n")
    db_before, env_before = db.read_bytes(), env.read_bytes()
    with SQLiteStore(db, "creds", "id", "secret") as store:
        report = rotate_store(store, wrong, target)
    assert report.undecryptable == 40 and report.rotated == 0
    assert rotate_store(FileStore(env), wrong, target).undecryptable == 1
    assert db.read_bytes() == db_before and env.read_bytes() == env_before


# -- files -------------------------------------------------------------------------------
DOTENV = """# comment: keep me
export DB_PASSWORD={a}
QUOTED="{b}"   # trailing
single='{c}'
PLAIN=hello
EMPTY=
"""


def test_file_store_preserves_every_non_token_byte(tmp_path: Path) -> None:
    k0, k1, old, new = managers()
    toks = [old.encrypt_bytes(p).decode() for p in (b"pa", b"pb", b"pc")]
    env = tmp_path / ".env"
    env.write_bytes(DOTENV.format(a=toks[0], b=toks[1], c=toks[2]).replace("\n", "\r\n").encode())
    report = rotate_store(FileStore(env), old, new)
    assert report.rotated == 3
    data = env.read_bytes()
    spans = find_tokens(data)
    assert len(spans) == 3
    skeleton = data
    for start, end in reversed(spans):
        skeleton = skeleton[:start] + b"@" + skeleton[end:]
    assert skeleton == DOTENV.format(a="@", b="@", c="@").replace("\n", "\r\n").encode()
    assert [only(k1).decrypt_bytes(data[s:e]) for s, e in spans] == [b"pa", b"pb", b"pc"]


def test_file_store_one_token_per_line_and_fresh_timestamps(tmp_path: Path) -> None:
    _, k1, old, new = managers()
    old_time = int(time.time()) - 100 * 86400
    lines = tmp_path / "tokens.txt"
    lines.write_text(
        "".join(old.encrypt_bytes(b"v%d" % i, now=old_time).decode() + "\n" for i in range(5))
    )
    rotate_store(FileStore(lines), old, new)
    from importobot.keys.tokens import token_timestamp

    for line in lines.read_text().splitlines():
        assert only(k1).decrypt_bytes(line).startswith(b"v")
        stamp = token_timestamp(line)
        assert stamp is not None and stamp > time.time() - 3600


def test_file_store_symlink_kept_mode_kept_hardlink_refused(tmp_path: Path) -> None:
    _, k1, old, new = managers()
    real = tmp_path / "real" / "secrets.env"
    real.parent.mkdir()
    real.write_text(f"K={old.encrypt_bytes(b'x').decode()}\n")
    real.chmod(0o600)
    link = tmp_path / ".env"
    link.symlink_to(real)
    rotate_store(FileStore(link), old, new)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert only(k1).decrypt_bytes(real.read_text().strip()[2:]) == b"x"
    assert [p.name for p in real.parent.iterdir()] == ["secrets.env"] or all(
        ".importobot-tmp-" not in p.name for p in real.parent.iterdir()
    )
    real.chmod(0o640)
    rotate_store(FileStore(link), new, CredentialManager(new_raw(), previous_keys=[k1]))
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    hard = tmp_path / "hard.env"
    os.link(real, hard)
    with pytest.raises(StoreError, match="hard links"):
        FileStore(hard)


def test_file_lock_names_the_holder_and_stale_temp_files_are_swept(tmp_path: Path) -> None:
    _, _, old, new = managers()
    env = tmp_path / ".env"
    env.write_text(f"K={old.encrypt_bytes(b'x').decode()}\n")
    stale = tmp_path / "..env.importobot-tmp-999999"
    stale.write_text("half")
    with store_lock(env):
        with pytest.raises(StoreLockedError, match=f"pid {os.getpid()}"):
            rotate_store(FileStore(env), old, new)
    # A lock file left behind never blocks.
    assert (tmp_path / ".env.importobot-lock").exists()
    assert rotate_store(FileStore(env), old, new).rotated == 1
    assert not stale.exists()


def test_file_replace_errors_leave_the_file(tmp_path: Path, monkeypatch) -> None:
    import errno

    _, _, old, new = managers()
    env = tmp_path / ".env"
    env.write_text(f"K={old.encrypt_bytes(b'x').decode()}\n")
    before = env.read_bytes()

    def exdev(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "replace", exdev)
    with pytest.raises(StoreError, match="cross-device"):
        rotate_store(FileStore(env), old, new)
    assert env.read_bytes() == before
    assert not any(".importobot-tmp-" in p.name for p in tmp_path.iterdir())


def test_holds_values_under_and_census(tmp_path: Path) -> None:
    k0, k1, old, new = managers()
    db = make_sqlite(tmp_path / "c.db", old, plaintexts(10))
    with SQLiteStore(db, "creds", "id", "secret") as store:
        assert store.holds_values_under(old.key_fingerprint, new)
        assert store.census(new) == {old.key_fingerprint: 10}
        rotate_store(store, old, new)
        assert not store.holds_values_under(old.key_fingerprint, new)
        assert store.census(new) == {new.key_fingerprint: 10}
    env = tmp_path / ".env"
    env.write_text(f"K={old.encrypt_bytes(b'x').decode()}\n")
    with SQLiteStore(db, "creds", "id", "secret") as store:
        holding = stores_holding([store, FileStore(env)], old.key_fingerprint, new)
    assert [s.description for s in holding] == [str(env)]


def test_reports_hold_no_key_or_plaintext(tmp_path: Path) -> None:
    k0, k1, old, new = managers()
    plains = plaintexts(5)
    db = make_sqlite(tmp_path / "c.db", old, plains)
    with SQLiteStore(db, "creds", "id", "secret") as store:
        report = rotate_store(store, old, new)
    text = repr(report) + str(report.to_json()) + "\n".join(report.plan().lines())
    assert not contains_key(text, k0) and not contains_key(text, k1)
    assert not any(p.decode() in text for p in plains)
    with pytest.raises(DecryptionError):
        only(k0).decrypt_bytes(str(sqlite_values(db)[1]))


def test_worker_pool_rotates_every_value_main_process_writes(tmp_path: Path) -> None:
    import multiprocessing

    k0, k1, old, new = managers()
    plains = plaintexts(3000)
    db = make_sqlite(tmp_path / "c.db", old, plains)
    with SQLiteStore(db, "creds", "id", "secret") as store:
        report = rotate_store(store, old, new, batch_size=400, workers=2)
    assert report.complete and report.rotated == 3000
    _all_under(sqlite_values(db), k1, plains)
    assert multiprocessing.active_children() == []


def test_journal_and_lock_hold_no_key_or_plaintext(tmp_path: Path, monkeypatch) -> None:
    k0, k1, old, new = managers()
    plains = plaintexts(50)
    db = make_sqlite(tmp_path / "c.db", old, plains)
    seen: list[str] = []
    store = SQLiteStore(db, "creds", "id", "secret")
    real = store.write_journal

    def spy(data):
        real(data)
        seen.append(store._journal.path.read_text())
        seen.append((tmp_path / "c.db.importobot-lock").read_text())

    monkeypatch.setattr(store, "write_journal", spy)
    rotate_store(store, old, new, batch_size=10)
    store.close()
    assert len(seen) >= 10
    blob = "".join(seen)
    assert new.key_fingerprint in blob
    assert not contains_key(blob, k0) and not contains_key(blob, k1)
    assert not any(p.decode() in blob for p in plains)
