"""One source of content, one scan loop.

Every scan — the pre-commit hook, ``check``, ``check --staged``, ``check --history`` —
turns what it scans into :class:`Item` records (shown path, root-relative path, bytes,
label, commit, line map) and hands them to :func:`scan_items`, the one loop that applies
exclusion, the size limit and the binary test (UTF-16 with a byte-order mark is decoded,
not binary), runs the per-file scan
(:func:`importobot.scan.rules.files.scan_file`) and labels the findings. The baseline is
applied afterwards in one place (:func:`importobot.scan.baseline.apply_baseline`).

The sources:

* :func:`index_items` — D12, for given paths: the stage-0 index blob (all blobs through
  one ``git cat-file --batch``, which honours ``GIT_INDEX_FILE``), and the work-tree copy
  too when it differs (labelled ``unstaged``); unmerged paths give stages 2 and 3
  (``ours``/``theirs``); an intent-to-add entry, and a path git does not track, is read
  from the work tree; files with a git ``filter`` attribute (git-crypt) by the index only.
  The hook passes its files; ``check --staged`` passes :func:`importobot.git.staged_paths`.
* :func:`history_items` — the lines each commit added (``git log -p``), with a map from
  the scanned text's lines back to the commit's line numbers; UTF-16 text, which git shows
  as binary, is read back from its blobs and decoded.
* work-tree files (``check PATH``) are chosen by :mod:`importobot.scan.engine` and read by
  :func:`read_item`.

Work-tree bytes are read through :func:`importobot.fsio.read_content`: never through a
symbolic link, never from a FIFO or device, never more than the size limit.

On the hook's start-up path (D17): the top level imports only ``os`` and light modules.
"""

from __future__ import annotations

import os

from importobot._record import Record
from importobot._text import printable
from importobot.fsio import FileRefused, read_content

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    from importobot.git import BinaryChange
    from importobot.scan.finding import Finding, ScanResult
    from importobot.scan.keysearch import KeyNeedles
    from importobot.scan.vendored import VendorJudge

__all__ = [
    "FATAL_SKIPS",
    "Item",
    "history_items",
    "index_items",
    "read_item",
    "scan_items",
]

#: Skip reasons that mean a passed file could not be judged at all.
FATAL_SKIPS = ("missing", "unreadable", "directory")


class Item(Record):
    """Bytes to scan and where they come from.

    ``shown`` is the path as reports show it (relative to the working directory, made
    printable on construction); ``rel`` the path relative to the repository root (``None``
    outside it), which the excludes and the baseline match; ``label`` marks a second copy
    of a path (``unstaged``, ``ours``, ``theirs``); ``commit`` and ``lines`` (scanned line
    → real line, 0 for a separator) are set for history. ``repr`` never shows the data.
    """

    shown: str
    rel: str | None
    data: bytes
    label: str | None = None
    commit: str | None = None
    lines: list[int] | None = None

    def __init__(
        self,
        shown: str,
        rel: str | None,
        data: bytes,
        label: str | None = None,
        commit: str | None = None,
        lines: list[int] | None = None,
    ) -> None:
        super().__init__(printable(shown), rel, data, label, commit, lines)

    def __repr__(self) -> str:  # never the data
        return f"Item({self.shown!r}, label={self.label!r}, {len(self.data)} bytes)"


# ------------------------------------------------------------------------ work tree


def read_item(
    path: str, shown: str, rel: str | None, max_size: int, result: ScanResult
) -> Item | None:
    """The work-tree file at ``path`` as an :class:`Item`, or ``None`` (skip counted)."""
    try:
        data = read_content(path, max_size)
    except FileRefused as exc:
        _refused(result, shown, exc)
        return None
    return Item(shown, rel, data)


def _refused(result: ScanResult, shown: str, exc: FileRefused) -> None:
    from importobot.fsio import describe

    result.skip(exc.reason)
    if exc.reason == "too-large":
        result.notes.append(f"{printable(shown)}: skipped, larger than the size limit")
    elif exc.reason in ("symlink", "special"):
        result.notes.append(f"{printable(shown)}: skipped, {describe(exc.reason)}")
    else:
        result.notes.append(f"{printable(shown)}: {exc.detail or describe(exc.reason)}")


# ---------------------------------------------------------------------------- index


