"""The store interface: where stored tokens live and how a batch is swapped in.

A store yields *pages* of cells (keyset order) and replaces a batch atomically by
compare-and-swap: a cell whose value changed since it was read is not replaced but
reported back, to be re-read (D21). It also keeps the run journal (D20) and the lock
that stops two rotations of one store from interleaving.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from importobot.security import CredentialManager

__all__ = ["Cell", "Change", "Page", "Store", "stores_holding", "token_in"]


_SHAPE = re.compile(rb"gAAAAA[A-Za-z0-9_-]+={0,2}")


def _fernet_shaped(data: bytes) -> bool:
    """:func:`token_bytes` without decoding: the structure read from the text's length."""
    if len(data) % 4 or not _SHAPE.fullmatch(data):
        return False
    size = len(data) // 4 * 3 - (len(data) - len(data.rstrip(b"=")))
    return size >= 73 and (size - 57) % 16 == 0


def token_in(value: object) -> bytes | None:
    """The Fernet token a cell holds (surrounding whitespace allowed), else ``None``."""
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, str):
        try:
            data = value.strip().encode("ascii")
        except UnicodeEncodeError:
            return None
    elif isinstance(value, (bytes, bytearray)):
        data = bytes(value).strip()
    else:
        return None
    if not data or not _fernet_shaped(data):
        return None
    return data


@dataclass(frozen=True)
class Cell:
    """One stored token: its id, the value exactly as stored, and the token bytes."""

    id: Any
    raw: Any
    token: bytes

    def with_token(self, new: bytes) -> Any:
        """The stored value with the token swapped, same type and surrounding bytes."""
        if isinstance(self.raw, str):
            return self.raw.replace(self.token.decode("ascii"), new.decode("ascii"), 1)
        raw = self.raw.tobytes() if isinstance(self.raw, memoryview) else bytes(self.raw)
        return raw.replace(self.token, new, 1)


@dataclass(frozen=True)
class Change:
    """Replace ``cell``'s token with ``new_token`` (already verified)."""

    cell: Cell
    new_token: bytes


@dataclass
class Page:
    """One keyset page: the token cells, how many cells were skipped, the last id read."""

    cells: list[Cell]
    skipped: int
    last_id: Any


class Store(ABC):
    """Where tokens are stored. Implementations: FileStore, SQLiteStore, PostgresStore."""

    #: Printable name of the store (no password, no value).
    description: str = "store"

    @abstractmethod
    def lock(self) -> AbstractContextManager[None]:
        """Hold the store's rotation lock; raise StoreLockedError naming the holder."""

    def prepare(self) -> None:
        """Housekeeping under the lock before a run (e.g. sweep stale temp files)."""
        return None

    @abstractmethod
    def pages(self, batch_size: int, after: Any = None) -> Iterator[Page]:
        """Pages of cells in id order, starting after id ``after`` (``None``: the start)."""

    @abstractmethod
    def replace(self, changes: Sequence[Change]) -> list[Any]:
        """Swap a batch in atomically and durably; return ids that changed underneath."""

    @abstractmethod
    def fetch(self, ids: Sequence[Any]) -> list[Cell]:
        """Re-read the cells with these ids (after a compare-and-swap conflict)."""

    def count(self) -> int | None:
        """How many cells the store holds, when cheap to know (for a progress bar)."""
        return None

    @abstractmethod
    def read_journal(self) -> dict[str, Any] | None:
        """The journal of an unfinished run, or ``None``."""

    @abstractmethod
    def write_journal(self, data: dict[str, Any]) -> None:
        """Record the run's journal durably."""

    @abstractmethod
    def clear_journal(self) -> None:
        """Remove the journal after a finished run."""

    def close(self) -> None:
        """Release connections."""
        return None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- questions a key registry asks (`key retire`) --------------------------------
    def census(self, manager: CredentialManager) -> Counter[str | None]:
        """How many values each key of ``manager`` opens (``None``: no key opens it)."""
        from importobot.exceptions import DecryptionError

        counts: Counter[str | None] = Counter()
        for page in self.pages(1000):
            for cell in page.cells:
                try:
                    counts[manager.open_token(cell.token)[1]] += 1
                except DecryptionError:
                    counts[None] += 1
        return counts

    def holds_values_under(self, fingerprint: str, manager: CredentialManager) -> bool:
        """True when any value in the store is still encrypted under key ``fingerprint``.

        ``manager`` must know that key (as primary or previous key). Stops at the first hit.
        """
        from importobot.exceptions import DecryptionError

        for page in self.pages(1000):
            for cell in page.cells:
                try:
                    if manager.open_token(cell.token)[1] == fingerprint:
                        return True
                except DecryptionError:
                    continue
        return False


def stores_holding(
    stores: Iterable[Store], fingerprint: str, manager: CredentialManager
) -> list[Store]:
    """The stores that still hold a value under key ``fingerprint`` (for ``key retire``).

    ``manager`` must know that key, as primary or previous key. Empty list: safe to retire.
    """
    return [store for store in stores if store.holds_values_under(fingerprint, manager)]
