"""Fernet token structure, read without a key (standard library only).

A Fernet token is url-safe base64 of ``0x80 | timestamp(8, big-endian) | IV(16) |
ciphertext(16·n) | HMAC(32)``. The timestamp is in clear, so committed ciphertext
tells its age (IOB303) and :class:`~importobot.security.EncryptedCredential`
loaded from text knows when it was made, both without the key.
"""

from __future__ import annotations

import base64
import binascii

TYPE_CHECKING = False  # datetime is imported only by token_time (hook start-up, D17)
if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["token_bytes", "token_time", "token_timestamp"]

_VERSION = 0x80
_MIN_LEN = 1 + 8 + 16 + 16 + 32


def token_bytes(token: str | bytes) -> bytes | None:
    """The decoded token when it is structurally a Fernet token, else ``None``."""
    if isinstance(token, str):
        try:
            token = token.strip().encode("ascii")
        except UnicodeEncodeError:
            return None
    else:
        token = token.strip()
    try:
        data = base64.urlsafe_b64decode(token)
    except (binascii.Error, ValueError):
        return None
    if len(data) < _MIN_LEN or data[0] != _VERSION or (len(data) - 57) % 16 != 0:
        return None
    return data


def token_timestamp(token: str | bytes) -> int | None:
    """Unix time the token was made (its clear-text header), or ``None`` if not a token."""
    data = token_bytes(token)
    if data is None:
        return None
    return int.from_bytes(data[1:9], "big")


def token_time(token: str | bytes) -> datetime | None:
    """:func:`token_timestamp` as an aware UTC datetime."""
    ts = token_timestamp(token)
    if ts is None:
        return None
    try:
        from datetime import datetime, timezone

        return datetime.fromtimestamp(ts, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
