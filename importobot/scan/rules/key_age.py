"""IOB301/IOB302/IOB304: how old is the active key, by the registry's created date.

Time is a parameter (``now``) everywhere, so tests fix the clock.
"""

from __future__ import annotations

from importobot.keys.age import AgePolicy, format_duration, judge_age
from importobot.scan.rules.key_setup import ROTATION_DOCS, key_finding

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime

    from importobot.keys.registry import Registry
    from importobot.scan.finding import Finding

__all__ = ["check_key_age"]


def _day(stamp: datetime) -> str:
    return stamp.strftime("%Y-%m-%d")


def check_key_age(
    fingerprint: str,
    source: str | None,
    registry: Registry,
    policy: AgePolicy,
    now: datetime,
) -> list[Finding]:
    """Findings for the active key ``fingerprint`` (empty when it is young enough)."""
    record = registry.get(fingerprint)
    if record is not None and record.compromised is not None:
        return []  # exposed: IOB204 (key_status) calls for rotation whatever its age
    if record is None:
        return [
            key_finding(
                "IOB304",
                f"the active key {fingerprint} is not in the key registry {registry.path}, "
                f"so its age is unknown; record it with "
                f"`importobot key register --created YYYY-MM-DD` (the day it was made)",
                source=source,
                fp=fingerprint,
            )
        ]
    if record.retired is not None or record.created is None:
        retired = f" on {_day(record.retired)}" if record.retired is not None else ""
        return [
            key_finding(
                "IOB301",
                f"the active key {fingerprint} was retired{retired} but is "
                f"still set up; switch to the new key ({ROTATION_DOCS})",
                source=source,
                fp=fingerprint,
            )
        ]
    verdict = judge_age(record.created, policy, now)
    age = format_duration(verdict.age)
    if verdict.state == "due":
        return [
            key_finding(
                "IOB301",
                f"key {fingerprint} is {age} old (created {_day(record.created)}); the policy "
                f"allows {format_duration(policy.max_age)}: rotation was due on "
                f"{_day(verdict.due)} ({ROTATION_DOCS})",
                source=source,
                fp=fingerprint,
            )
        ]
    if verdict.state == "warn":
        return [
            key_finding(
                "IOB302",
                f"key {fingerprint} is {age} old (created {_day(record.created)}); rotation is "
                f"due on {_day(verdict.due)} (policy {policy.describe()})",
                source=source,
                fp=fingerprint,
            )
        ]
    return []
