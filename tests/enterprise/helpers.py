"""Shared helpers for the rotation tests: keys made at run time, stores filled with tokens."""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

from importobot.security import CredentialManager
from tests.keygen import new_raw


def key_text(raw: bytes) -> str:
    """A raw key as Fernet key text."""
    return base64.urlsafe_b64encode(raw).decode()


def managers() -> tuple[bytes, bytes, CredentialManager, CredentialManager]:
    """(old raw, new raw, old manager, new manager with the old key as previous)."""
    k0, k1 = new_raw(), new_raw()
    return k0, k1, CredentialManager(k0), CredentialManager(k1, previous_keys=[k0])


def plaintexts(n: int) -> list[bytes]:
    """Distinct plaintexts of varied length."""
    return [f"secret-{i}-{'x' * (i % 37)}".encode() for i in range(n)]


def make_sqlite(
    path: Path,
    manager: CredentialManager,
    plains: list[bytes],
    *,
    blob: bool = False,
    now: int | None = None,
) -> Path:
    """A table ``creds(id INTEGER PRIMARY KEY, name TEXT, secret TEXT|BLOB)``."""
    conn = sqlite3.connect(path)
    kind = "BLOB" if blob else "TEXT"
    conn.execute(f"CREATE TABLE creds(id INTEGER PRIMARY KEY, name TEXT, secret {kind})")
    rows = []
    for i, p in enumerate(plains, 1):
        tok = manager.encrypt_bytes(p, now=now)
        rows.append((i, f"n{i}", tok if blob else tok.decode()))
    conn.executemany("INSERT INTO creds VALUES (?, ?, ?)", rows)
    conn.commit()
    conn.close()
    return path


def sqlite_values(path: Path) -> dict[int, object]:
    """id -> stored value."""
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT id, secret FROM creds ORDER BY id").fetchall())
    finally:
        conn.close()


def only(raw: bytes) -> CredentialManager:
    """A manager holding one key and no previous keys."""
    return CredentialManager(raw, previous_keys=[])
