"""``importobot-block-keys``: fail if a passed file holds a plaintext key (IOB101/IOB102).

What is scanned (D12): for each passed path with a stage-0 index entry, the index blob
(what the commit will hold — all blobs through one ``git cat-file --batch``, which
honours ``GIT_INDEX_FILE``), and the work-tree copy too when it differs, its findings
labelled ``unstaged``. Unmerged paths scan stages 2 and 3; intent-to-add entries and
paths git does not track are read from the work tree. Files with a git ``filter``
attribute (git-crypt, transcrypt) are judged by their index blob only.

At ``pre-push`` (pre-commit sets ``PRE_COMMIT_FROM_REF``/``PRE_COMMIT_TO_REF``, or, for a
push that holds the root commit, ``PRE_COMMIT_REMOTE_NAME``/``PRE_COMMIT_LOCAL_BRANCH``) the
hook judges the lines the pushed commits *added* to the passed files (one ``git log -p``
over ``FROM..TO``, or ``LOCAL --not --remotes=REMOTE``), not the index: a key committed
and then deleted again inside the pushed range is still caught.

Start-up is the hook's whole cost (D17): this path imports no click, argparse,
cryptography, keyring, json or typing; it reads configuration only when a byte search
finds ``[tool.importobot]``, and it calls git once, only when a passed path may be
tracked. Exit 0 clean, 1 a key was found, 2 usage error or nothing could be read.
The block message ends with the ``importobot fix`` command for the blocked files.
"""

from __future__ import annotations

import os
import sys

from importobot.hooks._common import console_script

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from importobot.project import Project
    from importobot.scan.finding import Finding, ScanResult
    from importobot.scan.sources import Item
    from importobot.scan.vendored import VendorJudge

__all__ = ["HINT", "USAGE", "main", "run"]

USAGE = """\
usage: importobot-block-keys [--baseline FILE] [--no-inline-ignores] FILE...

Fail if a passed file holds a plaintext encryption key. Staged files are judged by
their index content (what the commit holds) and by their work-tree copy where it differs;
at pre-push, by the lines the pushed commits added to them.

  --baseline FILE       accepted findings (default: [tool.importobot] baseline)
  --no-inline-ignores   ignore '# importobot: ignore[...]' and allowlist pragmas
Exit: 0 clean, 1 key found, 2 usage error or nothing could be read.
"""

#: The prefix of the closing lines after findings (see :func:`block_message`).
HINT = "importobot:"

#: Problems that mean a passed file could not be judged: the hook fails closed (exit 2).
_FATAL = ("missing", "unreadable", "directory", "too-large", "submodule")


def _line(f: Finding) -> str:
    from importobot._text import printable

    where = f"{printable(f.path or '')}:{f.line or 0}:{f.column or 0}"
    label = next((n for n in ("unstaged", "ours", "theirs") if f.note and n in f.note), None)
    extra = f" [{label}]" if label else ""
    variable = printable(f.variable) if f.variable else "-"
    return f"{where} {f.rule} {variable} {f.fingerprint or '-'} {printable(f.message)}{extra}\n"


def block_message(findings: Sequence[Finding], *, pushed: bool = False) -> str:
    """The lines after the findings: env files out of git, then the ``importobot fix``
    command for the blocked files (never ``importobot encrypt``: a key encrypted with
    itself protects nothing)."""
    from importobot.report.text import fix_advice

    return "".join(f"{HINT} {line}\n" for line in fix_advice(findings, pushed=pushed))


def push_revisions(env: Mapping[str, str]) -> list[str] | None:
    """The commits a pre-push run judges (pre-commit's variables), or ``None``."""
    frm = env.get("PRE_COMMIT_FROM_REF") or env.get("PRE_COMMIT_ORIGIN")
    to = env.get("PRE_COMMIT_TO_REF") or env.get("PRE_COMMIT_SOURCE")
    if frm and to:
        return [to, "--not", frm]
    remote = env.get("PRE_COMMIT_REMOTE_NAME")
    local = env.get("PRE_COMMIT_LOCAL_BRANCH")
    if remote and local:
        # A push holding the root commit: everything the remote does not have yet.
        return [local, "--not", f"--remotes={remote}"]
    return None


def _push_paths(root: str, revs: list[str], passed: list[str]) -> list[str]:
    """The paths to judge in the pushed commits: the passed files, and every path those
    commits touched that pre-commit could not pass — deleted since, or back to where it
    started (a key added and removed again inside the range is still a pushed key)."""
    from importobot.git import changed_paths, diff_names

    given = set(passed)
    touched = changed_paths(root, revs)
    if revs[1:2] == ["--not"] and not revs[2].startswith("-"):
        net = set(diff_names(root, revs[2], revs[0]))
    else:
        net = given
    orphans = [
        p
        for p in touched
        if p not in given and (p not in net or not os.path.lexists(os.path.join(root, p)))
    ]
    return sorted(given | set(orphans))


