"""The one module that starts git (D5): plumbing every importobot command shares.

Every git child gets :func:`scrubbed_environ` — the caller's environment minus the
secrets importobot knows by name (:data:`SECRET_VARIABLES`, an explicit list; git's own
variables, including the quarantine variables a pre-receive hook needs, pass through).

What it offers: :func:`run_git` (small inputs through ``posix_spawn``, no ``subprocess``
import on the hook path), :func:`repository` (top, git dir, bare, shallow — computed once
per run), the index (:func:`read_index_blobs` through one ``git cat-file --batch``, which
honours ``GIT_INDEX_FILE``), :func:`staged_paths`, :func:`list_files`,
:func:`not_ignored`, :func:`filtered_paths`, :func:`show` (a file from any tree-ish) and
:func:`iter_history` (one streamed ``git log -p``: the lines each commit added).

Org-wide scans (D27): :func:`normalize_url`, :func:`url_hash`, :func:`shard_of`,
:func:`clone` (``GIT_TERMINAL_PROMPT=0``, ssh ``BatchMode=yes``,
``GIT_ALLOW_PROTOCOL=https:ssh:file``, never a credential on argv) and
:func:`iter_tree_blobs` (a commit's files straight from the object store).

This module is on the hook's start-up path (D17): the top level imports only ``os`` and
two light primitives (``exceptions``, ``_record``); everything heavier is imported inside
the functions that need it.
"""

from __future__ import annotations

import os

from importobot._record import Record
from importobot.exceptions import ImportobotError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

__all__ = [
    "ALLOWED_PROTOCOLS",
    "EMPTY_BLOB",
    "SECRET_PREFIXES",
    "SECRET_VARIABLES",
    "CommitInfo",
    "URL_NORMALIZATION",
    "CloneError",
    "GitError",
    "GitTimeout",
    "IndexBlob",
    "Repository",
    "blame_commits",
    "changed_paths",
    "commit_info",
    "clone",
    "clone_environ",
    "count_commits",
    "diff_names",
    "filtered_paths",
    "git_dir",
    "head_commit",
    "head_ref",
    "index_path",
    "iter_added",
    "iter_history",
    "iter_tree_blobs",
    "list_files",
    "maybe_tracked",
    "normalize_url",
    "not_ignored",
    "read_index_blobs",
    "remote_url",
    "repository",
    "resolve_commit",
    "rev_list",
    "run_git",
    "scrubbed_environ",
    "shard_of",
    "show",
    "stage",
    "staged_paths",
    "untrack",
    "verify_commit",
    "url_hash",
]

#: D5: environment variables that hold secrets importobot knows by name. No git child (or
#: any other child importobot starts) ever receives them. An explicit list, not a glob:
#: ``AWS_*`` and git's own variables pass (credential helpers and quarantine need them).
SECRET_VARIABLES = (
    "IMPORTOBOT_ENCRYPTION_KEY",
    "IMPORTOBOT_PREVIOUS_KEYS",
    "IMPORTOBOT_WRAPPED_KEY",
    "IMPORTOBOT_PKCS11_PIN",
    "VAULT_TOKEN",
    "BAO_TOKEN",
)
#: D5: name prefixes of secret variables (one per configured SIEM connector).
SECRET_PREFIXES = ("IMPORTOBOT_EVENTS_TOKEN_",)


