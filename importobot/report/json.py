"""JSON report: ``{"version": 1, "tool": {...}, "findings": [...], "summary": {...}}``."""

from __future__ import annotations

import json

from importobot.scan.finding import ScanResult

__all__ = ["JSON_VERSION", "render_json"]

JSON_VERSION = 1


def render_json(result: ScanResult, *, tool_version: str, show_suppressed: bool = False) -> str:
    """The DESIGN "Command line" JSON object (suppressed findings only when asked)."""
    findings = [f for f in result.findings if show_suppressed or f.suppressed is None]
    doc = {
        "version": JSON_VERSION,
        "tool": {"name": "importobot", "version": tool_version},
        "findings": [f.to_dict() for f in findings],
        "summary": result.summary(),
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
