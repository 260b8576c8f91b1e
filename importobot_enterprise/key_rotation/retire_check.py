"""``importobot key retire --store SPEC``: refuse until every store is proved done.

Proved by a verification pass (:func:`verify_store`): every token in the store opens
under the active key alone, and no non-empty value lacks a token (it could hide a value
under the old key). Counts of a past rotation are never trusted. A PostgreSQL table
rotated by a shard plan (D27) also needs every shard of the plan verified.

The base CLI never imports this package; it finds :func:`stores_still_holding` through
the ``importobot.retire_checks`` entry point (installed with the wheel, usable with the
``enterprise`` extra).

Store specs (no secrets: a PostgreSQL DSN with a password is refused by the store):

- ``files:PATH`` — a file holding Fernet tokens;
- ``sqlite:PATH:TABLE:ID_COLUMN:COLUMN``;
- ``postgresql:TABLE:ID_COLUMN:COLUMN:DSN``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from importobot.exceptions import ConfigError
from importobot.security import CredentialManager
from importobot_enterprise.key_rotation.engine import RotationReport, verify_store
from importobot_enterprise.key_rotation.ids import show_id
from importobot_enterprise.key_rotation.stores.base import Store

__all__ = ["keys_holding", "open_store", "shown_ids", "stores_still_holding"]

#: Ids named per store in the refusal (the verification counts them all).
_SHOWN = 20


def open_store(spec: str) -> Store:
    """A read-only store for one ``--store`` spec."""
    kind, _, rest = spec.partition(":")
    if kind == "files" and rest:
        from importobot_enterprise.key_rotation.stores.files import FileStore

        return FileStore(rest)
    if kind == "sqlite":
        parts = rest.rsplit(":", 3)
        if len(parts) == 4 and all(parts):
            from importobot_enterprise.key_rotation.stores.sqlite import SQLiteStore

            return SQLiteStore(parts[0], parts[1], parts[2], parts[3], read_only=True)
    if kind == "postgresql":
        parts = rest.split(":", 3)
        if len(parts) == 4 and all(parts):
            from importobot_enterprise.key_rotation.stores.postgres import PostgresStore

            return PostgresStore(parts[3], parts[0], parts[1], parts[2], read_only=True)
    raise ConfigError(
        f"--store {kind}:…: expected files:PATH, sqlite:PATH:TABLE:ID_COLUMN:COLUMN or "
        f"postgresql:TABLE:ID_COLUMN:COLUMN:DSN"
    )


def stores_still_holding(specs: list[str], fingerprint: str) -> list[str]:
    """The given stores that are not proved done, each with why (ids listed).

    A store is done when a verification pass finds every token in it under the active key
    alone and no non-empty value without a token (which could hide a value under the old
    key): not when no value under ``fingerprint`` happens to be found. The old key must
    still be configured (as a previous key), so the stores' values under it are named.
    """
    manager = CredentialManager()
    if fingerprint not in manager.previous_fingerprints and fingerprint != manager.key_fingerprint:
        raise ConfigError(
            f"{fingerprint} is not configured as a previous key, so the stores cannot be "
            f"checked for values under it; keep it in IMPORTOBOT_PREVIOUS_KEYS until retired"
        )
    holding: list[str] = []
    for spec in specs:
        kind = spec.split(":", 1)[0]
        with open_store(spec) as store:
            report = verify_store(store, manager)
            shards = _unverified_shards(store, manager.key_fingerprint)
        label = str(store.description)
        if not label.startswith(kind + ":"):
            label = f"{kind}:{label}"
        if not report.complete:
            holding.append(f"{label} ({_why(report)})")
        elif shards:
            holding.append(f"{label} ({shards})")
    return holding


def _unverified_shards(store: Store, target: str) -> str:
    """D27: a table rotated by a shard plan counts as done only when every shard of the
    plan verified its range under ``target`` (empty string: no plan, or all verified)."""
    rows = getattr(store, "shard_rows", None)
    if rows is None:
        return ""
    bad = [
        f"shard {k} {state}" + (f" towards {fp}" if fp and fp != target else "")
        for k, state, fp in rows()
        if state != "verified" or fp != target
    ]
    if not bad:
        return ""
    shown = ", ".join(bad[:_SHOWN]) + (" ..." if len(bad) > _SHOWN else "")
    return f"not every shard of its rotation plan is verified under {target}: {shown}"


def _why(report: RotationReport) -> str:
    reasons: list[str] = []
    if report.unverified:
        reasons.append(
            f"{report.unverified} not under {report.target_fingerprint}: "
            f"{keys_holding(report, 'no configured key')}; ids "
            f"{shown_ids(report.unverified_ids, report.unverified)}"
        )
    if report.unreadable:
        reasons.append(
            f"{report.unreadable} non-empty values with no Fernet token importobot can read; "
            f"ids {shown_ids(report.unreadable_ids, report.unreadable)}"
        )
    return "; ".join(reasons)


def keys_holding(report: RotationReport, none: str) -> str:
    """Which keys hold the values not under the target: ``3 under iobfp1:…, 1 under NONE``
    (``none`` names the values no given key opens)."""
    return ", ".join(
        f"{n} under {none if fp == 'none' else fp}"
        for fp, n in sorted(report.unverified_by_key.items())
    )


def shown_ids(ids: Sequence[Any], count: int, most: int = _SHOWN) -> str:
    """The first ``most`` of ``ids`` (of ``count`` in all), ``...`` when some are left out."""
    shown = ", ".join(str(show_id(i)) for i in ids[:most])
    return shown + (" ..." if count > min(len(ids), most) else "")
