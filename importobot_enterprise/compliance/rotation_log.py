"""The rotation log: one JSON object per finished ``importobot rotate`` run (D25).

``.importobot-rotations.jsonl`` at the repository root (config ``rotation-log``) remembers
what the rotation journal forgets when a run succeeds: which store was re-encrypted, from
which keys to which, how many values, when the run started and finished, and whether the
verification pass proved every value is under the new key. It holds store labels (paths
relative to the repository, DSNs without passwords), fingerprints, counts and times only:
never a key, a token or a value; it is safe to commit.

Writing is crash-safe: one ``write`` of one line under ``flock`` on a file opened with
``O_APPEND | O_NOFOLLOW``, then ``fsync`` (and the directory's on creation). A line cut by
a crash is never glued to the next record (a newline is written first), and a reader skips
and counts lines it cannot parse.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from importobot.exceptions import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from importobot.project import Project

__all__ = [
    "DEFAULT_LOG",
    "MAX_LOG_BYTES",
    "RotationLog",
    "RotationRecord",
    "append_record",
    "log_path",
    "read_log",
]

DEFAULT_LOG = ".importobot-rotations.jsonl"
#: The reader looks at the last 16 MiB at most (about 40,000 records).
MAX_LOG_BYTES = 16 * 1024 * 1024
_MAX_LINE = 64 * 1024
#: The report counts a record keeps (the observer copies these from a RotationReport).
COUNTS = (
    "total",
    "rotated",
    "already_current",
    "undecryptable",
    "skipped",
    "failed",
    "conflicts",
    "unreadable",
    "checked",
    "unverified",
)


def log_path(project: Project) -> str:
    """The rotation log of ``project``: config ``rotation-log`` (root-relative) or the default.

    Raises :class:`ConfigError` when the configured value is not a path.
    """
    settings = project.settings
    value = settings.plugin("rotation-log") if settings is not None else None
    if value is None:
        return project.resolve(DEFAULT_LOG)
    if not isinstance(value, str) or not value.strip() or "\0" in value:
        where = settings.source if settings is not None and settings.source else "configuration"
        raise ConfigError(f"{where}: `rotation-log` must be a file path")
    return project.resolve(value)


def _stamp(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class RotationRecord:
    """One finished run over one store."""

    store: str
    #: ``rotate`` (re-encrypted, then verified) or ``verify`` (``rotate --verify``).
    mode: str
    sources: tuple[str, ...]
    target: str
    started: datetime
    finished: datetime
    #: The verification pass found every value under the target (``None``: not run).
    verified: bool | None
    complete: bool
    resumed: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    tool: str | None = None
    #: The line in the log (1-based) it was read from.
    line: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "store": self.store,
            "mode": self.mode,
            "from": list(self.sources),
            "to": self.target,
            "started": _stamp(self.started),
            "finished": _stamp(self.finished),
            "verified": self.verified,
            "complete": self.complete,
            "resumed": self.resumed,
            "counts": dict(self.counts),
            "tool": self.tool,
        }

    @classmethod
    def from_json(cls, data: object, line: int | None = None) -> RotationRecord:
        """Parse one record; :class:`ValueError` when it is not one."""
        from importobot.keys.age import parse_timestamp
        from importobot.keys.fingerprint import is_fingerprint

        if not isinstance(data, dict) or data.get("version") != 1:
            raise ValueError("not a version 1 rotation record")
        store, mode, target = data.get("store"), data.get("mode"), data.get("to")
        sources = data.get("from")
        if not isinstance(store, str) or not store or len(store) > 4096:
            raise ValueError("store: expected a label")
        if mode not in ("rotate", "verify"):
            raise ValueError("mode: expected rotate or verify")
        if not isinstance(target, str) or not is_fingerprint(target):
            raise ValueError("to: expected a fingerprint")
        if not isinstance(sources, list) or not all(
            isinstance(s, str) and is_fingerprint(s) for s in sources
        ):
            raise ValueError("from: expected a list of fingerprints")
        started = parse_timestamp(data.get("started"))
        finished = parse_timestamp(data.get("finished"))
        verified = data.get("verified")
        if verified is not None and not isinstance(verified, bool):
            raise ValueError("verified: expected true, false or null")
        complete, resumed = data.get("complete"), data.get("resumed", False)
        if not isinstance(complete, bool) or not isinstance(resumed, bool):
            raise ValueError("complete/resumed: expected true or false")
        counts = data.get("counts", {})
        if not isinstance(counts, dict) or not all(
            isinstance(k, str) and type(v) is int and v >= 0 for k, v in counts.items()
        ):
            raise ValueError("counts: expected whole numbers")
        tool = data.get("tool")
        return cls(
            store=store,
            mode=mode,
            sources=tuple(sources),
            target=target,
            started=started,
            finished=finished,
            verified=verified,
            complete=complete,
            resumed=resumed,
            counts={k: counts[k] for k in COUNTS if k in counts},
            tool=tool if isinstance(tool, str) else None,
            line=line,
        )


@dataclass
class RotationLog:
    """What the log holds: the records read, and what could not be read."""

    path: str
    exists: bool = False
    records: list[RotationRecord] = field(default_factory=list)
    #: Line numbers that are not records (a crash mid-write, a hand edit).
    bad_lines: list[int] = field(default_factory=list)
    #: Only the last :data:`MAX_LOG_BYTES` were read.
    truncated: bool = False
    #: Why the file was not read (a symlink, not a regular file, unreadable).
    refused: str | None = None


def read_log(path: str, max_bytes: int = MAX_LOG_BYTES) -> RotationLog:
    """Read the rotation log at ``path`` (repository content: no link, no special file)."""
    log = RotationLog(path)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return log
    except OSError as exc:
        log.exists = True
        log.refused = "a symbolic link, not followed" if exc.errno in (40, 62) else exc.strerror
        return log
    log.exists = True
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            log.refused = "not a regular file"
            return log
        start = max(0, st.st_size - max_bytes)
        log.truncated = start > 0
        os.lseek(fd, start, os.SEEK_SET)
        chunks = []
        remaining = min(st.st_size, max_bytes)
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
    except OSError as exc:
        log.refused = exc.strerror or "cannot be read"
        return log
    finally:
        os.close(fd)
    lines = data.split(b"\n")
    if log.truncated:
        lines = lines[1:]  # cut by the window; numbers then count from the window's start
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            if len(raw) > _MAX_LINE:
                raise ValueError("line too long")
            record = RotationRecord.from_json(json.loads(raw.decode("utf-8")), number)
        except (ValueError, UnicodeDecodeError, RecursionError):
            log.bad_lines.append(number)
            continue
        log.records.append(record)
    return log


def append_record(path: str, record: RotationRecord) -> None:
    """Append ``record`` as one line, durably (see the module docstring).

    Raises :class:`OSError` (the caller reports it; the rotation itself is done).
    """
    import fcntl

    line = json.dumps(record.to_json(), sort_keys=True, ensure_ascii=True).encode() + b"\n"
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    existed = os.path.lexists(path)
    fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path}: not a regular file")
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line  # a line cut by a crash stays a bad line of its own
        view = memoryview(line)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    if not existed:
        directory = os.path.dirname(os.path.abspath(path))
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
