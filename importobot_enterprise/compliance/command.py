"""``importobot compliance report``: the whole command behind its click wrapper.

Exit codes: 0 when no control is at or above ``--fail-on`` (fail > warn > manual; default
fail), 1 otherwise, 2 for usage, configuration or environment errors (an
:class:`~importobot.exceptions.ImportobotError` the CLI prints as one line).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from importobot.commands import write_output
from importobot.exceptions import ConfigError
from importobot_enterprise.compliance.model import ComplianceReport

__all__ = ["FORMATS", "ReportRequest", "render", "run_report"]

FORMATS = ("json", "markdown", "html")


@dataclass(frozen=True)
class ReportRequest:
    """The options of one ``compliance report`` run."""

    path: str | None = None
    fmt: str = "markdown"
    output: str | None = None
    policy: str | None = None
    fail_on: str = "fail"
    previous: str | None = None
    config: str | None = None
    history: bool = True


def render(report: ComplianceReport, fmt: str) -> str:
    """The report in ``fmt`` (json, markdown or html)."""
    if fmt == "json":
        from importobot_enterprise.compliance.report import to_json

        return to_json(report)
    if fmt == "markdown":
        from importobot_enterprise.compliance.render_markdown import render_markdown

        return render_markdown(report)
    if fmt == "html":
        from importobot_enterprise.compliance.render_html import render_html

        return render_html(report)
    raise ConfigError(f"--format: one of {', '.join(FORMATS)} (not {fmt!r})")


def _emit(report: ComplianceReport, root: str, settings: object, fmt: str) -> None:
    """The ``compliance.report`` event (D23) with the counts, when a sink is configured."""
    from importobot.events import emit_event

    counts = report.counts()
    severity = "error" if counts["fail"] else "warning" if counts["warn"] else "info"
    emit_event(
        "compliance.report",
        root=root,
        settings=settings,  # type: ignore[arg-type]
        severity=severity,
        repository=report.repository,
        counts=counts,
        payload={
            "percentage": report.percentage,
            "score": round(report.score, 2),
            "maximum": round(report.maximum, 2),
            "format": fmt,
        },
    )


def run_report(
    req: ReportRequest,
    *,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> int:
    """Build, render and write one report; emit the event; return the exit code."""
    from importobot.project import load_project
    from importobot_enterprise.compliance.report import build_report, compare, load_previous

    if req.fmt not in FORMATS:
        raise ConfigError(f"--format: one of {', '.join(FORMATS)}")
    if req.fail_on not in ("fail", "warn", "manual"):
        raise ConfigError("--fail-on: one of fail, warn, manual")
    previous = load_previous(req.previous) if req.previous else None
    start = req.path or os.getcwd()
    report = build_report(
        start,
        config=req.config,
        policy_file=req.policy,
        env=env,
        now=now,
        history=req.history,
    )
    if previous is not None:
        trend = compare(report, previous)
        if trend["previous_generated"] is not None:
            from importobot_enterprise.compliance.evidence import safe_text

            trend["previous_generated"] = safe_text(trend["previous_generated"])[:40]
        report.trend = trend
    write_output(render(report, req.fmt), req.output)
    project = load_project(start, req.config)
    _emit(report, project.root, project.settings, req.fmt)
    return report.exit_code(req.fail_on)
