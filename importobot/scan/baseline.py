"""The baseline (D13): accepted findings by path, rule and fingerprint. No lines, no times.

``{"version": 1, "findings": [{"rule", "path", "fingerprint"}]}``, sorted by
(path, rule, fingerprint), so the file changes only when the set of accepted keys
changes — not when lines move, and not on every run. An entry suppresses that
fingerprint at that path; a new or changed key in the same file still fails.
IOB2xx (key set-up) findings are never baselined.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from importobot.exceptions import ConfigError
from importobot.scan.finding import Finding

__all__ = ["BASELINE_VERSION", "baseline_entries", "load_baseline", "write_baseline"]

BASELINE_VERSION = 1

Entry = tuple[str, str, str]


def load_baseline(path: Path) -> set[Entry]:
    """Entries of the baseline at ``path``; a missing file is an empty baseline."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return set()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the baseline ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: the baseline is not valid JSON (line {exc.lineno})") from None
    if not isinstance(data, dict) or data.get("version") != BASELINE_VERSION:
        raise ConfigError(f"{path}: not an importobot baseline (version {BASELINE_VERSION})")
    items = data.get("findings")
    if not isinstance(items, list):
        raise ConfigError(f"{path}: findings must be a list")
    entries: set[Entry] = set()
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict) or not all(
            isinstance(item.get(k), str) for k in ("rule", "path", "fingerprint")
        ):
            raise ConfigError(f"{path}: entry {n} needs string rule, path and fingerprint")
        if item["rule"].startswith("IOB2"):
            raise ConfigError(f"{path}: entry {n}: {item['rule']} cannot be baselined")
        entries.add((item["path"], item["rule"], item["fingerprint"]))
    return entries


def baseline_entries(findings: list[Finding]) -> set[Entry]:
    """Entries for findings that may be baselined (located, fingerprinted, not IOB2xx)."""
    return {
        (f.path, f.rule, f.fingerprint)
        for f in findings
        if f.path
        and f.fingerprint
        and not f.rule.startswith("IOB2")
        and f.suppressed in (None, "baseline")
    }


def write_baseline(path: Path, entries: set[Entry], previous: set[Entry]) -> tuple[int, int]:
    """Write ``entries`` to ``path`` atomically; return (added, removed) against ``previous``."""
    doc = {
        "version": BASELINE_VERSION,
        "findings": [
            {"rule": rule, "path": p, "fingerprint": fp} for p, rule, fp in sorted(entries)
        ],
    }
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    tmp = path.with_name(f".{path.name}.importobot-tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise ConfigError(f"{path}: cannot write the baseline ({exc.strerror})") from None
    return len(entries - previous), len(previous - entries)
