"""Key age against a policy, with time as a parameter (``now=``) so tests fix the clock.

Durations are a whole number and one unit: ``h`` (hours), ``d`` (days) or ``w``
(weeks). Ambiguous units are refused: ``m`` (minutes or months?), ``mo``, ``y``
(365 or 366 days?), and bare numbers.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from importobot._record import Record

# One duration grammar for the command line and the configuration file (never echoing a
# key-shaped value in its errors).
from importobot.config import parse_duration

__all__ = [
    "DEFAULT_MAX_AGE",
    "AgePolicy",
    "AgeVerdict",
    "default_warn_age",
    "format_duration",
    "judge_age",
    "parse_duration",
    "parse_timestamp",
    "utc_now",
]

DEFAULT_MAX_AGE = timedelta(days=90)


def format_duration(delta: timedelta) -> str:
    """A short human form: ``100d``, ``36h``."""
    seconds = int(delta.total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if abs(seconds) >= 2 * 86400:
        return f"{seconds / 86400:.1f}d"
    return f"{seconds // 3600}h"


def default_warn_age(max_age: timedelta) -> timedelta:
    """The warning window when none is given: 15 days before the maximum (or 5/6 of it)."""
    return max_age - timedelta(days=15) if max_age > timedelta(days=30) else max_age * 5 / 6


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(timezone.utc)


def parse_timestamp(value: object) -> datetime:
    """An RFC 3339 timestamp (TOML datetime or text, or a date) as aware UTC.

    A timestamp without a UTC offset is refused: the registry is shared across
    machines and time zones.
    """
    from datetime import date

    if isinstance(value, datetime):
        stamp = value
    elif isinstance(value, date):
        stamp = datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    elif isinstance(value, str):
        text = value.strip()
        if len(text) == 10:
            try:
                d = date.fromisoformat(text)
            except ValueError:
                raise ValueError(f"not an RFC 3339 date or timestamp: {value!r}") from None
            return datetime(d.year, d.month, d.day, tzinfo=timezone.utc)
        try:
            stamp = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError(f"not an RFC 3339 timestamp: {value!r}") from None
    else:
        raise ValueError(f"expected an RFC 3339 timestamp, got {type(value).__name__}")
    if stamp.tzinfo is None or stamp.utcoffset() is None:
        raise ValueError("timestamp has no UTC offset (write e.g. 2026-01-31T00:00:00Z)")
    return stamp.astimezone(timezone.utc)


class AgePolicy(Record):
    """Maximum age (IOB301) and warning age (IOB302).

    ``warn_age`` defaults to :func:`default_warn_age` of ``max_age``; a warn age longer
    than the max age is a :class:`ValueError`.
    """

    max_age: timedelta
    warn_age: timedelta

    def __init__(
        self, max_age: timedelta = DEFAULT_MAX_AGE, warn_age: timedelta | None = None
    ) -> None:
        if warn_age is None:
            warn_age = default_warn_age(max_age)
        if warn_age > max_age:
            raise ValueError(
                f"warn age ({format_duration(warn_age)}) is longer than the max age "
                f"({format_duration(max_age)})"
            )
        super().__init__(max_age, warn_age)

    def describe(self) -> str:
        """``max 90d, warn 75d``."""
        return f"max {format_duration(self.max_age)}, warn {format_duration(self.warn_age)}"


class AgeVerdict(Record):
    """How old a key is: ``state`` is ``ok``, ``warn`` or ``due``."""

    state: str
    age: timedelta
    created: datetime
    due: datetime
    warn_at: datetime


def judge_age(created: datetime, policy: AgePolicy, now: datetime) -> AgeVerdict:
    """Judge a key created at ``created`` against ``policy`` at time ``now``."""
    age = now - created
    due = created + policy.max_age
    warn_at = created + policy.warn_age
    if now >= due:
        state = "due"
    elif now >= warn_at:
        state = "warn"
    else:
        state = "ok"
    return AgeVerdict(state, age, created, due, warn_at)
