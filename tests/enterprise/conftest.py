"""PostgreSQL fixtures shared by the rotation tests (scripts/test starts the server).

``psycopg`` is a dev dependency: imported plainly, so a missing one fails the run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.conftest import require_service

DSN = os.environ.get("IMPORTOBOT_TEST_PG_DSN", "")


def _reachable() -> bool:
    if not DSN:
        return False
    try:
        psycopg.connect(DSN, connect_timeout=5).close()
    except psycopg.Error:
        return False
    return True


@pytest.fixture(scope="module")
def pg_dsn() -> str:
    """The scripts/test server; a test needing it fails (never skips) when it is down."""
    require_service("PostgreSQL", _reachable(), "set IMPORTOBOT_TEST_PG_DSN (scripts/test does)")
    return DSN


@pytest.fixture
def schema(pg_dsn: str) -> Iterator[str]:
    """A schema of its own, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    yield name
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{name}" CASCADE')
