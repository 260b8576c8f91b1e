"""PostgresStore against the real throwaway server that scripts/test starts.

These tests cover *client* death (the rotating process is killed; the server stays up
and rolls back the open transaction), not a server crash.
"""

from __future__ import annotations

import os
import uuid

import psycopg
import pytest

from importobot.security import CredentialManager
from importobot_enterprise.key_rotation import StoreError, StoreLockedError, rotate_store
from tests.enterprise.helpers import managers, only, plaintexts
from tests.keygen import new_raw


def fill(
    dsn: str, schema: str, manager: CredentialManager, plains: list[bytes], bytea: bool
) -> None:
    """``<schema>."Creds"(id bigint primary key, "sec ret" text|bytea)``."""
    kind = "bytea" if bytea else "text"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{schema}"."Creds" (id bigint PRIMARY KEY, "sec ret" {kind})')
        with conn.cursor() as cur:
            with cur.copy(f'COPY "{schema}"."Creds" (id, "sec ret") FROM STDIN') as copy:
                for i, p in enumerate(plains, 1):
                    tok = manager.encrypt_bytes(p)
                    copy.write_row((i, tok if bytea else tok.decode()))


def values(dsn: str, schema: str) -> dict[int, object]:
    """id -> stored value."""
    with psycopg.connect(dsn) as conn:
        q = f'SELECT id, "sec ret" FROM "{schema}"."Creds" ORDER BY id'  # noqa: S608
        rows = conn.execute(q).fetchall()
    return dict(rows)


@pytest.mark.parametrize("bytea", [False, True])
def test_postgres_rotation(pg_dsn: str, schema: str, bytea: bool) -> None:
    from importobot_enterprise.key_rotation import PostgresStore

    k0, k1, old, new = managers()
    plains = plaintexts(700)
    fill(pg_dsn, schema, old, plains, bytea)
    journal = f"{schema}.rotation_journal"
    with PostgresStore(pg_dsn, f"{schema}.Creds", "id", "sec ret", journal_table=journal) as store:
        report = rotate_store(store, old, new, batch_size=100)
        assert report.complete and report.rotated == 700
        assert store.read_journal() is None
    got = values(pg_dsn, schema)
    assert all(isinstance(v, bytes if bytea else str) for v in got.values())
    assert [
        only(k1).decrypt_bytes(v if isinstance(v, bytes) else v.encode()) for v in got.values()
    ] == plains


def test_postgres_lock_names_holder_and_refuses_passwords(pg_dsn: str, schema: str) -> None:
    from importobot_enterprise.key_rotation import PostgresStore

    _, _, old, new = managers()
    fill(pg_dsn, schema, old, plaintexts(3), False)
    first = PostgresStore(pg_dsn, f"{schema}.Creds", "id", "sec ret")
    second = PostgresStore(
        pg_dsn + " application_name=x", f"{schema}.Creds", "id", "sec ret", lock_wait=0.2
    )
    with first.lock():
        with pytest.raises(StoreLockedError, match="backend pid"):
            rotate_store(second, old, new)
    first.close()
    assert rotate_store(second, old, new).rotated == 3
    second.close()
    secret = "pw" + new_raw().hex()[:8]
    with pytest.raises(StoreError, match="PGPASSWORD") as info:
        PostgresStore(f"{pg_dsn} password={secret}", f"{schema}.Creds", "id", "sec ret")
    assert secret not in str(info.value)
    with pytest.raises(StoreError) as info:
        PostgresStore(f"postgresql://u:{secret}@127.0.0.1/db", "t", "id", "c")
    assert secret not in str(info.value)


def test_postgres_refuses_non_unique_id(pg_dsn: str, schema: str) -> None:
    from importobot_enterprise.key_rotation import PostgresStore

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{schema}".t (id int, c text)')
    with pytest.raises(StoreError, match="not unique"):
        PostgresStore(pg_dsn, f"{schema}.t", "id", "c")


def test_postgres_dry_run_creates_nothing(pg_dsn: str, schema: str) -> None:
    from importobot_enterprise.key_rotation import PostgresStore

    _, _, old, new = managers()
    fill(pg_dsn, schema, old, plaintexts(5), False)
    before = values(pg_dsn, schema)
    journal = f"{schema}.dry_journal"
    with PostgresStore(
        pg_dsn, f"{schema}.Creds", "id", "sec ret", journal_table=journal, read_only=True
    ) as store:
        assert rotate_store(store, old, new, dry_run=True).rotated == 5
    assert values(pg_dsn, schema) == before
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT to_regclass(%s)", (journal,)).fetchone()[0] is None


