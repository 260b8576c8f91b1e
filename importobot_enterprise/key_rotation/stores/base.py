"""The store interface: where stored tokens live and how a batch is swapped in.

A store yields *pages* of cells (keyset order) and replaces a batch atomically by
compare-and-swap: a value that changed since it was read is not replaced but reported
back, to be re-read (D21). It also keeps the run journal (D20) and the lock that stops
two rotations of one store from interleaving.

A *cell* is one Fernet token and where it sits: the stored value it was found in
(``raw``), that token's span in the value's bytes, and the value's id. A value may hold
several tokens (a JSON document, a list): each is a cell with the same id, and a swap
rewrites the whole value, keeping every byte that is not a token.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from importobot.keys.tokens import find_tokens, is_token

if TYPE_CHECKING:  # pragma: no cover
    from importobot.security import CredentialManager

__all__ = [
    "Cell",
    "Change",
    "Page",
    "Store",
    "find_tokens",
    "rebuild",
    "split_value",
    "stores_holding",
    "token_in",
    "value_bytes",
]


def value_bytes(value: object) -> bytes | None:
    """A stored value as bytes (text as UTF-8), or ``None`` for NULL and non-text values."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    if isinstance(value, memoryview):
        return value.tobytes()
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return None


def split_value(row_id: Any, value: object) -> tuple[list[Cell], bool]:
    """The token cells in one stored value, and whether the value is *unreadable*.

    Unreadable: not NULL, not empty or blank, yet no Fernet token found in it (plain
    text, a number, a token wrapped in another encoding …). Such a value is skipped
    by a rotation, and a store holding one is never called done (it may hide a value
    under the old key).
    """
    if value is None:
        return [], False
    data = value_bytes(value)
    if data is None:
        return [], True
    if data[:6] == b"gAAAAA" and data[-1] not in _SPACE and is_token(data):
        # The common case, one whole-value token: what find_tokens finds, in one match.
        return [Cell(row_id, value, data, (0, len(data)))], False
    spans = find_tokens(data)
    if not spans:
        return [], bool(data.strip())
    return [Cell(row_id, value, data[s:e], (s, e)) for s, e in spans], False


#: Bytes ``bytes.strip`` removes: a value ending in one is not a whole-value token.
_SPACE = frozenset(b" \t\n\r\x0b\x0c")


def token_in(value: object) -> bytes | None:
    """The one Fernet token a value holds (surrounding whitespace allowed), else ``None``."""
    data = value_bytes(value)
    if data is None:
        return None
    spans = find_tokens(data)
    if len(spans) != 1 or data[: spans[0][0]].strip() or data[spans[0][1] :].strip():
        return None
    return data[spans[0][0] : spans[0][1]]


def rebuild(raw: Any, swaps: Mapping[tuple[int, int], bytes]) -> Any:
    """``raw`` with the token at each span replaced; same type, every other byte kept."""
    data = value_bytes(raw)
    if data is None:
        raise TypeError("not a text or bytes value")
    if len(swaps) == 1:
        (((start, end), new),) = swaps.items()
        if start == 0 and end == len(data):  # the whole value is the token
            return new.decode("utf-8", "surrogatepass") if isinstance(raw, str) else new
    out: list[bytes] = []
    pos = 0
    for (start, end), new in sorted(swaps.items()):
        out.append(data[pos:start])
        out.append(new)
        pos = end
    out.append(data[pos:])
    joined = b"".join(out)
    if isinstance(raw, str):
        return joined.decode("utf-8", "surrogatepass")
    return joined


class Cell(NamedTuple):
    """One stored token: the id of its value, the value exactly as stored, the token
    bytes, and where the token sits in the value's bytes (``None``: the whole value,
    surrounding whitespace aside). A named tuple: a store makes one per value read."""

    id: Any
    raw: Any
    token: bytes
    span: tuple[int, int] | None = None

    def where(self) -> tuple[int, int]:
        """The token's span in the value's bytes."""
        if self.span is not None:
            return self.span
        data = value_bytes(self.raw) or b""
        start = data.index(self.token)
        return start, start + len(self.token)

    def with_token(self, new: bytes) -> Any:
        """The stored value with this token swapped, same type and surrounding bytes."""
        return rebuild(self.raw, {self.where(): new})


class Change(NamedTuple):
    """Replace ``cell``'s token with ``new_token`` (already verified). A named tuple: the
    engine makes one per rotated value."""

    cell: Cell
    new_token: bytes


@dataclass
class Page:
    """One keyset page: the token cells, how many values were skipped (NULL, empty or
    unreadable), the last id read, and the ids of the *unreadable* skipped values."""

    cells: list[Cell]
    skipped: int
    last_id: Any
    unreadable_ids: list[Any] = field(default_factory=list)


def grouped(changes: Sequence[Change]) -> list[tuple[Any, Any, Any]]:
    """``(new value, id, old value)`` per stored value: every change to one value at once."""
    if len({ch.cell.id for ch in changes}) == len(changes):
        # One change per value (the common case): no grouping; a whole-value token is
        # the new value itself.
        rows: list[tuple[Any, Any, Any]] = []
        for cell, new in changes:
            row_id, raw, _, span = cell
            if span is not None and span[0] == 0 and span[1] == len(raw):
                rows.append((new.decode("ascii") if isinstance(raw, str) else new, row_id, raw))
            else:
                rows.append((rebuild(raw, {cell.where(): new}), row_id, raw))
        return rows
    by_id: dict[Any, tuple[Any, dict[tuple[int, int], bytes]]] = {}
    for ch in changes:
        raw, swaps = by_id.setdefault(ch.cell.id, (ch.cell.raw, {}))
        swaps[ch.cell.where()] = ch.new_token
    return [(rebuild(raw, swaps), row_id, raw) for row_id, (raw, swaps) in by_id.items()]


class Store(ABC):
    """Where tokens are stored. Implementations: FileStore, SQLiteStore, PostgresStore."""

    #: Printable name of the store (no password, no value).
    description: str = "store"
    #: Where the journal lives, for messages.
    journal_label: str = "the rotation journal"

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
        """How many values the store holds, when cheap to know (for a progress bar)."""
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

    def finish(self, report: Any) -> None:
        """Record the verification pass's verdict under the lock (a shard's state);
        ``report`` is the run's :class:`~importobot_enterprise.key_rotation.RotationReport`
        (typed loosely here: the engine imports this module)."""
        return None

    def heartbeat(self) -> None:
        """Say this run is alive (a shard's heartbeat), between pages of a locked run."""
        return None

    def close(self) -> None:
        """Release connections."""
        return None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- questions a key registry asks (`key retire`) --------------------------------
    def census(self, manager: CredentialManager) -> Counter[str | None]:
        """How many tokens each key of ``manager`` opens (``None``: no key opens it)."""
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
        """True when any token in the store is still encrypted under key ``fingerprint``.

        ``manager`` must know that key (as primary or previous key). Stops at the first
        hit. To prove a store is done, verify it instead (every token under the target
        alone, no unreadable value): :func:`~importobot_enterprise.key_rotation.verify_store`.
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

    ``manager`` must know that key, as primary or previous key. Empty list: no value
    under that key was found (use :func:`verify_store` to prove a store is done).
    """
    return [store for store in stores if store.holds_values_under(fingerprint, manager)]
