"""PostgresStore: the SQL store over psycopg 3 (D21).

Identifiers are composed with ``psycopg.sql.Identifier`` (``schema.table`` accepted).
A run holds ``pg_try_advisory_lock`` on its session; a second runner is told the pid,
client and start time of the holder. The journal is a table the user names (created
if missing; the user's own tables are never altered). A DSN holding a password is
refused (D6), and so is every other secret-bearing libpq parameter (``sslpassword``,
``oauth_client_secret``, the SCRAM keys, any the linked libpq marks secret): use
``PGPASSWORD``, ``~/.pgpass`` or ``PGSERVICE``; DSNs are printed without them.
psycopg is imported here only, with an install hint if missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from datetime import datetime, timezone
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from importobot_enterprise.key_rotation.errors import JournalError, StoreError, StoreLockedError
from importobot_enterprise.key_rotation.journal import parse_journal
from importobot_enterprise.key_rotation.shards import PlanMismatchError, ShardPlan, ShardStatus
from importobot_enterprise.key_rotation.stores.sql import SQLStore, split_name

if TYPE_CHECKING:  # pragma: no cover
    from importobot_enterprise.key_rotation.engine import RotationReport

__all__ = [
    "DEFAULT_JOURNAL_TABLE",
    "SECRET_PARAMETERS",
    "PostgresStore",
    "check_dsn",
    "redact_dsn",
    "secret_parameters",
]

DEFAULT_JOURNAL_TABLE = "importobot_rotation_journal"
_T = TypeVar("_T")
#: libpq keepalives and TCP user timeout (client side), unless the DSN sets them: a dead
#: server or network is noticed in about 30 s instead of the kernel's two hours.
KEEPALIVES = {
    "keepalives": "1",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "3",
    "tcp_user_timeout": "30000",
}
#: The same asked of the server for this session: a dead client's backend ends, and its
#: advisory locks are released, about 30 s after the host died.
SERVER_KEEPALIVES = (
    ("tcp_keepalives_idle", "10"),
    ("tcp_keepalives_interval", "5"),
    ("tcp_keepalives_count", "3"),
    ("tcp_user_timeout", "30000"),
)
#: Rows above which plan boundaries come from a sample (TABLESAMPLE) instead of a full sort.
PLAN_SAMPLE_ROWS = 1_000_000
_HINT = "PostgreSQL rotation needs psycopg 3: pip install 'importobot[enterprise]'"


def _psycopg() -> Any:
    try:
        import psycopg
        import psycopg.conninfo
        import psycopg.sql
    except ImportError:
        raise StoreError(_HINT) from None
    return psycopg


def _parse(dsn: str) -> dict[str, Any]:
    pg = _psycopg()
    parsed: dict[str, Any] | None = None
    try:
        parsed = pg.conninfo.conninfo_to_dict(dsn)
    except pg.ProgrammingError:
        pass
    if parsed is None:
        # The parser's message may quote the DSN, which may hold a password: say less, and
        # raise outside the handler so the parser's error is not kept as __context__ (D6).
        raise StoreError("invalid PostgreSQL DSN (libpq could not parse it)")
    return parsed


#: libpq parameters whose value is a secret, whatever the linked libpq knows: passwords,
#: the client key's passphrase, the OAuth client secret (libpq 18), and the SCRAM keys
#: FDW middleware passes through (libpq 18). Any parameter the linked libpq itself marks
#: as secret (``dispchar`` ``*`` in ``PQconndefaults``) is added at run time.
SECRET_PARAMETERS = frozenset(
    {"password", "sslpassword", "oauth_client_secret", "scram_client_key", "scram_server_key"}
)


def secret_parameters() -> frozenset[str]:
    """:data:`SECRET_PARAMETERS` and every parameter the linked libpq marks as secret."""
    found = set(SECRET_PARAMETERS)
    try:
        from psycopg import pq

        for option in pq.Conninfo.get_defaults():
            if option.dispchar == b"*":
                found.add(option.keyword.decode("ascii", "replace"))
    except Exception:  # noqa: BLE001, S110 - no libpq, or an old one: the fixed list stands
        pass
    return frozenset(found)


def check_dsn(dsn: str) -> None:
    """Refuse a DSN that carries any secret libpq knows (D6), naming the parameters only."""
    found = sorted(set(_parse(dsn)) & secret_parameters())
    if found:
        raise StoreError(
            f"the PostgreSQL DSN holds a secret ({', '.join(found)}); secrets never go on the "
            f"command line: use PGPASSWORD, ~/.pgpass, PGSERVICE (a pg_service.conf entry) "
            f"or the files libpq reads (sslkey with a passphrase-less key, …)"
        )


def redact_dsn(dsn: str) -> str:
    """The DSN without any secret parameter, for printing (errors, descriptions, journals)."""
    try:
        parts = _parse(dsn)
    except StoreError:
        return "<unparsable DSN>"
    secret = secret_parameters()
    return " ".join(f"{k}={v}" for k, v in sorted(parts.items()) if k not in secret)


class PostgresStore(SQLStore):
    """Tokens in one column of one PostgreSQL table, rows addressed by a unique id column."""

    def __init__(
        self,
        dsn: str,
        table: str,
        id_column: str,
        column: str,
        *,
        journal_table: str = DEFAULT_JOURNAL_TABLE,
        read_only: bool = False,
        lock_wait: float = 3.0,
        shard: tuple[int, int] | None = None,
        replan: bool = False,
    ) -> None:
        pg = _psycopg()
        check_dsn(dsn)
        self._pg = pg
        self._sql = pg.sql
        self.table = split_name(table)
        self.journal_table = split_name(journal_table)
        self.id_column = id_column
        self.column = column
        self.read_only = read_only
        # A killed runner's session ends when the server notices its socket closed: give
        # that a moment before calling the lock taken.
        self.lock_wait = lock_wait
        self.description = f"postgresql:{redact_dsn(dsn)}:{table}.{column}"
        self.shard = shard
        self.replan = replan
        self.plan: ShardPlan | None = None
        self._low: Any = None
        self._high: Any = None
        if shard is not None:
            self.description += f" shard {shard[0]}/{shard[1]}"
        given = _parse(dsn)
        extra = {k: v for k, v in KEEPALIVES.items() if k not in given}
        try:
            self.conn = pg.connect(
                dsn, autocommit=True, application_name="importobot-rotate", **extra
            )
        except pg.Error as exc:
            raise StoreError(f"cannot connect to {redact_dsn(dsn)}: {_primary(exc)}") from None
        self._qtable = self._sql.Identifier(*self.table)
        self._qid = self._sql.Identifier(id_column)
        self._qcol = self._sql.Identifier(column)
        self._qjournal = self._sql.Identifier(*self.journal_table)
        self._tx: Any = None
        try:
            self._server_keepalives()
            if read_only:  # dry runs: the server itself refuses any write
                self.conn.execute("SET default_transaction_read_only = on")
            db = self.conn.execute("SELECT current_database()").fetchone()[0]
            # One name per table and column whatever the DSN's spelling: lock and journal key.
            self._ident = f"{db}/{'.'.join(self.table)}.{column}"
            self.journal_label = f"journal table {'.'.join(self.journal_table)} ({self._ident})"
            self._lock_key = _lock_key(self._ident)
            self._journal_key = self._ident
            if shard is not None:
                self._journal_key = f"{self._ident}#shard-{shard[0]}"
                self.journal_label += f" shard {shard[0]}/{shard[1]}"
            self._check_schema()
        except pg.Error as exc:
            self.conn.close()
            raise StoreError(f"{self.description}: {_primary(exc)}") from None

    def _server_keepalives(self) -> None:
        for name, value in SERVER_KEEPALIVES:
            try:
                with self.conn.transaction():
                    self.conn.execute(
                        self._sql.SQL("SET {} = {}").format(
                            self._sql.Identifier(name), self._sql.Literal(value)
                        )
                    )
            except self._pg.Error:
                pass  # an older server without the setting: the client side still holds

    def _check_schema(self) -> None:
        name = ".".join(self.table)
        regclass = self.conn.execute(
            "SELECT to_regclass(%s)::oid", (self._qtable.as_string(self.conn),)
        ).fetchone()[0]
        if regclass is None:
            raise StoreError(f"{self.description}: no table {name!r}")
        cols = {
            row[0]: row[1]
            for row in self.conn.execute(
                "SELECT attname, format_type(atttypid, NULL) FROM pg_attribute "
                "WHERE attrelid = %s AND attnum > 0 AND NOT attisdropped",
                (regclass,),
            )
        }
        for col in (self.id_column, self.column):
            if col not in cols:
                raise StoreError(f"{self.description}: table {name!r} has no column {col!r}")
        # json and jsonb values are read as their text and written back through a cast, so
        # the tokens inside a JSON document are found and swapped like those in text.
        kind = cols[self.column]
        self._value = self._qcol
        self._assign = self._sql.SQL("%s")
        self._match = self._sql.SQL("{c} = %s").format(c=self._qcol)
        if kind in ("json", "jsonb"):
            cast = self._sql.SQL(kind)
            self._value = self._sql.SQL("{c}::text").format(c=self._qcol)
            self._assign = self._sql.SQL("%s::{k}").format(k=cast)
            self._match = (
                self._sql.SQL("{c} = %s::jsonb").format(c=self._qcol)
                if kind == "jsonb"
                else self._sql.SQL("{c}::text = %s").format(c=self._qcol)  # json has no "="
            )
        unique = self.conn.execute(
            "SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = i.indkey[0] WHERE i.indrelid = %s AND i.indisunique "
            "AND i.indnkeyatts = 1 AND i.indpred IS NULL AND a.attname = %s",
            (regclass, self.id_column),
        ).fetchone()
        if unique is None:
            raise StoreError(
                f"{self.description}: id column {self.id_column!r} of {name!r} is not unique "
                f"(no primary key or unique index on it alone)"
            )

    # -- driver hooks ------------------------------------------------------------------
    def _range(self) -> tuple[Any, list[Any]]:
        """The SQL conditions and parameters of this shard's id range (none unsharded)."""
        s = self._sql
        parts: list[Any] = []
        params: list[Any] = []
        if self._low is not None:
            parts.append(s.SQL("{i} >= %s").format(i=self._qid))
            params.append(self._low)
        if self._high is not None:
            parts.append(s.SQL("{i} < %s").format(i=self._qid))
            params.append(self._high)
        return parts, params

    def _select_page(self, after: Any, limit: int) -> list[tuple[Any, Any]]:
        s = self._sql
        conds, params = self._range()
        conds = [s.SQL("{i} IS NOT NULL").format(i=self._qid), *conds]
        if after is not None:
            conds.append(s.SQL("{i} > %s").format(i=self._qid))
            params.append(after)
        q = s.SQL("SELECT {i}, {v} FROM {t} WHERE {w} ORDER BY {i} LIMIT %s").format(
            i=self._qid, v=self._value, t=self._qtable, w=s.SQL(" AND ").join(conds)
        )
        return list(self.conn.execute(q, (*params, limit)).fetchall())

    def _select_null_ids(self, limit: int) -> list[Any]:
        if self.shard is not None and self.shard[0] != 1:
            return []  # rows without an id are reported by shard 1 only
        q = self._sql.SQL("SELECT {v} FROM {t} WHERE {i} IS NULL LIMIT %s").format(
            i=self._qid, v=self._value, t=self._qtable
        )
        return [row[0] for row in self.conn.execute(q, (limit,)).fetchall()]

    def _select_ids(self, ids: Sequence[Any]) -> list[tuple[Any, Any]]:
        q = self._sql.SQL("SELECT {i}, {v} FROM {t} WHERE {i} = ANY(%s)").format(
            i=self._qid, v=self._value, t=self._qtable
        )
        return list(self.conn.execute(q, (list(ids),)).fetchall())

    def _begin(self) -> None:
        self._tx = self.conn.transaction()
        self._tx.__enter__()

    def _cas_update(self, rows: Sequence[tuple[Any, Any, Any]]) -> set[Any]:
        q = self._sql.SQL("UPDATE {t} SET {c} = {a} WHERE {i} = %s AND {m} RETURNING {i}")
        q = q.format(i=self._qid, c=self._qcol, t=self._qtable, a=self._assign, m=self._match)
        updated: set[Any] = set()
        with self.conn.cursor() as cur:
            cur.executemany(q, list(rows), returning=True)
            while True:
                updated.update(row[0] for row in cur.fetchall())
                if not cur.nextset():
                    break
        return updated

    def _commit(self) -> None:
        tx, self._tx = self._tx, None
        tx.__exit__(None, None, None)

    def _rollback(self) -> None:
        tx, self._tx = self._tx, None
        if tx is not None:
            err = self._pg.errors.QueryCanceled("rolled back")
            try:
                tx.__exit__(type(err), err, None)
            except self._pg.Error:
                pass

    def _db_error(self, exc: BaseException) -> StoreError | None:
        if not isinstance(exc, self._pg.Error):
            return None
        return StoreError(
            f"{self.description}: {_primary(exc)}; the open batch was rolled back, nothing lost"
        )

    # -- Store -------------------------------------------------------------------------
    def lock(self) -> AbstractContextManager[None]:
        """``pg_try_advisory_lock`` for this table and column, held by this session.

        Unsharded: the table lock, exclusive. A shard: the table lock *shared* (so an
        unsharded run and a sharded plan exclude each other), the plan fixed or read,
        then this shard's own lock, exclusive.
        """
        if self.shard is None:
            return self._advisory_lock(self._lock_key)
        return self._shard_lock()

    @contextmanager
    def _shard_lock(self) -> Iterator[None]:
        assert self.shard is not None  # noqa: S101 - only called for a shard
        k, n = self.shard
        with ExitStack() as stack:
            stack.enter_context(self._advisory_lock(self._lock_key, shared=True))
            plan = self._journal_call(partial(self._fix_plan, n))
            stack.enter_context(self._advisory_lock(_lock_key(f"{self._ident}#shard-{k}")))
            again = self._read_plan()
            if again is None or again.plan_id != plan.plan_id:
                raise StoreLockedError(
                    f"{self.description}: the shard plan was replaced while this shard started; "
                    f"run it again"
                )
            self._use_plan(plan)
            yield

    @contextmanager
    def _advisory_lock(self, key: int, *, shared: bool = False) -> Iterator[None]:
        take = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"
        give = "pg_advisory_unlock_shared" if shared else "pg_advisory_unlock"
        deadline = time.monotonic() + self.lock_wait
        while True:
            got = self.conn.execute(f"SELECT {take}(%s)", (key,))
            taken = bool(got.fetchone()[0])
            if taken or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        if not taken:
            raise StoreLockedError(f"{self.description} is being rotated by {self._holder(key)}")
        try:
            yield
        finally:
            try:
                self.conn.execute(f"SELECT {give}(%s)", (key,))
            except self._pg.Error:
                pass  # a closed session has released it

    # -- the shard plan (D27) -------------------------------------------------------------
    def _plan_key(self) -> str:
        return f"{self._ident}#plan"

    def _read_plan(self) -> ShardPlan | None:
        if not self._journal_exists():
            return None
        q = self._sql.SQL("SELECT data FROM {j} WHERE store = %s").format(j=self._qjournal)
        row = self.conn.execute(q, (self._plan_key(),)).fetchone()
        if row is None:
            return None
        where = f"{self.journal_label} (plan)"
        return ShardPlan.from_json(parse_journal(row[0], where), where)

    def load_plan(self) -> ShardPlan | None:
        """Read the stored plan and, for a shard, use its range (read-only runs, status)."""
        plan = self._read_plan()
        if self.shard is not None:
            if plan is None:
                raise StoreError(
                    f"{self.description}: no shard plan yet (the first rotating shard makes it)"
                )
            if plan.shards != self.shard[1]:
                raise PlanMismatchError(
                    f"{self.description}: the stored plan has {plan.shards} shards, not "
                    f"{self.shard[1]}"
                )
            self._use_plan(plan)
        self.plan = plan
        return plan

    def _use_plan(self, plan: ShardPlan) -> None:
        assert self.shard is not None  # noqa: S101 - only called for a shard
        self.plan = plan
        self._low, self._high = plan.bounds(self.shard[0])

    def _fix_plan(self, n: int) -> ShardPlan:
        """The stored plan, made now when there is none (one transaction under a lock)."""
        self._ensure_journal()
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_lock_key(self._plan_key()),))
            plan = self._read_plan()
            if plan is not None and (plan.shards != n or self.replan):
                if not self.replan:
                    raise PlanMismatchError(
                        f"{self.description}: the stored plan {plan.plan_id} has "
                        f"{plan.shards} shards, not {n}; start every shard with "
                        f"--shard K/{plan.shards}, or pass --replan to cut {n} new ranges "
                        f"(refused while a shard of the old plan runs)"
                    )
                self._drop_plan(plan)
                plan = None
            if plan is None:
                plan = ShardPlan(
                    uuid.uuid4().hex,
                    n,
                    tuple(self._boundaries(n)),
                    created=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                )
                self._upsert(self._plan_key(), plan.to_json())
            self.replan = False  # once: a resumed shard keeps the plan it made
        return plan

    def _drop_plan(self, plan: ShardPlan) -> None:
        """Remove a plan and its shard rows; refused while one of its shards is locked."""
        busy = []
        for k in range(1, plan.shards + 1):
            key = _lock_key(f"{self._ident}#shard-{k}")
            if k == (self.shard or (0, 0))[0]:
                continue  # our own shard lock is not taken yet
            got = self.conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]
            if got:
                self.conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
            else:
                busy.append(k)
        if busy:
            raise StoreLockedError(
                f"{self.description}: cannot replan while shard(s) "
                f"{', '.join(map(str, busy[:20]))} of plan {plan.plan_id} run"
            )
        q = self._sql.SQL("DELETE FROM {j} WHERE store = %s OR store LIKE %s").format(
            j=self._qjournal
        )
        self.conn.execute(q, (self._plan_key(), _like_prefix(f"{self._ident}#shard-")))

    def _boundaries(self, n: int) -> list[Any]:
        """N−1 cut points at the id column's quantiles (sampled on a huge table)."""
        if n == 1:
            return []
        s = self._sql
        fractions = [k / n for k in range(1, n)]
        est = self.conn.execute(
            "SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)",
            (self._qtable.as_string(self.conn),),
        ).fetchone()
        rows = float(est[0]) if est and est[0] is not None else 0.0
        source = s.SQL("{t}").format(t=self._qtable)
        if rows > PLAN_SAMPLE_ROWS:
            percent = max(0.01, min(100.0, PLAN_SAMPLE_ROWS * 100.0 / rows))
            source = s.SQL("{t} TABLESAMPLE SYSTEM ({p})").format(
                t=self._qtable, p=s.Literal(percent)
            )
        q = s.SQL(
            "SELECT percentile_disc(%s::float8[]) WITHIN GROUP (ORDER BY {i}) FROM {src} "
            "WHERE {i} IS NOT NULL"
        ).format(i=self._qid, src=source)
        found = self.conn.execute(q, (fractions,)).fetchone()[0]
        if not found:  # an empty table: every shard but the last gets nothing yet
            return []
        return [b for b in found if b is not None]

    def status(self) -> tuple[ShardPlan | None, list[ShardStatus]]:
        """The plan and every shard's progress, holder and heartbeat age (reads only)."""
        plan = self._read_plan()
        if plan is None:
            return None, []
        q = self._sql.SQL(
            "SELECT store, data, EXTRACT(EPOCH FROM now() - updated) FROM {j} WHERE store LIKE %s"
        ).format(j=self._qjournal)
        rows = {
            r[0]: (r[1], r[2])
            for r in self.conn.execute(q, (_like_prefix(f"{self._ident}#shard-"),)).fetchall()
        }
        out = []
        for k in range(1, plan.shards + 1):
            st = ShardStatus(k, plan.shards, plan.describe(k), "not started")
            raw = rows.get(f"{self._ident}#shard-{k}")
            if raw is not None:
                data = _object(parse_journal(raw[0], self.journal_label), self.journal_label)
                if data.get("plan_id") == plan.plan_id:
                    _fill_status(st, data)
                    st.heartbeat_age = float(raw[1]) if raw[1] is not None else None
            st.backend_pid = self._holder_pid(_lock_key(f"{self._ident}#shard-{k}"))
            out.append(st)
        return plan, out

    def _holder_pid(self, key: int) -> int | None:
        row = self.conn.execute(
            "SELECT l.pid FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted "
            "AND ((l.classid::bigint << 32) | l.objid::bigint) = %s",
            (key,),
        ).fetchone()
        return int(row[0]) if row else None

    def finish(self, report: RotationReport) -> None:
        """A shard records the verification pass's verdict on its range."""
        if self.shard is None:
            return
        data = self._shard_row()
        data.update(
            state="verified" if report.verified else "unverified",
            run=None,
            target_fingerprint=report.target_fingerprint,
            verified_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            rotated=report.rotated,
            total=report.checked,
        )
        self._journal_call(partial(self._upsert, self._journal_key, data))

    def shard_rows(self) -> list[tuple[int, str, str | None]]:
        """``(shard, state, target fingerprint)`` of every shard of the stored plan
        (``not started`` for a shard with no row); empty without a plan."""
        plan, shards = self.status()
        if plan is None:
            return []
        return [(s.shard, s.state, s.target_fingerprint) for s in shards]

    def _shard_row(self) -> dict[str, Any]:
        assert self.shard is not None and self.plan is not None  # noqa: S101 - under lock()
        return {
            "plan_id": self.plan.plan_id,
            "shard": self.shard[0],
            "shards": self.shard[1],
            "host": socket.gethostname()[:255],
            "pid": os.getpid(),
        }

    def _holder(self, key: int) -> str:
        row = self.conn.execute(
            "SELECT a.pid, a.client_addr, a.backend_start, a.application_name "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted "
            "AND ((l.classid::bigint << 32) | l.objid::bigint) = %s",
            (key,),
        ).fetchone()
        if row is None:
            return "another session"
        pid, addr, started, app = row
        return f"backend pid {pid} ({app or 'unknown client'} from {addr or 'local socket'}) " + (
            f"since {started:%Y-%m-%dT%H:%M:%S%z}" if started else ""
        )

    def count(self) -> int | None:
        """Rows in the table (in this shard's range)."""
        conds, params = self._range()
        if not conds:
            q = self._sql.SQL("SELECT count(*) FROM {t}").format(t=self._qtable)
            return int(self.conn.execute(q).fetchone()[0])
        q = self._sql.SQL("SELECT count(*) FROM {t} WHERE {w}").format(
            t=self._qtable, w=self._sql.SQL(" AND ").join(conds)
        )
        return int(self.conn.execute(q, params).fetchone()[0])

    def _ensure_journal(self) -> None:
        if self._journal_exists():
            return
        q = self._sql.SQL(
            "CREATE TABLE IF NOT EXISTS {j} (store text PRIMARY KEY, data text NOT NULL, "
            "updated timestamptz NOT NULL DEFAULT now())"
        ).format(j=self._qjournal)
        # Shards start together: two concurrent CREATE TABLE IF NOT EXISTS can still
        # collide in the catalog, so creation is serialised.
        key = _lock_key("journal:" + self._qjournal.as_string(self.conn))
        with self.conn.transaction():
            self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (key,))
            self.conn.execute(q)

    def _journal_exists(self) -> bool:
        row = self.conn.execute(
            "SELECT to_regclass(%s)", (self._qjournal.as_string(self.conn),)
        ).fetchone()
        return row is not None and row[0] is not None

    def _journal_call(self, call: Callable[[], _T]) -> _T:
        """Run a journal-table call; a driver error (the journal table's schema does not
        exist, no right to create the table …) is one StoreError naming the table, raised
        outside the handler so no driver error rides along as its context."""
        failure: StoreError | None = None
        try:
            return call()
        except self._pg.Error as exc:
            hint = ""
            if isinstance(exc, self._pg.errors.InvalidSchemaName):
                hint = "; create that schema first, or choose a journal table in another one"
            failure = StoreError(f"{self.journal_label}: {_primary(exc)}{hint}")
        raise failure

    def _read_row(self, key: str) -> dict[str, Any] | None:
        if not self._journal_exists():
            return None
        q = self._sql.SQL("SELECT data FROM {j} WHERE store = %s").format(j=self._qjournal)
        row = self.conn.execute(q, (key,)).fetchone()
        if row is None:
            return None
        return _object(parse_journal(row[0], self.journal_label), self.journal_label)

    def _upsert(self, key: str, data: dict[str, Any]) -> None:
        self._ensure_journal()
        q = self._sql.SQL(
            "INSERT INTO {j} (store, data) VALUES (%s, %s) ON CONFLICT (store) "
            "DO UPDATE SET data = EXCLUDED.data, updated = now()"
        ).format(j=self._qjournal)
        self.conn.execute(q, (key, json.dumps(data, default=str)))

    def read_journal(self) -> dict[str, Any] | None:
        """This store's row of the journal table (a shard: its unfinished run, if any)."""
        return self._journal_call(self._read_journal)

    def write_journal(self, data: dict[str, Any]) -> None:
        """Upsert this store's journal row, the table created if missing (a shard: with
        its state and heartbeat)."""
        self._journal_call(partial(self._write_journal, data))

    def clear_journal(self) -> None:
        """Delete this store's journal row (a shard: mark its pass over, verifying)."""
        self._journal_call(self._clear_journal)

    def _read_journal(self) -> dict[str, Any] | None:
        data = self._read_row(self._journal_key)
        if data is None or self.shard is None:
            return data
        if self.plan is None or data.get("plan_id") != self.plan.plan_id:
            return None  # a row of an older plan: start this shard afresh
        if data.get("state") != "rotating":
            return None  # the last pass finished: a rerun starts a fresh pass
        run = data.get("run")
        return _object(run, self.journal_label) if run is not None else None

    def _write_journal(self, data: dict[str, Any]) -> None:
        if self.shard is None:
            self._upsert(self._journal_key, data)
            return
        row = self._shard_row()
        row.update(state="rotating", run=data, target_fingerprint=data.get("target_fingerprint"))
        self._upsert(self._journal_key, row)

    def _clear_journal(self) -> None:
        if self.shard is not None:
            row = self._shard_row()
            previous = self._read_row(self._journal_key) or {}
            row.update(state="verifying", run=None)
            row["target_fingerprint"] = previous.get("target_fingerprint")
            self._upsert(self._journal_key, row)
            return
        if self._journal_exists():
            q = self._sql.SQL("DELETE FROM {j} WHERE store = %s").format(j=self._qjournal)
            self.conn.execute(q, (self._journal_key,))

    def heartbeat(self) -> None:
        """Refresh this shard's heartbeat (the row's ``updated`` time)."""
        if self.shard is not None and not self.read_only and self._journal_exists():
            q = self._sql.SQL("UPDATE {j} SET updated = now() WHERE store = %s").format(
                j=self._qjournal
            )
            self.conn.execute(q, (self._journal_key,))

    def close(self) -> None:
        """Close the session (releasing the advisory lock)."""
        self.conn.close()