def scrubbed_environ(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of ``base`` (default ``os.environ``) without the D5 secrets."""
    source = os.environ if base is None else base
    return {
        k: v
        for k, v in source.items()
        if k not in SECRET_VARIABLES and not k.startswith(SECRET_PREFIXES)
    }


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
    """git's first line of ``err``, without elapsed times (the same on every run)."""
    text = err.decode("utf-8", "replace").strip().splitlines()
    if not text:
        return "git failed"
    line = text[0]
    if " after " in line:
        import re

        line = re.sub(r" after \d+(?:ms| ms| milliseconds| seconds?| s)\b", "", line)
    return line


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


class Repository(Record):
    """What one run needs to know about a repository, computed once (:func:`repository`).

    ``top`` is the work-tree top (``""`` for a bare repository); ``git_dir`` absolute.
    """

    top: str
    git_dir: str
    bare: bool
    shallow: bool


def repository(cwd: str) -> Repository:
    """The repository at ``cwd``; :class:`GitError` outside one. One git call."""
    code, out, err = run_git(
        [
            "rev-parse",
            "--is-bare-repository",
            "--is-shallow-repository",
            "--absolute-git-dir",
            "--show-toplevel",
        ],
        cwd,
    )
    fields = out.decode("utf-8", "surrogateescape").splitlines()
    if code != 0 and len(fields) < 3:
        raise GitError(f"not a usable git repository: {_first_line(err)}")
    if len(fields) < 3:
        raise GitError("git rev-parse: unexpected answer")
    bare = fields[0] == "true"
    # --show-toplevel fails (and prints nothing) in a bare repository.
    top = fields[3] if len(fields) > 3 and not bare else ""
    return Repository(top, fields[2], bare, fields[1] == "true")


def list_files(directory: str) -> list[str] | None:
    """Tracked and untracked-not-ignored files under ``directory`` (paths relative to it).

    ``None`` when ``directory`` is not inside a work tree (or git fails).
    """
    code, out, _ = run_git(
        ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], directory
    )
    if code != 0:
        return None
    return list(dict.fromkeys(os.fsdecode(raw) for raw in out.split(b"\0") if raw))


def not_ignored(top: str, rels: Sequence[str]) -> set[str]:
    """The ``rels`` (relative to the work-tree ``top``) that git would *not* ignore."""
    if not rels:
        return set()
    stdin = b"".join(os.fsencode(p) + b"\0" for p in rels)
    code, out, _ = run_git(["check-ignore", "--no-index", "-z", "--stdin"], top, stdin)
    if code not in (0, 1):
        return set()
    ignored = {os.fsdecode(x) for x in out.split(b"\0") if x}
    return {p for p in rels if p not in ignored}


def show(cwd: str, rev: str, path: str) -> bytes | None:
    """The content of ``path`` in the tree-ish ``rev`` (``git show REV:PATH``), or ``None``
    when the revision or the path does not exist there (or is not a file)."""
    if rev.startswith("-") or "\n" in rev or "\n" in path:
        raise GitError(f"not a revision: {rev!r}")
    code, out, _ = run_git(["cat-file", "--batch"], cwd, f"{rev}:{path}\n".encode())
    if code != 0:
        return None
    header, _, rest = out.partition(b"\n")
    parts = header.split(b" ")
    if len(parts) != 3 or parts[1] != b"blob":
        return None
    return rest[: int(parts[2])]


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


class BinaryChange(Record):
    """A file change ``git log -p`` showed as binary: the commit, the new path, and the
    old (first parent; all zeros for a new file) and new blob ids."""

    commit: str
    path: str
    old: str
    new: str


def _index_oids(line: bytes) -> tuple[str, str]:
    """``(old, new)`` blob ids of an ``index OLD..NEW [mode]`` line (``--cc``: first parent)."""
    fields = line.split()
    if len(fields) < 2 or b".." not in fields[1]:
        return "", ""
    old, _, new = fields[1].partition(b"..")
    return old.split(b",")[0].decode("ascii", "replace"), new.decode("ascii", "replace")


def _binary_new_path(line: bytes) -> bytes | None:
    """The new path of ``Binary files A and B differ`` (``None`` for a deletion)."""
    body = line.rstrip(b"\n")
    if not body.endswith(b" differ"):
        return None
    _old, sep, new = body[len(b"Binary files ") : -len(b" differ")].rpartition(b" and ")
    if not sep:
        return None
    new = _unquote(new)
    if new == b"/dev/null":
        return None
    return new[2:] if new.startswith(b"b/") else new


#: Bytes of blobs one ``git cat-file --batch`` call of :func:`iter_blobs` reads at most.
_BLOB_CHUNK = 16 * 1024 * 1024


def _cat_file(cwd: str, mode: str, oids: Sequence[str]) -> bytes:
    """The answer of ``git cat-file <mode>`` (``--batch`` or ``--batch-check``) for ``oids``."""
    code, out, err = run_git(["cat-file", mode], cwd, "".join(f"{o}\n" for o in oids).encode())
    if code != 0:
        raise GitError(f"git cat-file failed: {_first_line(err)}")
    return out


