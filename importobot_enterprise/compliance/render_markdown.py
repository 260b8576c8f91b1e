"""The Markdown report, for a pull request comment or a job summary.

Every string is escaped: ASCII punctuation that Markdown gives a meaning (emphasis,
links, images, HTML, tables, entities) is backslash-escaped, ``://``, ``www.`` and ``@``
are broken so no autolink forms, and code spans are fenced longer than any backtick run
inside them with ``|`` escaped in tables. A file named ``<img src=x onerror=…>.env`` shows
as text.
"""

from __future__ import annotations

from typing import Any

from importobot_enterprise.compliance.model import STATUSES, ComplianceReport

__all__ = ["code", "md", "render_markdown"]

_ICON = {
    "pass": "✅ pass",
    "fail": "❌ fail",
    "warn": "⚠️ warn",
    "manual": "✋ manual",
    "not-applicable": "➖ n/a",
}
_SPECIAL = frozenset("\\`*_{}[]<>()#!|~&@")


def md(text: object) -> str:
    """Plain text with every Markdown-significant character escaped (one line)."""
    out = []
    for ch in str(text if text is not None else ""):
        if ch in "\r\n":
            out.append(" ")
        elif ch in _SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(ch)
    body = "".join(out).replace("://", ":\\/\\/")
    body = body.replace("www.", "www\\.").replace("WWW.", "WWW\\.")
    if body[:1] in ("-", "+", ">", "="):
        return "\\" + body  # no list, quote or heading when it starts a line
    digits = len(body) - len(body.lstrip("0123456789"))
    if (
        digits
        and body[digits : digits + 1] in (".", ")")
        and body[digits + 1 : digits + 2]
        in (
            "",
            " ",
        )
    ):
        body = body[:digits] + "\\" + body[digits:]  # no ordered list either
    return body


def code(text: object, *, table: bool = True) -> str:
    """A code span holding ``text`` literally (``|`` escaped inside tables)."""
    body = str(text if text is not None else "").replace("\r", " ").replace("\n", " ")
    if table:
        body = body.replace("|", "\\|")
    longest = run = 0
    for ch in body:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if body.startswith("`") or body.endswith("`") or not body.strip() else ""
    return f"{fence}{pad}{body}{pad}{fence}" if body else ""


def _cite(c: dict[str, str]) -> str:
    ref = f"§{c['ref']}" if c["framework"].startswith("NIST") else c["ref"]
    return f"{c['framework']} {ref}"


def _refs(c: dict[str, Any], prefix: str) -> str:
    found = [x["ref"] for x in c["citations"] if x["framework"].startswith(prefix)]
    return md(", ".join(("§" + r) if prefix == "NIST" else r for r in found)) or "—"


def _item(item: dict[str, Any]) -> str:
    status = item.get("status")
    mark = f"{_ICON[status]}: " if status in _ICON else ""
    where = []
    if item.get("path"):
        place = item["path"] + (f":{item['line']}" if item.get("line") else "")
        where.append(code(place, table=False))
    if item.get("commit"):
        where.append("commit " + code(str(item["commit"])[:12], table=False))
    suffix = f" ({', '.join(where)})" if where else ""
    return f"- {mark}{md(item['text'])}{suffix}"


