"""The report's types: importobot 0.1.5's names, kept and extended.

0.1.5 scored whatever its caller said had passed::

    engine = EnterpriseComplianceEngine([ComplianceRule("A", "a", 2.0), ComplianceRule("B", "b")])
    report = engine.evaluate({"A"})          # score 2.0, maximum 3.0, percentage 66.67

That still works. The evidence report (:func:`importobot_enterprise.compliance.build_report`)
produces the same :class:`ComplianceReport`, whose :class:`ComplianceControl` items also
carry a status (``pass``, ``fail``, ``warn``, ``manual``, ``not-applicable``), the evidence
gathered, the citations and the fix, so a caller written for 0.1.5 can read a new report.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FAIL",
    "MANUAL",
    "NOT_APPLICABLE",
    "PASS",
    "STATUSES",
    "WARN",
    "Citation",
    "ComplianceControl",
    "ComplianceReport",
    "ComplianceRule",
    "EnterpriseComplianceEngine",
    "EvidenceItem",
    "worst",
]

PASS = "pass"  # noqa: S105 - a status, not a password
FAIL = "fail"
WARN = "warn"
MANUAL = "manual"
NOT_APPLICABLE = "not-applicable"
#: Every status, most severe first (``--fail-on`` orders fail > warn > manual).
STATUSES = (FAIL, WARN, MANUAL, PASS, NOT_APPLICABLE)
_RANK = {FAIL: 3, WARN: 2, MANUAL: 1, PASS: 0, NOT_APPLICABLE: -1}
#: Share of a control's weight its status earns; not-applicable leaves the maximum.
_EARNED = {PASS: 1.0, WARN: 0.5, MANUAL: 0.0, FAIL: 0.0, NOT_APPLICABLE: 0.0}


def worst(statuses: Iterable[str], default: str = PASS) -> str:
    """The most severe of ``statuses`` (``default`` when there is none)."""
    found = list(statuses)
    return max(found, key=_RANK.__getitem__) if found else default


def at_or_above(status: str, threshold: str) -> bool:
    """True when ``status`` is as severe as ``threshold`` or more (fail > warn > manual)."""
    return _RANK[status] >= _RANK[threshold] >= _RANK[MANUAL]


@dataclass
class ComplianceRule:
    """A control to score (0.1.5): identifier, description, weight."""

    identifier: str
    description: str
    weight: float = 1.0


@dataclass(frozen=True)
class Citation:
    """A requirement a control gives evidence for: ``PCI DSS v4.0.1 3.7.4``."""

    framework: str
    ref: str
    #: A short paraphrase (never the standard's text at length).
    title: str

    @property
    def label(self) -> str:
        ref = f"§{self.ref}" if self.framework.startswith("NIST") else self.ref
        return f"{self.framework} {ref}"

    def to_dict(self) -> dict[str, str]:
        return {"framework": self.framework, "ref": self.ref, "title": self.title}


@dataclass(frozen=True)
class EvidenceItem:
    """One thing looked at: what it showed, and where (path, line, commit, key, date).

    Never a key or a token: keys are named by fingerprint.
    """

    text: str
    #: How this item judges on its own (a status), or ``None`` for plain context.
    status: str | None = None
    path: str | None = None
    line: int | None = None
    commit: str | None = None
    fingerprint: str | None = None
    date: str | None = None
    rule: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"text": self.text}
        for name in ("status", "path", "line", "commit", "fingerprint", "date", "rule"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        return data


@dataclass
class ComplianceControl:
    """One evaluated control (0.1.5: ``rule``, ``passed``, ``evidence`` text).

    ``status`` defaults from ``passed``; the evidence report fills ``items`` (what was
    looked at), ``citations`` and ``fix``; ``evidence`` is then a one-line summary.
    """

    rule: ComplianceRule
    passed: bool
    evidence: str | None = None
    status: str = ""
    items: list[EvidenceItem] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    fix: str | None = None
    #: Extra, control-specific data (the drafted architecture description, attestations).
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.status:
            self.status = PASS if self.passed else FAIL
        if self.status not in _RANK:
            raise ValueError(f"unknown control status {self.status!r}")

    @property
    def identifier(self) -> str:
        return self.rule.identifier

    @property
    def title(self) -> str:
        return self.rule.description

    @property
    def earned(self) -> float:
        """The weight this control's status earns."""
        return self.rule.weight * _EARNED[self.status]

    @property
    def counted(self) -> bool:
        """Whether it counts toward the maximum (not-applicable does not)."""
        return self.status != NOT_APPLICABLE

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.identifier,
            "title": self.title,
            "status": self.status,
            "summary": self.evidence,
            "evidence": [item.to_dict() for item in self.items],
            "citations": [c.to_dict() for c in self.citations],
            "fix": self.fix,
            "weight": self.rule.weight,
        }
        data.update(self.extra)
        return data


