"""GitHub Actions workflow commands: one ``::error``/``::warning`` annotation per finding."""

from __future__ import annotations

from importobot.scan.finding import ScanResult

__all__ = ["escape_data", "escape_property", "render_github"]


def escape_data(text: str) -> str:
    """Escape a workflow command's message (``%``, CR, LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command property (also ``:`` and ``,``)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(result: ScanResult) -> str:
    """Annotations for active findings, then a notice with the summary."""
    out: list[str] = []
    for f in result.active:
        level = "error" if f.severity == "error" else "warning"
        props: list[str] = []
        if f.path:
            props.append(f"file={escape_property(f.path)}")
            if f.line is not None:
                props.append(f"line={f.line}")
                if f.column is not None:
                    props.append(f"col={f.column}")
        props.append(f"title={escape_property(f'{f.rule} {f.rule_name}')}")
        detail = f.message
        if f.fingerprint:
            detail += f" [{f.fingerprint}]"
        out.append(f"::{level} {','.join(props)}::{escape_data(detail)}")
    s = result.summary()
    out.append(
        "::notice title=importobot::"
        + escape_data(
            f"{s['findings']} findings in {s['files_scanned']} files "
            f"({s['files_skipped']} skipped, {s['suppressed']} suppressed)"
        )
    )
    return "\n".join(out) + "\n"
