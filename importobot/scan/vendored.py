"""Vendored and generated code: package-manager trees and minified bundles (issue 16, item 3).

Code a package manager put in the repository is not the project's code: its identifiers and
test fixtures are not the project's keys. By default every scan (``check``, ``check
--staged``, ``check --history``, the hook) skips a file when :meth:`VendorJudge.vendored`
says so, and reports the count in one note; ``--include-vendored`` (config
``include-vendored``) scans them. The one decision, for a root-relative path:

* ``node_modules/<pkg>/…`` and ``node_modules/@scope/<pkg>/…`` when ``<pkg>`` holds a
  ``package.json``; a file right inside ``node_modules/`` when that directory holds npm's,
  yarn's or pnpm's state file (``.package-lock.json``, ``.yarn-state.yml``,
  ``.modules.yaml``, ``.yarn-integrity``);
* ``bower_components/<pkg>/…`` when ``<pkg>`` holds ``bower.json``, ``.bower.json`` or
  ``package.json``;
* ``vendor/…`` when the directory holding ``vendor/`` has a ``composer.json`` (PHP) or
  ``vendor/modules.txt`` exists (Go modules);
* ``.venv/…`` when ``.venv/pyvenv.cfg`` exists;
* ``site-packages/…`` in the layout Python's installers make (``lib/pythonX.Y/
  site-packages`` or ``Lib/site-packages``), judged from the path alone;
* minified bundles, judged from the path and the bytes alone: ``*.min.js`` (``.min.mjs``,
  ``.min.cjs``, ``.min.css``), and a JavaScript file (``.js``, ``.mjs``, ``.cjs``) of at
  least 4 KiB whose lines average over 2 KiB, or with at least half its bytes on lines
  over 2 KiB that read as code (a bundler's chunk: a short header, long code lines).

A directory merely *named* like one of these, without its manifest, hides nothing. An
env-style file (IOB101: ``vendor/app/.env``) is never skipped: it configures the project
wherever it sits. The set-up key itself is searched for in every file, vendored or not
(:mod:`importobot.scan.keysearch`, IOB204).

**Where the manifest is looked up** — in the content the file itself comes from, never
through a symbolic link:

* the work tree: each directory on the way is ``lstat``-ed and must be a real directory,
  the manifest a regular file (a symlinked ``node_modules/<pkg>``, as pnpm makes, is not
  followed and so not recognised);
* the index (staged content, the hook): ``:<path>`` — the stage-0 entry — of the manifest,
  when the file itself is in the index; a file git does not track is judged by the work tree;
* history: ``<commit>:<path>``, the tree of the commit that added the lines (git does not
  follow symbolic links inside a tree).

Git is asked through one ``git cat-file --batch-check`` process, started only when a path
needs a git lookup, answering one line per question; every answer (work tree or git) is
cached per (source, manifest), so a tree of ten thousand files under one package costs one
lookup per package. Only paths holding one of the directory names above are looked up at
all: the hook's usual run costs a string search per path and no process.

On the hook's start-up path (D17): imports only :mod:`os` and :mod:`stat` at run time.
"""

from __future__ import annotations

import os
import stat

from importobot._lazyre import lazy_compile

TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess

    from importobot.scan.finding import ScanResult

__all__ = ["MINIFIED_MEAN_LINE", "VendorJudge", "is_minified", "vendored_note"]

#: A JavaScript file whose lines average more than this many bytes is a minified bundle.
MINIFIED_MEAN_LINE = 2048
_MINIFIED_MIN_SIZE = 4096
#: Minified bundles, and the source maps a bundler writes beside its output (``app.js.map``:
#: the sources again, as JSON strings).
_MIN_SUFFIXES = (
    ".min.js",
    ".min.mjs",
    ".min.cjs",
    ".min.css",
    ".js.map",
    ".mjs.map",
    ".cjs.map",
    ".css.map",
)
_JS_SUFFIXES = (".js", ".mjs", ".cjs")
#: Directory names that can start a package-manager tree (a cheap first test per path).
_TREE_NAMES = frozenset(("node_modules", "bower_components", "vendor", ".venv", "site-packages"))
_NPM_STATE = (".package-lock.json", ".yarn-state.yml", ".modules.yaml", ".yarn-integrity")
_BOWER_MANIFESTS = ("bower.json", ".bower.json", "package.json")
#: Cap on distinct manifest lookups in one scan (bounded work on a hostile tree).
_MAX_LOOKUPS = 100_000


