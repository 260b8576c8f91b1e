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
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from typing import Any, TypeVar

from importobot_enterprise.key_rotation.errors import JournalError, StoreError, StoreLockedError
from importobot_enterprise.key_rotation.journal import parse_journal
from importobot_enterprise.key_rotation.stores.sql import SQLStore, split_name

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
        try:
            self.conn = pg.connect(dsn, autocommit=True, application_name="importobot-rotate")
        except pg.Error as exc:
            raise StoreError(f"cannot connect to {redact_dsn(dsn)}: {_primary(exc)}") from None
        self._qtable = self._sql.Identifier(*self.table)
        self._qid = self._sql.Identifier(id_column)
        self._qcol = self._sql.Identifier(column)
        self._qjournal = self._sql.Identifier(*self.journal_table)
        self._tx: Any = None
        try:
            if read_only:  # dry runs: the server itself refuses any write
                self.conn.execute("SET default_transaction_read_only = on")
            db = self.conn.execute("SELECT current_database()").fetchone()[0]
            # One name per table and column whatever the DSN's spelling: lock and journal key.
            self._ident = f"{db}/{'.'.join(self.table)}.{column}"
            self.journal_label = f"journal table {'.'.join(self.journal_table)} ({self._ident})"
            self._lock_key = _lock_key(self._ident)
            self._check_schema()
        except pg.Error as exc:
            self.conn.close()
            raise StoreError(f"{self.description}: {_primary(exc)}") from None

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
    def _select_page(self, after: Any, limit: int) -> list[tuple[Any, Any]]:
        s = self._sql
        parts = {"i": self._qid, "v": self._value, "t": self._qtable}
        if after is None:
            q = s.SQL("SELECT {i}, {v} FROM {t} WHERE {i} IS NOT NULL ORDER BY {i} LIMIT %s")
            return list(self.conn.execute(q.format(**parts), (limit,)).fetchall())
        q = s.SQL("SELECT {i}, {v} FROM {t} WHERE {i} > %s ORDER BY {i} LIMIT %s")
        return list(self.conn.execute(q.format(**parts), (after, limit)).fetchall())

    def _select_null_ids(self, limit: int) -> list[Any]:
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
        """``pg_try_advisory_lock`` for this table and column, held by this session."""
        return self._advisory_lock()

    @contextmanager
    def _advisory_lock(self) -> Iterator[None]:
        deadline = time.monotonic() + self.lock_wait
        while True:
            got = self.conn.execute("SELECT pg_try_advisory_lock(%s)", (self._lock_key,))
            taken = bool(got.fetchone()[0])
            if taken or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        if not taken:
            raise StoreLockedError(f"{self.description} is being rotated by {self._holder()}")
        try:
            yield
        finally:
            try:
                self.conn.execute("SELECT pg_advisory_unlock(%s)", (self._lock_key,))
            except self._pg.Error:
                pass  # a closed session has released it

    def _holder(self) -> str:
        row = self.conn.execute(
            "SELECT a.pid, a.client_addr, a.backend_start, a.application_name "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted "
            "AND ((l.classid::bigint << 32) | l.objid::bigint) = %s",
            (self._lock_key,),
        ).fetchone()
        if row is None:
            return "another session"
        pid, addr, started, app = row
        return f"backend pid {pid} ({app or 'unknown client'} from {addr or 'local socket'}) " + (
            f"since {started:%Y-%m-%dT%H:%M:%S%z}" if started else ""
        )

    def count(self) -> int | None:
        """Rows in the table."""
        q = self._sql.SQL("SELECT count(*) FROM {t}").format(t=self._qtable)
        return int(self.conn.execute(q).fetchone()[0])

    def _ensure_journal(self) -> None:
        q = self._sql.SQL(
            "CREATE TABLE IF NOT EXISTS {j} (store text PRIMARY KEY, data text NOT NULL, "
            "updated timestamptz NOT NULL DEFAULT now())"
        ).format(j=self._qjournal)
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

    def read_journal(self) -> dict[str, Any] | None:
        """This store's row of the journal table."""
        return self._journal_call(self._read_journal)

    def write_journal(self, data: dict[str, Any]) -> None:
        """Upsert this store's journal row (the table is created if missing)."""
        self._journal_call(partial(self._write_journal, data))

    def clear_journal(self) -> None:
        """Delete this store's journal row."""
        self._journal_call(self._clear_journal)

    def _read_journal(self) -> dict[str, Any] | None:
        if not self._journal_exists():
            return None
        q = self._sql.SQL("SELECT data FROM {j} WHERE store = %s").format(j=self._qjournal)
        row = self.conn.execute(q, (self._ident,)).fetchone()
        if row is None:
            return None
        data = parse_journal(row[0], self.journal_label)
        if not isinstance(data, dict):
            raise JournalError(f"{self.journal_label}: corrupt rotation journal (not an object)")
        return data

    def _write_journal(self, data: dict[str, Any]) -> None:
        self._ensure_journal()
        q = self._sql.SQL(
            "INSERT INTO {j} (store, data) VALUES (%s, %s) ON CONFLICT (store) "
            "DO UPDATE SET data = EXCLUDED.data, updated = now()"
        ).format(j=self._qjournal)
        self.conn.execute(q, (self._ident, json.dumps(data, default=str)))

    def _clear_journal(self) -> None:
        if self._journal_exists():
            q = self._sql.SQL("DELETE FROM {j} WHERE store = %s").format(j=self._qjournal)
            self.conn.execute(q, (self._ident,))

    def close(self) -> None:
        """Close the session (releasing the advisory lock)."""
        self.conn.close()


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