# -- issue 17: embedded tokens, verification, typed journal ids, DSN secrets ---------------
def test_postgres_embedded_tokens_text_json_jsonb(pg_dsn: str, schema: str) -> None:
    """Tokens inside JSON documents (text, json and jsonb columns), several per value."""
    import json

    from importobot.keys.tokens import find_tokens
    from importobot_enterprise.key_rotation import PostgresStore, verify_store

    k0, k1, old, new = managers()
    toks = [old.encrypt_bytes(b"p%d" % i).decode() for i in range(4)]
    docs = {
        1: {"token": toks[0]},
        2: {"a": toks[1], "b": [toks[2], "plain"], "n": 1},
        3: {"c": toks[3]},
        4: {"none": "here"},
    }
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        for kind in ("text", "json", "jsonb"):
            conn.execute(f'CREATE TABLE "{schema}".d_{kind} (id int PRIMARY KEY, doc {kind})')
            for i, doc in docs.items():
                conn.execute(
                    f'INSERT INTO "{schema}".d_{kind} VALUES (%s, %s::{kind})',  # noqa: S608
                    (i, json.dumps(doc)),
                )
    target = only(k1)
    for kind in ("text", "json", "jsonb"):
        table = f"{schema}.d_{kind}"
        with PostgresStore(pg_dsn, table, "id", "doc", journal_table=f"{schema}.j") as store:
            report = rotate_store(store, old, new, batch_size=2)
            assert report.rotated == 4, kind
            assert report.unreadable_ids == [4] and not report.complete, kind
            with psycopg.connect(pg_dsn) as conn:
                rows = dict(
                    conn.execute(f'SELECT id, doc::text FROM "{schema}".d_{kind}').fetchall()  # noqa: S608
                )
            for i in (1, 2, 3):
                data = rows[i].encode()
                got = [data[s:e] for s, e in find_tokens(data)]
                assert got and all(target.decrypt_bytes(t) for t in got), (kind, i)
                parsed = json.loads(rows[i])
                assert set(parsed) == set(docs[i]), kind  # the document is intact
            again = verify_store(store, target)
            assert again.unverified == 0 and again.unreadable_ids == [4], kind


