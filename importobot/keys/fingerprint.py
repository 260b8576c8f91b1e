"""Key fingerprints (D2): a short, non-reversible identifier that reports carry.

``iobfp1:`` + the first 16 hex characters of HMAC-SHA256 under a fixed label.
Standard library only: the hook path must not import ``cryptography``.
"""

from __future__ import annotations

__all__ = ["FINGERPRINT_PREFIX", "fingerprint", "fingerprint_opaque", "is_fingerprint"]

FINGERPRINT_PREFIX = "iobfp1:"
_KEY_LABEL = b"importobot/fingerprint/v1"
_OPAQUE_LABEL = b"importobot/opaque/v1"


def fingerprint(raw: bytes) -> str:
    """Fingerprint of raw key bytes; one key has one fingerprint in every spelling."""
    # Imported here: hashlib loads OpenSSL (~3 ms), and the hook path only needs it
    # once a key-shaped value is found (D17).
    import hashlib
    import hmac

    digest = hmac.new(_KEY_LABEL, raw, hashlib.sha256).hexdigest()
    return FINGERPRINT_PREFIX + digest[:16]


def fingerprint_opaque(text: str) -> str:
    """Fingerprint of an opaque secret string (its UTF-8 text under its own label)."""
    import hashlib
    import hmac

    digest = hmac.new(_OPAQUE_LABEL, text.encode("utf-8"), hashlib.sha256).hexdigest()
    return FINGERPRINT_PREFIX + digest[:16]


def is_fingerprint(text: str) -> bool:
    """True when ``text`` is exactly an ``iobfp1:`` fingerprint."""
    if len(text) != len(FINGERPRINT_PREFIX) + 16 or not text.startswith(FINGERPRINT_PREFIX):
        return False
    tail = text[len(FINGERPRINT_PREFIX) :]
    return all(c in "0123456789abcdef" for c in tail)
