"""Keys for tests, generated at run time (the repository never holds a key literal)."""

from __future__ import annotations

import base64
import secrets


def new_raw() -> bytes:
    """32 fresh random bytes."""
    return secrets.token_bytes(32)


def spellings(raw: bytes) -> list[str]:
    """Every spelling of ``raw`` a leak could take: base64 both alphabets ± padding, hex."""
    std = base64.b64encode(raw).decode()
    url = base64.urlsafe_b64encode(raw).decode()
    return [std, std.rstrip("="), url, url.rstrip("="), raw.hex(), raw.hex().upper()]


def contains_key(blob: str | bytes, raw: bytes) -> bool:
    """True when ``blob`` holds ``raw`` in any spelling (or the raw bytes themselves)."""
    if isinstance(blob, bytes):
        if raw in blob:
            return True
        blob = blob.decode("latin-1")
    return any(s in blob for s in spellings(raw))
