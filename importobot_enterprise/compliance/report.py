"""Building the evidence report, comparing it with an earlier one, and its JSON form."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from importobot.exceptions import ConfigError
from importobot_enterprise.compliance.model import (
    FAIL,
    STATUSES,
    ComplianceReport,
    at_or_above,
)

__all__ = ["MAX_FINDINGS", "build_report", "compare", "load_previous", "to_json"]

#: Findings listed in a report (the counts in the controls stay exact).
MAX_FINDINGS = 1000
_PREVIOUS_MAX_BYTES = 32 * 1024 * 1024


def _finding_dict(f: Any) -> dict[str, Any]:
    from importobot_enterprise.compliance.evidence import line_text, safe_text

    data: dict[str, Any] = f.to_dict()
    for name in ("path", "variable", "source", "note"):
        if isinstance(data.get(name), str):
            data[name] = safe_text(data[name])
    for name in ("message",):  # importobot's own words: they never hold a key
        if isinstance(data.get(name), str):
            data[name] = line_text(data[name])
    return data


def build_report(
    path: str | None = None,
    *,
    config: str | None = None,
    policy_file: str | None = None,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
    history: bool = True,
) -> ComplianceReport:
    """The evidence report of the project holding ``path`` (default: the working directory).

    Raises :class:`~importobot.exceptions.ConfigError` (configuration, policy, registry,
    baseline or attestation file invalid), :class:`~importobot.git.GitError` and
    :class:`~importobot.exceptions.KeyringUnavailableError`: all exit 2 on the CLI.
    """
    from importobot._version import __version__
    from importobot.keys.age import utc_now
    from importobot.project import load_project
    from importobot_enterprise.compliance.controls import judge, key_table
    from importobot_enterprise.compliance.evidence import gather
    from importobot_enterprise.compliance.policy import load_policy

    moment = now or utc_now()
    project = load_project(path, config)
    policy = load_policy(project, policy_file)
    ev = gather(project, policy, env=env, now=moment, history=history)
    controls = judge(ev)
    findings = list(ev.status.findings) + ev.compromised + [s.finding for s in ev.stale]
    findings += ev.scan_findings
    notes = list(ev.notes)
    if len(findings) > MAX_FINDINGS:
        notes.append(f"{len(findings)} findings: the first {MAX_FINDINGS} are listed")
    rotations = [r.to_json() for r in (ev.rotation_log.records if ev.rotation_log else [])]
    from importobot_enterprise.compliance.evidence import line_text, safe_text

    for r in rotations:
        r["store"] = safe_text(r["store"])
        r.pop("version", None)
    policy_dict = policy.to_dict()
    policy_dict["attestations"] = project.rel(policy.attestations)
    return ComplianceReport.from_controls(
        controls,
        tool={"name": "importobot", "version": __version__},
        generated=moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        repository=ev.repository or os.path.basename(project.root) or None,
        policy=policy_dict,
        keys=key_table(ev),
        findings=[_finding_dict(f) for f in findings[:MAX_FINDINGS]],
        rotations=rotations[-200:],
        notes=[line_text(n) for n in notes],
    )


def to_json(report: ComplianceReport) -> str:
    """The JSON report text (one object, sorted as built, a newline at the end)."""
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


def load_previous(path: str) -> dict[str, Any]:
    """An earlier JSON report (``--previous``): a ConfigError (exit 2) when unreadable."""
    from importobot import fsio

    try:
        data = fsio.read_operator_file(path, _PREVIOUS_MAX_BYTES)
    except fsio.FileRefused as exc:
        raise ConfigError(f"--previous: {exc}") from None
    try:
        document = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ConfigError(f"--previous {path}: not a JSON report") from None
    controls = document.get("controls") if isinstance(document, dict) else None
    if (
        not isinstance(document, dict)
        or document.get("version") != 1
        or not isinstance(controls, list)
        or not all(
            isinstance(c, dict) and isinstance(c.get("id"), str) and c.get("status") in STATUSES
            for c in controls
        )
    ):
        raise ConfigError(f"--previous {path}: not a version 1 compliance report")
    return document


def compare(report: ComplianceReport, previous: Mapping[str, Any]) -> dict[str, Any]:
    """What changed since ``previous``: new failures, fixed controls, every status change."""
    before = {c["id"]: c["status"] for c in previous.get("controls", [])}
    changed = []
    new_failures = []
    fixed = []
    for c in report.controls:
        old = before.get(c.identifier)
        if old is None or old == c.status:
            continue
        changed.append({"id": c.identifier, "from": old, "to": c.status})
        if c.status == FAIL:
            new_failures.append(c.identifier)
        elif at_or_above(old, FAIL) or (old in ("warn", "manual") and c.status == "pass"):
            fixed.append(c.identifier)
    summary = previous.get("summary") if isinstance(previous.get("summary"), dict) else {}
    percentage = summary.get("percentage") if isinstance(summary, dict) else None
    generated = previous.get("generated")
    return {
        "previous_generated": generated if isinstance(generated, str) else None,
        "previous_percentage": percentage if isinstance(percentage, int | float) else None,
        "new_failures": new_failures,
        "fixed": fixed,
        "changed": changed,
    }