def iter_blobs(
    cwd: str, oids: Sequence[str], max_size: int, *, deadline: float | None = None
) -> Iterator[tuple[str, bytes]]:
    """``(oid, bytes)`` of the blobs ``oids`` of at most ``max_size`` bytes (larger ones are
    never read): one ``git cat-file --batch-check``, then ``--batch`` calls of at most
    ``_BLOB_CHUNK`` bytes each, so memory stays bounded. Raises :class:`GitError`, and
    :class:`GitTimeout` before a call that would start past ``deadline`` (a
    :func:`time.monotonic` value: a gate's time budget)."""
    wanted = [o for o in dict.fromkeys(oids) if o.strip("0") and o.isalnum() and o.isascii()]
    if not wanted:
        return
    _check_deadline(deadline)
    out = _cat_file(cwd, "--batch-check", wanted)
    chunks: list[list[str]] = [[]]
    total = 0
    for row in out.splitlines():
        parts = row.split()
        if len(parts) != 3 or parts[1] != b"blob" or not parts[2].isdigit():
            continue
        size = int(parts[2])
        if size > max_size:
            continue
        if total + size > _BLOB_CHUNK and chunks[-1]:
            chunks.append([])
            total = 0
        chunks[-1].append(parts[0].decode("ascii"))
        total += size
    for chunk in chunks:
        if not chunk:
            continue
        _check_deadline(deadline)
        out = _cat_file(cwd, "--batch", chunk)
        pos = 0
        for oid in chunk:
            end = out.find(b"\n", pos)
            parts = out[pos:end].split() if end >= 0 else []
            if len(parts) != 3 or parts[1] != b"blob":
                raise GitError("git cat-file: unexpected answer")
            length = int(parts[2])
            yield oid, out[end + 1 : end + 1 + length]
            pos = end + 2 + length


def iter_history(
    cwd: str,
    rev_range: str | None = None,
    paths: Sequence[str] = (),
    *,
    binary: list[BinaryChange] | None = None,
) -> Iterator[tuple[str, str, list[tuple[int, bytes]]]]:
    """Yield ``(commit, path, [(line, added bytes), …])`` per file a commit changed.

    One ``git log -p`` pass over ``rev_range`` (default: every ref, ``--all``), limited to
    ``paths`` (pathspecs, as ``git log -- PATH``) when given.
    A merge yields only lines new against every parent (``--cc``), so lines merged in
    from a branch are counted once, at the branch commit. Binary files, deletions and
    submodules yield nothing. ``binary`` (optional) collects the changes git shows as
    binary (``Binary files … differ``) as :class:`BinaryChange` records, for a caller that
    reads some of them itself (UTF-16 text is binary to git). Raises :class:`GitError`
    when git fails.
    """
    if rev_range is not None and (rev_range.startswith("-") or not rev_range.strip()):
        raise GitError(f"not a revision range: {rev_range!r}")
    yield from _log_added(cwd, [rev_range] if rev_range else ["--all"], paths, binary=binary)


#: Revision options :func:`iter_added` and :func:`rev_list` accept besides plain revisions.
_REV_OPTIONS = ("--not", "--all", "--branches", "--tags", "--remotes", "--max-count")


def _check_revs(revs: Sequence[str]) -> list[str]:
    """``revs`` as git revision arguments: plain revisions and a few set options only."""
    out: list[str] = []
    for rev in revs:
        if not rev or "\n" in rev or "\0" in rev:
            raise GitError(f"not a revision: {rev!r}")
        if rev.startswith("-") and rev.split("=", 1)[0] not in _REV_OPTIONS:
            raise GitError(f"not a revision: {rev!r}")
        out.append(rev)
    if not out:
        raise GitError("no revision given")
    return out


class GitTimeout(GitError):
    """git was stopped because the caller's time budget ran out."""


def _check_deadline(deadline: float | None) -> None:
    if deadline is not None:
        import time

        if time.monotonic() > deadline:
            raise GitTimeout("git cat-file not started: the time budget ran out")


def iter_added(
    cwd: str,
    revs: Sequence[str],
    paths: Sequence[str] = (),
    *,
    literal_paths: bool = False,
    timeout: float | None = None,
    binary: list[BinaryChange] | None = None,
) -> Iterator[tuple[str, str, list[tuple[int, bytes]]]]:
    """:func:`iter_history` over a revision *set*: ``revs`` as ``git log`` takes them.

    For example ``[new1, new2, "--not", "--all"]``: the commits reachable from the pushed
    tips and from no existing ref (what a pre-receive hook must judge), or
    ``[local_ref, "--not", "--remotes=origin"]``. ``literal_paths`` makes ``paths`` exact
    file names (no glob magic: file names come from the repository). ``timeout`` (seconds)
    stops git when it runs out; the generator then raises :class:`GitTimeout`.
    """
    yield from _log_added(cwd, _check_revs(revs), paths, literal_paths, timeout, binary)


