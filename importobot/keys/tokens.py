"""Fernet token structure, read without a key (standard library only).

A Fernet token is url-safe base64, padded, of ``0x80 | timestamp(8, big-endian) |
IV(16) | ciphertext(16·n, n ≥ 1) | HMAC(32)``: at least 73 bytes, 100 characters. The
timestamp is in clear, so committed ciphertext tells its age (IOB303) and
:class:`~importobot.security.EncryptedCredential` loaded from text knows when it was
made, both without the key.

:func:`find_tokens` is the one finder of Fernet tokens inside text or bytes; the file
and SQL rotation stores, the IOB303 rule and the ciphertext filter all use it (or
:func:`is_token`, its whole-value form), so they agree on what a token is.
"""

from __future__ import annotations

import base64

from importobot._lazyre import lazy_compile

TYPE_CHECKING = False  # datetime is imported only by token_time (hook start-up, D17)
if TYPE_CHECKING:
    from datetime import datetime

__all__ = [
    "MIN_TOKEN_BYTES",
    "MIN_TOKEN_CHARS",
    "find_tokens",
    "is_token",
    "token_bytes",
    "token_time",
    "token_timestamp",
]

_VERSION = 0x80
#: version(1) + timestamp(8) + IV(16) + one AES block(16) + HMAC(32).
_FIXED = 1 + 8 + 16 + 32
MIN_TOKEN_BYTES = _FIXED + 16
#: The smallest token as text: url-safe base64 *with* its padding (4·⌈73/3⌉).
MIN_TOKEN_CHARS = 4 * -(-MIN_TOKEN_BYTES // 3)

# "gAAAAA": the version byte 0x80 and the timestamp's top 28 bits, zero for any time
# before the year 4147. Then the rest of at least 98 base64 characters, then padding.
# Boundaries: no url-safe base64 character before the token, and none (nor "=") after
# it, so a token is never cut out of a longer base64 run. One pass, no nested
# repetition: linear in the input.
_BODY_MIN = -(-MIN_TOKEN_BYTES * 4 // 3) - 6  # 98 unpadded characters, "gAAAAA" excluded
_TOKEN_RE = lazy_compile(
    rb"(?<![A-Za-z0-9_-])gAAAAA[A-Za-z0-9_-]{%d,}={0,2}(?![A-Za-z0-9_=-])" % _BODY_MIN
)
_WHOLE_RE = lazy_compile(rb"gAAAAA[A-Za-z0-9_-]{%d,}={0,2}" % _BODY_MIN)


def _sized(text_len: int, pad: int) -> bool:
    """True when base64 text of this length and padding decodes to a token's length."""
    if text_len % 4:
        return False  # base64.urlsafe_b64decode (and so Fernet) needs the padding
    size = text_len // 4 * 3 - pad
    return size >= MIN_TOKEN_BYTES and (size - _FIXED) % 16 == 0


def _shape(text: bytes) -> bool:
    return _sized(len(text), len(text) - len(text.rstrip(b"=")))


def find_tokens(data: bytes) -> list[tuple[int, int]]:
    """Spans ``(start, end)`` of the Fernet tokens in ``data``, in order.

    A token is ``gAAAAA`` then url-safe base64 with its padding, whose decoded length is
    a real token's (version, time, IV, at least one block, HMAC); it is not preceded by
    a url-safe base64 character nor followed by one or by ``=``. Structure only: whether
    a token authenticates needs the key. Linear time in ``len(data)``.
    """
    if b"gAAAAA" not in data:
        return []
    return [m.span() for m in _TOKEN_RE.finditer(data) if _shape(m.group())]


def _ascii(token: str | bytes) -> bytes | None:
    if isinstance(token, str):
        try:
            return token.strip().encode("ascii")
        except UnicodeEncodeError:
            return None
    return bytes(token).strip()


def is_token(value: str | bytes) -> bool:
    """True when ``value`` (surrounding whitespace aside) is exactly one Fernet token."""
    data = _ascii(value)
    return data is not None and _WHOLE_RE.fullmatch(data) is not None and _shape(data)


def token_bytes(token: str | bytes) -> bytes | None:
    """The decoded token when it is structurally a Fernet token, else ``None``."""
    data = _ascii(token)
    if data is None or _WHOLE_RE.fullmatch(data) is None or not _shape(data):
        return None
    decoded = base64.urlsafe_b64decode(data)  # valid by construction: alphabet and length
    return decoded if decoded[0] == _VERSION else None


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
