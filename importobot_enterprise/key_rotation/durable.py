"""Durable, atomic file replacement (D22) and the lock file beside a store.

A rewrite goes through ``.<name>.importobot-tmp-<pid>`` in the target's real
directory, created ``O_EXCL|O_NOFOLLOW`` with mode 0600, then gets the original's
mode (and owner when permitted): write → ``fsync(tmp)`` → ``os.replace`` →
``fsync(dir)``. A crash leaves either the old file or the new one, never a mix.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from importobot_enterprise.key_rotation.errors import StoreError, StoreLockedError
from importobot_enterprise.key_rotation.faults import crash_point

__all__ = [
    "TEMP_MARKER",
    "atomic_write",
    "holder_of",
    "lock_path",
    "real_target",
    "store_lock",
    "sweep_temp_files",
    "temp_path",
]

TEMP_MARKER = ".importobot-tmp-"
LOCK_SUFFIX = ".importobot-lock"
#: errno values that end a file rotation with exit 2 and nothing changed (D22).
_REFUSED = {errno.EXDEV: "cross-device", errno.EBUSY: "busy", errno.EROFS: "read-only"}


def real_target(path: Path) -> Path:
    """The file a path names, symlinks resolved (the link itself is kept)."""
    return Path(os.path.realpath(path))


def temp_path(target: Path) -> Path:
    """The temp file for ``target`` written by this process."""
    return target.with_name(f".{target.name}{TEMP_MARKER}{os.getpid()}")


def lock_path(target: Path) -> Path:
    """The lock file beside ``target``."""
    return target.with_name(target.name + LOCK_SUFFIX)


def sweep_temp_files(target: Path) -> int:
    """Remove temp files left beside ``target`` by killed runs; returns how many.

    Called under the store lock, so no live run of ours owns one.
    """
    removed = 0
    prefix = f".{target.name}{TEMP_MARKER}"
    try:
        names = os.listdir(target.parent)
    except OSError:
        return 0
    for name in names:
        if name.startswith(prefix) and name[len(prefix) :].isdigit():
            try:
                os.unlink(target.parent / name)
                removed += 1
            except FileNotFoundError:
                pass
    return removed


def fsync_dir(directory: Path) -> None:
    """fsync a directory so a rename in it is durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(target: Path, data: bytes, *, like: os.stat_result | None = None) -> None:
    """Replace ``target`` (a real path, no symlink) with ``data`` durably and atomically.

    ``like`` gives the mode and owner to keep (default: the current file's, or 0600
    for a new file). On any error the temp file is removed and ``target`` is unchanged.
    """
    tmp = temp_path(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    if like is None:
        try:
            like = os.stat(target)
        except FileNotFoundError:
            like = None
    try:
        fd = os.open(tmp, flags, 0o600)
    except FileExistsError:
        # A stale temp file of a dead process that had our pid: ours to remove.
        os.unlink(tmp)
        fd = os.open(tmp, flags, 0o600)
    except OSError as exc:
        raise _store_error(target, "cannot create a temp file beside it", exc) from None
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            crash_point("after-temp-write")
            if like is not None:
                os.fchmod(fd, stat.S_IMODE(like.st_mode))
                if like.st_uid != os.geteuid() or like.st_gid != os.getegid():
                    try:
                        os.fchown(fd, like.st_uid, like.st_gid)
                    except PermissionError:
                        pass  # owner kept only when permitted (D22)
            os.fsync(fd)
            crash_point("after-temp-fsync")
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise _store_error(target, "cannot write the new version", exc) from None
    crash_point("after-rename")
    try:
        fsync_dir(target.parent)
    except OSError as exc:
        raise _store_error(target, "cannot fsync its directory", exc) from None


def _store_error(target: Path, what: str, exc: OSError) -> StoreError:
    kind = _REFUSED.get(exc.errno or 0, "")
    reason = f"{kind} ({exc.strerror})" if kind else (exc.strerror or type(exc).__name__)
    if exc.errno in (errno.EFBIG, errno.ENOSPC, errno.EDQUOT):
        reason = f"disk full or file too large ({exc.strerror})"
    return StoreError(f"{target}: {what}: {reason}; the file is unchanged")


def holder_of(target: Path) -> str | None:
    """Who holds the rotation lock of ``target``, from its lock file ("pid P on H since
    T"), or ``None`` when the file says nothing."""
    lock = lock_path(target)
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        info = json.loads(os.read(fd, 4096) or b"{}")
    except (OSError, ValueError, RecursionError):
        return None
    finally:
        os.close(fd)
    if not isinstance(info, dict) or not info:
        return None
    return f"pid {info.get('pid')} on {info.get('host')} since {info.get('started')}"


@contextmanager
def store_lock(target: Path) -> Iterator[None]:
    """Hold ``fcntl.flock`` on ``<target>.importobot-lock`` for one rotation run.

    The file says who holds it (pid, host, start time) for a second runner; its mere
    existence never blocks (a dead holder's flock is released by the kernel). A lock
    file that cannot be written (disk full) stops the run before anything is changed.
    """
    lock = lock_path(target)
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise _lock_error(lock, "cannot open the lock file", exc) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = holder_of(target) or "another process"
            raise StoreLockedError(
                f"{target} is being rotated by {holder} (lock {lock}); try again later"
            ) from None
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        failure: StoreError | None = None
        try:
            os.ftruncate(fd, 0)
            data = json.dumps(info).encode()
            if os.pwrite(fd, data, 0) != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as exc:
            failure = _lock_error(lock, "cannot write the lock file", exc)
        if failure is not None:
            raise failure  # outside the handler: one line, no __context__
        try:
            yield
        finally:
            try:
                os.ftruncate(fd, 0)
            except OSError:
                pass  # the flock is released by close() below all the same
    finally:
        os.close(fd)  # closing releases the flock


def _lock_error(lock: Path, what: str, exc: OSError) -> StoreError:
    reason = exc.strerror or type(exc).__name__
    if exc.errno in (errno.EFBIG, errno.ENOSPC, errno.EDQUOT):
        reason = f"disk full ({exc.strerror})"
    return StoreError(f"{lock}: {what}: {reason}; nothing was changed")
