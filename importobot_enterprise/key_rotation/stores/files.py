"""FileStore: a file holding Fernet tokens (dotenv values, one token per line, …).

Every byte that is not a token is preserved; each token is swapped in place. The
file is rewritten as a whole by :func:`atomic_write` (D22): symlinks are resolved and
kept, hard-linked files are refused (a rename would split them), mode and owner kept.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from importobot.fsio import FileRefused, describe, read_operator_file
from importobot.keys.tokens import find_tokens
from importobot_enterprise.key_rotation.durable import (
    atomic_write,
    real_target,
    store_lock,
    sweep_temp_files,
)
from importobot_enterprise.key_rotation.errors import JournalError, StoreError
from importobot_enterprise.key_rotation.journal import JournalBeside
from importobot_enterprise.key_rotation.stores.base import Cell, Change, Page, Store

__all__ = ["MAX_FILE_BYTES", "FileStore", "find_tokens"]

#: The largest file rotated (it is read and rewritten whole).
MAX_FILE_BYTES = 1 << 30

_CELL_ID = re.compile(r"line:([0-9]{1,12})#([0-9]{1,12})")


def _position(cell_id: object) -> tuple[int, int]:
    """``line:N#K`` as ``(N, K)``, the order of the tokens in the file."""
    m = _CELL_ID.fullmatch(cell_id) if isinstance(cell_id, str) else None
    if m is None:
        raise JournalError("corrupt rotation journal (last id is not a position in the file)")
    return int(m.group(1)), int(m.group(2))


class FileStore(JournalBeside, Store):
    """One file of tokens. Cell ids are ``line:N#K`` (line N, K-th token on it, 1-based)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.target = real_target(self.path)
        self.description = str(self.path)
        try:
            st = os.stat(self.target)
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot read ({exc.strerror})") from None
        if not stat.S_ISREG(st.st_mode):
            raise StoreError(f"{self.path}: not a regular file")
        if st.st_nlink > 1:
            raise StoreError(
                f"{self.path}: has {st.st_nlink} hard links; an atomic rewrite would split them "
                f"(copy it to a file of its own first)"
            )
        self._use_journal(self.target, "file")
        self._snapshot: bytes | None = None
        self._spans: list[tuple[int, int]] = []

    def lock(self) -> AbstractContextManager[None]:
        """flock on ``<target>.importobot-lock``."""
        return store_lock(self.target)

    def prepare(self) -> None:
        """Sweep temp files left by killed runs."""
        sweep_temp_files(self.target)
        self._journal.sweep()

    def _read(self) -> bytes:
        try:
            return read_operator_file(str(self.target), MAX_FILE_BYTES)
        except FileRefused as exc:
            failure = StoreError(f"{self.path}: {exc.detail or describe(exc.reason)}")
        raise failure  # outside the handler: one line

    def _cells(self, data: bytes) -> list[Cell]:
        self._snapshot = data
        self._spans = find_tokens(data)
        cells: list[Cell] = []
        line, last, k = 1, 0, 0
        for start, end in self._spans:
            newlines = data.count(b"\n", last, start)
            if newlines:
                line, k = line + newlines, 0
            last = start
            k += 1
            token = data[start:end]
            cells.append(Cell(f"line:{line}#{k}", token, token))
        return cells

    def pages(self, batch_size: int, after: Any = None) -> Iterator[Page]:
        """The whole file is one page: it is replaced as a whole.

        ``after`` (a resumed run): only the tokens after that position, so a run killed
        between its rewrite and the journal's removal does not count the file twice.
        """
        cells = self._cells(self._read())
        if after is not None:
            start = _position(after)
            cells = [c for c in cells if _position(c.id) > start]
        yield Page(cells, 0, cells[-1].id if cells else after)

    def count(self) -> int | None:
        """Tokens in the file."""
        return len(find_tokens(self._read()))

    def fetch(self, ids: Sequence[Any]) -> list[Cell]:
        """Re-read the file; the cells with these ids."""
        wanted = set(ids)
        return [c for c in self._cells(self._read()) if c.id in wanted]

    def replace(self, changes: Sequence[Change]) -> list[Any]:
        """Swap tokens in and rewrite the file durably; all ids back if it changed meanwhile."""
        data = self._read()
        if self._snapshot is None or data != self._snapshot:
            return [ch.cell.id for ch in changes]
        by_id = {ch.cell.id: ch.new_token for ch in changes}
        cells = self._cells(data)
        out: list[bytes] = []
        pos = 0
        for cell, (start, end) in zip(cells, self._spans, strict=True):
            new = by_id.get(cell.id)
            if new is None:
                continue
            out.append(data[pos:start])
            out.append(new)
            pos = end
        out.append(data[pos:])
        new_data = b"".join(out)
        atomic_write(self.target, new_data, like=os.stat(self.target))
        self._snapshot = new_data
        return []
