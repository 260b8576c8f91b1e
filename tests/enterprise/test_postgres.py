"""PostgresStore against the real throwaway server that scripts/test starts.

These tests cover *client* death (the rotating process is killed; the server stays up
and rolls back the open transaction), not a server crash.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from importobot.security import CredentialManager
from importobot_enterprise.key_rotation import StoreError, StoreLockedError, rotate_store
from tests.conftest import require_service
from tests.enterprise.helpers import managers, only, plaintexts
from tests.keygen import new_raw

psycopg = pytest.importorskip("psycopg")

DSN = os.environ.get("IMPORTOBOT_TEST_PG_DSN", "")


def _reachable() -> bool:
    if not DSN:
        return False
    try:
        psycopg.connect(DSN, connect_timeout=5).close()
    except psycopg.Error:
        return False
    return True


@pytest.fixture(scope="module")
def pg_dsn() -> str:
    require_service("PostgreSQL", _reachable(), "set IMPORTOBOT_TEST_PG_DSN (scripts/test does)")
    return DSN


@pytest.fixture
def schema(pg_dsn: str) -> Iterator[str]:
    name = f"rot_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    yield name
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{name}" CASCADE')


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
