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
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from importobot._text import printable
from importobot.config import Settings
from importobot.scan.finding import ScanResult
from importobot.scan.sources import Item, read_item, scan_items
from importobot.scan.vendored import VendorJudge, vendored_note

__all__ = ["ScanOptions", "check_paths", "collect_files", "git_root"]

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
    #: The repository root paths are matched against (excludes, baseline); default cwd.
    root: Path | None = None
    #: Also scan vendored trees and minified bundles (:mod:`importobot.scan.vendored`).
    include_vendored: bool = False


def git_root(path: Path) -> Path | None:
    """The top of the git work tree holding ``path``, or ``None``."""
    from importobot.git import GitError, repository

    where = path if path.is_dir() else path.parent
    try:
        repo = repository(str(where))
    except GitError:
        return None
    return Path(repo.top) if repo.top else None


def _git_files(directory: Path) -> list[Path] | None:
    from importobot.git import GitError, list_files

    try:
        names = list_files(str(directory))
    except GitError:
        return None
    return None if names is None else [directory / n for n in names]


def _walk(directory: Path) -> Iterator[Path]:
    for top, dirs, names in os.walk(directory, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in sorted(names):
            yield Path(top) / name


# ------------------------------------------------------------------------ choosing


def _display(path: Path, cwd: Path) -> str:
    """How reports show ``path``: relative to ``cwd`` when inside it, made printable."""
    try:
        shown = path.relative_to(cwd).as_posix()
    except ValueError:
        try:
            shown = path.resolve().relative_to(cwd.resolve()).as_posix()
        except (ValueError, OSError):
            shown = path.as_posix()
    return printable(shown)


def _rel(path: Path, root: Path) -> str | None:
    """``path`` relative to ``root`` (lexically, links not resolved), or ``None``."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        rel = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
        return None if rel == ".." or rel.startswith("../") else rel.replace(os.sep, "/")


#: One file to scan: (path on disk, shown path, path relative to the root or None).
FileEntry = tuple[str, str, "str | None"]


def collect_files(
    paths: Sequence[str], settings: Settings, options: ScanOptions, result: ScanResult
) -> list[FileEntry]:
    """Files to scan as ``(path, shown, rel)``; notes and skips go to ``result``.

    An explicit file is always scanned; an explicit symbolic link is followed when its
    target is a regular file inside the repository (an operator named it). A directory
    inside a work tree is walked as git's tracked + untracked-not-ignored files
    (``gitignore=False``: everything); outside git, everything; links inside are never
    followed. Excludes are applied later, on the root-relative path (:func:`scan_items`).
    """
    cwd = options.cwd
    root = options.root or cwd
    matcher = None
    if settings.exclude:
        from importobot.scan.excludes import ExcludeMatcher

        matcher = ExcludeMatcher(settings.exclude)
    targets = list(paths) or ["."]
    out: list[FileEntry] = []
    seen: set[str] = set()
    for target in targets:
        p = Path(target)
        if not p.is_absolute():
            p = cwd / p
        try:
            st = p.lstat()
        except OSError:
            result.notes.append(f"{printable(target)}: no such file or directory")
            result.skip("missing")
            continue
        shown_as = p
        if stat.S_ISLNK(st.st_mode):
            try:
                real = p.resolve(strict=True)
                inside = real.is_relative_to(root.resolve())
                st = real.stat()
            except (OSError, RuntimeError):
                inside = False
            if not inside or not stat.S_ISREG(st.st_mode):
                result.notes.append(
                    f"{printable(target)}: symbolic link out of the tree, not followed"
                )
                result.skip("symlink")
                continue
            p = real
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
                rel = _rel(f, root)
                if matcher is not None and matcher.excluded(rel if rel is not None else shown):
                    result.skip("excluded")
                    continue
                out.append((str(f), shown, rel))
        elif stat.S_ISREG(st.st_mode):
            shown = _display(shown_as, cwd)
            if shown not in seen:
                seen.add(shown)
                out.append((str(p), shown, _rel(shown_as, root)))
        else:
            result.notes.append(f"{printable(target)}: not a regular file, not read")
            result.skip("special")
    return out


# ------------------------------------------------------------------------ scanning


# Not a record: pickled to worker processes by hand, kept minimal on purpose.
class _Job:
    """What every chunk needs (sent to worker processes)."""

    __slots__ = ("env_globs", "exclude", "inline", "max_size", "vendor_root")

    def __init__(
        self,
        max_size: int,
        env_globs: tuple[str, ...],
        inline: bool,
        exclude: tuple[str, ...],
        vendor_root: str | None = None,
    ) -> None:
        self.max_size = max_size
        self.env_globs = env_globs
        self.inline = inline
        self.exclude = exclude
        #: Where vendored trees are recognised from (``None``: vendored files are scanned).
        self.vendor_root = vendor_root

    def vendor(self, *, index: bool = False) -> VendorJudge | None:
        """A fresh judge of vendored files for one chunk (``None`` when they are scanned)."""
        if self.vendor_root is None:
            return None
        return VendorJudge(self.vendor_root, index=index, env_globs=self.env_globs)

    def __getstate__(self) -> tuple[int, tuple[str, ...], bool, tuple[str, ...], str | None]:
        return (self.max_size, self.env_globs, self.inline, self.exclude, self.vendor_root)

    def __setstate__(
        self, state: tuple[int, tuple[str, ...], bool, tuple[str, ...], str | None]
    ) -> None:
        self.max_size, self.env_globs, self.inline, self.exclude, self.vendor_root = state


def _items(files: list[FileEntry], job: _Job, result: ScanResult) -> Iterator[Item]:
    for path, shown, rel in files:
        item = read_item(path, shown, rel, job.max_size, result)
        if item is not None:
            yield item


def _scan_chunk(files: list[FileEntry], job: _Job) -> ScanResult:
    res = ScanResult()
    scan_items(
        _items(files, job, res),
        res,
        env_globs=job.env_globs,
        max_size=job.max_size,
        inline_ignores=job.inline,
        exclude=job.exclude,
        vendor=job.vendor(),
    )
    return res


def _chunks(files: list[FileEntry], sizes: list[int]) -> list[list[FileEntry]]:
    chunks: list[list[FileEntry]] = []
    current: list[FileEntry] = []
    budget = 0
    for entry, size in zip(files, sizes, strict=True):
        current.append(entry)
        budget += size
        if budget >= _CHUNK_BYTES or len(current) >= 512:
            chunks.append(current)
            current, budget = [], 0
    if current:
        chunks.append(current)
    return chunks


def _chunk_weights(chunks: list[list[FileEntry]], sizes: list[int]) -> list[int]:
    """Bytes per chunk (chunks hold the files in order)."""
    out: list[int] = []
    at = 0
    for chunk in chunks:
        out.append(sum(sizes[at : at + len(chunk)]))
        at += len(chunk)
    return out


def _run(files: list[FileEntry], job: _Job, jobs: int | None) -> list[ScanResult]:
    sizes: list[int] = []
    for p, _, _ in files:
        try:
            sizes.append(os.lstat(p).st_size)
        except OSError:
            sizes.append(0)
    total = sum(s for s in sizes if s <= job.max_size)
    cpus = os.cpu_count() or 1
    workers = jobs if jobs is not None else min(2, cpus)
    if jobs is None and (len(files) < _PARALLEL_MIN_FILES and total < _PARALLEL_MIN_BYTES):
        workers = 1
    if workers <= 1 or len(files) < 2:
        return [_scan_chunk(files, job)]
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
            futures = {i: pool.submit(_scan_chunk, chunks[i], job) for i in order}
            return [futures[i].result() for i in range(len(chunks))]
    except (OSError, concurrent.futures.process.BrokenProcessPool):
        return [_scan_chunk(files, job)]


def _merge(into: ScanResult, part: ScanResult) -> None:
    into.findings.extend(part.findings)
    into.files_scanned += part.files_scanned
    into.bytes_scanned += part.bytes_scanned
    for reason, n in part.skipped.items():
        into.skipped[reason] = into.skipped.get(reason, 0) + n
    into.bytes_skipped += part.bytes_skipped
    into.notes.extend(part.notes)
    into.paths.update(part.paths)


def _scan_filtered_from_index(
    files: list[FileEntry], root: Path | None, job: _Job, result: ScanResult
) -> list[FileEntry]:
    """D11: tracked files with a git ``filter`` attribute (git-crypt, transcrypt) are
    judged by their index content, what the repository holds, not the decrypted work
    tree. Costs nothing unless an attributes file mentions ``filter``. Returns the rest.
    """
    if root is None or not files:
        return files
    from importobot.git import GitError, filtered_paths, read_index_blobs

    rels = {rel: n for n, (_p, _shown, rel) in enumerate(files) if rel is not None}
    filtered = filtered_paths(str(root), list(rels))
    if not filtered:
        return files
    try:
        blobs = read_index_blobs(str(root), sorted(filtered))
    except GitError as exc:
        result.notes.append(f"git filter files read from the work tree: {exc}")
        return files
    taken: set[int] = set()
    items: list[Item] = []
    for rel, entries in blobs.items():
        data = next((d for stage, _oid, kind, d in entries if stage == 0 and kind == "blob"), None)
        if data is None:
            continue
        n = rels[rel]
        taken.add(n)
        items.append(Item(files[n][1], rel, data))
    scan_items(
        items,
        result,
        env_globs=job.env_globs,
        max_size=job.max_size,
        inline_ignores=job.inline,
        exclude=job.exclude,
        vendor=job.vendor(index=True),
    )
    return [f for n, f in enumerate(files) if n not in taken]


def check_paths(
    paths: Sequence[str],
    settings: Settings,
    options: ScanOptions | None = None,
) -> ScanResult:
    """Scan ``paths`` (default: the current directory) and return every finding.

    Findings under an inline pragma are kept but marked suppressed; the baseline is
    applied by the caller (:func:`importobot.scan.baseline.apply_baseline`).
    """
    from importobot.scan.rules.env_ignored import env_not_ignored

    options = options or ScanOptions()
    started = time.perf_counter()
    result = ScanResult()
    files = collect_files(paths, settings, options, result)
    job = _Job(
        options.max_file_size or settings.max_file_size,
        tuple(settings.env_files),
        options.inline_ignores,
        (),  # excludes were applied when the files were chosen (explicit files never are)
        None if options.include_vendored else str(options.root or options.cwd),
    )
    top = git_root(options.root or options.cwd)
    files = _scan_filtered_from_index(files, top, job, result)
    for part in _run(files, job, options.jobs):
        _merge(result, part)
    result.findings.extend(env_not_ignored(result, files, top, job.env_globs, job.max_size))
    vendored_note(result)
    result.findings.sort(key=lambda f: f.sort_key())
    result.seconds = time.perf_counter() - started
    return result
