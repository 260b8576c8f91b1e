"""``importobot check``: the whole command behind the thin click wrapper in ``cli.py``."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from importobot.config import Settings, load_settings, parse_size
from importobot.exceptions import ConfigError
from importobot.scan.engine import ScanOptions, check_paths, collect_files, git_root
from importobot.scan.finding import Finding, ScanResult

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime
    from typing import TextIO

    from importobot.scan.finding import ScanResult

__all__ = ["CheckRequest", "run_check"]

_FATAL_SKIPS = ("missing", "unreadable")


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
    #: Scan the git index (what the next commit holds) instead of the work tree.
    max_key_age: str | None = None
    strict: bool = False
    staged: bool = False
    #: Scan every commit's added lines: a revision range, ``""`` for all refs, ``None`` off.
    history: str | None = None


def _key_checks_configured(settings: Settings, root: Path) -> bool:
    """D16: key checks run only when the repository opts in."""
    if settings.key_check is not None:
        return settings.key_check
    if (root / settings.registry).is_file():
        return True
    return any(k.startswith("IMPORTOBOT_") and "KEY" in k for k in os.environ)


def _version() -> str:
    try:
        from importobot import __version__

        return str(__version__)
    except ImportError:  # pragma: no cover
        return "0"


def _git_scan(
    req: CheckRequest,
    settings: Settings,
    options: ScanOptions,
    entries: set[tuple[str, str, str]],
) -> ScanResult:
    """``--staged`` / ``--history``: the git sources, into the same result and reporting."""
    from importobot.scan.git import GitError, scan_history, scan_staged

    if req.staged and req.history is not None:
        raise ConfigError("--staged and --history cannot be combined")
    try:
        if req.staged:
            return scan_staged(settings, options, req.paths, baseline=entries)
        if req.paths:
            raise ConfigError("--history takes a revision range, not paths")
        return scan_history(settings, options, req.history or None, baseline=entries)
    except GitError as exc:
        raise ConfigError(str(exc)) from None


def _key_health(
    req: CheckRequest,
    settings: Settings,
    root: Path,
    options: ScanOptions,
    result: ScanResult,
    now: datetime | None,
) -> list[Finding]:
    """IOB2xx/IOB3xx and IOB204 over the configured key (D16: only when opted in)."""
    from importobot.hooks._common import load_policy
    from importobot.keys.age import utc_now
    from importobot.keys.registry import Registry
    from importobot.scan.rules.key_age import check_key_age
    from importobot.scan.rules.key_health import (
        compromised_findings,
        stale_token_findings,
        watched_fingerprints,
    )
    from importobot.scan.rules.key_setup import check_key_setup, configured_source

    moment = now or utc_now()
    try:
        policy = load_policy(settings, req.max_key_age, None)
    except ValueError as exc:
        raise ConfigError(f"--max-key-age: {exc}") from None
    registry_file = Path(settings.registry)
    if not registry_file.is_absolute():
        registry_file = root / registry_file
    registry = Registry.load(str(registry_file), now=moment)
    setup = check_key_setup()
    found = list(setup.findings)
    source = setup.key.source.label if setup.key is not None else configured_source()
    if setup.fingerprint is not None:
        found += check_key_age(setup.fingerprint, source, registry, policy, moment)
    found += compromised_findings(
        result.findings, watched_fingerprints(setup.fingerprint, source, registry)
    )
    if not req.staged and req.history is None:
        files = collect_files(req.paths, settings, options, ScanResult())
        limit = options.max_file_size or settings.max_file_size
        found += stale_token_findings(
            ((p, shown) for p, shown, _ in files), policy, moment, max_size=limit
        )
    return found


def run_check(req: CheckRequest, *, err: TextIO | None = None, now: datetime | None = None) -> int:
    """Run one check: scan, apply baseline, render, write. Returns the exit code (D15).

    Raises :class:`ConfigError` (exit 2) for invalid configuration or options.
    """
    stream = err if err is not None else sys.stderr
    cwd = Path.cwd()
    root = git_root(cwd) or cwd
    settings = load_settings(root, Path(req.config) if req.config else None)
    max_size = None
    if req.max_file_size is not None:
        try:
            max_size = parse_size(req.max_file_size)
        except ValueError as exc:
            raise ConfigError(f"--max-file-size: {exc}") from None
    baseline_path = req.baseline or settings.baseline
    if req.update_baseline and not baseline_path:
        raise ConfigError("--update-baseline needs --baseline FILE (or baseline in the config)")
    entries: set[tuple[str, str, str]] = set()
    path: Path | None = None
    if baseline_path:
        from importobot.scan.baseline import load_baseline

        path = Path(baseline_path)
        if not path.is_absolute() and req.baseline is None:
            path = root / path
        entries = load_baseline(path)
    options = ScanOptions(
        gitignore=req.gitignore,
        inline_ignores=req.inline_ignores,
        max_file_size=max_size,
        jobs=req.jobs,
        cwd=cwd,
    )
    if req.staged or req.history is not None:
        result = _git_scan(req, settings, options, entries)
    else:
        result = check_paths(req.paths, settings, options, baseline=entries)

    if req.update_baseline and path is not None:
        from importobot.scan.baseline import baseline_entries, write_baseline

        new = baseline_entries(result.findings)
        added, removed = write_baseline(path, new, entries)
        result.baseline_added, result.baseline_removed = added, removed
        print(f"baseline {path}: {added} added, {removed} removed", file=stream)
        result.findings = [
            f.with_suppression("baseline")
            if f.suppressed is None and (f.path or "", f.rule, f.fingerprint or "") in new
            else f
            for f in result.findings
        ]

    if req.key_check and _key_checks_configured(settings, root):
        result.findings.extend(_key_health(req, settings, root, options, result, now))
    elif req.key_check:
        result.notes.append("key checks skipped (not configured)")

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
    if req.output:
        try:
            Path(req.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"--output {req.output}: cannot write ({exc.strerror})") from None
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    if result.files_scanned == 0 and any(result.skipped.get(r) for r in _FATAL_SKIPS):
        print("importobot: error: nothing could be scanned", file=stream)
        return 2
    return result.exit_code(exit_zero=req.exit_zero, strict=req.strict)
