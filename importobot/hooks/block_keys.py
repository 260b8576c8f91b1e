"""``importobot-block-keys``: fail if a passed file holds a plaintext key (IOB101/IOB102).

What is scanned (D12): for each passed path with a stage-0 index entry, the index blob
(what the commit will hold — all blobs through one ``git cat-file --batch``, which
honours ``GIT_INDEX_FILE``), and the work-tree copy too when it differs, its findings
labelled ``unstaged``. Unmerged paths scan stages 2 and 3; intent-to-add entries and
paths git does not track are read from the work tree. Files with a git ``filter``
attribute (git-crypt, transcrypt) are judged by their index blob only.

Start-up is the hook's whole cost (D17): this path imports no click, argparse,
cryptography, keyring, json or typing; it reads configuration only when a byte search
finds ``[tool.importobot]``, and it calls git once, only when a passed path may be
tracked. Exit 0 clean, 1 a key was found, 2 usage error or nothing could be read.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from importobot.scan.finding import Finding

__all__ = ["HINT", "USAGE", "main", "run"]

USAGE = """\
usage: importobot-block-keys [--baseline FILE] [--no-inline-ignores] FILE...

Fail if a passed file holds a plaintext encryption key. Staged files are judged by
their index content (what the commit holds) and by their work-tree copy where it differs.

  --baseline FILE       accepted findings (default: [tool.importobot] baseline)
  --no-inline-ignores   ignore '# importobot: ignore[...]' and allowlist pragmas
Exit: 0 clean, 1 key found, 2 usage error or nothing could be read.
"""

#: The one-line fix printed after findings.
HINT = (
    "importobot: fix: move the value to the OS keyring (importobot key store) or an "
    "untracked file, or commit it encrypted (importobot encrypt); then stage the file "
    "again. A known, accepted key: importobot check --baseline FILE --update-baseline."
)

#: Problems that mean a passed file could not be judged: the hook fails closed (exit 2).
_FATAL = ("missing", "unreadable", "directory", "too-large", "submodule")


def _line(f: Finding) -> str:
    from importobot.scan.sources import _safe

    where = f"{_safe(f.path or '')}:{f.line or 0}:{f.column or 0}"
    label = next((n for n in ("unstaged", "ours", "theirs") if f.note and n in f.note), None)
    extra = f" [{label}]" if label else ""
    variable = _safe(f.variable) if f.variable else "-"
    return f"{where} {f.rule} {variable} {f.fingerprint or '-'} {_safe(f.message)}{extra}\n"


def run(files: Sequence[str], *, baseline: str | None = None, inline_ignores: bool = True) -> int:
    """Scan ``files`` as D12 says, print findings and the fix hint; return the exit code."""
    from importobot.project import load_project
    from importobot.scan.finding import ScanResult
    from importobot.scan.sources import index_items, scan_items

    project = load_project()
    result = ScanResult()
    passed = [(f, f, project.rel(f)) for f in files]
    items, empty = index_items(
        project.root, passed, project.max_file_size, result, in_git=project.in_git
    )
    scan_items(
        items,
        result,
        env_globs=project.env_globs,
        max_size=project.max_file_size,
        inline_ignores=inline_ignores,
        exclude=project.exclude,
    )
    if project.exclude and result.skipped.get("excluded") == len(files):
        sys.stdout.write("importobot: every passed file is excluded by the configuration\n")
        return 0
    baseline_file = project.baseline_path(baseline)
    if baseline_file:
        from importobot.scan.baseline import apply_baseline, load_baseline

        apply_baseline(result, load_baseline(baseline_file))
    active = [f for f in result.findings if f.suppressed is None]
    project.emit_findings([f for f in active if f.severity == "error"], "commit.blocked")
    out = sys.stdout
    for f in active:
        out.write(_line(f))
    if active:
        out.write(HINT + "\n")
    fatal = sum(result.skipped.get(r, 0) for r in _FATAL)
    for note in result.notes:
        sys.stderr.write(f"importobot-block-keys: {note}\n")
    if any(f.severity == "error" for f in active):
        return 1
    if fatal:
        sys.stderr.write("importobot-block-keys: error: some files could not be judged\n")
        return 2
    judged = result.files_scanned + result.skipped.get("binary", 0) + empty
    skipped = sum(result.skipped.get(r, 0) for r in ("special", "symlink", "excluded"))
    if judged == 0 and skipped == 0:
        sys.stderr.write("importobot-block-keys: error: nothing was scanned\n")
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse argv (by hand: argparse costs start-up time) and run the hook."""
    from importobot.hooks._common import UsageError, option, run_hook

    def body(opts: dict[str, str | bool], files: list[str]) -> int:
        if not files:
            raise UsageError("no files given")
        return run(
            files,
            baseline=option(opts, "--baseline"),
            inline_ignores=not opts.get("--no-inline-ignores"),
        )

    return run_hook(
        "importobot-block-keys", USAGE, argv, {"--no-inline-ignores"}, {"--baseline"}, body
    )


if __name__ == "__main__":
    raise SystemExit(main())
