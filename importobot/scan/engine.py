"""The scan engine: choose files (D11), scan each one, apply suppressions and the baseline.

A *source* yields ``(path, loader)`` pairs; the per-file scan
(:func:`importobot.scan.rules.files.scan_file`) does not care where bytes come from.
:func:`check_paths` is the source for paths on disk (git's tracked and
untracked-not-ignored files inside a work tree, every file outside one); the staged
index and history sources of later commands feed the same per-file scan.

Large trees are scanned by two worker processes; small scans (the hook, a few files)
stay in-process so that start-up stays cheap.
"""

from __future__ import annotations

import os
import stat
import subprocess
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from importobot._record import replace as record_replace
from importobot.config import Settings
from importobot.scan.finding import Finding, ScanResult, rule_info
from importobot.scan.rules.files import holds_secrets, is_binary, is_env_file, scan_file

__all__ = ["ScanOptions", "check_paths", "collect_files", "git_root", "scan_one"]

_PARALLEL_MIN_FILES = 200
_PARALLEL_MIN_BYTES = 16 * 1024 * 1024
_CHUNK_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class ScanOptions:
    """Command-line choices that shape one scan."""

    gitignore: bool = True
    inline_ignores: bool = True
    max_file_size: int | None = None
    #: Worker processes (``None``: up to 2 for big trees, in-process otherwise).
    jobs: int | None = None
    #: The directory paths are shown relative to.
    cwd: Path = field(default_factory=Path.cwd)


# --------------------------------------------------------------------------- git


