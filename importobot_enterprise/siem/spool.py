"""The durable spool (D23): every event is on disk before ``emit`` returns.

Per user, in ``$XDG_STATE_HOME/importobot/spool`` (``~/.local/state/importobot/spool``): a
0700 directory of the user's, checked with ``lstat`` and opened ``O_NOFOLLOW`` on every
operation (a directory replaced by a symbolic link, or someone else's, is refused); every
file in it is opened relative to that directory's descriptor, ``O_NOFOLLOW``, and segment
files are created ``O_EXCL`` with mode 0600. There is no ``/tmp`` fallback: with no state
directory (neither ``XDG_STATE_HOME`` nor ``HOME``) :func:`default_directory` is ``None`` and
the forwarder says spooling is off.

Files:

``seg-<16 digits>``
    Records, appended under ``flock`` (pre-commit runs hooks in parallel) and fsynced: one
    line each, ``<crc32 hex> <connector ids> <event JSON>\\n``. A line whose checksum fails
    (a torn write, a flipped bit) is skipped, counted and reported; an append after a torn
    write starts on a fresh line.
``conn-<id>.json``
    What a connector id stands for (written once; no secret), so ``events flush`` can
    deliver a record to the connectors configured when it was emitted, from anywhere.
``state-<id>``
    One connector's delivery state, a fixed-size checksummed record rewritten in place
    (not fsynced: losing it to a power cut means sending records again, never losing them):
    its cursor (records before it are delivered or not its own), the batch in flight (so a
    resend after a crash is counted as possible duplicates), backoff, counters, last error.
    Its ``flock`` is the connector's delivery lock: one deliverer per connector at a time.
``drops-<id>``
    Records dropped for that connector (spool full, spool unwritable) not yet announced by
    a ``spool.dropped`` event, and the total.
``parked-<id>.jsonl``
    Events a receiver refused for good (a 400-class item error), kept for a person to read.

The size is bounded: when an append would pass the limit, segments whose records are all
delivered are removed, then the oldest segment is dropped and its undelivered records are
counted per connector.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
import time
import zlib

from importobot_enterprise.siem.config import DEFAULT_SPOOL_MAX, ConnectorSpec
from importobot_enterprise.siem.errors import SpoolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "MAX_RECORD",
    "Batch",
    "MemorySpool",
    "Spool",
    "default_directory",
]

MAX_RECORD = 256 * 1024
SEGMENT_MAX = 1024 * 1024
_STATE_SIZE = 2048
_DROPS_SIZE = 64
_PARKED_MAX = 4 * 1024 * 1024
_NOFOLLOW = os.O_NOFOLLOW
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)

Position = tuple[int, int]


def default_directory() -> str | None:
    """``$XDG_STATE_HOME/importobot/spool``, else ``$HOME/.local/state/importobot/spool``;
    ``None`` when neither names an absolute directory (no ``/tmp`` fallback)."""
    state = os.environ.get("XDG_STATE_HOME", "")
    if state and os.path.isabs(state):
        return os.path.join(state, "importobot", "spool")
    home = os.environ.get("HOME", "")
    if home and os.path.isabs(home) and os.path.isdir(home):
        return os.path.join(home, ".local", "state", "importobot", "spool")
    return None


def _crc(data: bytes) -> str:
    return f"{zlib.crc32(data) & 0xFFFFFFFF:08x}"


def _segment_name(seq: int) -> str:
    return f"seg-{seq:016d}"


def _reason(exc: OSError) -> str:
    return exc.strerror or errno.errorcode.get(exc.errno or 0, type(exc).__name__)


def new_state(pos: Position = (0, 0)) -> dict[str, Any]:
    """A connector's delivery state (see the module docstring)."""
    return {
        "pos": list(pos),
        "inflight": None,
        "failures": 0,
        "next": 0.0,
        "delivered": 0,
        "duplicates": 0,
        "resent": 0,
        "corrupt": 0,
        "parked": 0,
        "skip": [],
        "last_error": None,
        "last_error_at": None,
        "last_ok": None,
    }


