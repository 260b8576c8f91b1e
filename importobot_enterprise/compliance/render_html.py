"""The HTML report: one self-contained page an auditor can open anywhere.

No external request (inline CSS and SVG, no image, font or link to fetch), no script,
and a Content-Security-Policy meta tag of ``default-src 'none'`` that allows only the
page's own stylesheet by its SHA-256 hash. Every string is escaped (``html.escape`` with
quotes); strings from the repository were made one-line and key-free before
(:func:`importobot_enterprise.compliance.evidence.safe_text`).

The page: summary (controls by status, the score), the key-age timeline
(``<svg id="key-age-timeline">``, right below the summary, as the contents list says), the
keys, the controls table with evidence and citations, details per control, the findings,
the changes since a previous report, and notes.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timezone
from html import escape
from typing import Any

from importobot_enterprise.compliance.model import STATUSES, ComplianceReport
from importobot_enterprise.compliance.timeline import TIMELINE_ID, render_timeline

__all__ = ["CSS", "csp", "render_html"]

_STATUS_LABEL = {
    "pass": "pass",
    "fail": "fail",
    "warn": "warn",
    "manual": "manual",
    "not-applicable": "n/a",
}

CSS = """
body { margin: 0; background: #ffffff; color: #1f2933;
  font: 14px/1.45 "DejaVu Sans", Arial, sans-serif; }
