"""SQLiteStore: the embedded default (D21).

Each batch is ``BEGIN IMMEDIATE`` … ``COMMIT`` with ``PRAGMA synchronous=FULL``, so a
committed batch survives power loss and a killed run loses at most the open batch
(rolled back by SQLite). A run also holds an flock on the database file itself (Linux;
so every name of it takes the same lock; elsewhere a hard-linked database is refused)
and on ``<db>.importobot-lock`` (which says who holds it); the journal is
``<db>.importobot-rotation.json``.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import stat
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from importobot_enterprise.key_rotation.durable import holder_of, real_target, store_lock
from importobot_enterprise.key_rotation.errors import StoreError, StoreLockedError
from importobot_enterprise.key_rotation.journal import JournalBeside
from importobot_enterprise.key_rotation.stores.sql import SQLStore, split_name

__all__ = ["SQLiteStore", "quote_identifier"]

_ROWID_NAMES = {"rowid", "oid", "_rowid_"}
#: Linux: flock(2) locks and the POSIX record locks SQLite takes never interact, so the
#: rotation may flock the database file itself. On BSD-derived systems (macOS) they do
#: (an flock would block SQLite's own writes), so there a hard-linked database is refused.
_FLOCK_IS_INDEPENDENT = sys.platform.startswith("linux")


def quote_identifier(name: str) -> str:
    """An SQLite identifier in double quotes, inner quotes doubled."""
    if "\x00" in name:
        raise StoreError("identifiers cannot contain NUL")
    return '"' + name.replace('"', '""') + '"'


class SQLiteStore(JournalBeside, SQLStore):
    """Tokens in one column of one SQLite table, rows addressed by a unique id column.

    ``read_only`` opens the database read-only (dry runs). ``pragmas`` are applied after
    connecting (tests use ``max_page_count`` to simulate a full disk).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        table: str,
        id_column: str,
        column: str,
        *,
        read_only: bool = False,
        pragmas: Mapping[str, int | str] | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.path = Path(path)
        self.target = real_target(self.path)
        if not self.target.is_file():
            raise StoreError(f"{self.path}: no such SQLite database")
        self.table = split_name(table)
        self.id_column = id_column
        self.column = column
        self.description = f"sqlite:{self.path}:{table}.{column}"
        self._qtable = ".".join(quote_identifier(p) for p in self.table)
        self._qid = quote_identifier(id_column)
        self._qcol = quote_identifier(column)
        uri = f"file:{quote(str(self.target))}?mode={'ro' if read_only else 'rw'}"
        # The file's identity, for the rotation lock (another name of the same file, a
        # hard link, must take the same lock). Opened before SQLite opens the database and
        # closed after SQLite closes it: closing a descriptor drops every POSIX lock the
        # process holds on the file, SQLite's own included. (So, in one process, open a
        # database for rotation through one store at a time.)
        self._identity_fd = -1 if read_only else _open_identity(self.path, self.target)
        try:
            self.conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=timeout)
            self.conn.execute("PRAGMA synchronous=FULL")
            for name, value in (pragmas or {}).items():
                if not name.replace("_", "").isalnum():
                    raise StoreError(f"invalid pragma name {name!r}")
                self.conn.execute(f"PRAGMA {name}={int(value)}")
            self._check_schema()
        except sqlite3.Error as exc:
            self.close()
            raise StoreError(f"{self.path}: {exc}") from None
        except BaseException:
            self.close()
            raise
        self._use_journal(self.target, f"{'.'.join(self.table)}.{column}")

    # -- schema checks (D21: never altered, only inspected) ----------------------------
    def _pragma(self, name: str, arg: str) -> list[tuple[Any, ...]]:
        schema = f"{quote_identifier(self.table[0])}." if len(self.table) == 2 else ""
        return self.conn.execute(f"PRAGMA {schema}{name}({quote_identifier(arg)})").fetchall()

    def _check_schema(self) -> None:
        name = ".".join(self.table)
        cols = {row[1]: row for row in self._pragma("table_info", self.table[-1])}
        if not cols:
            raise StoreError(f"{self.path}: no table {name!r}")
        if self.column not in cols:
            raise StoreError(f"{self.path}: table {name!r} has no column {self.column!r}")
        if self.id_column not in cols:
            if self.id_column.lower() in _ROWID_NAMES:
                return  # the rowid itself (unique by definition)
            raise StoreError(f"{self.path}: table {name!r} has no column {self.id_column!r}")
        pks = [row for row in cols.values() if row[5]]
        if len(pks) == 1 and pks[0][1] == self.id_column:
            return
        for index in self._pragma("index_list", self.table[-1]):
            if index[2]:  # unique
                members = [row[2] for row in self._pragma("index_info", index[1])]
                if members == [self.id_column]:
                    return
        raise StoreError(
            f"{self.path}: id column {self.id_column!r} of {name!r} is not unique (no primary "
            f"key or unique index on it alone); rows could not be addressed one by one"
        )

    # -- driver hooks --------------------------------------------------------------------
    def _select_page(self, after: Any, limit: int) -> list[tuple[Any, Any]]:
        base = f"SELECT {self._qid}, {self._qcol} FROM {self._qtable}"  # noqa: S608 - quoted
        if after is None:
            sql = f"{base} WHERE {self._qid} IS NOT NULL ORDER BY {self._qid} LIMIT ?"
            return self.conn.execute(sql, (limit,)).fetchall()
        sql = f"{base} WHERE {self._qid} > ? ORDER BY {self._qid} LIMIT ?"
        return self.conn.execute(sql, (after, limit)).fetchall()

    def _select_null_ids(self, limit: int) -> list[Any]:
        sql = f"SELECT {self._qcol} FROM {self._qtable} WHERE {self._qid} IS NULL LIMIT ?"  # noqa: S608
        return [row[0] for row in self.conn.execute(sql, (limit,)).fetchall()]

    def _select_ids(self, ids: Sequence[Any]) -> list[tuple[Any, Any]]:
        sql = (
            f"SELECT {self._qid}, {self._qcol} FROM {self._qtable} "  # noqa: S608 - quoted
            f"WHERE {self._qid} = ?"
        )
        rows: list[tuple[Any, Any]] = []
        for row_id in ids:
            rows.extend(self.conn.execute(sql, (row_id,)).fetchall())
        return rows

    def _begin(self) -> None:
        self.conn.execute("BEGIN IMMEDIATE")

    def _cas_update(self, rows: Sequence[tuple[Any, Any, Any]]) -> set[Any]:
        sql = (
            f"UPDATE {self._qtable} SET {self._qcol} = ? "  # noqa: S608 - quoted
            f"WHERE {self._qid} = ? AND {self._qcol} = ?"
        )
        # The id is unique, so each statement touches at most one row: when the total is
        # right every row was swapped; otherwise find which ones by their current value.
        if self.conn.executemany(sql, rows).rowcount == len(rows):
            return {row_id for _, row_id, _ in rows}
        check = f"SELECT {self._qcol} FROM {self._qtable} WHERE {self._qid} = ?"  # noqa: S608
        updated: set[Any] = set()
        for new, row_id, _ in rows:
            found = self.conn.execute(check, (row_id,)).fetchone()
            if found is not None and found[0] == new:
                updated.add(row_id)
        return updated

    def _commit(self) -> None:
        self.conn.execute("COMMIT")

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def _db_error(self, exc: BaseException) -> StoreError | None:
        if not isinstance(exc, sqlite3.Error):
            return None
        text = str(exc)
        if isinstance(exc, sqlite3.OperationalError) and "full" in text:
            text += " (disk full or max_page_count reached)"
        return StoreError(f"{self.path}: {text}; the open batch was rolled back, nothing lost")

    # -- Store -------------------------------------------------------------------------
    def lock(self) -> AbstractContextManager[None]:
        """The rotation lock of the database *file*: every name of it (a hard link in
        another directory included) takes the same lock; ``<db>.importobot-lock`` says who
        holds it. Batches also take BEGIN IMMEDIATE."""
        return self._locked()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        if self._identity_fd < 0:
            raise StoreError(f"{self.path}: opened read-only; a rotation needs it writable")
        links = os.fstat(self._identity_fd).st_nlink
        if not _FLOCK_IS_INDEPENDENT:
            if links > 1:
                raise StoreError(
                    f"{self.path}: has {links} hard links, and on this platform a lock on the "
                    f"file itself would block SQLite's own locks; rotate a copy of its own"
                )
            with store_lock(self.target):
                yield
            return
        try:
            fcntl.flock(self._identity_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = holder_of(self.target)
            if holder is None:
                holder = "another process" + (
                    f" (through another name of this file: it has {links} hard links)"
                    if links > 1
                    else ""
                )
            raise StoreLockedError(f"{self.target} is being rotated by {holder}") from None
        try:
            with store_lock(self.target):
                yield
        finally:
            fcntl.flock(self._identity_fd, fcntl.LOCK_UN)

    def prepare(self) -> None:
        """Sweep journal temp files left by killed runs."""
        self._journal.sweep()

    def count(self) -> int | None:
        """Rows in the table."""
        sql = f"SELECT COUNT(*) FROM {self._qtable}"  # noqa: S608 - quoted
        return int(self.conn.execute(sql).fetchone()[0])

    def close(self) -> None:
        """Close the connection (then the descriptor the lock is taken on)."""
        conn = getattr(self, "conn", None)
        if conn is not None:
            conn.close()
        if self._identity_fd >= 0:
            os.close(self._identity_fd)
            self._identity_fd = -1


def _open_identity(path: Path, target: Path) -> int:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(target, flags)
    except OSError as exc:
        raise StoreError(f"{path}: cannot open ({exc.strerror})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise StoreError(f"{path}: not a regular file")
    return fd
