"""Bounding work, not wall-clock: CPU time of the same input at two sizes.

A quadratic step shows as a time ratio near 16 for 4x the input; a linear one stays
near 4. Timings are this process's CPU time (a loaded machine slows the wall clock,
not that), the best of a few runs (noise only ever adds), and a fixed slack absorbs
timer granularity on inputs that take a few milliseconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: Allowed growth of the work for 4x the input (linear is ~4, quadratic ~16).
RATIO = 6.0
#: Seconds of slack for timer noise on short runs.
SLACK = 0.05


def cpu_time(fn: Callable[[], object], runs: int = 3, give_up: float | None = None) -> float:
    """The best CPU time of ``runs`` calls; stops early once a run exceeds ``give_up``."""
    best = float("inf")
    for _ in range(runs):
        start = time.process_time()
        fn()
        spent = time.process_time() - start
        best = min(best, spent)
        if give_up is not None and spent > give_up:
            break
    return best


def assert_linear(
    make: Callable[[int], Callable[[], object]],
    small: int = 64 * 1024,
    factor: int = 4,
    *,
    ratio: float = RATIO,
    slack: float = SLACK,
    what: str = "",
) -> tuple[float, float]:
    """``make(size)`` returns the work for an input of ``size`` bytes: it must grow
    at most ``ratio`` times for ``factor`` times the size. Returns both times."""
    t_small = cpu_time(make(small))
    bound = ratio * t_small + slack
    # A quadratic step on the big input is slow: one run over the bound decides.
    t_big = cpu_time(make(small * factor), give_up=bound)
    assert t_big <= bound, (
        f"{what}: {small * factor} bytes took {t_big:.3f}s, {small} bytes {t_small:.3f}s "
        f"(ratio {t_big / max(t_small, 1e-6):.1f} for {factor}x the input)"
    )
    return t_small, t_big