main { max-width: 1040px; margin: 0 auto; padding: 16px 20px 40px; }
h1 { font-size: 22px; margin: 4px 0 2px; }
h2 { font-size: 18px; margin: 22px 0 8px; border-bottom: 1px solid #d5dbe5; }
h3 { font-size: 15px; margin: 16px 0 4px; }
.meta { color: #52606d; margin: 0 0 10px; }
nav ol { margin: 4px 0 8px; padding-left: 20px; columns: 2; }
.summary { display: flex; gap: 10px; flex-wrap: wrap; align-items: stretch; }
.count { min-width: 92px; padding: 8px 10px; border-radius: 6px; color: #ffffff; }
.count b { display: block; font-size: 22px; }
.score { flex: 1; min-width: 220px; padding: 8px 10px; border: 1px solid #d5dbe5;
  border-radius: 6px; }
.s-pass { background: #1b7f3b; } .s-fail { background: #b71c1c; }
.s-warn { background: #a85d00; } .s-manual { background: #4e5fb8; }
.s-not-applicable { background: #6b7280; }
.chip { display: inline-block; padding: 0 7px; border-radius: 9px; color: #ffffff;
  font-size: 12px; font-weight: bold; white-space: nowrap; }
figure { margin: 8px 0; }
figcaption { color: #52606d; font-size: 12px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; }
th, td { border: 1px solid #d5dbe5; padding: 4px 6px; text-align: left;
  vertical-align: top; }
th { background: #eef2f7; }
td.evidence ul, div.detail ul { margin: 0; padding-left: 16px; }
code, .fp { font-family: "DejaVu Sans Mono", monospace; font-size: 12px;
  overflow-wrap: anywhere; }
.item-fail { color: #b71c1c; } .item-warn { color: #8a4b00; }
.fix { background: #fff8e1; border-left: 4px solid #e0a100; padding: 4px 8px; }
.draft { background: #eef4fb; border-left: 4px solid #6f95d2; padding: 4px 8px; }
.small { font-size: 12px; color: #52606d; }
"""


def csp() -> str:
    """The page's Content-Security-Policy: nothing but its own stylesheet."""
    digest = base64.b64encode(hashlib.sha256(CSS.encode("utf-8")).digest()).decode()
    return f"default-src 'none'; style-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"


def e(value: object) -> str:
    """Escaped text (quotes too, so it is safe in attributes)."""
    return escape("" if value is None else str(value), quote=True)


def _chip(status: str) -> str:
    return f'<span class="chip s-{e(status)}">{e(_STATUS_LABEL.get(status, status))}</span>'


def _cite(c: dict[str, str]) -> str:
    ref = f"§{c['ref']}" if c["framework"].startswith("NIST") else c["ref"]
    return f"<li>{e(c['framework'])} {e(ref)} — {e(c['title'])}</li>"


def _item(item: dict[str, Any]) -> str:
    status = item.get("status")
    cls = f' class="item-{e(status)}"' if status in ("fail", "warn") else ""
    where = []
    if item.get("path"):
        place = item["path"] + (f":{item['line']}" if item.get("line") else "")
        where.append(f"<code>{e(place)}</code>")
    if item.get("commit"):
        where.append(f"commit <code>{e(str(item['commit'])[:12])}</code>")
    if item.get("rule"):
        where.append(e(item["rule"]))
    suffix = f' <span class="small">({", ".join(where)})</span>' if where else ""
    mark = f"{e(_STATUS_LABEL[status])}: " if status in _STATUS_LABEL else ""
    return f"<li{cls}>{mark}{e(item['text'])}{suffix}</li>"


def _keys(keys: list[dict[str, Any]]) -> str:
    if not keys:
        return "<p>No key is configured or registered.</p>"
    rows = []
    for k in keys:
        rows.append(
            "<tr>"
            f'<td class="fp">{e(k.get("fingerprint") or "(invalid)")}</td>'
            f"<td>{e(k.get('role'))}</td>"
            f"<td><code>{e(k.get('source') or '')}</code></td>"
            f"<td>{e(k.get('storage') or '')}</td>"
            f"<td>{e((k.get('created') or '')[:10])}</td>"
            f"<td>{e(k.get('age_days') if k.get('age_days') is not None else '')}</td>"
            f"<td>{e(k.get('period') or '')} {e(k.get('max') or '')}</td>"
            f"<td>{e((k.get('due') or '')[:10])}</td>"
            f"<td>{e((k.get('retired') or '')[:10])}</td>"
            f"<td>{e(k.get('state'))}</td>"
            "</tr>"
        )
    head = (
        "<tr><th>Key</th><th>Role</th><th>Source</th><th>Storage</th><th>Created</th>"
        "<th>Age (days)</th><th>Period</th><th>Due</th><th>Retired</th><th>State</th></tr>"
    )
    return f'<table id="keys-table">{head}{"".join(rows)}</table>'


def _controls_table(controls: list[dict[str, Any]]) -> str:
    rows = []
    for c in controls:
        items = "".join(_item(i) for i in c["evidence"][:6])
        more = len(c["evidence"]) - 6
        if more > 0:
            items += f'<li class="small">… {more} more in the details below</li>'
        cites = "".join(_cite(x) for x in c["citations"])
        rows.append(
            f'<tr id="row-{e(c["id"])}"><td><a href="#control-{e(c["id"])}">{e(c["title"])}</a>'
            f"<br><code>{e(c['id'])}</code></td><td>{_chip(c['status'])}</td>"
            f'<td class="evidence"><b>{e(c.get("summary") or "")}</b><ul>{items}</ul></td>'
            f'<td><ul class="small">{cites}</ul></td></tr>'
        )
    head = "<tr><th>Control</th><th>Status</th><th>Evidence</th><th>Citations</th></tr>"
    return f'<table id="controls-table">{head}{"".join(rows)}</table>'


def _details(c: dict[str, Any]) -> str:
    parts = [
        f'<div class="detail" id="control-{e(c["id"])}">',
        f"<h3>{e(c['title'])} {_chip(c['status'])}</h3>",
        f"<p>{e(c.get('summary') or '')}</p>",
        "<ul>" + "".join(_item(i) for i in c["evidence"]) + "</ul>",
    ]
    if c.get("draft"):
        lines = "".join(f"<li>{e(line)}</li>" for line in c["draft"])
        parts.append(f'<div class="draft"><b>Draft description</b><ul>{lines}</ul></div>')
    if c.get("fix"):
        parts.append(f'<p class="fix"><b>Fix:</b> {e(c["fix"])}</p>')
    cites = "".join(_cite(x) for x in c["citations"])
    parts.append(f'<ul class="small">{cites}</ul></div>')
    return "".join(parts)


def _findings(findings: list[dict[str, Any]]) -> str:
    if not findings:
        return "<p>No findings.</p>"
    rows = []
    for f in findings:
        place = (f.get("path") or "") + (f":{f['line']}" if f.get("line") else "")
        state = f" ({e(f['suppressed'])})" if f.get("suppressed") else ""
        rows.append(
            "<tr>"
            f"<td>{e(f['rule'])}{state}</td><td>{e(f['severity'])}</td>"
            f"<td><code>{e(place)}</code></td>"
            f"<td><code>{e((f.get('commit') or '')[:12])}</code></td>"
            f'<td class="fp">{e(f.get("fingerprint") or "")}</td>'
            f"<td>{e(f.get('variable') or '')}</td><td>{e(f['message'])}</td>"
            "</tr>"
        )
    head = (
        "<tr><th>Rule</th><th>Severity</th><th>Where</th><th>Commit</th><th>Key</th>"
        "<th>Variable</th><th>Message</th></tr>"
    )
    return f'<table id="findings-table">{head}{"".join(rows)}</table>'


def _trend(trend: dict[str, Any] | None) -> str:
    if trend is None:
        return ""
    since = trend.get("previous_generated") or "the previous report"
    rows = "".join(
        f"<tr><td><code>{e(c['id'])}</code></td><td>{_chip(c['from'])}</td>"
        f"<td>{_chip(c['to'])}</td></tr>"
        for c in trend["changed"]
    )
    body = (
        f"<table><tr><th>Control</th><th>Was</th><th>Now</th></tr>{rows}</table>"
        if rows
        else "<p>No control changed status.</p>"
    )
    new = ", ".join(trend["new_failures"]) or "none"
    fixed = ", ".join(trend["fixed"]) or "none"
    return (
        f'<section id="trend"><h2>Changes since {e(since)}</h2>'
        f"<p>New failures: {e(new)}. Fixed: {e(fixed)}.</p>{body}</section>"
    )


def render_html(report: ComplianceReport, now: datetime | None = None) -> str:
    """The whole page (UTF-8 text)."""
    data = report.to_dict()
    rank = {c.identifier: i for i, c in enumerate(report.by_severity())}
    ordered = sorted(data["controls"], key=lambda c: rank[c["id"]])
    summary = data["summary"]
    counts = summary["counts"]
    moment = now or datetime.now(timezone.utc)
    if data.get("generated"):
        moment = datetime.strptime(data["generated"], "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=timezone.utc
        )
    policy = data["policy"]
    tool = data["tool"]
    boxes = "".join(
        f'<div class="count s-{e(s)}"><b>{counts[s]}</b>{e(_STATUS_LABEL[s])}</div>'
        for s in STATUSES
    )
    pct = float(summary["percentage"])
    pol_text = (
        f"originator-usage {policy['originator_usage']}"
        + (" (not defined: importobot's default)" if not policy["originator_usage_defined"] else "")
        + f", warning from {policy['warn']}; recipient-usage {policy['recipient_usage'] or '—'}; "
        f"KEK {policy['kek'] or '—'}; required storage {policy['required_storage']}"
        + ("" if policy["required_storage_defined"] else " (default)")
        + f"; source: {policy['source']}"
    )
    notes = "".join(f"<li>{e(n)}</li>" for n in data["notes"])
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{e(csp())}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>importobot compliance report — {e(data.get('repository') or '')}</title>",
        f"<style>{CSS}</style></head><body><main>",
        f"<h1>Key-management compliance report: {e(data.get('repository') or '')}</h1>",
        f'<p class="meta">Generated {e(data.get("generated"))} by {e(tool.get("name"))} '
        f"{e(tool.get('version'))}. Result: {_chip(summary['status'])}</p>",
        '<nav aria-label="Contents"><ol>'
        '<li><a href="#summary">Summary</a></li>'
        f'<li><a href="#{TIMELINE_ID}">Key-age timeline</a> (figure 1, right below the '
        "summary)</li>"
        '<li><a href="#keys">Keys</a></li><li><a href="#controls">Controls</a></li>'
        '<li><a href="#details">Evidence per control</a></li>'
        '<li><a href="#findings">Findings</a></li></ol></nav>',
        '<section id="summary"><h2>Summary</h2><div class="summary">',
        boxes,
        f'<div class="score"><b>Score {summary["score"]:g} of {summary["maximum"]:g} '
        f"({pct:.2f} %)</b>"
        f'<div><svg id="score-meter" width="300" height="14" role="img" '
        f'aria-label="{pct:.2f} %"><rect width="300" height="14" rx="7" fill="#e4e7eb"/>'
        f'<rect width="{round(3 * max(0.0, min(100.0, pct)))}" height="14" rx="7" '
        'fill="#3d5afe"/></svg></div>'
        f'<p class="small">Policy: {e(pol_text)}</p></div></div></section>',
        '<section id="timeline"><h2>Key-age timeline</h2><figure>',
        render_timeline(data["keys"], moment),
        "<figcaption>Figure 1. Each key from its creation to its retirement or now; the "
        "dashed amber line is the warning age, the purple line the end of the key's "
        "period under the policy, triangles mark rotations to the key.</figcaption>",
        "</figure></section>",
        f'<section id="keys"><h2>Keys</h2>{_keys(data["keys"])}</section>',
        f'<section id="controls"><h2>Controls</h2>{_controls_table(ordered)}</section>',
        '<section id="details"><h2>Evidence per control</h2>',
        "".join(_details(c) for c in data["controls"]),
        "</section>",
        f'<section id="findings"><h2>Findings ({len(data["findings"])})</h2>'
        f"{_findings(data['findings'])}</section>",
        _trend(data.get("trend")),
        f'<section id="notes"><h2>Notes</h2><ul>{notes}</ul>'
        '<p class="small">Citations paraphrase PCI DSS v4.0.1 and NIST SP 800-57 Part 1 '
        "Rev. 5; read the standards for their text. The cryptoperiods are the policy's: PCI "
        "DSS 3.7.4 asks for a defined cryptoperiod for each key type and sets no number of "
        "days.</p></section>",
        "</main></body></html>",
    ]
    return "\n".join(parts) + "\n"