def render_markdown(report: ComplianceReport) -> str:
    """The report as GitHub-flavoured Markdown."""
    data = report.to_dict()
    summary = data["summary"]
    counts = summary["counts"]
    policy = data["policy"]
    score, maximum = float(summary["score"]), float(summary["maximum"])
    percentage = float(summary["percentage"])
    lines = [
        f"# Key-management compliance report: {md(data.get('repository') or '')}",
        "",
        f"Generated {md(data.get('generated'))} by {md(data['tool'].get('name'))} "
        f"{md(data['tool'].get('version'))}.",
        "",
        f"**Result: {_ICON[summary['status']]}** — score {score:g} of {maximum:g} "
        f"({percentage:.2f} %) · "
        + " · ".join(f"{counts[s]} {md(_ICON[s].split(' ', 1)[1])}" for s in STATUSES),
        "",
        "**Policy:** originator\\-usage "
        + md(policy["originator_usage"])
        + ("" if policy["originator_usage_defined"] else " \\(not defined: importobot's default\\)")
        + f", warning from {md(policy['warn'])}; recipient\\-usage "
        + md(policy["recipient_usage"] or "—")
        + f"; KEK {md(policy['kek'] or '—')}; required storage {md(policy['required_storage'])}"
        + ("" if policy["required_storage_defined"] else " \\(default\\)")
        + f"; source: {md(policy['source'])}",
        "",
        "## Controls",
        "",
        "| Control | Status | Summary | PCI DSS v4.0.1 | NIST SP 800-57 Pt 1 Rev 5 |",
        "|---|---|---|---|---|",
    ]
    rank = {c.identifier: i for i, c in enumerate(report.by_severity())}
    for c in sorted(data["controls"], key=lambda c: rank[c["id"]]):
        lines.append(
            f"| {md(c['title'])} {code(c['id'])} | {_ICON[c['status']]} | "
            f"{md(c.get('summary') or '')} | {_refs(c, 'PCI')} | {_refs(c, 'NIST')} |"
        )
    lines += ["", "## Keys", ""]
    if data["keys"]:
        lines += [
            "| Key | Role | Source | Created | Age (days) | Period | Due | State |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for k in data["keys"]:
            period = f"{k.get('period') or ''} {k.get('max') or ''}".strip()
            lines.append(
                f"| {code(k.get('fingerprint') or '(invalid)')} | {md(k.get('role'))} | "
                f"{code(k.get('source') or '')} | {md((k.get('created') or '')[:10])} | "
                f"{md(k.get('age_days') if k.get('age_days') is not None else '')} | "
                f"{md(period)} | {md((k.get('due') or '')[:10])} | {md(k.get('state'))} |"
            )
    else:
        lines.append("No key is configured or registered.")
    lines += ["", "## Evidence per control", ""]
    for c in data["controls"]:
        lines.append(f"### {_ICON[c['status']]} — {md(c['title'])}")
        lines.append("")
        if c.get("summary"):
            lines += [md(c["summary"]), ""]
        lines += [_item(i) for i in c["evidence"]]
        if c.get("draft"):
            lines += ["", "Draft description:", ""]
            lines += [f"- {md(line)}" for line in c["draft"]]
        lines.append("")
        if c.get("fix"):
            lines += [f"**Fix:** {md(c['fix'])}", ""]
        cites = "; ".join(f"{md(_cite(x))} — {md(x['title'])}" for x in c["citations"])
        lines += [f"*Cites:* {cites}", ""]
    lines += ["## Findings", ""]
    if data["findings"]:
        lines += [
            "| Rule | Severity | Where | Commit | Key | Message |",
            "|---|---|---|---|---|---|",
        ]
        for f in data["findings"]:
            place = (f.get("path") or "") + (f":{f['line']}" if f.get("line") else "")
            rule = f["rule"] + (f" ({f['suppressed']})" if f.get("suppressed") else "")
            lines.append(
                f"| {md(rule)} | {md(f['severity'])} | {code(place)} | "
                f"{code((f.get('commit') or '')[:12])} | {code(f.get('fingerprint') or '')} | "
                f"{md(f['message'])} |"
            )
    else:
        lines.append("No findings.")
    trend = data.get("trend")
    if trend is not None:
        since = trend.get("previous_generated") or "the previous report"
        lines += ["", f"## Changes since {md(since)}", ""]
        lines.append(
            f"New failures: {md(', '.join(trend['new_failures']) or 'none')}. "
            f"Fixed: {md(', '.join(trend['fixed']) or 'none')}."
        )
        if trend["changed"]:
            lines += ["", "| Control | Was | Now |", "|---|---|---|"]
            lines += [
                f"| {code(c['id'])} | {_ICON[c['from']]} | {_ICON[c['to']]} |"
                for c in trend["changed"]
            ]
    if data["notes"]:
        lines += ["", "## Notes", ""]
        lines += [f"- {md(n)}" for n in data["notes"]]
    lines += [
        "",
        "*Citations paraphrase PCI DSS v4\\.0\\.1 and NIST SP 800\\-57 Part 1 Rev\\. 5\\. The "
        "cryptoperiods are the policy's: PCI DSS 3\\.7\\.4 asks for a defined cryptoperiod for "
        "each key type and sets no number of days\\.*",
        "",
    ]
    return "\n".join(lines)
