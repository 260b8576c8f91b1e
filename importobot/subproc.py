"""Environment for subprocesses importobot starts (D5): no key ever leaves the process.

Every ``subprocess`` call in importobot (git, pre-commit, …) passes
``env=scrubbed_environ()``, which drops each ``IMPORTOBOT_*`` variable whose name
contains ``KEY`` (the key, previous keys, the previous-keys file path).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["scrubbed_environ"]


def _is_key_var(name: str) -> bool:
    upper = name.upper()
    return upper.startswith("IMPORTOBOT_") and "KEY" in upper


def scrubbed_environ(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``base`` (default ``os.environ``) without ``IMPORTOBOT_*KEY*`` variables."""
    source = os.environ if base is None else base
    return {k: v for k, v in source.items() if not _is_key_var(k)}