def _log_added(
    cwd: str,
    rev_args: list[str],
    paths: Sequence[str],
    literal_paths: bool = False,
    timeout: float | None = None,
    binary: list[BinaryChange] | None = None,
) -> Iterator[tuple[str, str, list[tuple[int, bytes]]]]:
    """The one ``git log -p`` parser behind :func:`iter_history` and :func:`iter_added`."""
    import subprocess

    args = ["git"]
    if literal_paths:
        args.append("--literal-pathspecs")
    args += [
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
        "--full-index",
        "--src-prefix=a/",
        "--dst-prefix=b/",
        "--format=%x00commit %H",
    ]
    args += rev_args
    args.append("--")
    args += list(paths)
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
    timer = None
    expired: list[bool] = []
    if timeout is not None:
        import threading

        def stop() -> None:
            expired.append(True)
            proc.kill()

        timer = threading.Timer(max(timeout, 0.0), stop)
        timer.daemon = True
        timer.start()
    commit = ""
    path: bytes | None = None
    added: list[tuple[int, bytes]] = []
    parents = 1
    newline = 0
    in_hunk = False
    skip_file = False
    finished = False
    oids: tuple[str, str] = ("", "")
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
            elif line.startswith(b"index ") and binary is not None:
                oids = _index_oids(line)
            elif line.startswith(b"Binary files ") and binary is not None:
                new = _binary_new_path(line)
                if new is not None and oids[1]:
                    binary.append(BinaryChange(commit, os.fsdecode(new), oids[0], oids[1]))
            elif b" 160000" in line and line.startswith((b"new file mode", b"index ", b"mode")):
                skip_file = True  # a submodule pointer, not file content
            elif line.startswith(b"@@"):
                start = _hunk_start(line)
                if start is not None:
                    parents, newline = start
                    in_hunk = True
        if path is not None and added and not expired:
            yield commit, os.fsdecode(path), added
        finished = True
    finally:
        if not finished:
            proc.kill()  # the caller stopped early: do not wait for git to finish its walk
        proc.stdout.close()
        err = proc.stderr.read() if proc.stderr else b""
        if proc.stderr:
            proc.stderr.close()
        code = proc.wait()
        if timer is not None:
            timer.cancel()
    if expired:
        raise GitTimeout(f"git log stopped after {timeout:g} s (time budget)")
    if code != 0:
        message = _first_line(err)
        if "does not have any commits" in message:
            return
        raise GitError(f"git log failed: {message}")


def rev_list(cwd: str, revs: Sequence[str], max_count: int | None = None) -> list[str]:
    """Commit ids of the revision set ``revs`` (as :func:`iter_added`), newest first."""
    args = ["rev-list"]
    if max_count is not None:
        args.append(f"--max-count={int(max_count)}")
    code, out, err = run_git([*args, *_check_revs(revs), "--"], cwd)
    if code != 0:
        raise GitError(f"git rev-list failed: {_first_line(err)}")
    return out.decode("ascii", "replace").split()


def count_commits(cwd: str, revs: Sequence[str]) -> int:
    """How many commits the revision set ``revs`` holds (``git rev-list --count``)."""
    code, out, err = run_git(["rev-list", "--count", *_check_revs(revs), "--"], cwd)
    if code != 0:
        raise GitError(f"git rev-list failed: {_first_line(err)}")
    try:
        return int(out.strip() or b"0")
    except ValueError:
        raise GitError("git rev-list: unexpected answer") from None


def changed_paths(cwd: str, revs: Sequence[str], paths: Sequence[str] = ()) -> list[str]:
    """Paths the commits of ``revs`` added, changed or deleted (limited to ``paths``)."""
    args = ["--literal-pathspecs", "log", "--format=", "--name-only", "-z", "--no-renames"]
    code, out, err = run_git([*args, *_check_revs(revs), "--", *paths], cwd)
    if code != 0:
        raise GitError(f"git log failed: {_first_line(err)}")
    return list(dict.fromkeys(os.fsdecode(p).strip("\n") for p in out.split(b"\0") if p.strip()))


