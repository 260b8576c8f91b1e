"""Stores behind one ABC: files, SQLite and PostgreSQL (imported lazily: psycopg is optional)."""

from __future__ import annotations

from importobot_enterprise.key_rotation.stores.base import Cell, Change, Page, Store
from importobot_enterprise.key_rotation.stores.files import FileStore
from importobot_enterprise.key_rotation.stores.sqlite import SQLiteStore

__all__ = ["Cell", "Change", "FileStore", "Page", "PostgresStore", "SQLiteStore", "Store"]


def __getattr__(name: str) -> object:
    if name == "PostgresStore":
        from importobot_enterprise.key_rotation.stores.postgres import PostgresStore

        return PostgresStore
    raise AttributeError(name)
