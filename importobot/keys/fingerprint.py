"""Key fingerprints (D2): a short, non-reversible identifier that reports carry.

``iobfp1:`` + the first 16 hex characters of HMAC-SHA256 under a fixed label.
Standard library only: the hook path must not import ``cryptography``.

The HMAC is RFC 2104 over the interpreter's built-in SHA-256 (``_sha256`` on 3.11,
``_sha2`` from 3.12): ``hashlib`` and ``hmac`` load OpenSSL, about 3 ms of a hook that
finds a key (D17). Where neither built-in exists (an interpreter built without them), the
standard ``hmac`` module is used; tests check both give the same digests.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

__all__ = ["FINGERPRINT_PREFIX", "fingerprint", "fingerprint_opaque", "is_fingerprint"]

FINGERPRINT_PREFIX = "iobfp1:"
_KEY_LABEL = b"importobot/fingerprint/v1"
_OPAQUE_LABEL = b"importobot/opaque/v1"
_BLOCK = 64  # SHA-256's block size; both labels are shorter, so no key hashing step
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


def _builtin_sha256() -> Callable[[bytes], object] | None:
    try:
        from _sha256 import sha256  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        try:
            from _sha2 import sha256  # type: ignore[import-not-found,no-redef,unused-ignore]
        except ImportError:
            return None
    return sha256  # type: ignore[no-any-return,unused-ignore]


def _hmac_sha256_hex(label: bytes, message: bytes) -> str:
    """HMAC-SHA256(label, message) in lowercase hex (RFC 2104)."""
    sha256 = _builtin_sha256()
    if sha256 is None:
        import hashlib
        import hmac

        return hmac.new(label, message, hashlib.sha256).hexdigest()
    padded = label.ljust(_BLOCK, b"\0")
    inner: Any = sha256(padded.translate(_IPAD))
    inner.update(message)
    outer: Any = sha256(padded.translate(_OPAD))
    outer.update(inner.digest())
    return str(outer.hexdigest())


def fingerprint(raw: bytes) -> str:
    """Fingerprint of raw key bytes; one key has one fingerprint in every spelling."""
    return FINGERPRINT_PREFIX + _hmac_sha256_hex(_KEY_LABEL, raw)[:16]


def fingerprint_opaque(text: str) -> str:
    """Fingerprint of an opaque secret string (its UTF-8 text under its own label)."""
    return FINGERPRINT_PREFIX + _hmac_sha256_hex(_OPAQUE_LABEL, text.encode("utf-8"))[:16]


def is_fingerprint(text: str) -> bool:
    """True when ``text`` is exactly an ``iobfp1:`` fingerprint."""
    if len(text) != len(FINGERPRINT_PREFIX) + 16 or not text.startswith(FINGERPRINT_PREFIX):
        return False
    tail = text[len(FINGERPRINT_PREFIX) :]
    return all(c in "0123456789abcdef" for c in tail)
