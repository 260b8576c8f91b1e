"""Findings: what a scan reports (D14). Data, not errors; never a key value.

The report formatters import only this module and the rules registry (:mod:`importobot.rules`).
"""

from __future__ import annotations

from importobot._record import Record, field, replace

# The rules registry (importobot.rules) is the one source of rule metadata; its names are
# re-exported here for the modules that read them beside Finding.
from importobot.rules import RULES, RuleInfo, rule_info

TYPE_CHECKING = False  # typing is not imported at run time (hook start-up, D17)
if TYPE_CHECKING:
    from typing import Any

__all__ = ["RULES", "Finding", "RuleInfo", "ScanResult", "rule_info"]


class Finding(Record):
    """One finding. ``path``/``line``/``column`` are ``None`` without a location.

    ``line`` and ``column`` are 1-based; the column counts Unicode code points.
    ``key_bytes`` is the decoded size (characters for an opaque string).
    ``fingerprint`` is the D2 fingerprint (``None`` for rejected or weak set-up keys).
    """

    rule: str
    severity: str
    path: str | None
    line: int | None
    column: int | None
    variable: str | None
    key_type: str | None
    key_bytes: int | None
    fingerprint: str | None
    message: str
    commit: str | None = None
    source: str | None = None
    #: Extra context, such as "published example key" or "unstaged".
    note: str | None = None
    #: Why it is suppressed (``inline``, ``baseline``) or ``None`` when it counts.
    suppressed: str | None = None

    @property
    def rule_name(self) -> str:
        """The rule's kebab-case name (``key-in-env-file``)."""
        return rule_info(self.rule).name

    def with_suppression(self, reason: str) -> Finding:
        """A copy marked suppressed for ``reason``."""
        return replace(self, suppressed=reason)

    def sort_key(self) -> tuple[str, int, int, str]:
        """Order: path, line, column, rule."""
        return (self.path or "", self.line or 0, self.column or 0, self.rule)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of DESIGN "Command line" plus D14's extra fields."""
        data: dict[str, Any] = {
            "rule": self.rule,
            "name": self.rule_name,
            "severity": self.severity,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "variable": self.variable,
            "key_type": self.key_type,
            "key_bytes": self.key_bytes,
            "fingerprint": self.fingerprint,
            "message": self.message,
            "commit": self.commit,
            "source": self.source,
        }
        if self.note is not None:
            data["note"] = self.note
        if self.suppressed is not None:
            data["suppressed"] = self.suppressed
        return data


class ScanResult(Record, frozen=False):
    """The outcome of one ``check`` run: findings and what was (not) scanned."""

    findings: list[Finding] = field(default_factory=list)
    files_scanned: int = 0
    bytes_scanned: int = 0
    #: Skip reason (``binary``, ``too-large``, ``unreadable``, ``excluded``, ``symlink``) → count.
    skipped: dict[str, int] = field(default_factory=dict)
    #: Bytes of skipped files (reported apart from scanned bytes).
    bytes_skipped: int = 0
    #: One line per problem met (unreadable file, git failure); never a key.
    notes: list[str] = field(default_factory=list)
    #: Baseline bookkeeping for ``--update-baseline`` (added, removed).
    baseline_added: int = 0
    baseline_removed: int = 0
    #: Elapsed seconds (wall clock) of the scan.
    seconds: float = 0.0
    #: Shown path -> path relative to the repository root (what the baseline matches).
    paths: dict[str, str] = field(default_factory=dict)

    def skip(self, reason: str, size: int = 0) -> None:
        """Count one skipped file."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        self.bytes_skipped += size

    @property
    def active(self) -> list[Finding]:
        """Findings that are not suppressed."""
        return [f for f in self.findings if f.suppressed is None]

    @property
    def suppressed(self) -> list[Finding]:
        """Findings suppressed by a pragma or the baseline."""
        return [f for f in self.findings if f.suppressed is not None]

    def exit_code(self, *, exit_zero: bool = False, strict: bool = False) -> int:
        """0 clean (or warnings only), 1 on error-severity findings (D15)."""
        if exit_zero:
            return 0
        for f in self.active:
            if f.severity == "error" or strict:
                return 1
        return 0

    def summary(self) -> dict[str, Any]:
        """Counts for reports: files, bytes, skips, findings by rule."""
        by_rule: dict[str, int] = {}
        for f in self.active:
            by_rule[f.rule] = by_rule.get(f.rule, 0) + 1
        return {
            "files_scanned": self.files_scanned,
            "bytes_scanned": self.bytes_scanned,
            "files_skipped": sum(self.skipped.values()),
            "skipped": dict(sorted(self.skipped.items())),
            "bytes_skipped": self.bytes_skipped,
            "findings": len(self.active),
            "suppressed": len(self.suppressed),
            "errors": sum(1 for f in self.active if f.severity == "error"),
            "warnings": sum(1 for f in self.active if f.severity == "warning"),
            "by_rule": dict(sorted(by_rule.items())),
        }