def index_items(
    top: str,
    files: Sequence[tuple[str, str, str | None]],
    max_size: int,
    result: ScanResult,
    *,
    in_git: bool = True,
) -> tuple[list[Item], int]:
    """D12 for ``files`` = ``[(path on disk, shown, rel to top or None)]``.

    Returns ``(items, empty)``: what to scan, and how many passed files were empty (read
    and judged: nothing to find). Problems are counted in ``result`` with a note.
    """
    from importobot.git import EMPTY_BLOB

    rels = [rel for _, _, rel in files if rel is not None]
    blobs: dict[str, list[tuple[int, str, str, bytes]]] = {}
    filtered: set[str] = set()
    if in_git and rels:
        from importobot.git import filtered_paths, index_path, maybe_tracked, read_index_blobs

        if os.environ.get("GIT_DIR") or maybe_tracked(index_path(top), rels):
            blobs = read_index_blobs(top, rels)
            if blobs:
                filtered = filtered_paths(top, [r for r in rels if r in blobs])
    items: list[Item] = []
    empty = 0
    for path, shown, rel in files:
        entries = blobs.get(rel) if rel is not None else None
        if not entries:
            item = read_item(path, shown, rel, max_size, result)
            if item is None:
                continue
            if item.data:
                items.append(item)
            else:
                empty += 1
            continue
        stage0 = [e for e in entries if e[0] == 0]
        if not stage0:  # unmerged: ours and theirs
            for stage, _oid, kind, data in entries:
                if kind == "blob":
                    items.append(Item(shown, rel, data, "ours" if stage == 2 else "theirs"))
            continue
        _stage, oid, kind, staged = stage0[0]
        if kind != "blob":
            result.skip("submodule")
            result.notes.append(
                f"{printable(shown)}: a submodule, not scanned (scan it on its own)"
            )
            continue
        if rel in filtered:
            # git-crypt & co.: the index holds ciphertext, the work tree the plaintext.
            items.append(Item(shown, rel, staged))
            continue
        try:
            work: bytes | None = read_content(path, max_size)
        except FileRefused:
            work = None  # deleted or replaced in the work tree: the index is what counts
        if oid == EMPTY_BLOB and work:
            items.append(Item(shown, rel, work))  # intent-to-add (or staged empty)
            continue
        if staged:
            items.append(Item(shown, rel, staged))
        else:
            empty += 1
        if work and work != staged:
            items.append(Item(shown, rel, work, "unstaged"))
    return items, empty


# -------------------------------------------------------------------------- history


def _added_text(added: list[tuple[int, bytes]]) -> tuple[bytes, list[int]]:
    """The added lines as one text, a blank line between runs; ``map[i]`` = real line."""
    parts: list[bytes] = []
    real: list[int] = []
    last = None
    for lineno, text in added:
        if last is not None and lineno != last + 1:
            parts.append(b"")
            real.append(0)
        parts.append(text)
        real.append(lineno)
        last = lineno
    return b"\n".join(parts) + b"\n", real


def history_items(
    cwd: str,
    rev_range: str | None,
    paths: Sequence[str],
    commits: set[str],
    *,
    revs: Sequence[str] | None = None,
    literal_paths: bool = False,
    timeout: float | None = None,
) -> Iterator[Item]:
    """The lines every commit in ``rev_range`` (default all refs) added, per file.

    ``paths`` limit history like ``git log -- PATH``. Shown paths are relative to the
    repository root (history has no working directory). ``commits`` collects the commits
    seen. ``revs`` (instead of ``rev_range``) is a revision *set* such as
    ``[new, "--not", "--all"]`` — the pushed commits a pre-push or pre-receive gate judges
    (:func:`importobot.git.iter_added`, which also takes ``literal_paths`` and
    ``timeout``). Raises :class:`~importobot.git.GitError` when git fails.
    """
    from importobot.git import iter_added, iter_history

    deadline = None
    if timeout is not None:
        import time

        deadline = time.monotonic() + timeout
    binary: list[BinaryChange] = []
    if revs is not None:
        source = iter_added(
            cwd, revs, paths, literal_paths=literal_paths, timeout=timeout, binary=binary
        )
    else:
        source = iter_history(cwd, rev_range, paths, binary=binary)
    for commit, path, added in source:
        commits.add(commit)
        data, real = _added_text(added)
        yield Item(path, path, data, commit=commit, lines=real)
    if binary:
        yield from _decoded_binary(cwd, binary, commits, deadline)


#: Binary changes larger than this are not read back for a text encoding git missed.
_DECODE_MAX = 2 * 1024 * 1024


