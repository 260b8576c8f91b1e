"""Named crash points for fault-injection tests (D22).

``IMPORTOBOT_FAULT=<point>:<n>`` makes the process SIGKILL itself the n-th time it
arrives at ``<point>``. Unset (the normal case) a crash point costs one dict lookup.
"""

from __future__ import annotations

import os
import signal

__all__ = ["CRASH_POINTS", "ENV_FAULT", "crash_point"]

ENV_FAULT = "IMPORTOBOT_FAULT"

#: Every crash point the rotation code passes, in the order of one durable write.
CRASH_POINTS = (
    "after-temp-write",  # file store: temp file written, not yet fsynced
    "after-temp-fsync",  # file store: temp file durable, not yet renamed
    "after-rename",  # file store: renamed over the target, directory not yet fsynced
    "before-commit",  # SQL store: batch updated inside the transaction, not committed
    "after-commit",  # SQL store: batch committed, journal not yet updated
)

_state: dict[str, int] = {}
_target: tuple[str, int] | None = None
_loaded = False


def _load() -> tuple[str, int] | None:
    global _loaded, _target
    if not _loaded:
        _loaded = True
        raw = os.environ.get(ENV_FAULT, "")
        name, _, count = raw.partition(":")
        if name and count.isdigit() and int(count) > 0:
            _target = (name, int(count))
    return _target


def crash_point(name: str) -> None:
    """Arrive at crash point ``name``; SIGKILL this process when the fault says so."""
    target = _load()
    if target is None or target[0] != name:
        return
    _state[name] = _state.get(name, 0) + 1
    if _state[name] >= target[1]:
        os.kill(os.getpid(), signal.SIGKILL)
