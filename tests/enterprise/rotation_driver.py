"""A rotation run in its own process, for kill and crash-point tests.

Usage: python rotation_driver.py sqlite DB BATCH | files BATCH FILE... | postgres DSN TABLE BATCH
Keys come from the environment as for the CLI (IMPORTOBOT_ENCRYPTION_KEY target,
IMPORTOBOT_PREVIOUS_KEYS sources). Prints ``ready`` once set up; exits 0 when the store
is complete, 3 when not.
"""

from __future__ import annotations

import sys

from importobot.security import CredentialManager
from importobot_enterprise.key_rotation import FileStore, SQLiteStore, Store, rotate_store


def main(argv: list[str]) -> int:
    kind = argv[0]
    manager = CredentialManager()
    stores: list[Store]
    if kind == "sqlite":
        stores, batch = [SQLiteStore(argv[1], "creds", "id", "secret")], int(argv[2])
    elif kind == "files":
        batch, stores = int(argv[1]), [FileStore(p) for p in argv[2:]]
    else:
        from importobot_enterprise.key_rotation import PostgresStore

        stores = [PostgresStore(argv[1], argv[2], "id", "secret", journal_table=argv[2] + "_j")]
        batch = int(argv[3])
    print("ready", flush=True)
    complete = True
    for store in stores:
        with store:
            complete &= rotate_store(store, manager, manager, batch_size=batch).complete
    return 0 if complete else 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
