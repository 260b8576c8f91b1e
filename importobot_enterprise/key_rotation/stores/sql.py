"""The SQL store logic shared by SQLite and PostgreSQL (D21), over a DB-API connection.

Never alters the user's schema. Keyset pages (``WHERE id > :last ORDER BY id LIMIT
:n``); each batch is one transaction of compare-and-swap updates (``UPDATE t SET
c=:new WHERE id=:id AND c=:old``) on the whole value; 0 rows means the row changed
underneath: it is re-read, never overwritten. Every Fernet token in a value is found
(a JSON document may hold several): each one a source key opens is swapped, every other
byte is kept, and the column's type (bytes or text) is kept. NULL and empty values are
counted and skipped; a non-empty value holding no token is skipped and listed by id.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any, TypeVar

from importobot_enterprise.key_rotation.errors import StoreError
from importobot_enterprise.key_rotation.faults import crash_point
from importobot_enterprise.key_rotation.stores.base import (
    Cell,
    Change,
    Page,
    Store,
    grouped,
    split_value,
)

__all__ = ["MAX_NULL_ID_ROWS", "SQLStore", "split_name"]

_T = TypeVar("_T")
#: Rows with a NULL id read to report them (they cannot be rotated: nothing addresses them).
MAX_NULL_ID_ROWS = 10_000


def split_name(name: str) -> tuple[str, ...]:
    """``schema.table`` → ``("schema", "table")``; a bare name → ``("table",)``."""
    parts = tuple(name.split("."))
    if not name or len(parts) > 2 or any(not p for p in parts):
        raise StoreError(f"invalid table name {name!r}: use TABLE or SCHEMA.TABLE")
    return parts


class SQLStore(Store):
    """Shared logic; subclasses give the queries in their driver's paramstyle."""

    table: tuple[str, ...]
    id_column: str
    column: str

    # -- driver hooks ------------------------------------------------------------------
    @abstractmethod
    def _select_page(self, after: Any, limit: int) -> list[tuple[Any, Any]]:
        """Rows ``(id, value)`` with id > after (or from the start), in id order; never a
        row whose id is NULL."""

    @abstractmethod
    def _select_null_ids(self, limit: int) -> list[Any]:
        """Values of up to ``limit`` rows whose id is NULL (``_select_page`` skips them)."""

    @abstractmethod
    def _select_ids(self, ids: Sequence[Any]) -> list[tuple[Any, Any]]:
        """Rows ``(id, value)`` for these ids."""

    @abstractmethod
    def _begin(self) -> None:
        """Start the batch transaction (taking the write lock where the driver has one)."""

    @abstractmethod
    def _cas_update(self, rows: Sequence[tuple[Any, Any, Any]]) -> set[Any]:
        """Run ``UPDATE … SET c=new WHERE id=id AND c=old`` for ``(new, id, old)`` rows
        inside the open transaction; return the ids that were updated."""

    @abstractmethod
    def _commit(self) -> None:
        """Commit the batch."""

    @abstractmethod
    def _rollback(self) -> None:
        """Roll the batch back."""

    @abstractmethod
    def _db_error(self, exc: BaseException) -> StoreError | None:
        """The StoreError for a driver error, or ``None`` when it is not one."""

    # -- Store ---------------------------------------------------------------------------
    def _page(self, rows: list[tuple[Any, Any]]) -> tuple[list[Cell], int, list[Any]]:
        cells: list[Cell] = []
        skipped = 0
        unreadable: list[Any] = []
        for row_id, value in rows:
            found, odd = split_value(row_id, value)
            if not found:
                skipped += 1
                if odd:
                    unreadable.append(row_id)
            else:
                cells.extend(found)
        return cells, skipped, unreadable

    def _guarded(self, call: Callable[[], _T]) -> _T:
        """Run a driver call; a driver error becomes a StoreError with no __context__."""
        failure: StoreError | None = None
        try:
            return call()
        except Exception as exc:
            failure = self._db_error(exc)
            if failure is None:
                raise
        # Raised outside the handler: no driver error (which may quote row values) rides
        # along as __context__ (D6).
        raise failure

    def pages(self, batch_size: int, after: Any = None) -> Iterator[Page]:
        """Keyset pages of ``batch_size`` rows (rows whose id is NULL first, as one page:
        no compare-and-swap can address them, so any value they hold is unreadable)."""
        if after is None:
            nulls = self._guarded(partial(self._select_null_ids, MAX_NULL_ID_ROWS))
            if nulls:
                unreadable = [None for value in nulls if any(split_value(None, value))]
                yield Page([], len(nulls), None, unreadable)
        last = after
        while True:
            rows = self._guarded(partial(self._select_page, last, batch_size))
            if not rows:
                return
            cells, skipped, unreadable = self._page(rows)
            last = rows[-1][0]
            yield Page(cells, skipped, last, unreadable)
            if len(rows) < batch_size:
                return

    def fetch(self, ids: Sequence[Any]) -> list[Cell]:
        """Re-read rows after a compare-and-swap miss."""
        return self._page(self._select_ids(ids))[0]

    def replace(self, changes: Sequence[Change]) -> list[Any]:
        """One transaction of compare-and-swap updates; ids that changed underneath back."""
        rows = grouped(changes)
        failure: StoreError | None = None
        updated: set[Any] = set()
        try:
            self._begin()
            try:
                updated = self._cas_update(rows)
                crash_point("before-commit")
                self._commit()
            except BaseException:
                self._rollback()
                raise
        except Exception as exc:
            failure = self._db_error(exc)
            if failure is None:
                raise
        if failure is not None:
            raise failure  # outside the handler: no __context__ (D6)
        crash_point("after-commit")
        return [row_id for _, row_id, _ in rows if row_id not in updated]