class Batch:
    """Records read for one connector: ``records`` as (end position, event dict), ``end`` the
    position after the last line looked at, ``corrupt`` lines skipped on the way."""

    __slots__ = ("corrupt", "end", "records")

    def __init__(self, records: list[tuple[Position, dict[str, Any]]], end: Position, corrupt: int):
        self.records = records
        self.end = end
        self.corrupt = corrupt


def _line(event: dict[str, Any], cids: list[str]) -> bytes:
    body = (",".join(cids) + " ").encode() + json.dumps(
        event, ensure_ascii=True, separators=(",", ":")
    ).encode()
    return _crc(body).encode() + b" " + body + b"\n"


def _parse(line: bytes) -> tuple[list[str], bytes] | None:
    """(connector ids, event JSON) of a record line without its newline; ``None`` if corrupt."""
    if len(line) < 11 or line[8:9] != b" ":
        return None
    body = line[9:]
    if _crc(body).encode() != line[:8]:
        return None
    cids, sep, data = body.partition(b" ")
    if not sep:
        return None
    return cids.decode("ascii", "replace").split(","), data


class Spool:
    """The on-disk spool at ``path`` (see the module docstring); safe across processes."""

    durable = True

    def __init__(
        self,
        path: str,
        *,
        max_size: int = DEFAULT_SPOOL_MAX,
        segment_size: int | None = None,
        lock_timeout: float = 5.0,
    ) -> None:
        self.path = path
        self.max_size = max_size
        self.segment_size = segment_size or max(8 * 1024, min(SEGMENT_MAX, max_size // 8))
        self.lock_timeout = lock_timeout

    def __repr__(self) -> str:
        return f"Spool({self.path!r}, max_size={self.max_size})"

    # -- the directory ------------------------------------------------------------------
    def _check(self, path: str, st: os.stat_result, *, private: bool) -> None:
        if stat.S_ISLNK(st.st_mode):
            raise SpoolError(f"spool: {path} is a symbolic link; refused (spooling is off)")
        if not stat.S_ISDIR(st.st_mode):
            raise SpoolError(f"spool: {path} is not a directory (spooling is off)")
        if st.st_uid != os.geteuid():
            raise SpoolError(f"spool: {path} belongs to another user (spooling is off)")
        if private and st.st_mode & 0o077:
            mode = stat.S_IMODE(st.st_mode)
            raise SpoolError(
                f"spool: {path} has mode {mode:04o}, not 0700 (chmod 700 it; spooling is off)"
            )

    def _dir(self) -> int:
        """A descriptor of the spool directory, created if missing, checked every time."""
        parent = os.path.dirname(self.path)
        try:
            if not os.path.lexists(parent):
                os.makedirs(parent, mode=0o700, exist_ok=True)
            self._check(parent, os.lstat(parent), private=False)
            try:
                os.mkdir(self.path, 0o700)
            except FileExistsError:
                pass
            before = os.lstat(self.path)
            self._check(self.path, before, private=True)
            fd = os.open(self.path, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC)
        except SpoolError:
            raise
        except OSError as exc:
            raise SpoolError(f"spool: {self.path}: {_reason(exc)} (spooling is off)") from None
        after = os.fstat(fd)
        if (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
            os.close(fd)
            raise SpoolError(f"spool: {self.path} changed while being opened; refused")
        return fd

    def _open(self, dfd: int, name: str, flags: int, mode: int = 0o600) -> int:
        fd = os.open(name, flags | _NOFOLLOW | _CLOEXEC, mode, dir_fd=dfd)
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
            os.close(fd)
            raise SpoolError(f"spool: {name} is not a regular file of yours; refused")
        return fd

    def _lock_fd(self, fd: int, kind: int, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, kind | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise SpoolError(f"spool: {what} is locked by another process") from None
                time.sleep(0.002)

    class _Locked:
        def __init__(self, spool: Spool, exclusive: bool) -> None:
            self.spool = spool
            self.exclusive = exclusive
            self.dfd = -1
            self.lock = -1

        def __enter__(self) -> int:
            self.dfd = self.spool._dir()
            try:
                self.lock = self.spool._open(self.dfd, "lock", os.O_RDWR | os.O_CREAT)
                kind = fcntl.LOCK_EX if self.exclusive else fcntl.LOCK_SH
                self.spool._lock_fd(self.lock, kind, self.spool.lock_timeout, "the spool")
            except BaseException:
                if self.lock >= 0:
                    os.close(self.lock)
                os.close(self.dfd)
                raise
            return self.dfd

        def __exit__(self, *exc: object) -> None:
            os.close(self.lock)  # releases the flock
            os.close(self.dfd)

    def _locked(self, exclusive: bool = True) -> Spool._Locked:
        return Spool._Locked(self, exclusive)

    def _segments(self, dfd: int) -> list[tuple[int, int]]:
        """(seq, size) of every segment, oldest first."""
        found: list[tuple[int, int]] = []
        for name in os.listdir(dfd):
            if name.startswith("seg-") and len(name) == 20 and name[4:].isdigit():
                try:
                    st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    found.append((int(name[4:]), st.st_size))
        found.sort()
        return found

    def _fsync_dir(self, dfd: int) -> None:
        try:
            os.fsync(dfd)
        except OSError:  # some file systems refuse fsync on a directory
            pass

    # -- connectors ---------------------------------------------------------------------
    def register(self, spec: ConnectorSpec) -> str:
        """Record what ``spec``'s id stands for (once) and give it a state and drop counter;
        a new connector's cursor starts at the end of the spool. Returns the id."""
        cid = spec.cid()
        name = f"conn-{cid}.json"
        with self._locked() as dfd:
            try:
                os.stat(name, dir_fd=dfd, follow_symlinks=False)
                return cid
            except FileNotFoundError:
                pass
            try:
                segments = self._segments(dfd)
                end: Position = segments[-1] if segments else (0, 0)
                self._create(dfd, f"drops-{cid}", self._drops_record(0, 0))
                self._create(dfd, f"state-{cid}", self._state_record(new_state(end)))
                data = json.dumps(spec.to_json(), sort_keys=True).encode() + b"\n"
                self._create(dfd, name, data)  # last: its presence means "registered"
                self._fsync_dir(dfd)
            except OSError as exc:
                raise SpoolError(f"spool: cannot register a connector ({_reason(exc)})") from None
        return cid

    def _create(self, dfd: int, name: str, data: bytes) -> None:
        """Write ``name`` whole: a temporary name (``O_EXCL``), fsync, then rename."""
        temp = f".tmp-{name}-{os.getpid()}-{os.urandom(4).hex()}"
        fd = self._open(dfd, temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        try:
            os.write(fd, data)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(temp, dir_fd=dfd)
            raise
        os.close(fd)
        os.rename(temp, name, src_dir_fd=dfd, dst_dir_fd=dfd)

    def specs(self) -> dict[str, ConnectorSpec]:
        """Every registered connector by id (an unreadable one is left out)."""
        found: dict[str, ConnectorSpec] = {}
        dfd = self._dir()
        try:
            for name in sorted(os.listdir(dfd)):
                if not (name.startswith("conn-") and name.endswith(".json")):
                    continue
                cid = name[5:-5]
                try:
                    fd = self._open(dfd, name, os.O_RDONLY)
                    try:
                        data = os.read(fd, 64 * 1024)
                    finally:
                        os.close(fd)
                    spec = ConnectorSpec.from_json(json.loads(data))
                except (OSError, ValueError, TypeError, SpoolError):
                    continue
                if spec.cid() == cid:
                    found[cid] = spec
        finally:
            os.close(dfd)
        return found

    # -- fixed-size records (state, drops) ----------------------------------------------
    def _state_record(self, state: dict[str, Any]) -> bytes:
        state = dict(state)
        error = state.get("last_error")
        while True:
            body = json.dumps(state, ensure_ascii=True, separators=(",", ":")).encode()
            if len(body) <= _STATE_SIZE - 10:
                break
            if state.get("skip"):
                state["skip"] = state["skip"][: len(state["skip"]) // 2]
            elif error:
                error = error[: len(error) // 2]
                state["last_error"] = error
            else:  # pragma: no cover - the fields above are all that can grow
                raise SpoolError("spool: connector state too large")
        return (_crc(body) + " ").encode() + body.ljust(_STATE_SIZE - 10) + b"\n"

    def _drops_record(self, pending: int, total: int) -> bytes:
        body = f"{pending} {total}".encode()
        return (_crc(body) + " ").encode() + body.ljust(_DROPS_SIZE - 10) + b"\n"

    def _read_fixed(self, dfd: int, name: str, size: int) -> bytes | None:
        try:
            fd = self._open(dfd, name, os.O_RDONLY)
        except FileNotFoundError:
            return None
        try:
            data = os.pread(fd, size, 0)
        finally:
            os.close(fd)
        if len(data) != size or data[8:9] != b" ":
            return None
        body = data[9:-1].rstrip(b" ")
        return body if _crc(body).encode() == data[:8] else None

    def load_state(self, cid: str) -> dict[str, Any]:
        """The connector's state; a missing or corrupt one is a fresh state from the start
        (records are sent again rather than lost)."""
        dfd = self._dir()
        try:
            body = self._read_fixed(dfd, f"state-{cid}", _STATE_SIZE)
        finally:
            os.close(dfd)
        state = new_state()
        if body is not None:
            try:
                stored = json.loads(body)
                if isinstance(stored, dict):
                    state.update(stored)
            except ValueError:
                pass
        return state

    def save_state(self, cid: str, state: dict[str, Any]) -> None:
        """Rewrite the state in place (no new block: works on a full disk).

        Not fsynced: a process killed at any instant leaves the write in the page cache; only
        a power loss can roll the cursor back, and then records are sent again (duplicates,
        which receivers drop by id), never lost."""
        record = self._state_record(state)
        dfd = self._dir()
        try:
            try:
                fd = self._open(dfd, f"state-{cid}", os.O_RDWR | os.O_CREAT)
            except OSError as exc:
                raise SpoolError(f"spool: cannot save delivery state ({_reason(exc)})") from None
            try:
                os.pwrite(fd, record, 0)
            except OSError as exc:
                raise SpoolError(f"spool: cannot save delivery state ({_reason(exc)})") from None
            finally:
                os.close(fd)
        finally:
            os.close(dfd)

    def delivery_lock(self, cid: str, timeout: float) -> int | None:
        """Take the connector's delivery lock (its state file's ``flock``) within ``timeout``
        seconds; the descriptor to pass to :meth:`release`, or ``None`` if another holds it."""
        dfd = self._dir()
        try:
            fd = self._open(dfd, f"state-{cid}", os.O_RDWR | os.O_CREAT)
        finally:
            os.close(dfd)
        try:
            self._lock_fd(fd, fcntl.LOCK_EX, max(0.0, timeout), "a connector")
        except SpoolError:
            os.close(fd)
            return None
        return fd

    def release(self, cid: str, lock: int) -> None:
        os.close(lock)  # releases the flock

    def _drops(self, dfd: int, cid: str) -> tuple[int, int]:
        body = self._read_fixed(dfd, f"drops-{cid}", _DROPS_SIZE)
        if body is None:
            return 0, 0
        try:
            pending, total = (int(x) for x in body.split())
        except ValueError:
            return 0, 0
        return pending, total

    def _write_drops(self, dfd: int, cid: str, pending: int, total: int) -> None:
        fd = self._open(dfd, f"drops-{cid}", os.O_RDWR | os.O_CREAT)
        try:
            os.pwrite(fd, self._drops_record(pending, total), 0)
            os.fsync(fd)
        finally:
            os.close(fd)

    def drops(self, cid: str) -> tuple[int, int]:
        """(dropped and not yet announced, dropped in all) for the connector."""
        dfd = self._dir()
        try:
            return self._drops(dfd, cid)
        finally:
            os.close(dfd)

    def add_drops(self, cids: list[str], count: int = 1) -> None:
        """Count ``count`` dropped records for each connector (best effort: in place)."""
        with self._locked() as dfd:
            for cid in cids:
                pending, total = self._drops(dfd, cid)
                self._write_drops(dfd, cid, pending + count, total + count)

    def announced(self, cid: str, count: int) -> None:
        """``count`` drops were announced by a delivered ``spool.dropped`` event."""
        with self._locked() as dfd:
            pending, total = self._drops(dfd, cid)
            self._write_drops(dfd, cid, max(0, pending - count), total)

    # -- records ------------------------------------------------------------------------
    def append(self, event: dict[str, Any], cids: list[str]) -> None:
        """Append one record for ``cids`` and fsync it. Raises :class:`SpoolError`."""
        line = _line(event, cids)
        if len(line) > min(MAX_RECORD, self.max_size // 2):
            limit = min(MAX_RECORD, self.max_size // 2) // 1024
            raise SpoolError(f"spool: an event larger than {limit} KiB; dropped")
        with self._locked() as dfd:
            try:
                segments = self._segments(dfd)
                segments = self._make_room(dfd, segments, len(line) + 1)
                new = not segments or segments[-1][1] >= self.segment_size
                if not segments:
                    seq = 1
                else:
                    seq = segments[-1][0] + 1 if new else segments[-1][0]
                flags = os.O_RDWR | os.O_APPEND
                if new:
                    flags |= os.O_CREAT | os.O_EXCL
                fd = self._open(dfd, _segment_name(seq), flags)
            except OSError as exc:
                raise SpoolError(f"spool: cannot append ({_reason(exc)}); event dropped") from None
            try:
                size = os.fstat(fd).st_size
                data = line
                if size and os.pread(fd, 1, size - 1) != b"\n":  # after a torn write
                    data = b"\n" + line
                try:
                    written = 0
                    while written < len(data):
                        written += os.write(fd, data[written:])
                    os.fsync(fd)
                except OSError as exc:
                    try:  # take the partial record back (we hold the lock)
                        os.ftruncate(fd, size)
                        os.fsync(fd)
                    except OSError:
                        pass
                    raise SpoolError(
                        f"spool: cannot append ({_reason(exc)}); event dropped"
                    ) from None
            finally:
                os.close(fd)
            if new:
                self._fsync_dir(dfd)

    def _segment_cids(self, dfd: int, seq: int, size: int) -> list[tuple[int, list[str]]]:
        """(end offset, connector ids) of each intact line of a segment."""
        fd = self._open(dfd, _segment_name(seq), os.O_RDONLY)
        try:
            data = os.pread(fd, size, 0)
        finally:
            os.close(fd)
        out: list[tuple[int, list[str]]] = []
        offset = 0
        while True:
            newline = data.find(b"\n", offset)
            if newline < 0:
                break
            parsed = _parse(data[offset:newline])
            if parsed is not None:
                out.append((newline + 1, parsed[0]))
            offset = newline + 1
        return out

    def _positions(self, dfd: int) -> dict[str, Position]:
        positions: dict[str, Position] = {}
        for name in os.listdir(dfd):
            if name.startswith("state-") and not name.startswith("."):
                cid = name[6:]
                body = self._read_fixed(dfd, name, _STATE_SIZE)
                pos: Position = (0, 0)
                if body is not None:
                    try:
                        stored = json.loads(body)["pos"]
                        pos = (int(stored[0]), int(stored[1]))
                    except (ValueError, KeyError, TypeError, IndexError):
                        pass
                positions[cid] = pos
        return positions

    def _undelivered(
        self, dfd: int, seq: int, size: int, positions: dict[str, Position]
    ) -> dict[str, int]:
        """Per connector, the records of a segment not yet delivered."""
        counts: dict[str, int] = {}
        for end, cids in self._segment_cids(dfd, seq, size):
            for cid in cids:
                if positions.get(cid, (0, 0)) < (seq, end):
                    counts[cid] = counts.get(cid, 0) + 1
        return counts

    def _make_room(
        self, dfd: int, segments: list[tuple[int, int]], need: int
    ) -> list[tuple[int, int]]:
        total = sum(size for _, size in segments)
        if total + need <= self.max_size or not segments:
            return segments
        positions = self._positions(dfd)
        kept: list[tuple[int, int]] = []
        for seq, size in segments[:-1]:  # remove what is all delivered
            if not self._undelivered(dfd, seq, size, positions):
                os.unlink(_segment_name(seq), dir_fd=dfd)
                total -= size
            else:
                kept.append((seq, size))
        kept.append(segments[-1])
        while total + need > self.max_size and kept:
            seq, size = kept[0]
            if len(kept) == 1:
                # the active segment itself: drop it, the record starts a new one
                counts = self._undelivered(dfd, seq, size, positions)
                os.unlink(_segment_name(seq), dir_fd=dfd)
                self._count_drops(dfd, counts)
                total -= size
                kept = [(seq, self.segment_size)]  # forces a new segment (seq + 1)
                break
            counts = self._undelivered(dfd, seq, size, positions)
            os.unlink(_segment_name(seq), dir_fd=dfd)
            self._count_drops(dfd, counts)
            total -= size
            kept.pop(0)
        self._fsync_dir(dfd)
        return kept

    def _count_drops(self, dfd: int, counts: dict[str, int]) -> None:
        for cid, count in counts.items():
            try:
                pending, total = self._drops(dfd, cid)
                self._write_drops(dfd, cid, pending + count, total + count)
            except (OSError, SpoolError):
                pass

    def read(
        self, cid: str, pos: Position, *, limit: int, skip: frozenset[str] = frozenset()
    ) -> Batch:
        """Up to ``limit`` records for ``cid`` after ``pos``, oldest first (shared lock)."""
        records: list[tuple[Position, dict[str, Any]]] = []
        corrupt = 0
        end = pos
        with self._locked(exclusive=False) as dfd:
            segments = self._segments(dfd)
            for index, (seq, size) in enumerate(segments):
                if seq < pos[0]:
                    continue
                start = pos[1] if seq == pos[0] else 0
                if start >= size:
                    end = (seq, size) if (seq, size) > end else end
                    continue
                last = index == len(segments) - 1
                try:
                    fd = self._open(dfd, _segment_name(seq), os.O_RDONLY)
                except FileNotFoundError:
                    continue
                try:
                    data = os.pread(fd, size - start, start)
                finally:
                    os.close(fd)
                offset = 0
                while len(records) < limit:
                    newline = data.find(b"\n", offset)
                    if newline < 0:
                        if not last and offset < len(data):  # a torn tail in an old segment
                            corrupt += 1
                            offset = len(data)
                        break
                    raw = data[offset:newline]
                    offset = newline + 1
                    here = (seq, start + offset)
                    parsed = _parse(raw) if raw else None
                    if parsed is None:
                        if raw:
                            corrupt += 1
                        end = here
                        continue
                    end = here
                    cids, body = parsed
                    if cid not in cids:
                        continue
                    try:
                        event = json.loads(body)
                    except ValueError:
                        corrupt += 1
                        continue
                    if not isinstance(event, dict):
                        corrupt += 1
                        continue
                    if event.get("id") in skip:
                        continue
                    records.append((here, event))
                if len(records) >= limit:
                    break
                if offset >= len(data):
                    end = (seq, start + offset) if (seq, start + offset) > end else end
        return Batch(records, end, corrupt)

    def backlog(self, cid: str, pos: Position) -> tuple[int, float | None]:
        """(records not yet delivered to ``cid``, time of the oldest) — a full scan."""
        count = 0
        oldest: float | None = None
        with self._locked(exclusive=False) as dfd:
            for seq, size in self._segments(dfd):
                if seq < pos[0]:
                    continue
                for end, cids in self._segment_cids(dfd, seq, size):
                    if (seq, end) > pos and cid in cids:
                        if oldest is None:
                            oldest = self._time_at(dfd, seq, end)
                        count += 1
        return count, oldest

    def _time_at(self, dfd: int, seq: int, end: int) -> float | None:
        fd = self._open(dfd, _segment_name(seq), os.O_RDONLY)
        try:
            start = max(0, end - MAX_RECORD - 2)
            data = os.pread(fd, end - start, start)
        finally:
            os.close(fd)
        line = data[:-1].rsplit(b"\n", 1)[-1]
        parsed = _parse(line)
        if parsed is None:
            return None
        try:
            stamp = json.loads(parsed[1]).get("time")
            from datetime import datetime

            return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
        except (ValueError, AttributeError):
            return None

    def compact(self) -> int:
        """Remove segments (not the newest) whose records are all delivered; how many."""
        removed = 0
        with self._locked() as dfd:
            segments = self._segments(dfd)
            positions = self._positions(dfd)
            for seq, size in segments[:-1]:
                if not self._undelivered(dfd, seq, size, positions):
                    os.unlink(_segment_name(seq), dir_fd=dfd)
                    removed += 1
            if removed:
                self._fsync_dir(dfd)
        return removed

    def size(self) -> int:
        dfd = self._dir()
        try:
            return sum(size for _, size in self._segments(dfd))
        finally:
            os.close(dfd)

    def park(self, cid: str, event: dict[str, Any], reason: str) -> None:
        """Keep an event a receiver refused for good (bounded file; counted either way)."""
        line = json.dumps({"reason": reason, "event": event}, ensure_ascii=True).encode() + b"\n"
        dfd = self._dir()
        try:
            fd = self._open(dfd, f"parked-{cid}.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            try:
                if os.fstat(fd).st_size + len(line) <= _PARKED_MAX:
                    os.write(fd, line)
                    os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            pass
        finally:
            os.close(dfd)


class MemorySpool:
    """Spooling off (no state directory): records live in this process only, best effort."""

    durable = False
    path = None

    def __init__(self, max_size: int = DEFAULT_SPOOL_MAX) -> None:
        import threading

        self.max_size = max_size
        self._lock = threading.Lock()
        self._records: list[tuple[int, list[str], dict[str, Any]]] = []
        self._states: dict[str, dict[str, Any]] = {}
        self._drops: dict[str, list[int]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._next = 1
        self._specs: dict[str, ConnectorSpec] = {}

    def register(self, spec: ConnectorSpec) -> str:
        import threading

        cid = spec.cid()
        with self._lock:
            if cid not in self._specs:
                self._specs[cid] = spec
                self._states[cid] = new_state((0, self._next - 1))
                self._drops[cid] = [0, 0]
                self._locks[cid] = threading.Lock()
        return cid

    def specs(self) -> dict[str, ConnectorSpec]:
        return dict(self._specs)

    def append(self, event: dict[str, Any], cids: list[str]) -> None:
        with self._lock:
            self._records.append((self._next, list(cids), event))
            self._next += 1
            while len(self._records) > 10000:
                _, dropped, _ = self._records.pop(0)
                for cid in dropped:
                    self._drops[cid][0] += 1
                    self._drops[cid][1] += 1

    def read(
        self, cid: str, pos: Position, *, limit: int, skip: frozenset[str] = frozenset()
    ) -> Batch:
        with self._lock:
            records = [
                ((0, n), event)
                for n, cids, event in self._records
                if n > pos[1] and cid in cids and event.get("id") not in skip
            ][:limit]
            end = records[-1][0] if len(records) == limit else (0, self._next - 1)
        return Batch(records, end, 0)

    def load_state(self, cid: str) -> dict[str, Any]:
        return dict(self._states.get(cid) or new_state())

    def save_state(self, cid: str, state: dict[str, Any]) -> None:
        self._states[cid] = dict(state)

    def delivery_lock(self, cid: str, timeout: float) -> int | None:
        lock = self._locks.get(cid)
        if lock is None or not lock.acquire(timeout=max(0.0, timeout)):
            return None
        return 1

    def release(self, cid: str, lock: int) -> None:
        self._locks[cid].release()

    def drops(self, cid: str) -> tuple[int, int]:
        pending, total = self._drops.get(cid, [0, 0])
        return pending, total

    def add_drops(self, cids: list[str], count: int = 1) -> None:
        for cid in cids:
            counts = self._drops.setdefault(cid, [0, 0])
            counts[0] += count
            counts[1] += count

    def announced(self, cid: str, count: int) -> None:
        counts = self._drops.setdefault(cid, [0, 0])
        counts[0] = max(0, counts[0] - count)

    def backlog(self, cid: str, pos: Position) -> tuple[int, float | None]:
        with self._lock:
            return sum(1 for n, cids, _ in self._records if n > pos[1] and cid in cids), None

    def compact(self) -> int:
        return 0

    def size(self) -> int:
        return 0

    def park(self, cid: str, event: dict[str, Any], reason: str) -> None:
        pass
