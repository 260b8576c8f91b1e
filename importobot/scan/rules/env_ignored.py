"""IOB103 ``env-file-not-ignored``: an env file holding secrets that git does not ignore.

A file whose keys are already reported (IOB101) gets no second finding: the IOB101
message says the file is not ignored instead. Only work-tree scans (``check PATH``) run
this rule; the file is read through :func:`importobot.fsio.read_content` (no link, no
special file, bounded).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from importobot.scan.finding import Finding, ScanResult

__all__ = ["CODE", "env_not_ignored"]

CODE = "IOB103"

_MESSAGE = (
    "env file holding secrets is not git-ignored: add it to .gitignore "
    "and commit an example file without values instead"
)


def env_not_ignored(
    result: ScanResult,
    files: Sequence[tuple[str, str, str | None]],
    top: Path | None,
    env_globs: tuple[str, ...],
    max_size: int,
) -> list[Finding]:
    """IOB103 findings for ``files`` (``(path, shown, rel)``) under the work tree ``top``.

    Also appends "; the file is not git-ignored" to the IOB101 findings of such files.
    """
    from importobot._record import replace
    from importobot.fsio import FileRefused, read_content
    from importobot.git import not_ignored
    from importobot.scan.finding import Finding, rule_info
    from importobot.scan.rules.files import holds_secrets, is_env_file, text_bytes

    if top is None:
        return []
    env_files = [(p, shown, rel) for p, shown, rel in files if is_env_file(shown, env_globs)]
    if not env_files:
        return []
    with_keys = {f.path for f in result.findings if f.rule == "IOB101" and f.suppressed is None}
    by_rel: dict[str, str] = {}
    for path, shown, rel in env_files:
        if rel is None:
            continue
        if shown not in with_keys:
            try:
                data = read_content(path, max_size)
            except FileRefused:
                continue
            text = text_bytes(data)  # a UTF-16 .env is text too
            if not holds_secrets((data if text is None else text).decode("utf-8", "replace")):
                continue
        by_rel[rel] = shown
    if not by_rel:
        return []
    exposed = {by_rel[r] for r in not_ignored(str(top), list(by_rel))}
    for i, f in enumerate(result.findings):
        if f.path in exposed and f.rule == "IOB101":
            result.findings[i] = replace(f, message=f.message + "; the file is not git-ignored")
    info = rule_info(CODE)
    return [
        Finding(
            rule=CODE,
            severity=info.severity,
            path=shown,
            line=None,
            column=None,
            variable=None,
            key_type=None,
            key_bytes=None,
            fingerprint=None,
            message=_MESSAGE,
        )
        for shown in sorted(exposed - with_keys)
    ]
