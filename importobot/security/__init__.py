"""Credential encryption and key handling (0.1.5-compatible public surface).

Importing this package loads neither ``cryptography`` nor ``keyring`` (D18); a
missing ``cryptography`` is reported when a :class:`CredentialManager` is built.
The public names are loaded on first use, so the hooks, which only need key
validation, do not pay for the credential manager's imports.
"""

from __future__ import annotations

from importobot.exceptions import SecurityError

TYPE_CHECKING = False
if TYPE_CHECKING:
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

_LAZY = {
    "CredentialManager": "importobot.security.credential_manager",
    "EncryptedCredential": "importobot.security.credential_manager",
    "generate_key": "importobot.security.credential_manager",
    "KeySource": "importobot.security.key_sources",
}


def __getattr__(name: str) -> object:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'importobot.security' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def store_key_in_keyring(
    *,
    service: str,
    username: str = "importobot",
    key: bytes | str | None = None,
    overwrite: bool = False,
) -> str:
    """Module-level form of :meth:`CredentialManager.store_key_in_keyring`."""
    from importobot.security.credential_manager import CredentialManager

    return CredentialManager.store_key_in_keyring(
        service=service, username=username, key=key, overwrite=overwrite
    )
