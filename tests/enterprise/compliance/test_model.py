"""importobot 0.1.5's compliance names keep working; the evidence report has the same type."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from importobot_enterprise.compliance.catalog import catalog, citation
from importobot_enterprise.compliance.model import (
    ComplianceControl,
    ComplianceReport,
    ComplianceRule,
    EnterpriseComplianceEngine,
)

ROOT = Path(__file__).resolve().parents[3]


def test_the_0_1_5_call() -> None:
    from importobot_enterprise import ComplianceRule, EnterpriseComplianceEngine

    report = EnterpriseComplianceEngine(
        [
            ComplianceRule(identifier="A", description="a", weight=2.0),
            ComplianceRule(identifier="B", description="b", weight=1.0),
        ]
    ).evaluate({"A"})
    assert report.score == 2.0
    assert report.maximum == 3.0
    assert report.percentage == 66.67
    assert len(report.controls) == 2
    a, b = report.controls
    assert (a.rule.identifier, a.passed, a.status) == ("A", True, "pass")
    assert (b.rule.identifier, b.passed, b.status) == ("B", False, "fail")
    assert a.evidence is None


def test_0_1_5_shapes() -> None:
    rule = ComplianceRule("X", "x")
    assert rule.weight == 1.0
    control = ComplianceControl(rule, True, "looked at it")
    assert control.evidence == "looked at it" and control.status == "pass"
    report = ComplianceReport(controls=[control], score=1.0, maximum=1.0)
    assert report.percentage == 100.0
    assert ComplianceReport(controls=[], score=0.0, maximum=0.0).percentage == 0.0
    assert EnterpriseComplianceEngine([]).evaluate(set()).percentage == 0.0
    # any iterable of ids, as before (0.1.5 took a set)
    assert EnterpriseComplianceEngine([rule]).evaluate(["X"]).score == 1.0


def test_statuses_score_and_fail_on() -> None:
    rules = [ComplianceRule(s, s, 2.0) for s in ("p", "w", "m", "f", "n")]
    statuses = ["pass", "warn", "manual", "fail", "not-applicable"]
    controls = [
        ComplianceControl(r, s == "pass", status=s) for r, s in zip(rules, statuses, strict=True)
    ]
    report = ComplianceReport.from_controls(controls)
    assert report.score == 3.0  # pass: the weight, warn: half
    assert report.maximum == 8.0  # not-applicable leaves the maximum
    assert report.percentage == 37.5
    assert report.status == "fail"
    assert report.exit_code("fail") == 1
    only_warn = ComplianceReport.from_controls([controls[1], controls[2], controls[0]])
    assert only_warn.exit_code("fail") == 0
    assert only_warn.exit_code("warn") == 1
    only_manual = ComplianceReport.from_controls([controls[2], controls[4]])
    assert only_manual.exit_code("warn") == 0 and only_manual.exit_code("manual") == 1
    with pytest.raises(ValueError):
        report.exit_code("pass")
    with pytest.raises(ValueError):
        ComplianceControl(rules[0], True, status="great")


def test_the_mapping_covers_every_required_reference() -> None:
    refs = {ref for spec in catalog() for ref in spec.requirements}
    pci = {"3.6.1", "3.6.1.1", "3.6.1.2", "3.6.1.3", "3.6.1.4"} | {f"3.7.{n}" for n in range(1, 9)}
    assert {f"pci:{r}" for r in pci} <= refs
    assert {"nist:5.3", "nist:8.2"} <= refs
    assert all(spec.citations for spec in catalog())
    assert {spec.kind for spec in catalog()} == {"evidence", "manual"}
    manual = {spec.id for spec in catalog() if spec.kind == "manual"}
    assert {"split-knowledge", "custodians", "crypto-architecture"} <= manual


def test_pci_3_7_4_names_no_number_of_days() -> None:
    """3.7.4 asks for a *defined* cryptoperiod; importobot never claims a PCI number."""
    text = citation("pci:3.7.4").title
    assert "defined cryptoperiod" in text and "no number of days" in text
    assert not re.search(r"\d", text)
    data = json.loads((ROOT / "importobot_enterprise/compliance/controls.json").read_text())
    for ref, title in data["requirements"].items():
        if ref.startswith("pci:"):
            assert not re.search(r"\b\d+\s*(days?|months?|years?)\b", title), ref


def _doc_table() -> list[list[str]]:
    text = (ROOT / "docs" / "compliance.md").read_text()
    start = text.index("<!-- mapping-table -->")
    end = text.index("<!-- /mapping-table -->")
    rows = [line for line in text[start:end].splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows[1:]]


def test_the_docs_table_is_the_data_file() -> None:
    """docs/compliance.md shows the same mapping as controls.json (one source of truth)."""
    expected = []
    for spec in catalog():
        pci = ", ".join(c.ref for c in spec.citations if c.framework.startswith("PCI"))
        nist = ", ".join("§" + c.ref for c in spec.citations if c.framework.startswith("NIST"))
        expected.append([f"`{spec.id}`", spec.title, spec.kind, pci or "—", nist or "—"])
    assert _doc_table() == expected
