"""Crash-safe key rotation (0.1.5 path: ``importobot_enterprise.key_rotation``).

In memory: :func:`rotate_credentials` and :class:`RotationPlan` (0.1.5 contract).
Stores: :func:`rotate_store` over a :class:`Store` (``FileStore``, ``SQLiteStore``,
``PostgresStore``) with journals, locks and verified, atomic swaps (D20–D22), ending in
a verification pass; :func:`verify_store` runs that pass alone. A
:class:`RotationObserver` hears of each run's start, progress and end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from importobot_enterprise.key_rotation.core import (
    Outcome,
    PlanSummary,
    RotationPlan,
    TokenResult,
    rotate_credentials,
    rotate_token,
)
from importobot_enterprise.key_rotation.engine import RotationReport, rotate_store, verify_store
from importobot_enterprise.key_rotation.errors import (
    JournalError,
    JournalMismatchError,
    RotationError,
    StoreError,
    StoreLockedError,
)
from importobot_enterprise.key_rotation.observer import RotationObserver
from importobot_enterprise.key_rotation.stores import FileStore, SQLiteStore, Store
from importobot_enterprise.key_rotation.stores.base import stores_holding

if TYPE_CHECKING:  # pragma: no cover
    from importobot_enterprise.key_rotation.stores.postgres import PostgresStore

__all__ = [
    "FileStore",
    "JournalError",
    "JournalMismatchError",
    "Outcome",
    "PlanSummary",
    "PostgresStore",
    "RotationError",
    "RotationObserver",
    "RotationPlan",
    "RotationReport",
    "SQLiteStore",
    "Store",
    "StoreError",
    "StoreLockedError",
    "TokenResult",
    "rotate_credentials",
    "rotate_store",
    "rotate_token",
    "stores_holding",
    "verify_store",
]


def __getattr__(name: str) -> object:
    if name == "PostgresStore":
        from importobot_enterprise.key_rotation.stores.postgres import PostgresStore

        return PostgresStore
    raise AttributeError(name)
