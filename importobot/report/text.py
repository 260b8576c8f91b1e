"""Text report: findings grouped by file, ``path:line:col rule variable key-type fingerprint``."""

from __future__ import annotations

from importobot._text import plural, printable
from importobot.scan.finding import Finding, ScanResult

__all__ = ["render_text"]


def _loc(f: Finding) -> str:
    parts = [printable(f.path) if f.path else "<setup>"]
    if f.line is not None:
        parts.append(str(f.line))
        if f.column is not None:
            parts.append(str(f.column))
    return ":".join(parts)


def render_text(result: ScanResult, *, show_suppressed: bool = False, color: bool = False) -> str:
    """Human-readable report ending in a one-line summary. Never contains a key."""
    shown = [f for f in result.findings if show_suppressed or f.suppressed is None]
    lines: list[str] = []
    current: str | None = None
    for f in shown:
        if f.path != current:
            if current is not None or lines:
                lines.append("")
            current = f.path
            lines.append(printable(f.path) if f.path else "(key set-up)")
        fields = [
            f"  {_loc(f)}",
            f.rule,
            printable(f.variable) if f.variable else "-",
            f.key_type or "-",
            f.fingerprint or "-",
        ]
        text = " ".join(fields)
        if color:
            code = "31" if f.severity == "error" else "33"
            text = text.replace(f" {f.rule} ", f" \x1b[{code}m{f.rule}\x1b[0m ", 1)
        lines.append(text)
        tail = f"    {f.rule_name}: {printable(f.message)}"
        if f.suppressed:
            tail += f" [suppressed: {f.suppressed}]"
        lines.append(tail)
    s = result.summary()
    skipped = ""
    if s["files_skipped"]:
        reasons = ", ".join(f"{n} {r}" for r, n in s["skipped"].items())
        skipped = f", {s['files_skipped']} skipped ({reasons})"
    suppressed = f", {s['suppressed']} suppressed" if s["suppressed"] else ""
    summary = (
        f"{plural(s['findings'], 'finding')} ({plural(s['errors'], 'error')}, "
        f"{plural(s['warnings'], 'warning')}){suppressed} "
        f"in {plural(s['files_scanned'], 'file')} scanned{skipped}"
    )
    if lines:
        lines.append("")
    lines.append(summary)
    return "\n".join(lines) + "\n"