def test_postgres_writer_on_old_key_and_retire_check(
    pg_dsn: str, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from importobot.keys.fingerprint import fingerprint
    from importobot_enterprise.key_rotation import PostgresStore
    from importobot_enterprise.key_rotation.retire_check import stores_still_holding
    from tests.enterprise.helpers import key_text

    k0, k1, old, new = managers()
    fill(pg_dsn, schema, old, plaintexts(30), False)
    monkeypatch.setenv("IMPORTOBOT_ENCRYPTION_KEY", key_text(k1))
    monkeypatch.setenv("IMPORTOBOT_PREVIOUS_KEYS", key_text(k0))
    spec = f"postgresql:{schema}.Creds:id:sec ret:{pg_dsn}"
    (holding,) = stores_still_holding([spec], fingerprint(k0))
    assert "30 not under" in holding and pg_dsn.split()[0] in holding
    store = PostgresStore(pg_dsn, f"{schema}.Creds", "id", "sec ret", journal_table=f"{schema}.j")
    real = store.replace
    calls = {"n": 0}

    def writer_strikes(changes):  # type: ignore[no-untyped-def]
        missed = real(changes)
        calls["n"] += 1
        if calls["n"] == 2:
            with psycopg.connect(pg_dsn, autocommit=True) as conn:
                q = f'UPDATE "{schema}"."Creds" SET "sec ret" = %s WHERE id = 3'  # noqa: S608
                conn.execute(q, (old.encrypt_bytes(b"late").decode(),))
        return missed

    monkeypatch.setattr(store, "replace", writer_strikes)
    report = rotate_store(store, old, new, batch_size=10)
    store.close()
    assert report.rotated == 30 and not report.complete
    assert report.unverified_ids == [3] and report.stale == 1
    (holding,) = stores_still_holding([spec], fingerprint(k0))
    assert "ids 3" in holding and f"1 under {fingerprint(k0)}" in holding
    with PostgresStore(pg_dsn, f"{schema}.Creds", "id", "sec ret") as again:
        assert rotate_store(again, old, new).complete
    assert stores_still_holding([spec], fingerprint(k0)) == []


PG_IDS: dict[str, list[object]] = {
    "integer": [-(2**31), -1, 0, 1, 7, 2**31 - 1],
    "bigint": [-(2**63), 0, 1, 2**40, 2**62, 2**63 - 1],
    "numeric": ["-1.5", "0", "0.25", "1", "12345678901234567890.5", "1e30"],
    "text": ["", "a", "b'\\x00'", "line:1#1", "z" * 300, "\u00e9t\u00e9"],
    "uuid": [str(uuid.uuid4()) for _ in range(6)],
    "bytea": [b"\x00", b"\x00\t", b"\x01", b"\xff", b"\xff\x00", b"\xff\xff" * 20],
    "timestamptz": [f"2024-01-0{d} 00:00:00.12345{d}+02" for d in range(1, 7)],
}


@pytest.mark.parametrize("kind", list(PG_IDS))
def test_postgres_resume_for_every_id_type(
    pg_dsn: str, schema: str, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from importobot_enterprise.key_rotation import PostgresStore
    from importobot_enterprise.key_rotation.ids import decode_id
    from tests.enterprise.test_journal import Interrupted, interrupt_after_first_page

    k0, k1, old, new = managers()
    table = f"{schema}.ids"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{schema}".ids (id {kind} PRIMARY KEY, secret text)')
        for n, i in enumerate(PG_IDS[kind]):
            conn.execute(
                f'INSERT INTO "{schema}".ids VALUES (%s::{kind}, %s)',  # noqa: S608
                (i, old.encrypt_bytes(b"v%d" % n).decode()),
            )
        ordered = [r[0] for r in conn.execute(f'SELECT id FROM "{schema}".ids ORDER BY id')]  # noqa: S608
    journal = f"{schema}.j"
    store = PostgresStore(pg_dsn, table, "id", "secret", journal_table=journal)
    interrupt_after_first_page(store, monkeypatch)
    with pytest.raises(Interrupted):
        rotate_store(store, old, new, batch_size=2)
    store.close()
    with psycopg.connect(pg_dsn) as conn:
        (data,) = conn.execute(f'SELECT data FROM "{schema}".j').fetchone()  # noqa: S608
    last = decode_id(json.loads(data)["last_id"], "j")
    assert type(last) is type(ordered[1]) and last == ordered[1], kind
    with PostgresStore(pg_dsn, table, "id", "secret", journal_table=journal) as again:
        report = rotate_store(again, old, new, batch_size=2)
        assert again.read_journal() is None
    assert report.resumed and report.complete and report.total == 6, kind
    with psycopg.connect(pg_dsn) as conn:
        values = [v for (v,) in conn.execute(f'SELECT secret FROM "{schema}".ids')]  # noqa: S608
    assert len(values) == 6 and all(only(k1).decrypt_bytes(v) for v in values)


def test_postgres_killed_bytea_id_rotation_resumes(pg_dsn: str, schema: str) -> None:
    """A real SIGKILL after a committed batch; the rerun resumes from the typed last id."""
    import json
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from tests.enterprise.helpers import key_text

    k0, k1, old, _ = managers()
    table = f"{schema}.bins"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{schema}".bins (id bytea PRIMARY KEY, secret text)')
        for n in range(40):
            conn.execute(
                f'INSERT INTO "{schema}".bins VALUES (%s, %s)',  # noqa: S608
                (n.to_bytes(2, "big"), old.encrypt_bytes(b"v%d" % n).decode()),
            )
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    env.update(IMPORTOBOT_ENCRYPTION_KEY=key_text(k1), IMPORTOBOT_PREVIOUS_KEYS=key_text(k0))
    driver = [sys.executable, str(Path(__file__).with_name("rotation_driver.py"))]
    args = [*driver, "postgres", pg_dsn, table, "10"]
    root = Path(__file__).resolve().parents[2]
    killed = subprocess.run(
        args, env={**env, "IMPORTOBOT_FAULT": "after-commit:2"}, cwd=root, capture_output=True
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    with psycopg.connect(pg_dsn) as conn:
        (data,) = conn.execute(f'SELECT data FROM "{schema}".bins_j').fetchone()  # noqa: S608
    assert json.loads(data)["last_id"] == {"$id": "bytes", "value": "0009"}
    done = subprocess.run(args, env=env, cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    with psycopg.connect(pg_dsn) as conn:
        rows = conn.execute(f'SELECT secret FROM "{schema}".bins').fetchall()  # noqa: S608
        assert conn.execute(f'SELECT count(*) FROM "{schema}".bins_j').fetchone()[0] == 0  # noqa: S608
    assert len(rows) == 40 and all(only(k1).decrypt_bytes(v) for (v,) in rows)


def test_postgres_uuid_ids_json_report_and_corrupt_journal(
    pg_dsn: str, schema: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from importobot.cli import main
    from tests.enterprise.helpers import key_text

    k0, k1 = new_raw(), new_raw()
    ids = sorted(uuid.uuid4() for _ in range(2))
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{schema}".u (id uuid PRIMARY KEY, secret text)')
        for i in ids:
            tok = CredentialManager(new_raw()).encrypt_bytes(b"x").decode()
            conn.execute(f'INSERT INTO "{schema}".u VALUES (%s, %s)', (i, tok))  # noqa: S608
    monkeypatch.setenv("IMPORTOBOT_ENCRYPTION_KEY", key_text(k1))
    monkeypatch.setenv("IMPORTOBOT_PREVIOUS_KEYS", key_text(k0))
    journal = f"{schema}.j"
    argv = ["rotate", "postgresql", pg_dsn, "--table", f"{schema}.u", "--id-column", "id"]
    argv += ["--column", "secret", "--journal-table", journal]
    assert main([*argv, "--format", "json"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["reports"][0]["undecryptable_ids"] == [str(i) for i in ids], err
    fp = CredentialManager(k1).key_fingerprint
    for data in (
        json.dumps({"target_fingerprint": fp, "last_id": 2**63}),
        json.dumps({"target_fingerprint": fp, "counts": [1]}),
        "[" * 100_000,
    ):
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(f'DELETE FROM "{schema}".j')  # noqa: S608
            conn.execute(
                f'INSERT INTO "{schema}".j (store, data) VALUES '  # noqa: S608
                f"((SELECT current_database()) || '/{schema}.u.secret', %s)",
                (data,),
            )
        assert main(argv) == 2
        out, err = capsys.readouterr()
        assert err.count("\n") == 1 and "journal" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "dsn",
    [
        "host=127.0.0.1 dbname=x password={s}",
        "host=127.0.0.1 dbname=x sslpassword={s}",
        "host=127.0.0.1 dbname=x oauth_client_secret={s}",
        "host=127.0.0.1 dbname=x scram_client_key={s}",
        "host=127.0.0.1 dbname=x scram_server_key={s}",
        "postgresql://u:{s}@127.0.0.1/x",
        "postgresql://127.0.0.1/x?sslpassword={s}",
        "postgresql://127.0.0.1/x?user=u&password={s}",
    ],
)
def test_dsn_secrets_refused_and_never_shown(
    dsn: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from importobot.cli import main
    from importobot.keys.fingerprint import fingerprint
    from importobot_enterprise.key_rotation.stores.postgres import check_dsn, redact_dsn
    from tests.enterprise.helpers import key_text

    k0, k1 = new_raw(), new_raw()
    monkeypatch.setenv("IMPORTOBOT_ENCRYPTION_KEY", key_text(k1))
    monkeypatch.setenv("IMPORTOBOT_PREVIOUS_KEYS", key_text(k0))

    secret = "s3cr" + new_raw().hex()[:10]
    text = dsn.format(s=secret)
    with pytest.raises(StoreError, match="holds a secret") as info:
        check_dsn(text)
    assert secret not in str(info.value) and info.value.__context__ is None
    assert secret not in redact_dsn(text) and "127.0.0.1" in redact_dsn(text)
    assert (
        main(["rotate", "postgresql", text, "--table", "t", "--id-column", "i", "--column", "c"])
        == 2
    )
    out, err = capsys.readouterr()
    assert secret not in out + err and err.count("\n") == 1
    assert main(["key", "retire", fingerprint(k0), "--store", f"postgresql:t:i:c:{text}"]) == 2
    out, err = capsys.readouterr()
    assert "holds a secret" in err and secret not in out + err


def test_every_secret_parameter_libpq_marks_is_refused() -> None:
    from psycopg import pq

    from importobot_enterprise.key_rotation.stores.postgres import check_dsn, secret_parameters

    marked = {o.keyword.decode() for o in pq.Conninfo.get_defaults() if o.dispchar == b"*"}
    assert marked and marked <= secret_parameters()
    for name in sorted(
        secret_parameters() & {o.keyword.decode() for o in pq.Conninfo.get_defaults()}
    ):
        with pytest.raises(StoreError, match=name):
            check_dsn(f"host=127.0.0.1 {name}=x")


def test_store_description_and_journal_hold_no_secret(
    pg_dsn: str, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from importobot_enterprise.key_rotation import PostgresStore

    _, _, old, new = managers()
    fill(pg_dsn, schema, old, plaintexts(3), False)
    store = PostgresStore(
        pg_dsn + " application_name=importobot-test",
        f"{schema}.Creds",
        "id",
        "sec ret",
        journal_table=f"{schema}.j",
    )
    seen: list[str] = []
    real = store.write_journal

    def spy(data):  # type: ignore[no-untyped-def]
        seen.append(json.dumps(data, default=str))
        real(data)

    monkeypatch.setattr(store, "write_journal", spy)
    report = rotate_store(store, old, new)
    store.close()
    assert report.complete and seen
    assert all("password" not in s for s in [report.store, *seen])
