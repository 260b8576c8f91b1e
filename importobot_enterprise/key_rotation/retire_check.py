"""``importobot key retire --store SPEC``: refuse while a store still holds values under the key.

The base CLI never imports this package; it finds :func:`stores_still_holding` through
the ``importobot.retire_checks`` entry point (installed with the wheel, usable with the
``enterprise`` extra).

Store specs (no secrets: a PostgreSQL DSN with a password is refused by the store):

- ``files:PATH`` — a file holding Fernet tokens;
- ``sqlite:PATH:TABLE:ID_COLUMN:COLUMN``;
- ``postgresql:TABLE:ID_COLUMN:COLUMN:DSN``.
"""

from __future__ import annotations

from importobot.exceptions import ConfigError
from importobot.security import CredentialManager
from importobot_enterprise.key_rotation.stores.base import Store

__all__ = ["open_store", "stores_still_holding"]


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
    """Descriptions of the given stores that still hold a value under key ``fingerprint``.

    The key must be configured (as a previous key) so its values can be recognised;
    otherwise nothing can be proved and a :class:`ConfigError` says so.
    """
    manager = CredentialManager()
    if fingerprint not in manager.previous_fingerprints and fingerprint != manager.key_fingerprint:
        raise ConfigError(
            f"{fingerprint} is not configured as a previous key, so the stores cannot be "
            f"checked for values under it; keep it in IMPORTOBOT_PREVIOUS_KEYS until retired"
        )
    holding: list[str] = []
    for spec in specs:
        with open_store(spec) as store:
            if store.holds_values_under(fingerprint, manager):
                holding.append(spec.split(":", 1)[0] + ":" + str(store.description))
    return holding
