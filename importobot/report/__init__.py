"""Report formatters: text, JSON, SARIF 2.1.0 and GitHub workflow annotations.

Each takes a :class:`~importobot.scan.finding.ScanResult` and returns text. They import
only :mod:`importobot.scan.finding` and never see a key value.
"""

from __future__ import annotations

from importobot.scan.finding import ScanResult

__all__ = ["FORMATS", "render"]

FORMATS = ("text", "json", "sarif", "github")


def render(
    fmt: str,
    result: ScanResult,
    *,
    show_suppressed: bool = False,
    color: bool = False,
    tool_version: str = "0",
) -> str:
    """Render ``result`` in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "json":
        from importobot.report.json import render_json

        return render_json(result, tool_version=tool_version, show_suppressed=show_suppressed)
    if fmt == "sarif":
        from importobot.report.sarif import render_sarif

        return render_sarif(result, tool_version=tool_version, show_suppressed=show_suppressed)
    if fmt == "github":
        from importobot.report.github import render_github

        return render_github(result)
    from importobot.report.text import render_text

    return render_text(result, show_suppressed=show_suppressed, color=color)