def _decoded_binary(
    cwd: str, changes: list[BinaryChange], commits: set[str], deadline: float | None = None
) -> Iterator[Item]:
    """UTF-16 text that ``git log -p`` showed as binary: the lines each commit added, read
    from the blobs (:func:`importobot.scan.rules.files.text_bytes` decodes them). A line
    counts as added when the first parent's version has no such line. Only blobs whose
    change git showed as binary and of at most ``_DECODE_MAX`` bytes are read (``git
    cat-file`` batches of bounded size, :func:`importobot.git.iter_blobs`); only those
    starting with a UTF-16 byte-order mark are kept. Past ``deadline`` (the gate's time
    budget) no further batch is read: :class:`~importobot.git.GitTimeout`."""
    from importobot.git import iter_blobs
    from importobot.scan.rules.files import text_bytes

    boms = (b"\xff\xfe", b"\xfe\xff")
    blobs = {
        oid: data
        for oid, data in iter_blobs(cwd, [c.new for c in changes], _DECODE_MAX, deadline=deadline)
        if data[:2] in boms
    }
    utf16 = [c for c in changes if c.new in blobs]
    if not utf16:
        return
    blobs.update(iter_blobs(cwd, [c.old for c in utf16], _DECODE_MAX, deadline=deadline))
    for change in utf16:
        text = text_bytes(blobs[change.new])
        if text is None:
            continue
        old = text_bytes(blobs.get(change.old, b"")) or b""
        before = set(old.split(b"\n"))
        added = [
            (lineno, line)
            for lineno, line in enumerate(text.split(b"\n"), 1)
            if line.strip() and line not in before
        ]
        if not added:
            continue
        commits.add(change.commit)
        data, real = _added_text(added)
        yield Item(change.path, change.path, data, commit=change.commit, lines=real)


# ------------------------------------------------------------------------ the loop


def scan_items(
    items: Iterable[Item],
    result: ScanResult,
    *,
    env_globs: tuple[str, ...] = (),
    max_size: int,
    inline_ignores: bool = True,
    exclude: tuple[str, ...] = (),
    vendor: VendorJudge | None = None,
    keys: KeyNeedles | None = None,
) -> None:
    """Scan each item into ``result``: exclusion, size, binary test, per-file scan, labels.

    ``vendor`` (:mod:`importobot.scan.vendored`) skips vendored files and minified bundles,
    counted as ``vendored`` (``None``: scan them; the judge is closed at the end).
    ``keys`` (:mod:`importobot.scan.keysearch`) finds the keys the process holds, in any
    spelling, in every item that passes exclusion and the size limit, vendored or binary
    too: IOB204 findings (never suppressed, D13).

    A second copy of a path (``unstaged``) reports only what the first did not. Findings
    of history items carry their commit and real line numbers. Root-relative paths are
    recorded in ``result.paths`` for the baseline.
    """
    from importobot.scan.rules.files import scan_file, text_bytes

    matcher = None
    if exclude:
        from importobot.scan.excludes import ExcludeMatcher

        matcher = ExcludeMatcher(exclude)
    seen: dict[str, set[tuple[str, str | None]]] = {}
    for item in items:
        where = item.rel if item.rel is not None else item.shown
        if matcher is not None and matcher.excluded(where):
            result.skip("excluded")
            continue
        data = item.data
        if len(data) > max_size:
            result.skip("too-large", len(data))
            result.notes.append(f"{printable(item.shown)}: skipped, larger than the size limit")
            continue
        if keys is not None:
            result.findings.extend(_placed(f, item) for f in keys.findings(item.shown, data))
        if vendor is not None and vendor.vendored(
            item.rel, data, commit=item.commit, label=item.label
        ):
            result.skip("vendored", len(data))
            continue
        text = text_bytes(data)  # UTF-16 with a BOM is decoded; None: binary
        if text is None:
            result.skip("binary", len(data))
            continue
        result.files_scanned += 1
        result.bytes_scanned += len(data)
        if item.rel is not None:
            result.paths[item.shown] = item.rel
        found = scan_file(item.shown, text, env_globs=env_globs, inline_ignores=inline_ignores)
        if not found:
            continue
        known = seen.setdefault(item.shown, set())
        for f in found:
            ident = (f.rule, f.fingerprint)
            if item.label == "unstaged" and ident in known:
                continue  # the same key is already reported from the index
            known.add(ident)
            result.findings.append(_placed(f, item))
    if vendor is not None:
        vendor.close()


def _placed(f: Finding, item: Item) -> Finding:
    """``f`` with the item's commit and real line, or its label as a note."""
    from importobot._record import replace

    if item.commit is not None:
        lines = item.lines or []
        line = lines[f.line - 1] if f.line and 0 < f.line <= len(lines) else f.line
        message = f"{f.message} (commit {item.commit[:12]})"
        return replace(f, line=line, commit=item.commit, message=message)
    if item.label is not None:
        return replace(f, note=f"{f.note}; {item.label}" if f.note else item.label)
    return f