#: ... or one where at least half the bytes lie on lines over 2 KiB that read as code:
#: braces, semicolons and parentheses make up this share of them (minified JavaScript
#: 7–12 %; a base64 or data-URI line has none). A bundler's chunk keeps a short header
#: and a few short lines beside its long ones, so the mean alone missed it.
_MINIFIED_PUNCT = 0.02
_MINIFIED_PUNCT_CHARS = (b"{", b"}", b";", b"(", b")")
#: A line longer than MINIFIED_MEAN_LINE (found by one C-level scan, not line by line).
_LONG_LINE_RE = lazy_compile(rb"[^\n]{%d,}" % (MINIFIED_MEAN_LINE + 1))


def is_minified(path: str, data: bytes) -> bool:
    """A minified bundle: ``*.min.js`` and kin, or JavaScript whose lines average > 2 KiB,
    or whose bytes lie mostly on lines > 2 KiB of code."""
    name = path.rsplit("/", 1)[-1].lower()
    if name.endswith(_MIN_SUFFIXES):
        return True
    if not name.endswith(_JS_SUFFIXES) or len(data) < _MINIFIED_MIN_SIZE:
        return False
    if len(data) > MINIFIED_MEAN_LINE * (data.count(b"\n") + 1):
        return True
    long_bytes = punct = 0
    for m in _LONG_LINE_RE.finditer(data):
        line = m.group()
        long_bytes += len(line)
        punct += sum(line.count(c) for c in _MINIFIED_PUNCT_CHARS)
    return 2 * long_bytes >= len(data) and punct >= _MINIFIED_PUNCT * long_bytes


def vendored_note(result: ScanResult) -> None:
    """The one note a scan gives about what it skipped as vendored (nothing when none)."""
    n = result.skipped.get("vendored", 0)
    if n:
        files = "file" if n == 1 else "files"
        result.notes.append(
            f"{n} vendored or minified {files} skipped (package-manager trees, bundles); "
            "--include-vendored scans them"
        )


def _site_packages(parts: list[str], i: int) -> bool:
    """``…/lib/pythonX.Y/site-packages`` or ``…/Lib/site-packages`` (a path shape only)."""
    if i >= 2 and parts[i - 2].lower() == "lib" and parts[i - 1].startswith("python"):
        return True
    return i >= 1 and parts[i - 1] == "Lib"


class _GitLookup:
    """One ``git cat-file --batch-check`` process answering "is there a blob at SPEC?"."""

    __slots__ = ("_cwd", "_proc")

    def __init__(self, cwd: str) -> None:
        self._cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None

    def blob(self, spec: str) -> bool:
        if "\n" in spec or "\r" in spec:
            return False
        proc = self._proc
        if proc is None:
            import subprocess

            from importobot.git import scrubbed_environ

            try:
                proc = self._proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                    ["git", "cat-file", "--batch-check"],  # noqa: S607 - git on PATH
                    cwd=self._cwd,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    env=scrubbed_environ(),
                )
            except OSError:
                return False
        assert proc.stdin is not None and proc.stdout is not None  # noqa: S101 - PIPEs
        try:
            proc.stdin.write(spec.encode("utf-8", "surrogateescape") + b"\n")
            proc.stdin.flush()
            answer = proc.stdout.readline()
        except OSError:
            return False
        parts = answer.split()
        return len(parts) == 3 and parts[1] == b"blob"

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    stream.close()
            proc.wait()


