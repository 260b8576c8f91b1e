"""The SQL store logic shared by SQLite and PostgreSQL (D21), over a DB-API connection.

Never alters the user's schema. Keyset pages (``WHERE id > :last ORDER BY id LIMIT
:n``); each batch is one transaction of compare-and-swap updates (``UPDATE t SET
c=:new WHERE id=:id AND c=:old``); 0 rows means the row changed underneath: it is
re-read, never overwritten. NULL, empty and non-Fernet cells are counted and skipped;
the column's type (bytes or text) is kept.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any

from importobot_enterprise.key_rotation.errors import StoreError
from importobot_enterprise.key_rotation.faults import crash_point
from importobot_enterprise.key_rotation.stores.base import Cell, Change, Page, Store, token_in

__all__ = ["SQLStore", "split_name"]


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
        """Rows ``(id, value)`` with id > after (or from the start), in id order."""

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
    def _page(self, rows: list[tuple[Any, Any]]) -> tuple[list[Cell], int]:
        cells: list[Cell] = []
        skipped = 0
        for row_id, value in rows:
            token = token_in(value)
            if row_id is None or token is None:
                skipped += 1
            else:
                cells.append(Cell(row_id, value, token))
        return cells, skipped

    def pages(self, batch_size: int, after: Any = None) -> Iterator[Page]:
        """Keyset pages of ``batch_size`` rows."""
        last = after
        while True:
            failure: StoreError | None = None
            try:
                rows = self._select_page(last, batch_size)
            except Exception as exc:
                failure = self._db_error(exc)
                if failure is None:
                    raise
            if failure is not None:
                # Raised outside the handler: no driver error (which may quote row values)
                # rides along as __context__ (D6).
                raise failure
            if not rows:
                return
            cells, skipped = self._page(rows)
            last = rows[-1][0]
            yield Page(cells, skipped, last)
            if len(rows) < batch_size:
                return

    def fetch(self, ids: Sequence[Any]) -> list[Cell]:
        """Re-read rows after a compare-and-swap miss."""
        return self._page(self._select_ids(ids))[0]

    def replace(self, changes: Sequence[Change]) -> list[Any]:
        """One transaction of compare-and-swap updates; ids that changed underneath back."""
        rows = [(ch.cell.with_token(ch.new_token), ch.cell.id, ch.cell.raw) for ch in changes]
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
        return [ch.cell.id for ch in changes if ch.cell.id not in updated]