def _scan(
    project: Project,
    items: Iterable[Item],
    result: ScanResult,
    inline_ignores: bool,
    *,
    index: bool = False,
) -> None:
    """Scan ``items`` into ``result`` under the project's settings; vendored files are
    skipped (judged by the index when ``index``, else by each item's own source) and
    counted in one note."""
    from importobot.scan.sources import scan_items

    scan_items(
        items,
        result,
        env_globs=project.env_globs,
        max_size=project.max_file_size,
        inline_ignores=inline_ignores,
        exclude=project.exclude,
        vendor=_vendor(project, index=index),
    )
    if result.skipped.get("vendored"):
        from importobot.scan.vendored import vendored_note

        vendored_note(result)


def _active(project: Project, result: ScanResult, baseline: str | None) -> list[Finding]:
    """The findings of ``result`` that neither the baseline nor an inline ignore suppresses."""
    baseline_file = project.baseline_path(baseline)
    if baseline_file:
        from importobot.scan.baseline import apply_baseline, load_baseline

        apply_baseline(result, load_baseline(baseline_file))
    return [f for f in result.findings if f.suppressed is None]


def _vendor(project: Project, *, index: bool) -> VendorJudge | None:
    """The judge of vendored files (``None`` when the configuration includes them)."""
    if project.include_vendored:
        return None
    from importobot.scan.vendored import VendorJudge

    return VendorJudge(project.root, index=index, env_globs=project.env_globs)


def _run_push(
    project_root: str,
    files: Sequence[str],
    revs: list[str],
    baseline: str | None,
    inline_ignores: bool,
) -> int:
    from importobot.project import load_project
    from importobot.scan.finding import ScanResult
    from importobot.scan.sources import history_items

    project = load_project(project_root)
    result = ScanResult()
    rels = _push_paths(
        project.root, revs, [r for r in (project.rel(f) for f in files) if r is not None]
    )
    commits: set[str] = set()
    items = history_items(project.root, None, rels, commits, revs=revs, literal_paths=True)
    _scan(project, items, result, inline_ignores)
    active = _active(project, result, baseline)
    active.sort(key=lambda f: (*f.sort_key(), f.commit or ""))
    project.emit_findings([f for f in active if f.severity == "error"], "push.rejected")
    for f in active:
        sys.stdout.write(_line(f))
    if active:
        sys.stdout.write(block_message(active, pushed=True))
    for note in result.notes:
        sys.stderr.write(f"importobot-block-keys: {note}\n")
    return 1 if any(f.severity == "error" for f in active) else 0


def run(files: Sequence[str], *, baseline: str | None = None, inline_ignores: bool = True) -> int:
    """Scan ``files`` as D12 says, print findings and the fix hint; return the exit code.

    Under pre-commit's pre-push variables, judge the pushed commits' added lines instead.
    """
    from importobot.project import load_project
    from importobot.scan.finding import ScanResult
    from importobot.scan.sources import index_items

    project = load_project()
    revs = push_revisions(os.environ) if project.in_git else None
    if revs is not None:
        return _run_push(project.root, files, revs, baseline, inline_ignores)
    result = ScanResult()
    passed = [(f, f, project.rel(f)) for f in files]
    items, empty = index_items(
        project.root, passed, project.max_file_size, result, in_git=project.in_git
    )
    _scan(project, items, result, inline_ignores, index=project.in_git)
    if project.exclude and result.skipped.get("excluded") == len(files):
        sys.stdout.write("importobot: every passed file is excluded by the configuration\n")
        return 0
    active = _active(project, result, baseline)
    project.emit_findings([f for f in active if f.severity == "error"], "commit.blocked")
    out = sys.stdout
    for f in active:
        out.write(_line(f))
    if active:
        out.write(block_message(active))
    fatal = sum(result.skipped.get(r, 0) for r in _FATAL)
    for note in result.notes:
        sys.stderr.write(f"importobot-block-keys: {note}\n")
    if any(f.severity == "error" for f in active):
        return 1
    if fatal:
        sys.stderr.write("importobot-block-keys: error: some files could not be judged\n")
        return 2
    judged = result.files_scanned + result.skipped.get("binary", 0) + empty
    skipped = sum(result.skipped.get(r, 0) for r in ("special", "symlink", "excluded", "vendored"))
    if judged == 0 and skipped == 0:
        sys.stderr.write("importobot-block-keys: error: nothing was scanned\n")
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse argv (by hand: argparse costs start-up time) and run the hook."""
    from importobot.hooks._common import UsageError, option, run_hook

    def body(opts: dict[str, str | bool], files: list[str]) -> int:
        if not files and push_revisions(os.environ) is None:
            if os.environ.get("PRE_COMMIT") == "1":
                return 0  # always_run: pre-commit had no text file for us this time
            raise UsageError("no files given")
        return run(
            files,
            baseline=option(opts, "--baseline"),
            inline_ignores=not opts.get("--no-inline-ignores"),
        )

    return run_hook(
        "importobot-block-keys", USAGE, argv, {"--no-inline-ignores"}, {"--baseline"}, body
    )


console = console_script(main)


if __name__ == "__main__":
    raise SystemExit(main())
