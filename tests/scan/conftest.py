"""Keys for scanner tests are generated at run time: no key literal is ever committed."""

from __future__ import annotations

import base64
import secrets

import pytest


def fernet_key() -> str:
    """A fresh url-safe base64 32-byte key (a Fernet key)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def std_key() -> str:
    """A fresh standard base64 32-byte key, as ``openssl rand -base64 32`` prints."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


def hex_key(size: int = 32) -> str:
    """Fresh hex of ``size`` random bytes."""
    return secrets.token_hex(size)


def all_spellings(raw: bytes) -> list[str]:
    """Every spelling of ``raw`` a report must never contain."""
    std = base64.b64encode(raw).decode()
    url = base64.urlsafe_b64encode(raw).decode()
    return [std, std.rstrip("="), url, url.rstrip("="), raw.hex(), raw.hex().upper()]


@pytest.fixture
def key() -> str:
    """A fresh Fernet key."""
    return fernet_key()
