"""SARIF 2.1.0 report (D14): code-point columns, fingerprints in ``partialFingerprints``."""

from __future__ import annotations

import json
from urllib.parse import quote

from importobot.rules import RULES
from importobot.scan.finding import Finding, ScanResult

__all__ = [
    "RULE_ORDER",
    "SARIF_SCHEMA",
    "render_sarif",
    "sarif_log",
    "sarif_result",
    "sarif_rules",
]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
#: The rules in a run's ``rules`` array, the order a result's ``ruleIndex`` counts in.
RULE_ORDER = sorted(RULES)
_FALLBACK_LOCATION = ".importobot-keys.toml"


def _location(f: Finding) -> dict[str, object]:
    # Location-less findings (key set-up) attach to the registry/config file, line 1.
    uri = quote(f.path or _FALLBACK_LOCATION, safe="/")
    region: dict[str, int] = {"startLine": f.line or 1}
    if f.column is not None:
        region["startColumn"] = f.column
    physical: dict[str, object] = {"artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"}}
    if f.line is not None or f.path is None:
        physical["region"] = region
    return {"physicalLocation": physical}


def sarif_rules() -> list[dict[str, object]]:
    """Every rule code's metadata, in :data:`RULE_ORDER` (a result's ``ruleIndex``)."""
    return [
        {
            "id": code,
            "name": RULES[code].name,
            "shortDescription": {"text": RULES[code].summary},
            # The rule's page in the repository (tests check each resolves to a file).
            "helpUri": RULES[code].help_uri,
            "defaultConfiguration": {"level": RULES[code].severity},
        }
        for code in RULE_ORDER
    ]


def sarif_result(
    rule: str, severity: str, message: str, locations: list[dict[str, object]]
) -> dict[str, object]:
    """A result's common part: rule, level, message, locations (and ``ruleIndex``)."""
    item: dict[str, object] = {
        "ruleId": rule,
        "level": "error" if severity == "error" else "warning",
        "message": {"text": message},
        "locations": locations,
    }
    if rule in RULES:
        item["ruleIndex"] = RULE_ORDER.index(rule)
    return item


def sarif_log(
    results: list[dict[str, object]],
    *,
    tool_version: str,
    base_ids: dict[str, object] | None = None,
) -> str:
    """The SARIF 2.1.0 document of one importobot run holding ``results`` (every rule listed;
    ``base_ids``: the run's ``originalUriBaseIds``)."""
    run: dict[str, object] = {
        "tool": {
            "driver": {
                "name": "importobot",
                "version": tool_version,
                "informationUri": "https://github.com/importobot/importobot",
                "rules": sarif_rules(),
            }
        },
    }
    if base_ids is not None:
        run["originalUriBaseIds"] = base_ids
    run["columnKind"] = "unicodeCodePoints"
    run["results"] = results
    doc = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def render_sarif(result: ScanResult, *, tool_version: str, show_suppressed: bool = True) -> str:
    """One SARIF run; suppressed findings carry ``suppressions`` (SARIF consumers hide them)."""
    results: list[dict[str, object]] = []
    for f in result.findings:
        if f.suppressed is not None and not show_suppressed:
            continue
        item = sarif_result(f.rule, f.severity, f.message, [_location(f)])
        if f.fingerprint:
            item["partialFingerprints"] = {"importobotKeyFingerprint/v1": f.fingerprint}
        props: dict[str, object] = {}
        for key in ("variable", "key_type", "key_bytes", "commit", "source", "note"):
            value = getattr(f, key)
            if value is not None:
                props[key] = value
        if props:
            item["properties"] = props
        if f.suppressed is not None:
            item["suppressions"] = [
                {"kind": "inSource" if f.suppressed == "inline" else "external"}
            ]
        results.append(item)
    return sarif_log(results, tool_version=tool_version)