class VendorJudge:
    """Decides, for each item of one scan, whether it is vendored (see the module text).

    ``root`` is the repository root (work-tree lookups, and where git runs); ``index``
    says items without a commit came from the index (the hook, ``--staged``), so their
    manifests are looked up there; ``env_globs`` are the project's extra env-file globs
    (env files are never vendored). Call :meth:`close` when the scan is over.
    """

    __slots__ = ("_cache", "_env_globs", "_git", "_index", "_root")

    def __init__(
        self, root: str | None, *, index: bool = False, env_globs: tuple[str, ...] = ()
    ) -> None:
        self._root = root
        self._index = index
        self._env_globs = env_globs
        self._cache: dict[tuple[str, str], bool] = {}
        self._git: _GitLookup | None = None

    # -- lookups ---------------------------------------------------------------------
    def _work_file(self, rel: str) -> bool:
        """A regular file at ``root/rel``, reached through real directories only."""
        if self._root is None:
            return False
        where = self._root
        parts = rel.split("/")
        for name in parts[:-1]:
            if name in ("", ".", ".."):
                return False
            where = os.path.join(where, name)
            key = ("dir", where)
            known = self._cache.get(key)
            if known is None:
                try:
                    known = stat.S_ISDIR(os.lstat(where).st_mode)
                except OSError:
                    known = False
                self._cache[key] = known
            if not known:
                return False
        try:
            return stat.S_ISREG(os.lstat(os.path.join(where, parts[-1])).st_mode)
        except OSError:
            return False

    def _git_blob(self, spec: str) -> bool:
        if self._root is None:
            return False
        if self._git is None:
            self._git = _GitLookup(self._root)
        return self._git.blob(spec)

    def _exists(self, source: str, rel: str) -> bool:
        """Is there a manifest at ``rel`` in ``source`` (``""`` work tree, ``":"`` index,
        else a commit)? Cached; past the lookup cap, no."""
        key = (source, rel)
        known = self._cache.get(key)
        if known is None:
            if len(self._cache) >= _MAX_LOOKUPS:
                return False
            if source == "":
                known = self._work_file(rel)
            elif source == ":":
                known = self._git_blob(f":{rel}")
            else:
                known = self._git_blob(f"{source}:{rel}")
            self._cache[key] = known
        return known

    def _source(self, rel: str, commit: str | None, label: str | None) -> str:
        """Where the manifests of this copy of ``rel`` are looked up (see ``_exists``)."""
        if commit is not None:
            return commit
        if not self._index or label == "unstaged":
            return ""
        if label in ("ours", "theirs"):
            return ":"
        # From the index when the file is there; a file git does not track is read from
        # the work tree, and so are its manifests.
        return ":" if self._exists(":", rel) else ""

    # -- the decision ----------------------------------------------------------------
    def vendored(
        self, rel: str | None, data: bytes, *, commit: str | None = None, label: str | None = None
    ) -> bool:
        """True when the file at the root-relative ``rel`` is vendored or a minified bundle."""
        if rel is None:
            return False
        if is_minified(rel, data):
            return not self._env_file(rel)
        parts = rel.split("/")
        if not any(p in _TREE_NAMES for p in parts[:-1]):
            return False
        if self._env_file(rel):
            return False
        source: str | None = None
        for i, name in enumerate(parts[:-1]):
            if name not in _TREE_NAMES:
                continue
            if name == "site-packages":
                if _site_packages(parts, i):
                    return True
                continue
            if source is None:
                source = self._source(rel, commit, label)
            if self._tree_at(parts, i, source):
                return True
        return False

    def _tree_at(self, parts: list[str], i: int, source: str) -> bool:
        """Is ``parts[: i + 1]`` (a directory named like a package tree) a recognised one?"""
        name = parts[i]
        base = "/".join(parts[: i + 1])
        inside = len(parts) - 1 - (i + 1)  # directories below it on the way to the file
        if name == "vendor":
            parent = "/".join(parts[:i])
            composer = f"{parent}/composer.json" if parent else "composer.json"
            return self._exists(source, composer) or self._exists(source, f"{base}/modules.txt")
        if name == ".venv":
            return self._exists(source, f"{base}/pyvenv.cfg")
        # node_modules, bower_components
        manifests = ("package.json",) if name == "node_modules" else _BOWER_MANIFESTS
        if inside == 0:
            return name == "node_modules" and any(
                self._exists(source, f"{base}/{state}") for state in _NPM_STATE
            )
        pkg = parts[i + 1]
        if pkg.startswith("@"):
            if inside < 2:
                return False
            pkg = f"{pkg}/{parts[i + 2]}"
        return any(self._exists(source, f"{base}/{pkg}/{m}") for m in manifests)

    def _env_file(self, rel: str) -> bool:
        from importobot.scan.rules.files import is_env_file

        return is_env_file(rel, self._env_globs)

    def close(self) -> None:
        """Stop the git process, if one was started."""
        if self._git is not None:
            self._git.close()
            self._git = None