def diff_names(cwd: str, old: str, new: str) -> list[str]:
    """Paths that differ between the merge base of ``old`` and ``new``, and ``new``
    (``git diff --name-only OLD...NEW``: what pre-commit passes a pre-push hook)."""
    if old.startswith("-") or new.startswith("-") or "\n" in old + new:
        raise GitError("not a revision")
    code, out, err = run_git(["diff", "--name-only", "-z", "--no-renames", f"{old}...{new}"], cwd)
    if code != 0:
        raise GitError(f"git diff failed: {_first_line(err)}")
    return [os.fsdecode(p) for p in out.split(b"\0") if p]


def resolve_commit(cwd: str, rev: str) -> str | None:
    """The commit id ``rev`` names, or ``None`` (unborn ``HEAD``, unknown name)."""
    if not rev or rev.startswith("-") or "\n" in rev:
        return None
    code, out, _ = run_git(["rev-parse", "--verify", "-q", f"{rev}^{{commit}}"], cwd)
    return out.decode().strip() if code == 0 and out.strip() else None


def head_ref(cwd: str) -> str | None:
    """The branch ``HEAD`` names (``refs/heads/main``) — a bare repository's default branch."""
    code, out, _ = run_git(["symbolic-ref", "-q", "HEAD"], cwd)
    return out.decode("utf-8", "replace").strip() or None if code == 0 else None


def remote_url(cwd: str, name: str = "origin") -> str | None:
    """The URL of remote ``name`` (``None`` when there is none)."""
    code, out, _ = run_git(["config", "--get", f"remote.{name}.url"], cwd)
    text = out.decode("utf-8", "surrogateescape").strip()
    return text if code == 0 and text else None


def stage(top: str, rels: Sequence[str]) -> None:
    """``git add`` the paths ``rels`` (relative to the work-tree ``top``)."""
    if not rels:
        return
    code, _, err = run_git(["add", "--", *rels], top)
    if code != 0:
        raise GitError(f"git add failed: {_first_line(err)}")


def untrack(top: str, rels: Sequence[str]) -> None:
    """``git rm --cached`` the paths ``rels`` (the work-tree files stay)."""
    if not rels:
        return
    code, _, err = run_git(["rm", "--cached", "--quiet", "--", *rels], top)
    if code != 0:
        raise GitError(f"git rm --cached failed: {_first_line(err)}")


# ------------------------------------------------------------------ attestation evidence


def _is_commit_id(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)


def blame_commits(cwd: str, rel_path: str, max_lines: int = 100_000) -> list[str | None] | None:
    """The commit that last changed each line of ``rel_path`` in the work tree (one
    ``git blame --porcelain``); ``None`` for a line not committed yet.

    Returns ``None`` when the file is not tracked (or git cannot answer). Lines past
    ``max_lines`` are left out (the caller bounds the file's size first).
    """
    if not rel_path or rel_path.startswith("-") or "\n" in rel_path:
        return None
    code, out, _ = run_git(["blame", "--porcelain", "--", rel_path], cwd)
    if code != 0:
        return None
    commits: list[str | None] = []
    for raw in out.split(b"\n"):
        if not raw or raw.startswith(b"\t"):
            continue
        head = raw.split(b" ", 3)
        if len(head) >= 3 and head[1].isdigit() and head[2].isdigit():
            sha = head[0].decode("ascii", "replace")
            if not _is_commit_id(sha):
                continue
            commits.append(None if sha.strip("0") == "" else sha)
            if len(commits) >= max_lines:
                break
    return commits


class CommitInfo:
    """Who made a commit and when (author and committer times, RFC 3339)."""

    __slots__ = ("author", "authored", "commit", "committed", "signed")

    def __init__(
        self, commit: str, author: str, authored: str, committed: str, signed: bool
    ) -> None:
        self.commit = commit
        self.author = author
        self.authored = authored
        self.committed = committed
        #: The commit object carries a signature header (``gpgsig``), verified or not.
        self.signed = signed


