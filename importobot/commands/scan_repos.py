"""``importobot scan-repos``: one shard of an org-wide scan (D27).

LIST names repositories (URLs or paths, one per line; ``#`` starts a comment). Each is
normalised (:func:`importobot.git.normalize_url`), belongs to exactly one of N shards by
a stable hash of that form, is cloned (the tip: ``--depth 1 --no-checkout``; with
``--history``: a full bare clone) and scanned with the same loop as ``check``
(:func:`importobot.scan.sources.scan_items`) straight from the clone's objects. The
result goes to ``OUTPUT/<sha256 of the URL>.json``, written whole or not at all.

An org scan ignores the scanned repository's excludes, baseline and inline pragmas,
since a repository must not hide its own keys, unless ``--honor-repo-config``.

A state file per repository (``STATE/<hash>.state.json``) says what is done: a killed,
timed-out or rate-limited shard rerun with the same options skips what is done and
redoes at most the repository it was working on. A repository that cannot be cloned or
scanned (an unreachable URL, a corrupt or oversized repository, a timeout) is recorded
as a failed result, not a fatal error; ``report merge --list`` tells a lost shard from a
clean one.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field

from importobot._text import plural, printable
from importobot.config import parse_size
from importobot.exceptions import ConfigError
from importobot.git import (
    URL_NORMALIZATION,
    CloneError,
    GitError,
    clone,
    head_commit,
    iter_tree_blobs,
    normalize_url,
    shard_of,
    url_hash,
)
from importobot.scan.finding import ScanResult
from importobot.scan.sources import Item, history_items, scan_items

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, TextIO

    from importobot.config import Settings

__all__ = [
    "RESULT_KIND",
    "RESULT_VERSION",
    "Repo",
    "ScanReposRequest",
    "parse_shard",
    "read_list",
    "run_scan_repos",
]

RESULT_KIND = "importobot-repo-result"
RESULT_VERSION = 1
STATE_SUFFIX = ".state.json"
#: The largest LIST file read (2,000 repositories take ~150 KB).
MAX_LIST_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class ScanReposRequest:
    """The options of one ``scan-repos`` run, as parsed by the CLI."""

    list_file: str
    shard: str | None = None
    shard_index: int | None = None
    shards: int | None = None
    jobs: int = 1
    history: bool = False
    state: str | None = None
    output: str = "importobot-results"
    honor_repo_config: bool = False
    timeout: float = 900.0
    max_repo_size: str = "2GB"
    max_file_size: str | None = None
    retry_failed: bool = False
    exit_zero: bool = False


@dataclass(frozen=True)
class Repo:
    """One listed repository: as written, normalised, and its hash."""

    given: str
    url: str
    id: str = field(default="")


def parse_shard(shard: str | None, index: int | None, shards: int | None) -> tuple[int, int]:
    """``(K, N)`` from ``--shard K/N`` or ``--shard-index I --shards N`` (I counts from 0,
    as ``JOB_COMPLETION_INDEX``); ``(1, 1)`` when neither is given."""
    if shard is not None:
        if index is not None:
            raise ConfigError("--shard and --shard-index exclude each other")
        k_text, sep, n_text = shard.partition("/")
        if not sep or not k_text.strip().isdigit() or not n_text.strip().isdigit():
            raise ConfigError(f"--shard {shard!r}: expected K/N, such as 2/8")
        k, n = int(k_text), int(n_text)
        if shards is not None and shards != n:
            raise ConfigError("--shard K/N and --shards disagree")
    elif index is not None or shards is not None:
        if index is None or shards is None:
            raise ConfigError("--shard-index I needs --shards N (and the other way round)")
        k, n = index + 1, shards
    else:
        return 1, 1
    if not 1 <= n <= 100_000 or not 1 <= k <= n:
        raise ConfigError(f"shard {k} of {n}: K must count from 1 to N")
    return k, n


def read_list(path: str) -> list[Repo]:
    """The repositories LIST names, normalised, each once (first spelling kept).

    Relative paths are read from the LIST file's directory. A line that is no repository
    URL (or holds a password) stops the run with its line number: a shard must not
    silently drop a repository.
    """
    from importobot.fsio import FileRefused, read_operator_file

    try:
        data = read_operator_file(path, MAX_LIST_BYTES)
    except FileRefused as exc:
        raise ConfigError(f"repository list: {exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{printable(path)}: the repository list is not UTF-8") from None
    base = os.path.dirname(os.path.abspath(path))
    repos: dict[str, Repo] = {}
    for n, line in enumerate(text.splitlines(), 1):
        entry = line.split("#", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        if not entry:
            continue
        try:
            url = normalize_url(entry, base)
        except GitError as exc:
            raise ConfigError(f"{printable(path)}, line {n}: {exc}") from None
        if url not in repos:
            repos[url] = Repo(entry, url, url_hash(url))
    return list(repos.values())


# --------------------------------------------------------------------------- files


def _write_atomic(path: str, data: bytes) -> None:
    tmp = os.path.join(
        os.path.dirname(path), f".{os.path.basename(path)}.importobot-tmp-{os.getpid()}"
    )
    failure = None
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        failure = ConfigError(f"{printable(path)}: cannot write ({exc.strerror or exc})")
        try:
            os.unlink(tmp)
        except OSError:
            pass
    if failure is not None:
        raise failure  # outside the handler: one line, exit 2


def _read_json(path: str) -> Any:
    from importobot.fsio import FileRefused, read_content

    try:
        return json.loads(read_content(path, 64 * 1024 * 1024))
    except (FileRefused, ValueError, RecursionError):
        return None


def _dump(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


# --------------------------------------------------------------------------- scan


class _Scanner:
    """Everything one repository's scan needs; one per run (shared by the threads)."""

    def __init__(self, req: ScanReposRequest, k: int, n: int, out: str, state: str) -> None:
        self.req = req
        self.k, self.n = k, n
        self.out, self.state = out, state
        self.work = os.path.join(state, ".clones")
        try:
            self.max_repo = parse_size(req.max_repo_size)
            self.max_file = parse_size(req.max_file_size) if req.max_file_size else None
        except ValueError as exc:
            raise ConfigError(f"size: {exc}") from None

    def result_path(self, repo: Repo) -> str:
        return os.path.join(self.out, f"{repo.id}.json")

    def state_path(self, repo: Repo) -> str:
        return os.path.join(self.state, f"{repo.id}{STATE_SUFFIX}")

    def pending(self, repo: Repo) -> bool:
        """False when the state file and the result both say this repository is done."""
        state = _read_json(self.state_path(repo))
        if not isinstance(state, dict) or state.get("url") != repo.url:
            return True
        status = state.get("status")
        if status == "failed" and self.req.retry_failed:
            return True
        if status not in ("done", "failed") or state.get("history") != self.req.history:
            return True
        result = _read_json(self.result_path(repo))
        return not (isinstance(result, dict) and result.get("repository") == repo.url)

    def _state(self, repo: Repo, status: str, attempts: int) -> None:
        doc = {
            "version": 1,
            "url": repo.url,
            "status": status,
            "history": self.req.history,
            "attempts": attempts,
            "pid": os.getpid(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        _write_atomic(self.state_path(repo), _dump(doc))

    def run(self, repo: Repo) -> dict[str, Any]:
        previous = _read_json(self.state_path(repo))
        attempts = 1
        if isinstance(previous, dict) and isinstance(previous.get("attempts"), int):
            attempts = min(previous["attempts"] + 1, 1_000_000)
        self._state(repo, "running", attempts)
        dest = os.path.join(self.work, repo.id)
        shutil.rmtree(dest, ignore_errors=True)  # left by a killed run
        started = time.monotonic()
        doc: dict[str, Any] = {
            "kind": RESULT_KIND,
            "version": RESULT_VERSION,
            "normalization": URL_NORMALIZATION,
            "repository": repo.url,
            "id": repo.id,
            "mode": "history" if self.req.history else "tip",
            "honor_repo_config": self.req.honor_repo_config,
            "shard": [self.k, self.n],
            "tool": {"name": "importobot", "version": _version()},
        }
        try:
            clone(
                repo.url,
                dest,
                history=self.req.history,
                timeout=self.req.timeout,
                max_bytes=self.max_repo,
            )
            result, commit = self._scan(dest)
        except CloneError as exc:
            doc.update(status="failed", reason=exc.reason, error=printable(str(exc)))
        except (GitError, ConfigError) as exc:
            doc.update(status="failed", reason="scan", error=printable(str(exc)))
        else:
            findings = sorted(
                result.findings, key=lambda f: (*f.sort_key(), f.commit or "", f.variable or "")
            )
            doc.update(
                status="ok",
                reason=None,
                error=None,
                commit=commit,
                findings=[f.to_dict() for f in findings],
                summary=result.summary(),
                notes=[printable(n) for n in result.notes[:100]],
            )
        finally:
            shutil.rmtree(dest, ignore_errors=True)
        doc["seconds"] = round(time.monotonic() - started, 3)
        _write_atomic(self.result_path(repo), _dump(doc))
        self._state(repo, "done" if doc["status"] == "ok" else "failed", attempts)
        return doc

    def _scan(self, dest: str) -> tuple[ScanResult, str | None]:
        result = ScanResult()
        commit = head_commit(dest)
        if commit is None:
            result.notes.append("empty repository: nothing to scan")
            return result, None
        settings, entries = (
            self._repo_config(dest, commit)
            if self.req.honor_repo_config
            else (
                None,
                set(),
            )
        )
        max_size = self.max_file or (settings.max_file_size if settings else 10 * 1024 * 1024)
        items: Iterator[Item]
        if self.req.history:
            commits: set[str] = set()
            items = history_items(dest, None, (), commits)
        else:
            items = _tip_items(dest, commit, max_size, result)
        scan_items(
            items,
            result,
            env_globs=tuple(settings.env_files) if settings else (),
            max_size=max_size,
            inline_ignores=self.req.honor_repo_config,
            exclude=tuple(settings.exclude) if settings else (),
        )
        if entries:
            from importobot.scan.baseline import apply_baseline

            apply_baseline(result, entries)
        return result, commit

    def _repo_config(self, dest: str, commit: str) -> tuple[Settings, set[tuple[str, str, str]]]:
        """``--honor-repo-config``: the repository's own settings and baseline at ``commit``."""
        import tempfile
        from pathlib import Path

        from importobot.config import load_settings
        from importobot.git import show
        from importobot.scan.baseline import load_baseline

        with tempfile.TemporaryDirectory(prefix="importobot-config-") as tmp:
            for name in (".importobot.toml", "pyproject.toml"):
                data = show(dest, commit, name)
                if data is not None and len(data) <= 4 * 1024 * 1024:
                    Path(tmp, name).write_bytes(data)
            settings = load_settings(Path(tmp))
            entries: set[tuple[str, str, str]] = set()
            if settings.baseline:
                data = show(dest, commit, settings.baseline.lstrip("/"))
                if data is not None:
                    Path(tmp, "baseline.json").write_bytes(data)
                    entries = load_baseline(Path(tmp, "baseline.json"))
        return settings, entries


def _tip_items(dest: str, commit: str, max_size: int, result: ScanResult) -> Iterator[Item]:
    """The files of ``commit`` as items; links, submodules and oversized files counted."""
    for path, data, size, kind in iter_tree_blobs(dest, commit, max_size):
        if kind == "symlink":
            result.skip("symlink")
        elif kind == "submodule":
            result.skip("submodule")
        elif data is None:
            result.skip("too-large", size)
            result.notes.append(f"{printable(path)}: skipped, larger than the size limit")
        elif data:
            yield Item(path, path, data)


def _version() -> str:
    from importobot._version import __version__

    return __version__


def _make_dir(path: str, what: str) -> str:
    full = os.path.abspath(path)
    try:
        os.makedirs(full, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{what} {printable(path)}: cannot create ({exc.strerror})") from None
    if not os.path.isdir(full):
        raise ConfigError(f"{what} {printable(path)}: not a directory")
    return full


def run_scan_repos(req: ScanReposRequest, *, err: TextIO | None = None) -> int:
    """Scan this shard's repositories; returns the exit code (0 clean, 1 findings).

    Raises :class:`ConfigError` (exit 2) for an unusable LIST or option.
    """
    stream = err if err is not None else sys.stderr
    index = req.shard_index
    if index is None and req.shard is None and req.shards is not None:
        # A Kubernetes Indexed Job gives each pod its 0-based index in the environment.
        raw = os.environ.get("JOB_COMPLETION_INDEX", "")
        if raw.strip().isdigit():
            index = int(raw)
    k, n = parse_shard(req.shard, index, req.shards)
    if not 1 <= req.jobs <= 64:
        raise ConfigError("--jobs must be between 1 and 64")
    if req.timeout <= 0:
        raise ConfigError("--timeout must be positive")
    repos = [r for r in read_list(req.list_file) if shard_of(r.url, n) == k]
    out = _make_dir(req.output, "--output")
    state = _make_dir(req.state, "--state") if req.state else out
    scanner = _Scanner(req, k, n, out, state)
    todo = [r for r in repos if scanner.pending(r)]
    print(
        f"importobot: shard {k}/{n}: {plural(len(repos), 'repository', 'repositories')}, "
        f"{len(repos) - len(todo)} already done",
        file=stream,
        flush=True,
    )
    docs: list[dict[str, Any]] = []

    def one(repo: Repo) -> dict[str, Any]:
        doc = scanner.run(repo)
        if doc["status"] == "ok":
            line = f"{plural(len(doc['findings']), 'finding')}"
        else:
            line = f"failed ({doc['reason']}): {doc['error']}"
        print(f"importobot: {printable(repo.url)}: {line}", file=stream, flush=True)
        return doc

    if req.jobs == 1 or len(todo) < 2:
        docs = [one(r) for r in todo]
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=req.jobs) as pool:
            docs = list(pool.map(one, todo))
    for repo in repos:
        if repo not in todo:
            doc = _read_json(scanner.result_path(repo))
            if isinstance(doc, dict):
                docs.append(doc)
    failed = sum(1 for d in docs if d.get("status") != "ok")
    found = sum(
        1
        for d in docs
        for f in d.get("findings") or []
        if isinstance(f, dict) and f.get("severity") == "error" and not f.get("suppressed")
    )
    print(
        f"importobot: shard {k}/{n} done: {plural(found, 'error finding')}, "
        f"{plural(failed, 'repository', 'repositories')} failed; results in {printable(out)}",
        file=stream,
    )
    return 1 if found and not req.exit_zero else 0
