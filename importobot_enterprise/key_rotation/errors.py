"""Errors of the rotation layer; each is an :class:`importobot.exceptions.ImportobotError`.

Messages name stores, ids and fingerprints, never a key or a plaintext (D6).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from importobot.exceptions import ImportobotError, SecurityError

if TYPE_CHECKING:  # pragma: no cover
    from importobot.security import EncryptedCredential

__all__ = [
    "JournalError",
    "JournalMismatchError",
    "RotationError",
    "StoreError",
    "StoreLockedError",
    "UnsupportedIdError",
]


class RotationError(SecurityError, ValueError):
    """Some items could not be rotated (0.1.5 callers catch ``ValueError``).

    ``results`` has one entry per input: the rotated credential, or the original at a
    failed position; ``failed`` lists the failed positions.
    """

    def __init__(
        self, message: str, results: Sequence[EncryptedCredential], failed: Sequence[int]
    ) -> None:
        super().__init__(message)
        self.results = list(results)
        self.failed = list(failed)


class StoreError(ImportobotError):
    """A store cannot be read or written (I/O, schema, disk full); nothing was lost."""


class StoreLockedError(StoreError):
    """Another rotation of the same store is running; the message says who holds the lock."""


class JournalMismatchError(StoreError):
    """A journal from an unfinished run names another target key (D20); see ``--new-target``."""


class JournalError(StoreError):
    """A run journal that is not what importobot writes (hand-edited, truncated, corrupt)."""


class UnsupportedIdError(StoreError):
    """An id of a type the journal cannot keep; the run stops before writing that batch."""