def commit_info(cwd: str, commit: str) -> CommitInfo | None:
    """Author, dates and whether ``commit`` carries a signature; ``None`` when unknown."""
    if not _is_commit_id(commit):
        return None
    code, out, _ = run_git(["cat-file", "commit", commit], cwd)
    if code != 0:
        return None
    header = out.split(b"\n\n", 1)[0].decode("utf-8", "replace")
    signed = any(line.startswith(("gpgsig ", "gpgsig-sha256 ")) for line in header.splitlines())
    fmt = "--format=%an%x00%aI%x00%cI"
    code, out, _ = run_git(["show", "-s", "--no-show-signature", fmt, commit, "--"], cwd)
    if code != 0:
        return None
    fields = out.decode("utf-8", "replace").rstrip("\n").split("\0")
    if len(fields) != 3:
        return None
    return CommitInfo(commit, fields[0], fields[1], fields[2], signed)


def verify_commit(cwd: str, commit: str) -> tuple[str, str]:
    """``git verify-commit``: ``(state, detail)``, state ``good``, ``unsigned``, ``bad`` or
    ``unverifiable`` (signed, but no trusted key here to check it with).

    ``detail`` is git's (or gpg's) first line, for the report; never anything secret.
    """
    if not _is_commit_id(commit):
        return "unverifiable", "not a commit id"
    info = commit_info(cwd, commit)
    if info is None:
        return "unverifiable", "commit not found"
    if not info.signed:
        return "unsigned", "no signature"
    code, _, err = run_git(["verify-commit", "--raw", commit], cwd)
    text = err.decode("utf-8", "replace")
    if code == 0:
        return "good", _signature_line(text, ("GOODSIG", "VALIDSIG", "Good")) or "good signature"
    if "BADSIG" in text or "Could not verify signature" in text or "BAD signature" in text:
        return "bad", _signature_line(text, ("BADSIG", "Could not", "BAD")) or "bad signature"
    return "unverifiable", _first_line(err)


def _signature_line(text: str, marks: tuple[str, ...]) -> str | None:
    for line in text.splitlines():
        if any(m in line for m in marks):
            return line.replace("[GNUPG:] ", "").strip()[:200]
    return None


# ------------------------------------------------------------------ org scans (D27)

#: The version of :func:`normalize_url`'s rules, recorded in every org-scan result: a
#: change of rules changes hashes, so results of two versions are never merged blindly.
URL_NORMALIZATION = 1

#: The only transports a clone may use (``GIT_ALLOW_PROTOCOL``): no ``ext::``, no ``git://``.
ALLOWED_PROTOCOLS = "https:ssh:file"

_DEFAULT_PORTS = {"https": 443, "ssh": 22}


class CloneError(GitError):
    """A repository could not be cloned; ``reason`` is ``clone``, ``timeout`` or
    ``too-large``. The message never holds a credential (URLs holding one are refused)."""

    def __init__(self, message: str, reason: str = "clone") -> None:
        super().__init__(message)
        self.reason = reason


def normalize_url(text: str, base: str | None = None) -> str:
    """The D27 normal form of a repository URL or path (version :data:`URL_NORMALIZATION`).

    Scheme and host lower-cased, the default port, a trailing ``/`` and ``.git`` dropped;
    scp-like ``user@host:path`` becomes ``ssh://user@host/path``; a local path (relative
    to ``base``, default the working directory) becomes ``file:///absolute/path``.
    A URL holding a password (``user:password@``), or any user name in an ``https``
    URL (where it is a token), is refused: credentials come from git's own helpers.
    Raises :class:`GitError` for what is not a repository URL.
    """
    from urllib.parse import unquote, urlsplit

    raw = text.strip()
    if not raw or any(ord(c) < 32 or c == "\x7f" for c in raw):
        raise GitError("not a repository URL (empty, or holds control characters)")
    if raw.startswith("-"):
        raise GitError("not a repository URL (starts with '-')")
    scheme_end = raw.find("://")
    if "::" in raw.split("/", 1)[0]:
        raise GitError("transport-helper URLs (such as ext::) are refused")
    if scheme_end < 0:
        slash = raw.find("/")
        at = raw.rfind(":", 0, slash if slash >= 0 else len(raw))
        if at > 0 and not (len(raw) > 1 and raw[1] == ":"):
            # scp-like syntax: [user@]host:path
            userhost, path = raw[:at], raw[at + 1 :]
            user, _, host = userhost.rpartition("@")
            if ":" in user:
                raise GitError("a repository URL holding a password is refused")
            if not host or not path:
                raise GitError("not a repository URL")
            raw = f"ssh://{user + '@' if user else ''}{host}/{path.lstrip('/')}"
        else:
            full = os.path.abspath(os.path.join(base or os.getcwd(), raw))
            return "file://" + _strip_repo_suffix(full)
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme not in ("https", "ssh", "file"):
        raise GitError(f"unsupported repository URL scheme {scheme!r} (use https, ssh or file)")
    if parts.password is not None or (":" in (parts.username or "")):
        raise GitError("a repository URL holding user:password is refused")
    if parts.username and scheme == "https":
        raise GitError(
            "an https repository URL holding a user name is refused (it is often a token); "
            "let git's credential helper supply credentials"
        )
    if parts.query or parts.fragment:
        raise GitError("a repository URL with a query or fragment is refused")
    if scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise GitError("a file:// repository URL names no host")
        path = os.path.normpath(unquote(parts.path)) if parts.path else "/"
        return "file://" + _strip_repo_suffix(path)
    host = (parts.hostname or "").lower()
    if not host:
        raise GitError("a repository URL needs a host")
    try:
        port = parts.port
    except ValueError:
        raise GitError("a repository URL with an invalid port") from None
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username}@{host}" if parts.username else host
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    path = _strip_repo_suffix(parts.path or "/")
    return f"{scheme}://{netloc}{path}"


