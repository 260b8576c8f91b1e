"""The baseline (D13): accepted findings by path, rule and fingerprint. No lines, no times.

``{"version": 1, "findings": [{"rule", "path", "fingerprint"}]}``, sorted by
(path, rule, fingerprint), so the file changes only when the set of accepted keys
changes — not when lines move, and not on every run. An entry suppresses that
fingerprint at that path; a new or changed key in the same file still fails.
IOB2xx (key set-up) findings are never baselined.
"""

from __future__ import annotations

from importobot.exceptions import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    from importobot.scan.finding import Finding, ScanResult

__all__ = [
    "BASELINE_VERSION",
    "apply_baseline",
    "baseline_entries",
    "load_baseline",
    "write_baseline",
]

BASELINE_VERSION = 1

Entry = tuple[str, str, str]


def load_baseline(path: str | Path) -> set[Entry]:
    """Entries of the baseline at ``path``; a missing file is an empty baseline."""
    from importobot.fsio import FileRefused, read_operator_file

    try:
        text = read_operator_file(str(path), 64 * 1024 * 1024).decode("utf-8")
    except FileRefused as exc:
        if exc.reason == "missing":
            return set()
        raise ConfigError(f"cannot read the baseline: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the baseline is not UTF-8") from None
    import json

    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: the baseline is not valid JSON (line {exc.lineno})") from None
    except RecursionError:
        raise ConfigError(f"{path}: the baseline is nested too deeply") from None
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


def _entry(f: Finding, paths: dict[str, str]) -> Entry:
    """The baseline key of ``f``: its path relative to the repository root, rule, fp."""
    path = f.path or ""
    return (paths.get(path, path), f.rule, f.fingerprint or "")


def apply_baseline(result: ScanResult, entries: set[Entry]) -> None:
    """Mark the findings of ``result`` that ``entries`` accept as suppressed (D13).

    Paths are matched relative to the repository root, so a baseline works from any
    directory. IOB2xx findings are never suppressed.
    """
    if not entries:
        return
    for i, f in enumerate(result.findings):
        if (
            f.suppressed is None
            and not f.rule.startswith("IOB2")
            and _entry(f, result.paths) in entries
        ):
            result.findings[i] = f.with_suppression("baseline")


def baseline_entries(findings: list[Finding], paths: dict[str, str] | None = None) -> set[Entry]:
    """Entries for findings that may be baselined (located, fingerprinted, not IOB2xx)."""
    known = paths or {}
    return {
        _entry(f, known)
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
    import json

    from importobot.fsio import DurableWriteError, FileRefused, replace_file_durably

    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    try:
        replace_file_durably(str(path), text.encode("utf-8"))
    except (FileRefused, DurableWriteError) as exc:
        raise ConfigError(f"cannot write the baseline: {exc}") from None
    return len(entries - previous), len(previous - entries)
