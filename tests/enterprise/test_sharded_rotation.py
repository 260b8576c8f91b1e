"""Sharded PostgreSQL rotation across "hosts" (D27): N processes with their own
connections rotate one table against the real throwaway server that scripts/test starts.

The acceptance run: 4 ``rotate postgresql --shard K/4`` processes over 20,000 rows whose
ids are negative, zero, positive and fractional, SIGKILLed at random and restarted, end
with every row decrypting under the new key alone, and a trigger that counts UPDATEs per
id shows every row updated exactly once (none twice, none missed).
"""

from __future__ import annotations

# Identifiers in SQL below are the random schema names this module makes.
# ruff: noqa: S608
import json
import os
import random
import signal
import subprocess
import sys
import time
from decimal import Decimal

import psycopg
import pytest

from importobot.security import CredentialManager
from tests.enterprise.helpers import key_text, managers, only
from tests.keygen import contains_key

SLOW = int(os.environ.get("IMPORTOBOT_SLOW_COUNT", "0") or 0)


def ids(n: int) -> list[Decimal]:
    """Negative, zero, positive and fractional ids, shuffled into the table."""
    out = [Decimal(i) / 2 - n // 4 for i in range(n)]
    random.shuffle(out)
    return out


def fill(dsn: str, schema: str, manager: CredentialManager, keys: list[Decimal]) -> None:
    """``creds(id numeric primary key, secret text)`` plus the UPDATE-counting trigger."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{schema}".creds (id numeric PRIMARY KEY, secret text)')
        conn.execute(f'CREATE TABLE "{schema}".updates (id numeric PRIMARY KEY, n int NOT NULL)')
        conn.execute(
            f'CREATE FUNCTION "{schema}".count_update() RETURNS trigger LANGUAGE plpgsql AS $$ '
            f'BEGIN INSERT INTO "{schema}".updates VALUES (NEW.id, 1) ON CONFLICT (id) '
            f'DO UPDATE SET n = "{schema}".updates.n + 1; RETURN NEW; END $$'
        )
        conn.execute(
            f'CREATE TRIGGER counted AFTER UPDATE ON "{schema}".creds FOR EACH ROW '
            f'EXECUTE FUNCTION "{schema}".count_update()'
        )
        with conn.cursor() as cur:
            with cur.copy(f'COPY "{schema}".creds (id, secret) FROM STDIN') as copy:
                for i in keys:
                    copy.write_row((i, manager.encrypt_bytes(f"secret {i}".encode()).decode()))


def env(new: bytes, old: bytes | None) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    out["IMPORTOBOT_ENCRYPTION_KEY"] = key_text(new)
    if old is not None:
        out["IMPORTOBOT_PREVIOUS_KEYS"] = key_text(old)
    return out


def rotate_argv(dsn: str, schema: str, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "importobot.cli", "rotate", "postgresql", dsn,
        "--table", f"{schema}.creds", "--id-column", "id", "--column", "secret",
        "--journal-table", f"{schema}.journal", "--no-progress", *extra,
    ]  # fmt: skip


def run(argv: list[str], environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, env=environ, timeout=300)


def check_table(dsn: str, schema: str, new_raw: bytes, n: int) -> None:
    """Every row opens under the new key alone; every row was UPDATEd exactly once."""
    target = only(new_raw)
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(f'SELECT id, secret FROM "{schema}".creds').fetchall()
        counts = dict(conn.execute(f'SELECT id, n FROM "{schema}".updates').fetchall())
    assert len(rows) == n
    for row_id, value in rows:
        assert target.decrypt_bytes(value) == f"secret {row_id}".encode()
    assert len(counts) == n, f"{n - len(counts)} rows never rotated"
    twice = {i: c for i, c in counts.items() if c != 1}
    assert not twice, f"rows updated more than once: {list(twice.items())[:10]}"


@pytest.mark.parametrize(
    "rows, kills",
    [
        pytest.param(20_000, 4, id="20k"),
        # IMPORTOBOT_SLOW_COUNT (1,000 in .ci/run) counts test_faults' single-store kills; here
        # each kill costs a restart of a 50,000-row shard, so the slow run takes a fiftieth.
        pytest.param(200_000, min(max(SLOW // 50, 12), 40), id="200k", marks=pytest.mark.slow),
    ],
)
def test_four_shards_killed_at_random_rotate_every_row_once(
    pg_dsn: str, schema: str, rows: int, kills: int
) -> None:
    k0, k1, old, _new = managers()
    fill(pg_dsn, schema, old, ids(rows))
    environ = env(k1, k0)
    batch = "250" if rows <= 20_000 else "2000"
    rng = random.Random()
    procs: dict[int, subprocess.Popen[str]] = {}

    def start(k: int) -> None:
        procs[k] = subprocess.Popen(
            rotate_argv(pg_dsn, schema, "--shard", f"{k}/4", "--batch-size", batch),
            env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    for k in (1, 2, 3, 4):
        start(k)
    killed = 0
    killing_until = time.monotonic() + (300 if rows > 20_000 else 120)
    while killed < kills and time.monotonic() < killing_until:
        time.sleep(rng.uniform(0.3, 1.2))
        alive = [k for k, p in procs.items() if p.poll() is None]
        if not alive:
            break
        k = rng.choice(alive)
        procs[k].send_signal(signal.SIGKILL)
        procs[k].communicate()
        killed += 1
        start(k)
    assert killed >= 1, "every shard finished before the first kill"
    print(f"{killed} kills")
    # The shards get their own time to finish, whenever the kills stopped.
    deadline = time.monotonic() + (900 if rows > 20_000 else 240)
    outcomes = {}
    for _ in range(20):  # a restarted shard may meet its killed self's lock for a moment
        for k, p in procs.items():
            out, err = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
            outcomes[k] = (p.returncode, out, err)
        retry = [k for k, (rc, _o, err) in outcomes.items() if rc == 2 and "rotated by" in err]
        if not retry:
            break
        for k in retry:
            start(k)
    for k, (rc, out, err) in outcomes.items():
        assert rc == 0, f"shard {k}: exit {rc}: {err[-2000:]}"
        assert "verified: every value" in out
        assert not contains_key(out + err, k0) and not contains_key(out + err, k1)
    check_table(pg_dsn, schema, k1, rows)

    status = run(rotate_argv(pg_dsn, schema, "--status", "--format", "json"), environ)
    assert status.returncode == 0, status.stderr
    doc = json.loads(status.stdout)
    assert doc["plan"]["shards"] == 4 and doc["plan"]["scheme"] == "id-range-v1"
    assert [s["state"] for s in doc["shards"]] == ["verified"] * 4
    assert all(s["holder_backend_pid"] is None for s in doc["shards"])
    assert sum(s["rotated"] for s in doc["shards"]) <= rows
    assert sum(s["total"] for s in doc["shards"]) == rows


def test_plan_lock_and_retire_rules(
    pg_dsn: str, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from importobot_enterprise.key_rotation import PostgresStore, StoreLockedError, retire_check
    from importobot_enterprise.key_rotation.retire_check import stores_still_holding
    from importobot_enterprise.key_rotation.shards import PlanMismatchError

    k0, k1, old, new = managers()
    fill(pg_dsn, schema, old, ids(400))
    environ = env(k1, k0)
    table = f"{schema}.creds"
    journal = f"{schema}.journal"

    def store(shard: tuple[int, int] | None, **kw: object) -> PostgresStore:
        return PostgresStore(
            pg_dsn, table, "id", "secret", journal_table=journal, shard=shard, lock_wait=0.2, **kw
        )

    # The connection asks for keepalives on both ends.
    with store(None) as s:
        params = s.conn.info.get_parameters()
        assert params.get("keepalives_idle") == "10" and params.get("tcp_user_timeout") == "30000"
        assert s.conn.execute("SHOW tcp_keepalives_idle").fetchone()[0] in ("10", "10s")
        assert s.conn.execute("SHOW tcp_user_timeout").fetchone()[0] in ("30000", "30s")

    first = run(rotate_argv(pg_dsn, schema, "--shard", "1/3"), environ)
    assert first.returncode == 0, first.stderr
    # Another N: exit 2, naming the stored plan; --replan replaces it.
    other = run(rotate_argv(pg_dsn, schema, "--shard", "1/2"), environ)
    assert other.returncode == 2 and "--replan" in other.stderr
    assert "Traceback" not in other.stderr

    # A running shard holds the table lock shared: an unsharded run is refused, and the
    # other way round; a replan is refused while a shard of the plan runs.
    holder = store((2, 3))
    with holder.lock():
        with pytest.raises(StoreLockedError, match="being rotated"):
            with store(None).lock():
                pass
        with pytest.raises(StoreLockedError, match="cannot replan"):
            with store((1, 2), replan=True).lock():
                pass
        with pytest.raises(StoreLockedError):
            with store((2, 3)).lock():
                pass
        plan, shards = store(None).status()
        assert plan is not None and shards[1].backend_pid is not None
        assert shards[0].state == "verified" and shards[2].state == "not started"
    holder.close()
    unsharded = store(None)
    with unsharded.lock():
        with pytest.raises(StoreLockedError):
            with store((3, 3)).lock():
                pass
    unsharded.close()
    with pytest.raises(PlanMismatchError):
        store((1, 2)).load_plan()

    # key retire --store: not while a shard of the plan has not verified its range, even
    # when the table as a whole already verifies.
    for k in (2, 3):
        done = run(rotate_argv(pg_dsn, schema, "--shard", f"{k}/3"), environ)
        assert done.returncode == 0, done.stderr
    replan = run(rotate_argv(pg_dsn, schema, "--shard", "1/2", "--replan"), environ)
    assert replan.returncode == 0, replan.stderr
    for name, value in environ.items():
        if name.startswith("IMPORTOBOT_"):
            monkeypatch.setenv(name, value)
    spec = f"postgresql:{table}:id:secret:{pg_dsn}"
    # Its own journal table is named by the store: point the retire check's store at it.
    monkeypatch.setattr(retire_check, "open_store", lambda _spec: store(None, read_only=True))
    label = store(None).description
    assert stores_still_holding([spec], old.key_fingerprint) == [
        f"{label} (not every shard of its rotation plan is verified under "
        f"{new.key_fingerprint}: shard 2 not started)"
    ]
    assert run(rotate_argv(pg_dsn, schema, "--shard", "2/2"), environ).returncode == 0
    assert stores_still_holding([spec], old.key_fingerprint) == []
    check_table(pg_dsn, schema, k1, 400)
    text = run(rotate_argv(pg_dsn, schema, "--status"), environ)
    assert text.returncode == 0 and "shard 2/2" in text.stdout and "verified" in text.stdout


def test_boundaries_cover_every_id_type(pg_dsn: str, schema: str) -> None:
    """Text and float ids, an empty table, more shards than rows: every id in one range."""
    from importobot_enterprise.key_rotation import PostgresStore, rotate_store

    _, _, old, new = managers()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{schema}".t (id text PRIMARY KEY, secret text)')
        conn.execute(f'CREATE TABLE "{schema}".f (id float8 PRIMARY KEY, secret text)')
        for i, name in enumerate(["", "a", "Zz", "é", "-1", "10", "9"]):
            tok = old.encrypt_bytes(b"v").decode()
            conn.execute(f'INSERT INTO "{schema}".t VALUES (%s, %s)', (name, tok))
            conn.execute(f'INSERT INTO "{schema}".f VALUES (%s, %s)', (i * -1.25, tok))
    for table in ("t", "f"):
        seen = 0
        for k in range(1, 11):
            with PostgresStore(
                pg_dsn, f"{schema}.{table}", "id", "secret",
                journal_table=f"{schema}.j", shard=(k, 10),
            ) as s:  # fmt: skip
                report = rotate_store(s, old, new)
                assert report.complete
                seen += report.checked
        assert seen == 7
        with PostgresStore(pg_dsn, f"{schema}.{table}", "id", "secret") as s:
            assert rotate_store(s, new, new).already_current == 7
