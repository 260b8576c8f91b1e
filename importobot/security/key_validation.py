"""Key parsing and validation (D1, D3, D4). Messages say what is wrong, never the value.

Standard library only: the scanner and the hooks judge keys without loading
``cryptography``.
"""

from __future__ import annotations

import re

from importobot.exceptions import (
    InvalidKeyError,
    KeyAlphabetError,
    KeyLengthError,
    LegacyKeyError,
    LowEntropyKeyError,
    PlaceholderKeyError,
    PublishedKeyError,
    RepeatedBytesKeyError,
)
from importobot.keys.material import (
    decode_key_text,
    is_readable_placeholder,
    strip_value,
    weakness,
)

__all__ = [
    "KEY_SIZE",
    "LEGACY_PREFIX",
    "MIGRATION_HINT",
    "derive_legacy_key",
    "encode_key",
    "legacy_accepts",
    "parse_key",
]

KEY_SIZE = 32
LEGACY_PREFIX = "legacy:"

MIGRATION_HINT = (
    "to migrate: `importobot key generate` a new key and make it IMPORTOBOT_ENCRYPTION_KEY, "
    "put the old value in IMPORTOBOT_PREVIOUS_KEYS as `legacy:<old value>` (decrypt only), "
    "run `importobot rotate`, then `importobot key retire`"
)

_PLACEHOLDER_WORDS = frozenset(
    {
        "changeme",
        "change-me",
        "change_me",
        "secret",
        "password",
        "placeholder",
        "example",
        "xxx",
        "todo",
        "none",
        "null",
        "default",
        "test",
        "key",
    }
)
_ALLOWED_RE = re.compile(r"\A[A-Za-z0-9+/_=-]+\Z")
_HEX_RE = re.compile(r"\A[0-9a-fA-F]+\Z")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")

_WEAK: dict[str, tuple[type[InvalidKeyError], str]] = {
    "published": (PublishedKeyError, "is a published example key (documentation or demo)"),
    "few-distinct": (RepeatedBytesKeyError, "has too few distinct bytes (at most 8)"),
    "repeated": (RepeatedBytesKeyError, "is a repeating byte pattern"),
    "sequential": (RepeatedBytesKeyError, "is a sequential byte pattern"),
    "printable": (LowEntropyKeyError, "decodes to readable text, not random bytes"),
}


def _not_text(value: str) -> bool:
    """True when ``value`` cannot be UTF-8 text: it holds a lone surrogate.

    ``os.environ`` decodes a byte that is not UTF-8 to a surrogate escape (PEP 383,
    U+DC80-U+DCFF), so a key variable set from arbitrary bytes arrives like this. The
    test is done without encoding, so no ``UnicodeEncodeError`` (whose ``object`` is the
    whole text) is ever created, let alone chained to the error we raise.
    """
    return not value.isascii() and _SURROGATE_RE.search(value) is not None


_NOT_TEXT = (
    "holds bytes that are not UTF-8 text (it was set from non-UTF-8 bytes); "
    "a key is exactly 32 random bytes in base64"
)


def legacy_accepts(value: str | bytes) -> bool:
    """True when importobot 0.1.5 would have turned ``value`` into some key (D3)."""
    try:
        derive_legacy_key(value)
    except InvalidKeyError:
        return False
    return True


def derive_legacy_key(value: str | bytes) -> bytes:
    """Reproduce importobot 0.1.5's key derivation exactly; returns the 32 raw bytes.

    0.1.5: raw if 32 bytes; else url-safe base64 decode (lenient), used as is when it
    gives 32 bytes, blake2b-32 of it when longer; else blake2b-32 of the text when the
    text is longer than 32 bytes. Anything else it refused.
    """
    import base64
    import binascii
    import hashlib

    if isinstance(value, str):
        if _not_text(value):
            raise KeyAlphabetError(
                "legacy key holds bytes that are not UTF-8 text (it was set from non-UTF-8 "
                "bytes); importobot 0.1.5 could not use such a value either"
            )
        candidate = value.strip().encode("utf-8")
    else:
        candidate = value
    if not candidate:
        raise KeyLengthError("legacy key is empty")
    if len(candidate) == KEY_SIZE:
        return candidate
    try:
        decoded: bytes | None = base64.urlsafe_b64decode(candidate)
    except (binascii.Error, ValueError):
        decoded = None
    if decoded is not None:
        if len(decoded) == KEY_SIZE:
            return decoded
        if len(decoded) > KEY_SIZE:
            return hashlib.blake2b(decoded, digest_size=32).digest()
    if len(candidate) > KEY_SIZE:
        return hashlib.blake2b(candidate, digest_size=32).digest()
    raise KeyLengthError("legacy key is too short: importobot 0.1.5 refused it too")