def _strip_repo_suffix(path: str) -> str:
    path = path.rstrip("/")
    while path.endswith(".git"):
        path = path[:-4].rstrip("/")
    return path or "/"


def url_hash(normalized: str) -> str:
    """SHA-256 of the normalised URL, hex: what result and state files are named by."""
    import hashlib

    return hashlib.sha256(normalized.encode("utf-8", "surrogateescape")).hexdigest()


def shard_of(normalized: str, shards: int) -> int:
    """The shard (1 … ``shards``) a repository belongs to: ``int(sha256(url)[:8], 16) % N + 1``."""
    if shards < 1:
        raise ValueError("shards must be at least 1")
    return int(url_hash(normalized)[:8], 16) % shards + 1


def clone_environ() -> dict[str, str]:
    """The environment of a clone: scrubbed (D5), no prompt, ssh in batch mode, only the
    https, ssh and file transports. git's credential helpers still work."""
    env = scrubbed_environ()
    env["GIT_TERMINAL_PROMPT"] = "0"
    env["GIT_ALLOW_PROTOCOL"] = ALLOWED_PROTOCOLS
    env["GCM_INTERACTIVE"] = "never"
    ssh = env.get("GIT_SSH_COMMAND") or ""
    if "BatchMode" not in ssh:
        env["GIT_SSH_COMMAND"] = f"{ssh or 'ssh'} -o BatchMode=yes"
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    env.pop("GIT_INDEX_FILE", None)
    return env


def _tree_size(path: str) -> int:
    total = 0
    for top, _dirs, names in os.walk(path):
        for name in names:
            try:
                total += os.lstat(os.path.join(top, name)).st_size
            except OSError:
                continue
    return total