@dataclass
class ComplianceReport:
    """Controls and their score (0.1.5: ``controls``, ``score``, ``maximum``, ``percentage``).

    The evidence report also fills the fields after ``maximum`` (see :meth:`to_dict`).
    """

    controls: list[ComplianceControl]
    score: float
    maximum: float
    tool: dict[str, str] = field(default_factory=dict)
    generated: str | None = None
    repository: str | None = None
    policy: dict[str, Any] = field(default_factory=dict)
    keys: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    rotations: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    trend: dict[str, Any] | None = None

    @classmethod
    def from_controls(cls, controls: list[ComplianceControl], **fields: Any) -> ComplianceReport:
        """A report scoring ``controls`` by status (pass: the weight, warn: half)."""
        score = sum(c.earned for c in controls)
        maximum = sum(c.rule.weight for c in controls if c.counted)
        return cls(controls=controls, score=score, maximum=maximum, **fields)

    @property
    def percentage(self) -> float:
        """``score`` of ``maximum`` in percent, rounded to 2 decimals (0.0 when empty)."""
        return 0.0 if self.maximum == 0 else round(self.score / self.maximum * 100, 2)

    def counts(self) -> dict[str, int]:
        """Controls by status (every status present, 0 when none)."""
        out = dict.fromkeys(STATUSES, 0)
        for c in self.controls:
            out[c.status] += 1
        return out

    def by_severity(self) -> list[ComplianceControl]:
        """The controls, most severe status first (the table order of the HTML and
        Markdown reports); the mapping's order within a status."""
        return sorted(self.controls, key=lambda c: -_RANK[c.status])

    def control(self, identifier: str) -> ComplianceControl | None:
        return next((c for c in self.controls if c.identifier == identifier), None)

    @property
    def status(self) -> str:
        """The most severe status of any control."""
        return worst(c.status for c in self.controls)

    def exit_code(self, fail_on: str = FAIL) -> int:
        """1 when a control is at or above ``fail_on`` (fail > warn > manual), else 0."""
        if fail_on not in (FAIL, WARN, MANUAL):
            raise ValueError(f"--fail-on: one of fail, warn, manual (not {fail_on!r})")
        return int(any(at_or_above(c.status, fail_on) for c in self.controls))

    def summary(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "counts": self.counts(),
            "score": round(self.score, 2),
            "maximum": round(self.maximum, 2),
            "percentage": self.percentage,
        }

    def to_dict(self) -> dict[str, Any]:
        """The JSON report (contract: ``version``, ``tool``, ``policy``, ``keys``,
        ``controls``, ``summary``; the rest extends it). See report.schema.json."""
        data: dict[str, Any] = {
            "version": 1,
            "tool": dict(self.tool),
            "generated": self.generated,
            "repository": self.repository,
            "policy": self.policy,
            "keys": self.keys,
            "controls": [c.to_dict() for c in self.controls],
            "findings": self.findings,
            "rotations": self.rotations,
            "notes": list(self.notes),
            "summary": self.summary(),
        }
        if self.trend is not None:
            data["trend"] = self.trend
        return data


class EnterpriseComplianceEngine:
    """0.1.5's scorer: each rule passes when its identifier is in ``passed_ids``."""

    def __init__(self, rules: Iterable[ComplianceRule]) -> None:
        self.rules = list(rules)

    def evaluate(self, passed_ids: Iterable[str]) -> ComplianceReport:
        """One control per rule; ``score`` sums the weights of the passed ones."""
        passed = set(passed_ids)
        controls = [ComplianceControl(rule=r, passed=r.identifier in passed) for r in self.rules]
        score = sum(r.weight for r in self.rules if r.identifier in passed)
        maximum = sum(r.weight for r in self.rules)
        return ComplianceReport(controls=controls, score=score, maximum=maximum)