def _object(data: Any, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise JournalError(f"{where}: corrupt rotation journal (not an object)")
    return data


def _like_prefix(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _fill_status(st: ShardStatus, data: dict[str, Any]) -> None:
    from importobot_enterprise.key_rotation.ids import decode_id

    state = data.get("state")
    st.state = state if isinstance(state, str) and len(state) < 32 else "unknown"
    target = data.get("target_fingerprint")
    st.target_fingerprint = target if isinstance(target, str) and len(target) < 64 else None
    host, pid = data.get("host"), data.get("pid")
    st.host = host if isinstance(host, str) else None
    st.pid = pid if type(pid) is int else None
    run = data.get("run")
    if isinstance(run, dict):
        try:
            st.last_id = decode_id(run.get("last_id"), "journal")
        except JournalError:
            st.last_id = None
        raw_counts = run.get("counts")
        counts: dict[str, Any] = raw_counts if isinstance(raw_counts, dict) else {}
        rotated, total = counts.get("rotated"), counts.get("total")
        st.rotated = rotated if type(rotated) is int else 0
        st.total = total if type(total) is int else 0
    else:
        rotated, total = data.get("rotated"), data.get("total")
        st.rotated = rotated if type(rotated) is int else 0
        st.total = total if type(total) is int else 0


def _lock_key(ident: str) -> int:
    digest = hashlib.sha256(b"importobot-rotation:" + ident.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _primary(exc: BaseException) -> str:
    """The driver's primary message only: DETAIL lines may quote row values."""
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None)
    if primary:
        return str(primary)
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
