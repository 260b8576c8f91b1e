"""Bounding work, not wall-clock: CPU time of the same input at two sizes.

A quadratic step shows as a time ratio near 16 for 4x the input; a linear one stays
near 4. Timings are this process's CPU time (a loaded machine slows the wall clock,
not that), the best of a few runs (noise only ever adds), and a fixed slack absorbs
timer granularity on inputs that take a few milliseconds. A run over its bound is
stopped by a CPU-time timer (the regex engine checks for signals as it goes), so a
regression fails in seconds instead of running for an hour.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable

#: Allowed growth of the work for 4x the input (linear is ~4, quadratic ~16).
RATIO = 6.0
#: Measurements of both sizes before a miss counts: a pause (a collection, the coverage
#: tracer, a loaded machine) can land in one big run; a quadratic step misses every time.
ATTEMPTS = 3
#: Seconds of slack for timer noise on short runs.
SLACK = 0.05
#: CPU seconds per input byte allowed on the bigger input (about 50x the scanner's
#: worst case today): a step that is quadratic within a bounded piece (a line of at
#: most 16 KB) keeps a linear ratio, but not this.
PER_BYTE = 20e-6


class OverBudget(Exception):
    """A measured call used more CPU time than it was allowed."""


def _stop(signum: int, frame: object) -> None:
    raise OverBudget


def cpu_time(fn: Callable[[], object], runs: int = 3, limit: float | None = None) -> float:
    """The best CPU time of ``runs`` calls, a call stopped after ``limit`` seconds
    counting as ``inf`` (one slow call, a first compile or a collection, does not decide)."""
    best = float("inf")
    for _ in range(runs):
        previous = signal.signal(signal.SIGPROF, _stop)
        if limit is not None:
            signal.setitimer(signal.ITIMER_PROF, limit)
        start = time.process_time()
        try:
            fn()
        except OverBudget:
            continue
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.signal(signal.SIGPROF, previous)
        best = min(best, time.process_time() - start)
    return best


def traced() -> bool:
    """True under a tracer (coverage): each Python line costs several times more."""
    if sys.gettrace() is not None:
        return True
    coverage = sys.modules.get("coverage")
    current = getattr(getattr(coverage, "Coverage", None), "current", None)
    return current is not None and current() is not None


#: Absolute CPU bounds are multiplied by this under a tracer (ratios need no change).
TRACE_FACTOR = 4.0


def child_env() -> dict[str, str]:
    """The environment for a timed child process: no ``IMPORTOBOT_*`` settings and no
    coverage hook (a measured child pays for tracing every line)."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("IMPORTOBOT_", "COVERAGE_", "COV_CORE_"))
    }


def assert_linear(
    make: Callable[[int], Callable[[], object]],
    small: int = 16 * 1024,
    factor: int = 4,
    *,
    ratio: float = RATIO,
    slack: float = SLACK,
    per_byte: float = PER_BYTE,
    what: str = "",
) -> tuple[float, float]:
    """``make(size)`` returns the work for an input of ``size`` bytes: it must grow
    at most ``ratio`` times for ``factor`` times the size, and stay under ``per_byte``
    seconds a byte. Returns both times."""
    ceiling = per_byte * small * factor * (TRACE_FACTOR if traced() else 1.0) + slack
    message = ""
    for _attempt in range(ATTEMPTS):
        t_small = cpu_time(make(small), limit=ceiling)
        assert t_small != float("inf"), f"{what}: {small} bytes took over {ceiling:.1f}s of CPU"
        bound = min(ratio * t_small + slack, ceiling)
        t_big = cpu_time(make(small * factor), limit=bound * 1.5)
        if t_big <= bound:
            return t_small, t_big
        message = (
            f"{what}: {small * factor} bytes took {t_big:.3f}s (inf: stopped over the bound), "
            f"{small} bytes {t_small:.3f}s; allowed {bound:.3f}s for {factor}x the input "
            f"(in each of {ATTEMPTS} attempts; this is the last)"
        )
    raise AssertionError(message)
