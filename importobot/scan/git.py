"""Git sources for the per-file scan: staged index blobs (D12) and history (D14).

Two sources feed :func:`importobot.scan.rules.files.scan_file`, the same per-file scan
``importobot check PATH`` uses:

* **the index** — :func:`read_index_blobs` reads the blobs of many paths through *one*
  ``git cat-file --batch`` (which honours ``GIT_INDEX_FILE``, so ``git commit -a`` and
  ``git commit PATH`` hooks see the index git is about to commit). Stage 0 when
  merged, stages 2 and 3 when unmerged. :func:`scan_staged` is ``check --staged``.
* **history** — :func:`iter_history` streams *one* ``git log -p -U0 --cc`` and yields
  the lines each commit added, per file, with their line numbers. Merge commits add
  only lines that are new against every parent (an "evil merge"), so a key merged
  in from a branch is reported once, at the commit that added it.
  :func:`scan_history` is ``check --history``.

This module is on the hook's start-up path (D17): the top level imports only ``os``;
everything heavier is imported inside the functions that need it.
"""

from __future__ import annotations

import os

from importobot.exceptions import ImportobotError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

    from importobot.config import Settings
    from importobot.scan.engine import ScanOptions
    from importobot.scan.finding import Finding, ScanResult

__all__ = [
    "EMPTY_BLOB",
    "GitError",
    "IndexBlob",
    "git_dir",
    "index_path",
    "iter_history",
    "filtered_paths",
    "maybe_tracked",
    "read_index_blobs",
    "run_git",
    "scan_history",
    "scan_staged",
    "staged_paths",
]

#: The object id of the empty blob (what an intent-to-add entry points at).
EMPTY_BLOB = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"

#: One index entry read back: ``(stage, object id, object type, content)``.
IndexBlob = tuple[int, str, str, bytes]

# Inputs up to this size are written to git's stdin in one go before reading its output
# (a pipe buffer holds 64 KiB on Linux), which needs no threads or selectors.
_SMALL_INPUT = 32 * 1024


class GitError(ImportobotError):
    """git could not answer (not a repository, a broken one, git missing). Exit 2."""


# --------------------------------------------------------------------------- plumbing


