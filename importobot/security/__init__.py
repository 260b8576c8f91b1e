"""Credential encryption and key handling (0.1.5-compatible public surface).

Importing this package loads neither ``cryptography`` nor ``keyring`` (D18); a
missing ``cryptography`` is reported when a :class:`CredentialManager` is built.
"""

from __future__ import annotations

from importobot.exceptions import SecurityError
from importobot.security.credential_manager import (
    CredentialManager,
    EncryptedCredential,
    generate_key,
)
from importobot.security.key_sources import KeySource

__all__ = [
    "CredentialManager",
    "EncryptedCredential",
    "KeySource",
    "SecurityError",
    "generate_key",
    "store_key_in_keyring",
]


def store_key_in_keyring(
    *,
    service: str,
    username: str = "importobot",
    key: bytes | str | None = None,
    overwrite: bool = False,
) -> str:
    """Module-level form of :meth:`CredentialManager.store_key_in_keyring`."""
    return CredentialManager.store_key_in_keyring(
        service=service, username=username, key=key, overwrite=overwrite
    )
