"""SARIF rule metadata comes from the rules registry, and every helpUri is a page we ship."""

from __future__ import annotations

import json
from pathlib import Path

from importobot._version import DOCS_URL
from importobot.report import render
from importobot.rules import RULES
from importobot.scan.finding import Finding, ScanResult

ROOT = Path(__file__).resolve().parent.parent.parent


def _driver_rules(result: ScanResult) -> list[dict[str, object]]:
    doc = json.loads(render("sarif", result, show_suppressed=True, tool_version="1.0"))
    rules: list[dict[str, object]] = doc["runs"][0]["tool"]["driver"]["rules"]
    return rules


def test_every_help_uri_resolves_to_a_file_in_the_repository() -> None:
    rules = _driver_rules(ScanResult())
    assert [r["id"] for r in rules] == sorted(RULES)
    for rule in rules:
        uri = rule["helpUri"]
        assert isinstance(uri, str) and uri.startswith(f"{DOCS_URL}/"), uri
        path = ROOT / "docs" / uri.removeprefix(f"{DOCS_URL}/")
        assert path.is_file(), f"{rule['id']}: helpUri {uri} names no file in the repository"
        assert path.resolve().is_relative_to(ROOT / "docs" / "rules")


def test_rule_metadata_is_the_registry() -> None:
    for rule in _driver_rules(ScanResult()):
        info = RULES[str(rule["id"])]
        assert rule["name"] == info.name
        assert rule["shortDescription"] == {"text": info.summary}
        assert rule["defaultConfiguration"] == {"level": info.severity}


def test_rule_index_points_at_the_registry_entry() -> None:
    result = ScanResult()
    result.findings.append(
        Finding("IOB305", "warning", None, None, None, None, None, None, None, "retired key")
    )
    doc = json.loads(render("sarif", result, show_suppressed=True, tool_version="1.0"))
    run = doc["runs"][0]
    (item,) = run["results"]
    assert run["tool"]["driver"]["rules"][item["ruleIndex"]]["id"] == "IOB305"
