"""SARIF 2.1.0 report (D14): code-point columns, fingerprints in ``partialFingerprints``."""

from __future__ import annotations

import json
from urllib.parse import quote

from importobot.rules import RULES
from importobot.scan.finding import Finding, ScanResult

__all__ = ["SARIF_SCHEMA", "render_sarif"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
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


def render_sarif(result: ScanResult, *, tool_version: str, show_suppressed: bool = True) -> str:
    """One SARIF run; suppressed findings carry ``suppressions`` (SARIF consumers hide them)."""
    codes = sorted(RULES)
    rules = [
        {
            "id": code,
            "name": RULES[code].name,
            "shortDescription": {"text": RULES[code].summary},
            # The rule's page in the repository (tests check each resolves to a file).
            "helpUri": RULES[code].help_uri,
            "defaultConfiguration": {"level": RULES[code].severity},
        }
        for code in codes
    ]
    results: list[dict[str, object]] = []
    for f in result.findings:
        if f.suppressed is not None and not show_suppressed:
            continue
        item: dict[str, object] = {
            "ruleId": f.rule,
            "level": "error" if f.severity == "error" else "warning",
            "message": {"text": f.message},
            "locations": [_location(f)],
        }
        if f.rule in RULES:
            item["ruleIndex"] = codes.index(f.rule)
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
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "importobot",
                        "version": tool_version,
                        "informationUri": "https://github.com/importobot/importobot",
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