def git_dir(root: str) -> str | None:
    """The git directory of the work tree at ``root`` (``.git`` or a ``gitdir:`` file)."""
    dot = os.path.join(root, ".git")
    if os.path.isdir(dot):
        return dot
    try:
        with open(dot, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    if not head.startswith(b"gitdir:"):
        return None
    target = os.fsdecode(head[7:].strip())
    return target if os.path.isabs(target) else os.path.normpath(os.path.join(root, target))


def index_path(root: str) -> str | None:
    """The index git would use for the work tree at ``root`` (``GIT_INDEX_FILE`` wins)."""
    override = os.environ.get("GIT_INDEX_FILE")
    if override:
        return override if os.path.isabs(override) else os.path.join(root, override)
    gdir = git_dir(root)
    return os.path.join(gdir, "index") if gdir else None


def maybe_tracked(index: str | None, rel_paths: Sequence[str]) -> bool:
    """False only when none of ``rel_paths`` can be in the index at ``index``.

    A cheap byte search that saves a git call for untracked files (D17): index versions
    2 and 3 store each path in full, so a path absent from the bytes is not tracked.
    Version 4 compresses paths and other states answer ``True`` (ask git).
    """
    if index is None:
        return True
    try:
        with open(index, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return False  # no index yet: nothing is tracked
    except OSError:
        return True
    if len(data) < 12 or data[:4] != b"DIRC" or data[4:8] not in (b"\0\0\0\2", b"\0\0\0\3"):
        return True
    return any(os.fsencode(p) in data for p in rel_paths)


def run_git(args: Sequence[str], cwd: str, stdin: bytes = b"") -> tuple[int, bytes, bytes]:
    """Run ``git ARGS`` in ``cwd``; returns ``(returncode, stdout, stderr)``.

    The environment drops ``IMPORTOBOT_*KEY*`` (D5) and keeps ``GIT_*`` (``GIT_INDEX_FILE``
    above all). Small inputs use ``posix_spawn`` and plain pipes (no ``subprocess``
    import on the hook path); anything else goes through :mod:`subprocess`.
    Raises :class:`GitError` when git cannot be started.
    """
    from importobot.subproc import scrubbed_environ

    env = scrubbed_environ()
    argv = ["git", *args]
    if len(stdin) <= _SMALL_INPUT and hasattr(os, "posix_spawnp") and os.name == "posix":
        return _spawn_small(argv, cwd, stdin, env)
    import subprocess

    try:
        proc = subprocess.run(  # noqa: S603 - fixed argv, no shell
            argv,
            cwd=cwd,
            input=stdin,
            capture_output=True,
            env=env,
            check=False,
        )
    except OSError as exc:
        raise GitError(f"cannot run git ({exc.strerror or exc})") from None
    return proc.returncode, proc.stdout, proc.stderr


def _spawn_small(
    argv: list[str], cwd: str, stdin: bytes, env: dict[str, str]
) -> tuple[int, bytes, bytes]:
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    # git inherits only these three ends; posix_spawn has no cwd argument, so change into
    # it through git's own -C option.
    actions = [
        (os.POSIX_SPAWN_DUP2, in_r, 0),
        (os.POSIX_SPAWN_DUP2, out_w, 1),
        (os.POSIX_SPAWN_DUP2, err_w, 2),
    ]
    for src, dst in ((in_r, 0), (out_w, 1), (err_w, 2)):
        if src == dst:
            # Our own std fd was closed, so the pipe took its number: dup2 onto itself is a
            # no-op that would leave close-on-exec set (git would see a closed fd).
            os.set_inheritable(src, True)
    try:
        pid = os.posix_spawnp(argv[0], [argv[0], "-C", cwd, *argv[1:]], env, file_actions=actions)
    except OSError as exc:
        for fd in (in_r, in_w, out_r, out_w, err_r, err_w):
            os.close(fd)
        raise GitError(f"cannot run git ({exc.strerror or exc})") from None
    os.close(in_r)
    os.close(out_w)
    os.close(err_w)
    try:
        if stdin:
            os.write(in_w, stdin)  # fits in the pipe buffer: never blocks on git
    except BrokenPipeError:
        pass
    finally:
        os.close(in_w)
    chunks: list[bytes] = []
    while True:
        chunk = os.read(out_r, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(out_r)
    err = b""
    while True:
        # stderr is small; git writes it before exiting, so reading after stdout is safe
        # up to the pipe buffer, which error messages never fill.
        piece = os.read(err_r, 1 << 16)
        if not piece:
            break
        err += piece
    os.close(err_r)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), b"".join(chunks), err


def _first_line(err: bytes) -> str:
    text = err.decode("utf-8", "replace").strip().splitlines()
    return text[0] if text else "git failed"


# ------------------------------------------------------------------------------ index


def read_index_blobs(cwd: str, rel_paths: Sequence[str]) -> dict[str, list[IndexBlob]]:
    """Index entries of ``rel_paths`` (relative to the work-tree top), through one git call.

    For each path: ``[(0, oid, type, data)]`` when merged, ``[(2, …), (3, …)]`` (those
    present) when unmerged, no key when the path is not in the index. ``type`` is
    ``blob`` for files, ``commit`` for a submodule (whose data is then empty).
    Paths holding a newline cannot be asked for; they are left out (read the work tree).
    """
    asked: list[tuple[str, int]] = []
    lines: list[bytes] = []
    for p in dict.fromkeys(rel_paths):
        if "\n" in p or not p:
            continue
        for stage in (0, 2, 3):
            asked.append((p, stage))
            lines.append(f":{stage}:{p}\n".encode("utf-8", "surrogateescape"))
    if not asked:
        return {}
    code, out, err = run_git(["cat-file", "--batch"], cwd, b"".join(lines))
    if code != 0:
        raise GitError(f"git cat-file failed: {_first_line(err)}")
    found: dict[str, list[IndexBlob]] = {}
    pos = 0
    for p, stage in asked:
        end = out.find(b"\n", pos)
        if end < 0:
            raise GitError("git cat-file: truncated answer")
        header = out[pos:end]
        pos = end + 1
        if header.endswith((b" missing", b" ambiguous")):
            continue
        parts = header.split(b" ")
        if len(parts) != 3:
            raise GitError("git cat-file: unexpected answer")
        oid, kind, size = parts[0].decode(), parts[1].decode(), int(parts[2])
        data = out[pos : pos + size]
        pos += size + 1
        if kind == "commit":
            data = b""  # a submodule: its commit object is not file content
        found.setdefault(p, []).append((stage, oid, kind, data))
    return found


def filtered_paths(root: str, rels: Sequence[str]) -> set[str]:
    """Paths with a git ``filter`` attribute (git-crypt …): their work tree is plaintext.

    Only asks git (a second call) when an attributes file mentions ``filter``.
    """
    candidates = {os.path.join(root, ".gitattributes")}
    gdir = git_dir(root)
    if gdir:
        candidates.add(os.path.join(gdir, "info", "attributes"))
    for rel in rels:
        parts = rel.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            candidates.add(os.path.join(root, *parts[:i], ".gitattributes"))
    mentioned = False
    for name in candidates:
        try:
            with open(name, "rb") as handle:
                if b"filter" in handle.read():
                    mentioned = True
                    break
        except OSError:
            continue
    if not mentioned:
        return set()
    stdin = b"".join(os.fsencode(r) + b"\0" for r in rels)
    code, out, _ = run_git(["check-attr", "-z", "--stdin", "filter"], root, stdin)
    if code != 0:
        return set()
    fields = out.split(b"\0")
    filtered: set[str] = set()
    for i in range(0, len(fields) - 2, 3):
        value = fields[i + 2]
        if value not in (b"unspecified", b"unset", b""):
            filtered.add(os.fsdecode(fields[i]))
    return filtered


def staged_paths(cwd: str, pathspecs: Sequence[str] = ()) -> list[str]:
    """Paths (relative to the top) the next commit adds or changes, renames included.

    Works before the first commit too (everything in the index is then new).
    """
    code, out, err = run_git(["rev-parse", "--verify", "-q", "HEAD"], cwd)
    base = "HEAD" if code == 0 else _empty_tree(cwd)
    args = ["diff-index", "--cached", "--name-only", "-z", "--diff-filter=d", "-M", base, "--"]
    code, out, err = run_git([*args, *pathspecs], cwd)
    if code != 0:
        raise GitError(f"git diff-index failed: {_first_line(err)}")
    return list(dict.fromkeys(os.fsdecode(p) for p in out.split(b"\0") if p))


def _empty_tree(cwd: str) -> str:
    code, out, err = run_git(["hash-object", "-t", "tree", "--stdin"], cwd)
    if code != 0:
        raise GitError(f"git hash-object failed: {_first_line(err)}")
    return out.decode().strip()


def _repo_state(cwd: str) -> tuple[str, bool, bool, str]:
    """``(top or "", bare, shallow, git dir)``; :class:`GitError` outside a repository."""
    code, out, err = run_git(
        ["rev-parse", "--is-bare-repository", "--is-shallow-repository", "--absolute-git-dir"],
        cwd,
    )
    if code != 0:
        raise GitError(f"not a usable git repository: {_first_line(err)}")
    fields = out.decode("utf-8", "surrogateescape").splitlines()
    if len(fields) < 3:
        raise GitError("git rev-parse: unexpected answer")
    bare = fields[0] == "true"
    top = ""
    if not bare:
        code, out, _ = run_git(["rev-parse", "--show-toplevel"], cwd)
        top = os.fsdecode(out.strip()) if code == 0 else ""
    return top, bare, fields[1] == "true", fields[2]


# ------------------------------------------------------------------------------ scans


def _apply_baseline(findings: list[Finding], baseline: set[tuple[str, str, str]] | None) -> None:
    if not baseline:
        return
    for i, f in enumerate(findings):
        if f.suppressed is None and (f.path or "", f.rule, f.fingerprint or "") in baseline:
            findings[i] = f.with_suppression("baseline")


def _excluded(shown: str, settings: Settings) -> bool:
    if not settings.exclude:
        return False
    from importobot.scan.engine import _excluded as excluded

    return excluded(shown, settings.exclude)


def _display(top: str, rel: str, cwd: Path) -> str:
    from pathlib import Path

    full = Path(top, rel)
    try:
        return full.relative_to(cwd).as_posix()
    except ValueError:
        return rel


def scan_staged(
    settings: Settings,
    options: ScanOptions,
    pathspecs: Sequence[str] = (),
    *,
    baseline: set[tuple[str, str, str]] | None = None,
) -> ScanResult:
    """``check --staged``: scan the index blobs of what the next commit adds or changes.

    Unmerged paths scan stages 2 and 3. Raises :class:`GitError` outside a work tree.
    """
    import time

    from importobot.scan.finding import ScanResult
    from importobot.scan.rules.files import is_binary, scan_file

    started = time.perf_counter()
    result = ScanResult()
    cwd = str(options.cwd)
    top, bare, _, _ = _repo_state(cwd)
    if bare or not top:
        raise GitError("--staged needs a work tree (this repository is bare)")
    rels = staged_paths(cwd, pathspecs)
    if not rels:
        result.notes.append("nothing staged")
    blobs = read_index_blobs(top, rels)
    max_size = options.max_file_size or settings.max_file_size
    env_globs = tuple(settings.env_files)
    for rel in rels:
        shown = _display(top, rel, options.cwd)
        if _excluded(shown, settings):
            result.skip("excluded")
            continue
        for stage, _oid, kind, data in blobs.get(rel, []):
            if kind != "blob":
                result.skip("submodule")
                result.notes.append(f"{shown}: a submodule, not scanned (scan it on its own)")
                continue
            if len(data) > max_size:
                result.skip("too-large", len(data))
                result.notes.append(f"{shown}: skipped, larger than the size limit")
                continue
            if is_binary(data):
                result.skip("binary", len(data))
                continue
            result.files_scanned += 1
            result.bytes_scanned += len(data)
            found = scan_file(
                shown, data, env_globs=env_globs, inline_ignores=options.inline_ignores
            )
            if stage:
                found = [_with_note(f, "ours" if stage == 2 else "theirs") for f in found]
            result.findings.extend(found)
    _apply_baseline(result.findings, baseline)
    from importobot.scan.finding import Finding

    result.findings.sort(key=Finding.sort_key)
    result.seconds = time.perf_counter() - started
    return result


def _with_note(f: Finding, note: str) -> Finding:
    from importobot._record import replace

    return replace(f, note=f"{f.note}; {note}" if f.note else note)


# ---------------------------------------------------------------------------- history


def _unquote(raw: bytes) -> bytes:
    """git's C-style quoting of unusual path names (``"a\\tb"``, octal escapes)."""
    if not (raw.startswith(b'"') and raw.endswith(b'"') and len(raw) >= 2):
        return raw
    body = raw[1:-1]
    out = bytearray()
    i = 0
    simple = {
        ord("n"): 10,
        ord("t"): 9,
        ord("r"): 13,
        ord('"'): 34,
        ord("\\"): 92,
        ord("a"): 7,
        ord("b"): 8,
        ord("f"): 12,
        ord("v"): 11,
    }
    while i < len(body):
        c = body[i]
        if c == 92 and i + 1 < len(body):  # backslash
            nxt = body[i + 1]
            if nxt in simple:
                out.append(simple[nxt])
                i += 2
                continue
            if 48 <= nxt <= 55 and i + 3 < len(body) + 1:
                out.append(int(body[i + 1 : i + 4], 8) & 0xFF)
                i += 4
                continue
        out.append(c)
        i += 1
    return bytes(out)


def _new_path(line: bytes) -> bytes | None:
    """The path of a ``+++ b/path`` line (``None`` for ``/dev/null``)."""
    rest = line[4:].rstrip(b"\n")
    if rest.endswith(b"\t"):
        rest = rest[:-1]
    rest = _unquote(rest)
    if rest == b"/dev/null":
        return None
    return rest[2:] if rest.startswith(b"b/") else rest


def _hunk_start(line: bytes) -> tuple[int, int] | None:
    """``(parents, first new line)`` of ``@@ -a,b +c,d @@`` / ``@@@ -a -b +c @@@``."""
    ats = len(line) - len(line.lstrip(b"@"))
    if ats < 2:
        return None
    for token in line[ats:].split(b" "):
        if token.startswith(b"+"):
            try:
                return ats - 1, int(token[1:].split(b",")[0])
            except ValueError:
                return None
    return None


def iter_history(
    cwd: str, rev_range: str | None = None
) -> Iterator[tuple[str, str, list[tuple[int, bytes]]]]:
    """Yield ``(commit, path, [(line, added bytes), …])`` per file a commit changed.

    One ``git log -p`` pass over ``rev_range`` (default: every ref, ``--all``).
    A merge yields only lines new against every parent (``--cc``), so lines merged in
    from a branch are counted once, at the branch commit. Binary files, deletions and
    submodules yield nothing. Raises :class:`GitError` when git fails.
    """
    import subprocess

    from importobot.subproc import scrubbed_environ

    if rev_range is not None and (rev_range.startswith("-") or not rev_range.strip()):
        raise GitError(f"not a revision range: {rev_range!r}")
    args = [
        "git",
        "-c",
        "core.quotePath=false",
        "log",
        "-p",
        "-U0",
        "--cc",
        "-M",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--no-relative",
        "--src-prefix=a/",
        "--dst-prefix=b/",
        "--format=%x00commit %H",
    ]
    args += [rev_range] if rev_range else ["--all"]
    args.append("--")
    try:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            args,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=scrubbed_environ(),
        )
    except OSError as exc:
        raise GitError(f"cannot run git ({exc.strerror or exc})") from None
    assert proc.stdout is not None  # noqa: S101 - PIPE above
    commit = ""
    path: bytes | None = None
    added: list[tuple[int, bytes]] = []
    parents = 1
    newline = 0
    in_hunk = False
    skip_file = False
    try:
        for line in proc.stdout:
            if line.startswith(b"\0commit "):
                if path is not None and added:
                    yield commit, os.fsdecode(path), added
                commit = line[8:].strip().decode()
                path, added, in_hunk, skip_file = None, [], False, False
                continue
            if in_hunk:
                head = line[:parents]
                if line.startswith(b"@@"):
                    start = _hunk_start(line)
                    if start is not None:
                        parents, newline = start
                    continue
                if len(head) == parents and head.strip(b"+- ") == b"":
                    if b"-" in head:
                        continue  # not in the new file
                    if not skip_file and head == b"+" * parents:
                        added.append((newline, line[parents:].rstrip(b"\n")))
                    newline += 1
                    continue
                if line.startswith(b"\\"):
                    continue  # "\ No newline at end of file"
                in_hunk = False  # a new file header follows
            if line.startswith(b"diff --"):
                if path is not None and added:
                    yield commit, os.fsdecode(path), added
                path, added, skip_file = None, [], False
            elif line.startswith(b"+++ "):
                path = _new_path(line)
            elif b" 160000" in line and line.startswith((b"new file mode", b"index ", b"mode")):
                skip_file = True  # a submodule pointer, not file content
            elif line.startswith(b"@@"):
                start = _hunk_start(line)
                if start is not None:
                    parents, newline = start
                    in_hunk = True
        if path is not None and added:
            yield commit, os.fsdecode(path), added
    finally:
        proc.stdout.close()
        err = proc.stderr.read() if proc.stderr else b""
        if proc.stderr:
            proc.stderr.close()
        code = proc.wait()
    if code != 0:
        message = _first_line(err)
        if "does not have any commits" in message:
            return
        raise GitError(f"git log failed: {message}")


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


def scan_history(
    settings: Settings,
    options: ScanOptions,
    rev_range: str | None = None,
    *,
    baseline: set[tuple[str, str, str]] | None = None,
) -> ScanResult:
    """``check --history [REV-RANGE]``: scan the lines every commit added.

    Findings carry ``commit`` (D14), the path and the line in that commit. A shallow
    clone is scanned down to its boundary, with a note; a repository without commits
    gives an empty result with a note; a bare repository works. Baseline entries
    suppress by path and fingerprint, in every commit.
    """
    import time

    from importobot._record import replace
    from importobot.scan.finding import Finding, ScanResult
    from importobot.scan.rules.files import is_binary, scan_file

    started = time.perf_counter()
    result = ScanResult()
    cwd = str(options.cwd)
    _, _, shallow, _ = _repo_state(cwd)
    env_globs = tuple(settings.env_files)
    max_size = options.max_file_size or settings.max_file_size
    commits: set[str] = set()
    for commit, path, added in iter_history(cwd, rev_range):
        commits.add(commit)
        if _excluded(path, settings):
            result.skip("excluded")
            continue
        data, real = _added_text(added)
        if len(data) > max_size:
            result.skip("too-large", len(data))
            continue
        if is_binary(data):
            result.skip("binary", len(data))
            continue
        result.files_scanned += 1
        result.bytes_scanned += len(data)
        for f in scan_file(path, data, env_globs=env_globs, inline_ignores=options.inline_ignores):
            line = real[f.line - 1] if f.line and 0 < f.line <= len(real) else f.line
            message = f"{f.message} (commit {commit[:12]})"
            result.findings.append(replace(f, line=line, commit=commit, message=message))
    if not commits:
        result.notes.append("history: no commits with added lines to scan")
    else:
        result.notes.append(f"history: {len(commits)} commits with added lines scanned")
    if shallow:
        result.notes.append(
            "shallow clone: history scanned only down to the clone's boundary "
            "(git fetch --unshallow for all of it)"
        )
    _apply_baseline(result.findings, baseline)
    result.findings.sort(key=lambda f: (*Finding.sort_key(f), f.commit or ""))
    result.seconds = time.perf_counter() - started
    return result
