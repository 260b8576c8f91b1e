"""``importobot check``: the whole command behind the thin click wrapper in ``cli.py``."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from importobot._text import plural
from importobot.commands import write_output
from importobot.config import parse_size
from importobot.exceptions import ConfigError
from importobot.git import GitError
from importobot.project import Project, load_project
from importobot.scan.engine import ScanOptions, check_paths
from importobot.scan.finding import Finding, ScanResult
from importobot.scan.sources import FATAL_SKIPS, scan_items

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime
    from typing import TextIO

    from importobot.scan.keysearch import KeyNeedles
    from importobot.scan.rules.key_setup import KeySetup
    from importobot.scan.sources import Item

__all__ = ["CheckRequest", "run_check"]


@dataclass(frozen=True)
class CheckRequest:
    """The options of one ``check`` run, as parsed by the CLI."""

    paths: tuple[str, ...] = ()
    fmt: str = "text"
    output: str | None = None
    baseline: str | None = None
    update_baseline: bool = False
    config: str | None = None
    exit_zero: bool = False
    key_check: bool = True
    gitignore: bool = True
    inline_ignores: bool = True
    show_suppressed: bool = False
    max_file_size: str | None = None
    jobs: int | None = None
    max_key_age: str | None = None
    strict: bool = False
    #: Scan the git index (what the next commit holds) instead of the work tree.
    staged: bool = False
    #: Scan every commit's added lines (``paths`` limit it, like ``git log -- PATH``).
    history: bool = False
    #: The commits ``history`` scans (default: every ref).
    rev_range: str | None = None
    #: Also scan vendored trees and minified bundles (config ``include-vendored``).
    include_vendored: bool = False


def _version() -> str:
    from importobot._version import __version__

    return __version__


def _start(paths: tuple[str, ...], cwd: Path) -> str:
    """Where to look for the project: the first path's directory, else ``cwd``."""
    if not paths:
        return str(cwd)
    first = Path(paths[0])
    return str(first if first.is_absolute() else cwd / first)


def _staged(
    project: Project, req: CheckRequest, options: ScanOptions, keys: KeyNeedles | None
) -> ScanResult:
    """``--staged``: D12 over what the next commit adds or changes (the hook's source)."""
    from importobot.git import repository, staged_paths
    from importobot.scan.sources import index_items

    result = ScanResult()
    repo = repository(project.root)
    if repo.bare or not repo.top:
        raise GitError("--staged needs a work tree (this repository is bare)")
    rels = staged_paths(repo.top, _pathspecs(req.paths, options.cwd))
    if not rels:
        result.notes.append("nothing staged")
    files = []
    for rel in rels:
        full = os.path.join(repo.top, rel)
        files.append((full, _shown(full, options.cwd), _root_rel(full, project)))
    items, _empty = index_items(repo.top, files, _max_size(project, options), result)
    _scan(project, options, items, result, keys, index=True)
    return result


def _history(
    project: Project, req: CheckRequest, options: ScanOptions, keys: KeyNeedles | None
) -> ScanResult:
    """``--history``: the lines every commit added, paths as in ``git log -- PATH``."""
    from importobot.git import repository
    from importobot.scan.sources import history_items

    result = ScanResult()
    repo = repository(project.root)
    commits: set[str] = set()
    specs = _pathspecs(req.paths, options.cwd)
    items = history_items(project.root, req.rev_range, specs, commits)
    _scan(project, options, items, result, keys)
    n = len(commits)
    if not commits:
        result.notes.append("history: no commits with added lines to scan")
    else:
        result.notes.append(f"history: {plural(n, 'commit')} with added lines scanned")
    if repo.shallow:
        result.notes.append(
            "shallow clone: history scanned only down to the clone's boundary "
            "(git fetch --unshallow for all of it)"
        )
    return result


def _scan(
    project: Project,
    options: ScanOptions,
    items: Iterable[Item],
    result: ScanResult,
    keys: KeyNeedles | None,
    *,
    index: bool = False,
) -> None:
    from importobot.scan.vendored import VendorJudge, vendored_note

    vendor = None
    if not options.include_vendored:
        vendor = VendorJudge(project.root, index=index, env_globs=project.env_globs)
    scan_items(
        items,
        result,
        env_globs=project.env_globs,
        max_size=_max_size(project, options),
        inline_ignores=options.inline_ignores,
        exclude=project.exclude,
        vendor=vendor,
        keys=keys,
    )
    vendored_note(result)


def _needles(setup: KeySetup) -> KeyNeedles | None:
    """The keys this run holds, to search the scanned bytes for (IOB204, any spelling)."""
    from importobot.scan.keysearch import KeyNeedles

    keys: list[tuple[bytes, str]] = []
    if setup.key is not None:
        keys.append((setup.key.raw, f"the set-up key ({setup.key.source.label})"))
    for prev in setup.previous:
        keys.append((prev.raw, f"a previous key ({prev.source.label})"))
    needles = KeyNeedles(keys)
    return needles if needles else None


def _pathspecs(paths: tuple[str, ...], cwd: Path) -> list[str]:
    """PATHs as absolute pathspecs (git runs at the root; they were given from ``cwd``)."""
    return [os.path.abspath(os.path.join(cwd, p)) for p in paths]


def _max_size(project: Project, options: ScanOptions) -> int:
    return options.max_file_size or project.max_file_size


