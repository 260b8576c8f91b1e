"""Key health inside ``importobot check`` (D16 opt-in): IOB2xx, IOB204, IOB301–IOB304.

- IOB201–IOB203: the set-up key (:mod:`importobot.scan.rules.key_setup`).
- IOB301/IOB302/IOB304: its age by the registry (:mod:`importobot.scan.rules.key_age`).
- IOB204: the set-up key, or any registered key that is not retired, was found
  committed. Matched by the fingerprints of the candidates the scanner reported, so
  the key is never compared or printed as text.
- IOB303: committed Fernet ciphertext older than the maximum age. A token's time is in
  clear, so no key is needed.
"""

from __future__ import annotations

import re

from importobot.keys.age import format_duration
from importobot.keys.tokens import find_tokens, token_timestamp
from importobot.scan.finding import Finding, rule_info

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from datetime import datetime
    from pathlib import Path

    from importobot.keys.age import AgePolicy
    from importobot.keys.registry import Registry

__all__ = ["compromised_findings", "stale_token_findings", "watched_fingerprints"]

_NAME_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_.-]*)[\"']?\s*[:=]\s*[\"']?$")


def watched_fingerprints(
    active: str | None, active_source: str | None, registry: Registry | None
) -> dict[str, str]:
    """Fingerprint → what it is, for every key whose appearance in the repo is IOB204."""
    watched: dict[str, str] = {}
    if registry is not None:
        for fp, record in registry.records.items():
            if record.retired is None:
                watched[fp] = f"registered key {fp}"
    if active is not None:
        watched[active] = f"the set-up key ({active_source or 'configured'})"
    return watched


def compromised_findings(findings: Iterable[Finding], watched: Mapping[str, str]) -> list[Finding]:
    """IOB204 at every reported candidate whose fingerprint is a watched key.

    Suppressed candidates count too: a baseline or pragma never hides IOB204 (D13).
    """
    out: list[Finding] = []
    seen: set[tuple[str | None, int | None, str | None, str | None]] = set()
    for f in findings:
        if f.fingerprint is None or f.fingerprint not in watched or f.rule == "IOB204":
            continue
        where = (f.path, f.line, f.commit, f.fingerprint)
        if where in seen:
            continue
        seen.add(where)
        what = watched[f.fingerprint]
        place = f" in commit {f.commit[:12]}" if f.commit else ""
        out.append(
            Finding(
                rule="IOB204",
                severity=rule_info("IOB204").severity,
                path=f.path,
                line=f.line,
                column=f.column,
                variable=f.variable,
                key_type=f.key_type,
                key_bytes=f.key_bytes,
                fingerprint=f.fingerprint,
                message=(
                    f"{what} is committed here{place}: treat it as compromised and "
                    f"rotate it now (docs/Key-Rotation.md)"
                ),
                commit=f.commit,
            )
        )
    return out


def _line_col(data: bytes, offset: int) -> tuple[int, int, str]:
    line = data.count(b"\n", 0, offset) + 1
    start = data.rfind(b"\n", 0, offset) + 1
    prefix = data[start:offset].decode("utf-8", "replace")
    return line, len(prefix) + 1, prefix


def stale_token_findings(
    files: Iterable[tuple[Path, str]],
    policy: AgePolicy,
    now: datetime,
    *,
    max_size: int,
) -> list[Finding]:
    """IOB303 for each committed Fernet token made before ``now - policy.max_age``."""
    cutoff = (now - policy.max_age).timestamp()
    out: list[Finding] = []
    for path, shown in files:
        try:
            if path.stat().st_size > max_size:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        for start, end in find_tokens(data):
            stamp = token_timestamp(data[start:end])
            if stamp is None or stamp >= cutoff:
                continue
            line, column, prefix = _line_col(data, start)
            name = _NAME_RE.search(prefix)
            from datetime import datetime, timezone

            made = datetime.fromtimestamp(stamp, tz=timezone.utc)
            out.append(
                Finding(
                    rule="IOB303",
                    severity=rule_info("IOB303").severity,
                    path=shown,
                    line=line,
                    column=column,
                    variable=name.group(1) if name else None,
                    key_type=None,
                    key_bytes=None,
                    fingerprint=None,
                    message=(
                        f"Fernet ciphertext made {made:%Y-%m-%d} is {format_duration(now - made)} "
                        f"old, over the {format_duration(policy.max_age)} maximum: re-encrypt it "
                        f"with `importobot rotate files` (docs/Key-Rotation.md)"
                    ),
                )
            )
    return out