def _check_weak(raw: bytes, where: str) -> None:
    reason = weakness(raw)
    if reason is not None:
        cls, what = _WEAK[reason]
        raise cls(f"{where} {what}; generate one with `importobot key generate`")


_LEGACY_NOTE = (
    "; importobot 0.1.5 silently turned such a value into a different key, which is no "
    "longer done. It can still decrypt old data as a `legacy:` previous key"
)


def _refuse(cls: type[InvalidKeyError], where: str, detail: str, text: str) -> InvalidKeyError:
    """Build the error; when 0.1.5 accepted ``text``, say how to keep using it (D3)."""
    if legacy_accepts(text):
        exc = cls(f"{where} {detail}{_LEGACY_NOTE} ({MIGRATION_HINT})")
        exc.legacy_usable = True
        return exc
    return cls(f"{where} {detail}; a key is exactly 32 random bytes in base64")


def parse_key(key: str | bytes, where: str = "the key") -> bytes:
    """Parse a primary key (D1) into its 32 raw bytes, or raise an :class:`InvalidKeyError`.

    Accepted: url-safe base64 (a Fernet key) or standard base64 (``openssl rand -base64
    32``) of 32 bytes, padding optional; raw 32 ``bytes``; surrounding whitespace and one
    pair of quotes are tolerated. ``where`` names the source in the message
    (``IMPORTOBOT_ENCRYPTION_KEY``, ``keyring importobot/ci``).
    """
    if isinstance(key, (bytes, bytearray)):
        data = bytes(key)
        if len(data) == KEY_SIZE:
            _check_weak(data, where)
            return data
        if len(data) == 44:
            try:
                return parse_key(data.decode("ascii"), where)
            except UnicodeDecodeError:
                pass
        raise KeyLengthError(
            f"{where} is {len(data)} bytes; a bytes key is the 32 raw bytes "
            f"or 44 bytes of base64 text"
        )
    if not isinstance(key, str):
        raise TypeError("Encryption key must be bytes, str, or None")
    if _not_text(key):
        raise KeyAlphabetError(f"{where} {_NOT_TEXT}")
    text = strip_value(key)
    if not text:
        raise KeyLengthError(f"{where} is empty")
    if text.startswith(LEGACY_PREFIX):
        raise LegacyKeyError(
            f"{where} has the `legacy:` prefix, which is only allowed for previous "
            f"(decrypt-only) keys"
        )
    if text.lower() in _PLACEHOLDER_WORDS:
        raise PlaceholderKeyError(f"{where} is a placeholder, not a key")
    readable = len(set(text)) > 4 and any(c.isalpha() for c in text)
    if len(text) >= 8 and readable and is_readable_placeholder(text):
        raise _refuse(PlaceholderKeyError, where, "reads as words: a placeholder, not a key", text)
    if text.startswith("base64:"):
        raise KeyAlphabetError(
            f"{where} has a Laravel-style `base64:` prefix; importobot keys are plain base64"
        )
    if len(text) == KEY_SIZE:
        raise _refuse(
            LegacyKeyError, where, "is a 32-character string (not 32 bytes of base64)", text
        )
    if len(text) % 2 == 0 and _HEX_RE.match(text):
        raise _refuse(LegacyKeyError, where, f"is hex ({len(text) // 2} bytes), not base64", text)
    if not _ALLOWED_RE.match(text):
        raise _refuse(
            KeyAlphabetError,
            where,
            "contains characters outside the base64 alphabets "
            "(letters, digits, + / or - _, and = padding)",
            text,
        )
    if ("+" in text or "/" in text) and ("-" in text or "_" in text):
        raise KeyAlphabetError(f"{where} mixes the standard (+/) and url-safe (-_) alphabets")
    body_len = len(text.rstrip("="))
    if body_len != 43:
        detail = "too short" if body_len < 43 else "too long"
        raise _refuse(
            KeyLengthError,
            where,
            f"is {detail}: {body_len} base64 characters before padding, where a 32-byte "
            f"key has 43 (44 with its `=`)",
            text,
        )
    decoded = decode_key_text(text)
    if decoded is None:
        if "=" in text.rstrip("="):
            raise _refuse(KeyAlphabetError, where, "has `=` padding inside the value", text)
        raise _refuse(KeyAlphabetError, where, "is not canonical base64 (final bits)", text)
    if len(decoded.key_bytes) != KEY_SIZE:
        detail = f"decodes to {len(decoded.key_bytes)} bytes, not 32"
        raise _refuse(KeyLengthError, where, detail, text)
    _check_weak(decoded.key_bytes, where)
    return decoded.key_bytes


def encode_key(raw: bytes) -> str:
    """The canonical spelling of a key: url-safe base64 with padding (a Fernet key)."""
    import base64

    return base64.urlsafe_b64encode(raw).decode("ascii")
