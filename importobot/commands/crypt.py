"""``importobot encrypt`` / ``decrypt``: one value, for env files that hold ciphertext.

Values come from stdin (:func:`importobot.commands.read_secret`), never from argv (D6).
Both *use* a key, so a missing or invalid key is exit 2 (D15).
"""

from __future__ import annotations

from importobot.commands import InputError, Outcome

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["decrypt", "encrypt"]


def encrypt(value: str, *, env: Mapping[str, str] | None = None) -> Outcome:
    """Encrypt ``value`` with the active key; the outcome is the Fernet token."""
    from importobot.security.credential_manager import CredentialManager

    if not value:
        raise InputError("nothing to encrypt: stdin was empty")
    return Outcome(CredentialManager(env=env).encrypt_credential(value).token + "\n")


def decrypt(token: str, *, env: Mapping[str, str] | None = None) -> Outcome:
    """Decrypt one Fernet token (active key, then previous keys); the outcome is the text."""
    from importobot.security.credential_manager import CredentialManager

    token = token.strip()
    if not token:
        raise InputError("nothing to decrypt: stdin was empty")
    return Outcome(CredentialManager(env=env).decrypt_credential(token) + "\n")