def _shown(full: str, cwd: Path) -> str:
    rel = os.path.relpath(full, cwd)
    return (full if rel.startswith("..") else rel).replace(os.sep, "/")


def _root_rel(full: str, project: Project) -> str | None:
    return project.rel(full)


def _key_health(
    req: CheckRequest,
    project: Project,
    options: ScanOptions,
    result: ScanResult,
    now: datetime | None,
    setup: KeySetup,
    keys: KeyNeedles | None,
) -> list[Finding]:
    """IOB2xx/IOB3xx and IOB204 over the configured key (only when opted in)."""
    from importobot.keys.age import utc_now
    from importobot.scan.engine import collect_files
    from importobot.scan.rules.key_health import (
        compromised_findings,
        stale_token_findings,
        watched_fingerprints,
    )
    from importobot.scan.rules.key_status import key_status

    moment = now or utc_now()
    try:
        policy = project.policy(req.max_key_age, None)
    except ValueError as exc:
        raise ConfigError(f"--max-key-age: {exc}") from None
    status = key_status(project, None, moment, policy=policy, setup=setup)
    found = list(status.findings)
    if not req.staged and not req.history:
        files = collect_files(req.paths, project.full_settings(), options, ScanResult())
        limit = _max_size(project, options)
        if keys is not None:
            from importobot.scan.keysearch import search_files

            result.findings.extend(search_files(keys, files, limit))
        found += stale_token_findings(
            ((Path(p), shown) for p, shown, _ in files), policy, moment, max_size=limit
        )
    # Candidates whose fingerprint is a watched key, where the key search did not already
    # report that key at that place (registered keys this run does not hold, above all).
    held = {
        (f.path, f.line, f.commit, f.fingerprint) for f in result.findings if f.rule == "IOB204"
    }
    watched = watched_fingerprints(status.fingerprint, status.source, status.registry)
    found += [
        f
        for f in compromised_findings(result.findings, watched)
        if (f.path, f.line, f.commit, f.fingerprint) not in held
    ]
    return found


def run_check(req: CheckRequest, *, err: TextIO | None = None, now: datetime | None = None) -> int:
    """Run one check: scan, apply baseline, judge keys, render, write. Returns the exit code.

    The project (configuration, baseline, registry, excludes) is the one holding the first
    PATH, wherever the command runs from. Raises :class:`ConfigError` (exit 2) for
    invalid configuration or options, :class:`GitError` (exit 2) when git cannot answer.
    """
    from importobot.scan.baseline import apply_baseline, load_baseline

    stream = err if err is not None else sys.stderr
    if req.staged and req.history:
        raise ConfigError("--staged and --history cannot be combined")
    if req.rev_range is not None and not req.history:
        raise ConfigError("--rev-range needs --history")
    cwd = Path.cwd()
    project = load_project(_start(req.paths, cwd), req.config)
    max_size = None
    if req.max_file_size is not None:
        try:
            max_size = parse_size(req.max_file_size)
        except ValueError as exc:
            raise ConfigError(f"--max-file-size: {exc}") from None
    baseline_path = project.baseline_path(req.baseline)
    if req.update_baseline and not baseline_path:
        raise ConfigError("--update-baseline needs --baseline FILE (or baseline in the config)")
    entries = load_baseline(baseline_path) if baseline_path else set()
    options = ScanOptions(
        gitignore=req.gitignore,
        inline_ignores=req.inline_ignores,
        max_file_size=max_size,
        jobs=req.jobs,
        cwd=cwd,
        root=Path(project.root),
        include_vendored=req.include_vendored or project.include_vendored,
    )
    key_checks = req.key_check and project.key_checks_on()
    setup = None
    keys = None
    if key_checks:
        from importobot.scan.rules.key_status import key_setup_for

        # The keys first: the scan searches for them (IOB204 in any spelling, any file).
        setup = key_setup_for(project)
        keys = _needles(setup)
    if req.staged:
        result = _staged(project, req, options, keys)
    elif req.history:
        result = _history(project, req, options, keys)
    else:
        result = check_paths(req.paths, project.full_settings(), options)
    apply_baseline(result, entries)

    if req.update_baseline and baseline_path is not None:
        from importobot.scan.baseline import baseline_entries, write_baseline

        new = baseline_entries(result.findings, result.paths)
        added, removed = write_baseline(Path(baseline_path), new, entries)
        result.baseline_added, result.baseline_removed = added, removed
        print(f"baseline {baseline_path}: {added} added, {removed} removed", file=stream)
        apply_baseline(result, new)

    if setup is not None:
        result.findings.extend(_key_health(req, project, options, result, now, setup, keys))
    elif req.key_check:
        result.notes.append("key checks skipped (not configured)")
    result.findings.sort(key=lambda f: (*f.sort_key(), f.commit or ""))
    project.emit_findings(result.findings, "check.findings")

    from importobot.report import render

    color = req.fmt == "text" and req.output is None and sys.stdout.isatty()
    text = render(
        req.fmt,
        result,
        show_suppressed=req.show_suppressed,
        color=color,
        tool_version=_version(),
    )
    for note in result.notes:
        print(f"importobot: {note}", file=stream)
    write_output(text, req.output)
    if result.files_scanned == 0 and any(result.skipped.get(r) for r in FATAL_SKIPS):
        print("importobot: error: nothing could be scanned", file=stream)
        return 2
    return result.exit_code(exit_zero=req.exit_zero, strict=req.strict)