def _git(args: Sequence[str], cwd: Path, stdin: bytes | None = None) -> bytes | None:
    """Run git; ``None`` when git is missing or fails (outside a work tree, say)."""
    from importobot.subproc import scrubbed_environ

    env = scrubbed_environ()  # D5: no IMPORTOBOT_*KEY* reaches git
    try:
        proc = subprocess.run(  # noqa: S603 - fixed argv, no shell
            ["git", *args],  # noqa: S607 - git from PATH, as every git tool does
            cwd=cwd,
            input=stdin,
            capture_output=True,
            env=env,
            timeout=300,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout


def git_root(path: Path) -> Path | None:
    """The top of the git work tree holding ``path``, or ``None``."""
    where = path if path.is_dir() else path.parent
    out = _git(["rev-parse", "--show-toplevel"], where)
    if not out:
        return None
    return Path(os.fsdecode(out.strip()))


def _git_files(directory: Path) -> list[Path] | None:
    out = _git(["ls-files", "-z", "--cached", "--others", "--exclude-standard"], directory)
    if out is None:
        return None
    seen: set[str] = set()
    files: list[Path] = []
    for raw in out.split(b"\0"):
        if not raw:
            continue
        name = os.fsdecode(raw)
        if name in seen:
            continue
        seen.add(name)
        files.append(directory / name)
    return files


def _walk(directory: Path) -> Iterator[Path]:
    for top, dirs, names in os.walk(directory, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in sorted(names):
            yield Path(top) / name


# ------------------------------------------------------------------------ choosing


def _display(path: Path, cwd: Path) -> str:
    try:
        return path.relative_to(cwd).as_posix()
    except ValueError:
        try:
            return path.resolve().relative_to(cwd.resolve()).as_posix()
        except (ValueError, OSError):
            return path.as_posix()


def _excluded(rel: str, globs: Sequence[str]) -> bool:
    for g in globs:
        if fnmatchcase(rel, g) or fnmatchcase(rel, g.rstrip("/") + "/*"):
            return True
        if "/" not in g and fnmatchcase(rel.rsplit("/", 1)[-1], g):
            return True
    return False


def collect_files(
    paths: Sequence[str], settings: Settings, options: ScanOptions, result: ScanResult
) -> list[tuple[Path, str, bool]]:
    """Files to scan as ``(path, display path, explicit)``; notes and skips go to ``result``.

    An explicit file is always scanned. A directory inside a work tree is walked as
    git's tracked + untracked-not-ignored files (``gitignore=False``: everything);
    outside git, everything. Symbolic links are never followed out of the tree.
    """
    cwd = options.cwd
    targets = list(paths) or ["."]
    out: list[tuple[Path, str, bool]] = []
    seen: set[str] = set()
    for target in targets:
        p = Path(target)
        if not p.is_absolute():
            p = cwd / p
        try:
            st = p.lstat()
        except OSError:
            result.notes.append(f"{target}: no such file or directory")
            result.skip("missing")
            continue
        if stat.S_ISLNK(st.st_mode):
            root = git_root(cwd) or cwd
            try:
                real = p.resolve(strict=True)
                inside = real.is_relative_to(root.resolve())
            except (OSError, RuntimeError):
                inside = False
            if not inside or not real.is_file():
                result.notes.append(f"{target}: symbolic link out of the tree, not followed")
                result.skip("symlink")
                continue
            st = real.stat()
        if stat.S_ISDIR(st.st_mode):
            files: Iterable[Path] | None = None
            if options.gitignore:
                files = _git_files(p)
            if files is None:
                files = _walk(p)
            for f in files:
                shown = _display(f, cwd)
                if shown in seen:
                    continue
                seen.add(shown)
                if settings.exclude and _excluded(shown, settings.exclude):
                    result.skip("excluded")
                    continue
                out.append((f, shown, False))
        elif stat.S_ISREG(st.st_mode):
            shown = _display(p, cwd)
            if shown not in seen:
                seen.add(shown)
                out.append((p, shown, True))
        else:
            result.notes.append(f"{target}: not a regular file")
            result.skip("special")
    return out


# ------------------------------------------------------------------------ scanning


@dataclass
class _ChunkResult:
    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    bytes: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    bytes_skipped: int = 0
    notes: list[str] = field(default_factory=list)


def _skip(res: _ChunkResult, reason: str, size: int = 0) -> None:
    res.skipped[reason] = res.skipped.get(reason, 0) + 1
    res.bytes_skipped += size


def scan_one(
    path: Path,
    shown: str,
    explicit: bool,
    *,
    max_size: int,
    env_globs: tuple[str, ...],
    inline_ignores: bool,
    res: _ChunkResult,
) -> None:
    """Read and scan one file, counting a skip (never raising) when it cannot be read."""
    try:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode) and not explicit:
            _skip(res, "symlink")
            return
        if not stat.S_ISREG(st.st_mode) and not explicit:
            _skip(res, "special")
            return
        size = st.st_size
        if size > max_size:
            _skip(res, "too-large", size)
            res.notes.append(f"{shown}: skipped, larger than the size limit ({size} bytes)")
            return
        with open(path, "rb") as fh:
            data = fh.read(max_size + 1)
    except FileNotFoundError:
        _skip(res, "missing")
        return
    except OSError as exc:
        _skip(res, "unreadable")
        res.notes.append(f"{shown}: unreadable ({exc.strerror or exc.__class__.__name__})")
        return
    if len(data) > max_size:
        _skip(res, "too-large", len(data))
        return
    if is_binary(data):
        _skip(res, "binary", len(data))
        return
    res.files += 1
    res.bytes += len(data)
    res.findings.extend(scan_file(shown, data, env_globs=env_globs, inline_ignores=inline_ignores))


def _scan_chunk(
    items: list[tuple[str, str, bool]], max_size: int, env_globs: tuple[str, ...], inline: bool
) -> _ChunkResult:
    res = _ChunkResult()
    for raw, shown, explicit in items:
        scan_one(
            Path(raw),
            shown,
            explicit,
            max_size=max_size,
            env_globs=env_globs,
            inline_ignores=inline,
            res=res,
        )
    return res


def _chunks(
    files: list[tuple[Path, str, bool]], sizes: list[int]
) -> list[list[tuple[str, str, bool]]]:
    chunks: list[list[tuple[str, str, bool]]] = []
    current: list[tuple[str, str, bool]] = []
    budget = 0
    for (p, shown, explicit), size in zip(files, sizes, strict=True):
        current.append((str(p), shown, explicit))
        budget += size
        if budget >= _CHUNK_BYTES or len(current) >= 512:
            chunks.append(current)
            current, budget = [], 0
    if current:
        chunks.append(current)
    return chunks


def _chunk_weights(chunks: list[list[tuple[str, str, bool]]], sizes: list[int]) -> list[int]:
    """Bytes per chunk (chunks hold the files in order)."""
    out: list[int] = []
    at = 0
    for chunk in chunks:
        out.append(sum(sizes[at : at + len(chunk)]))
        at += len(chunk)
    return out


def _run(
    files: list[tuple[Path, str, bool]],
    max_size: int,
    env_globs: tuple[str, ...],
    inline: bool,
    jobs: int | None,
) -> list[_ChunkResult]:
    sizes: list[int] = []
    for p, _, _ in files:
        try:
            sizes.append(p.lstat().st_size)
        except OSError:
            sizes.append(0)
    total = sum(s for s in sizes if s <= max_size)
    cpus = os.cpu_count() or 1
    workers = jobs if jobs is not None else min(2, cpus)
    if jobs is None and (len(files) < _PARALLEL_MIN_FILES and total < _PARALLEL_MIN_BYTES):
        workers = 1
    if workers <= 1 or len(files) < 2:
        items = [(str(p), s, e) for p, s, e in files]
        return [_scan_chunk(items, max_size, env_globs, inline)]
    # Big trees: chunks of files to worker processes, largest first so they balance.
    import concurrent.futures
    import multiprocessing

    chunks = _chunks(files, sizes)
    try:
        ctx = multiprocessing.get_context("fork") if os.name == "posix" else None
        with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            # Heaviest chunks first (by bytes), so no big chunk is left for last; results
            # keep the files' order.
            weight = _chunk_weights(chunks, sizes)
            order = sorted(range(len(chunks)), key=lambda i: -weight[i])
            futures = {
                i: pool.submit(_scan_chunk, chunks[i], max_size, env_globs, inline) for i in order
            }
            return [futures[i].result() for i in range(len(chunks))]
    except (OSError, concurrent.futures.process.BrokenProcessPool):
        items = [(str(p), s, e) for p, s, e in files]
        return [_scan_chunk(items, max_size, env_globs, inline)]


def _not_ignored(root: Path, paths: list[str]) -> set[str]:
    """The ``paths`` (relative to ``root``) git would *not* ignore."""
    stdin = b"\0".join(os.fsencode(p) for p in paths) + b"\0"
    try:
        proc = subprocess.run(  # noqa: S603 - fixed argv
            ["git", "check-ignore", "--no-index", "-z", "--stdin"],  # noqa: S607
            cwd=root,
            input=stdin,
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return set()
    if proc.returncode not in (0, 1):
        return set()
    ignored = {os.fsdecode(x) for x in proc.stdout.split(b"\0") if x}
    return {p for p in paths if p not in ignored}


def _iob103(
    findings: list[Finding],
    files: list[tuple[Path, str, bool]],
    cwd: Path,
    env_globs: tuple[str, ...],
    max_size: int,
) -> list[Finding]:
    """IOB103: an env file holding secrets that git does not ignore.

    A file whose keys are already reported (IOB101) gets no second finding: the
    IOB101 message says the file is not ignored instead.
    """
    env_files = [(p, shown) for p, shown, _ in files if is_env_file(shown, env_globs)]
    if not env_files:
        return []
    root = git_root(cwd)
    if root is None:
        return []
    with_keys = {f.path for f in findings if f.rule == "IOB101" and f.suppressed is None}
    rel: dict[str, str] = {}
    for p, shown in env_files:
        if shown not in with_keys:
            try:
                if p.stat().st_size > max_size:
                    continue
                text = p.read_bytes().decode("utf-8", errors="replace")
            except OSError:
                continue
            if not holds_secrets(text):
                continue
        try:
            rel[p.resolve().relative_to(root.resolve()).as_posix()] = shown
        except (ValueError, OSError):
            continue
    if not rel:
        return []
    exposed = {rel[r] for r in _not_ignored(root, list(rel))}
    for i, f in enumerate(findings):
        if f.path in exposed and f.rule == "IOB101":
            findings[i] = record_replace(f, message=f.message + "; the file is not git-ignored")
    info = rule_info("IOB103")
    return [
        Finding(
            rule="IOB103",
            severity=info.severity,
            path=shown,
            line=None,
            column=None,
            variable=None,
            key_type=None,
            key_bytes=None,
            fingerprint=None,
            message="env file holding secrets is not git-ignored: add it to .gitignore "
            "and commit an example file without values instead",
        )
        for shown in sorted(exposed - with_keys)
    ]


def _scan_filtered_from_index(
    files: list[tuple[Path, str, bool]],
    options: ScanOptions,
    result: ScanResult,
    max_size: int,
    env_globs: tuple[str, ...],
) -> list[tuple[Path, str, bool]]:
    """D11: tracked files with a git ``filter`` attribute (git-crypt, transcrypt) are
    judged by their index content, what the repository holds, not the decrypted work
    tree. Costs nothing unless an attributes file mentions ``filter``. Returns the rest.
    """
    root = git_root(options.cwd)
    if root is None or not files:
        return files
    from importobot.scan.git import GitError, filtered_paths, read_index_blobs

    rels: dict[str, int] = {}
    for n, (p, _shown, _explicit) in enumerate(files):
        try:
            rel = p.resolve().relative_to(root.resolve()).as_posix()
        except (ValueError, OSError):
            continue
        rels[rel] = n
    filtered = filtered_paths(str(root), list(rels))
    if not filtered:
        return files
    try:
        blobs = read_index_blobs(str(root), sorted(filtered))
    except GitError as exc:
        result.notes.append(f"git filter files read from the work tree: {exc}")
        return files
    taken: set[int] = set()
    for rel, entries in blobs.items():
        data = next((d for stage, _oid, kind, d in entries if stage == 0 and kind == "blob"), None)
        if data is None:
            continue
        n = rels[rel]
        taken.add(n)
        shown = files[n][1]
        if len(data) > max_size:
            result.skip("too-large", len(data))
            continue
        if is_binary(data):  # ciphertext, as git-crypt stores it
            result.skip("binary", len(data))
            continue
        result.files_scanned += 1
        result.bytes_scanned += len(data)
        result.findings.extend(
            scan_file(shown, data, env_globs=env_globs, inline_ignores=options.inline_ignores)
        )
    return [f for n, f in enumerate(files) if n not in taken]


def check_paths(
    paths: Sequence[str],
    settings: Settings,
    options: ScanOptions | None = None,
    *,
    baseline: set[tuple[str, str, str]] | None = None,
) -> ScanResult:
    """Scan ``paths`` (default: the current directory) and return every finding.

    ``baseline`` holds accepted ``(path, rule, fingerprint)`` entries (D13); matching
    findings are kept but marked suppressed, as are findings under an inline pragma.
    """
    options = options or ScanOptions()
    started = time.perf_counter()
    result = ScanResult()
    files = collect_files(paths, settings, options, result)
    max_size = options.max_file_size or settings.max_file_size
    env_globs = tuple(settings.env_files)
    files = _scan_filtered_from_index(files, options, result, max_size, env_globs)
    for chunk in _run(files, max_size, env_globs, options.inline_ignores, options.jobs):
        result.findings.extend(chunk.findings)
        result.files_scanned += chunk.files
        result.bytes_scanned += chunk.bytes
        for reason, n in chunk.skipped.items():
            result.skipped[reason] = result.skipped.get(reason, 0) + n
        result.bytes_skipped += chunk.bytes_skipped
        result.notes.extend(chunk.notes)
    result.findings.extend(_iob103(result.findings, files, options.cwd, env_globs, max_size))
    if baseline:
        result.findings = [
            f.with_suppression("baseline")
            if f.suppressed is None and (f.path or "", f.rule, f.fingerprint or "") in baseline
            else f
            for f in result.findings
        ]
    result.findings.sort(key=Finding.sort_key)
    result.seconds = time.perf_counter() - started
    return result
