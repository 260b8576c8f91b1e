"""Text report: findings grouped by file, ``path:line:col rule variable key-type fingerprint``.

The report ends with what to do (:func:`fix_advice`, shared with the block-keys hook): the
one ``importobot fix`` command for the files holding keys, and for an env file that it
belongs out of git (``git rm --cached``, ``.gitignore``).
"""

from __future__ import annotations

from importobot._lazyre import lazy_compile
from importobot._text import plural, printable
from importobot.scan.finding import Finding, ScanResult

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["fix_advice", "fix_command", "render_text", "shell_word"]

_PLAIN_WORD = lazy_compile(r"[A-Za-z0-9_./@%+=:,-]+")
#: Rules whose findings ``importobot fix`` moves out of the file.
FIXABLE = ("IOB101", "IOB102")


def shell_word(text: str) -> str:
    """``text`` as one POSIX shell word (quoted only when needed), control characters
    escaped first (:func:`printable`), so a file name can neither forge a line nor run."""
    safe = printable(text)
    if _PLAIN_WORD.fullmatch(safe) and not safe.startswith("-"):
        return safe
    if safe.startswith("-"):
        safe = "./" + safe
        if _PLAIN_WORD.fullmatch(safe):
            return safe
    return "'" + safe.replace("'", "'\\''") + "'"


def fix_command(paths: Iterable[str]) -> str:
    """``importobot fix PATH…`` for ``paths`` (each quoted for the shell)."""
    words = [shell_word(p) for p in dict.fromkeys(paths)]
    return " ".join(["importobot fix", *words])


def fix_advice(findings: Iterable[Finding], *, pushed: bool = False) -> list[str]:
    """The closing lines for reported keys: env files out of git, then the fix command.

    Only active IOB101/IOB102 findings count. Keys found in commits (history, a push) are
    exposed for good: the advice says to rotate them and that importobot rewrites no
    history. ``pushed``: the commits are not pushed yet (pre-push), so they can still be
    rewritten. Empty when there is nothing to fix.
    """
    from importobot.scan.rules.files import is_env_file

    keys = [f for f in findings if f.rule in FIXABLE and f.suppressed is None and f.path]
    if not keys:
        return []
    paths = sorted({f.path or "" for f in keys})
    lines: list[str] = []
    env = [p for p in paths if is_env_file(p)]
    if env:
        words = " ".join(shell_word(p) for p in env)
        lines.append(
            f"an env file belongs out of git: add it to .gitignore and, where git tracks "
            f"or stages it, git rm --cached {words} (importobot fix --apply does both and "
            f"writes .env.example)"
        )
    in_commits = any(f.commit for f in keys)
    if pushed:
        lines.append(
            "the key is in commits you are pushing: after the fix, rewrite them "
            "(git rebase -i / git commit --amend) so no pushed commit holds it"
        )
    elif in_commits:
        lines.append(
            "a key in a commit is exposed for good: rotate it; importobot does not rewrite "
            "history (git filter-repo does; see the fix plan)"
        )
    target = paths if not in_commits or pushed else []
    lines.append(
        f"fix: {fix_command(target)}   (prints the plan; --apply moves the values to the "
        f"OS keyring and records an exposed key as compromised)"
    )
    return lines


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
    lines.extend(fix_advice(result.findings))
    return "\n".join(lines) + "\n"