def clone(
    url: str,
    dest: str,
    *,
    history: bool = False,
    timeout: float | None = None,
    max_bytes: int | None = None,
) -> None:
    """Clone ``url`` (a :func:`normalize_url` form) into ``dest`` (bare).

    The tip: ``--depth 1 --no-checkout``; ``history``: a full bare clone. Runs with
    :func:`clone_environ`; killed (process group) after ``timeout`` seconds or once the
    clone holds more than ``max_bytes``. Raises :class:`CloneError`.
    """
    import signal
    import subprocess
    import time

    if url.startswith("-"):
        raise CloneError("not a repository URL")
    args = ["git", "-c", "core.fsmonitor=false", "-c", "protocol.version=2", "clone", "--quiet"]
    args += ["--bare"] if history else ["--bare", "--depth", "1", "--no-tags"]
    args += ["--", url, dest]
    try:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=clone_environ(),
            start_new_session=True,
        )
    except OSError as exc:
        raise CloneError(f"cannot run git ({exc.strerror or exc})") from None
    assert proc.stderr is not None  # noqa: S101 - PIPE above
    started = time.monotonic()
    reason = None
    import threading

    err_chunks: list[bytes] = []
    reader = threading.Thread(
        target=lambda: err_chunks.append(proc.stderr.read(64 * 1024) if proc.stderr else b""),
        daemon=True,
    )
    reader.start()
    while True:
        step = 0.2
        if timeout is not None:
            step = max(0.0, min(step, timeout - (time.monotonic() - started)))
        try:
            proc.wait(timeout=step)
            break
        except subprocess.TimeoutExpired:
            pass
        if timeout is not None and time.monotonic() - started > timeout:
            reason = "timeout"
        elif max_bytes is not None and _tree_size(dest) > max_bytes:
            reason = "too-large"
        if reason is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
            proc.wait()
            break
    reader.join(5)
    proc.stderr.close()
    if reason is None and max_bytes is not None and _tree_size(dest) > max_bytes:
        reason = "too-large"  # finished between two looks
    if reason == "timeout":
        raise CloneError(f"clone timed out after {timeout:g} s", "timeout")
    if reason == "too-large":
        raise CloneError(f"repository larger than the size limit ({max_bytes} bytes)", "too-large")
    if proc.returncode != 0:
        raise CloneError(f"git clone failed: {_first_line(b''.join(err_chunks))}")


def head_commit(git_dir_path: str) -> str | None:
    """The commit ``HEAD`` names in the (bare) repository at ``git_dir_path``, or ``None``."""
    code, out, _ = run_git(["rev-parse", "--verify", "-q", "HEAD^{commit}"], git_dir_path)
    return out.decode().strip() if code == 0 and out.strip() else None


def iter_tree_blobs(
    git_dir_path: str, rev: str, max_size: int
) -> Iterator[tuple[str, bytes | None, int, str]]:
    """Every file of the tree of ``rev``: ``(path, data, size, kind)``, from the objects.

    ``kind`` is ``blob`` (``data`` the bytes, or ``None`` when larger than ``max_size``:
    never read), ``symlink`` or ``submodule`` (``data`` ``None``: a link is never
    followed, a submodule is another repository). One ``git ls-tree`` and one streamed
    ``git cat-file --batch``. Raises :class:`GitError`.
    """
    import subprocess
    import threading

    if rev.startswith("-") or "\n" in rev:
        raise GitError(f"not a revision: {rev!r}")
    code, out, err = run_git(["ls-tree", "-r", "-z", "-l", "--full-tree", rev], git_dir_path)
    if code != 0:
        raise GitError(f"git ls-tree failed: {_first_line(err)}")
    wanted: list[tuple[str, str, int]] = []
    for entry in out.split(b"\0"):
        if not entry:
            continue
        meta, _, name = entry.partition(b"\t")
        fields = meta.split()
        if len(fields) != 4:
            raise GitError("git ls-tree: unexpected answer")
        mode, kind, oid, size_text = (f.decode("ascii", "replace") for f in fields)
        path = os.fsdecode(name)
        size = int(size_text) if size_text.isdigit() else 0
        if kind == "commit":
            yield path, None, 0, "submodule"
        elif mode == "120000":
            yield path, None, size, "symlink"
        elif kind == "blob" and size > max_size:
            yield path, None, size, "blob"
        elif kind == "blob":
            wanted.append((path, oid, size))
    if not wanted:
        return
    argv = ["git", "cat-file", "--batch"]
    proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
        argv,
        cwd=git_dir_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=scrubbed_environ(),
    )
    assert proc.stdin is not None and proc.stdout is not None  # noqa: S101 - PIPEs above
    stdin = proc.stdin

    def feed() -> None:
        try:
            for _path, oid, _size in wanted:
                stdin.write(oid.encode("ascii") + b"\n")
            stdin.close()
        except (BrokenPipeError, OSError):
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        for path, _oid, size in wanted:
            header = proc.stdout.readline()
            parts = header.split()
            if len(parts) != 3 or parts[1] != b"blob":
                raise GitError("git cat-file: unexpected answer (a corrupt repository?)")
            length = int(parts[2])
            data = proc.stdout.read(length)
            proc.stdout.read(1)
            if len(data) != length:
                raise GitError("git cat-file: truncated answer (a corrupt repository?)")
            yield path, data, size, "blob"
    finally:
        proc.stdout.close()
        proc.kill()
        proc.wait()
        writer.join(5)
