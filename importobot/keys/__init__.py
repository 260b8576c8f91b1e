"""Key fingerprints, decoding and (later) the registry. Standard library only."""

from __future__ import annotations

from importobot.keys.fingerprint import FINGERPRINT_PREFIX, fingerprint, fingerprint_opaque

__all__ = ["FINGERPRINT_PREFIX", "fingerprint", "fingerprint_opaque"]
