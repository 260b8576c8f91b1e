"""The one way importobot opens a file: never a symlink into content, never a special file.

Two modes, because two kinds of files are read:

* **repository content** (:func:`read_content`) — files the scanner judges. Opened with
  ``O_NOFOLLOW | O_NONBLOCK`` (a symbolic link is refused, a FIFO never blocks the
  open), the type checked with ``fstat`` *after* opening (no race between a check and
  the open), regular files only, and at most ``max_size + 1`` bytes read, so a link to
  ``/dev/zero``, a FIFO or a device costs one system call and is skipped with a reason.
* **operator-named files** (:func:`read_operator_file`) — files a person or a
  deployment named: ``IMPORTOBOT_PREVIOUS_KEYS_FILE``, PIN, token and wrapped-key files,
  an explicit path on the command line. Symbolic links *are* followed (Kubernetes mounts
  secrets as ``..data`` symlinks), then the target must be a regular file; a secret
  file must also be owned by the user and not group- or world-writable.

Both raise :class:`FileRefused` with a short ``reason`` and never read more than asked.

One writer: :func:`replace_file_durably` (D22) rewrites a file crash-safely — a temp file
beside it, ``fsync``, ``os.replace``, ``fsync`` of the directory — so a crash leaves the
old bytes or the new ones, never a mix. (The enterprise rotation has its own copy with
crash points and locks; the base package never imports it.)
Standard library only (the hook imports this).
"""

from __future__ import annotations

import os
import stat

from importobot.exceptions import ImportobotError

__all__ = [
    "DurableWriteError",
    "FileRefused",
    "TEMP_MARKER",
    "describe",
    "read_content",
    "read_operator_file",
    "replace_file_durably",
]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOCTTY = getattr(os, "O_NOCTTY", 0)


class FileRefused(ImportobotError):
    """A file that is not read: ``reason`` is one of ``missing``, ``symlink``,
    ``directory``, ``special``, ``too-large``, ``unreadable``, ``unsafe``.

    The message names the path (as given) and what is wrong; never any content.
    """

    def __init__(self, path: str, reason: str, detail: str = "") -> None:
        self.path = path
        self.reason = reason
        self.detail = detail
        text = _DETAILS.get(reason, reason)
        super().__init__(f"{_shown(path)}: {detail or text}")


_DETAILS = {
    "missing": "missing (no such file)",
    "symlink": "a symbolic link, not followed",
    "directory": "is a directory, not a file",
    "special": "not a regular file (a FIFO, socket or device), not read",
    "too-large": "larger than the size limit",
    "unreadable": "cannot be read",
    "unsafe": "unsafe permissions",
}


def describe(reason: str) -> str:
    """What a :class:`FileRefused` reason means, for a report line."""
    return _DETAILS.get(reason, reason)


def _shown(path: str) -> str:
    from importobot._text import printable

    return printable(path)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "special"


def _read_fd(fd: int, path: str, max_size: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    limit = max_size + 1
    while total < limit:
        try:
            chunk = os.read(fd, min(1 << 20, limit - total))
        except BlockingIOError:  # pragma: no cover - regular files never block
            break
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    if total > max_size:
        raise FileRefused(path, "too-large")
    return b"".join(chunks)


def _open(path: str, flags: int) -> int:
    try:
        return os.open(path, flags | os.O_RDONLY | _NONBLOCK | _CLOEXEC | _NOCTTY)
    except FileNotFoundError:
        raise FileRefused(path, "missing") from None
    except IsADirectoryError:
        raise FileRefused(path, "directory") from None
    except OSError as exc:
        if flags & _NOFOLLOW and exc.errno in (40, 62):  # ELOOP (Linux 40, macOS 62)
            raise FileRefused(path, "symlink") from None
        raise FileRefused(path, "unreadable", f"cannot be read ({exc.strerror})") from None


def _read(path: str, max_size: int, *, follow: bool, secret: bool, private: bool = False) -> bytes:
    fd = _open(path, 0 if follow else _NOFOLLOW)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FileRefused(path, _kind(st.st_mode))
        if secret and hasattr(os, "geteuid"):
            if st.st_uid not in (os.geteuid(), 0):
                raise FileRefused(path, "unsafe", "owned by another user")
            if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                raise FileRefused(
                    path, "unsafe", "writable by group or others (chmod go-w, or 0600)"
                )
            if private and st.st_mode & 0o077:
                mode = stat.S_IMODE(st.st_mode)
                raise FileRefused(
                    path, "unsafe", f"readable by group or others (mode {mode:04o}); chmod 600 it"
                )
        if st.st_size > max_size:
            raise FileRefused(path, "too-large")
        return _read_fd(fd, path, max_size)
    except OSError as exc:
        raise FileRefused(path, "unreadable", f"cannot be read ({exc.strerror})") from None
    finally:
        os.close(fd)


def read_content(path: str, max_size: int) -> bytes:
    """Repository content at ``path``: a regular file, not a link, at most ``max_size``.

    Raises :class:`FileRefused` (``missing``, ``symlink``, ``directory``, ``special``,
    ``too-large``, ``unreadable``). Only the last component is checked for a link; the
    directories above come from git or a walk that does not follow links.
    """
    return _read(path, max_size, follow=False, secret=False)


def read_operator_file(
    path: str, max_size: int = 1 << 20, *, secret: bool = False, private: bool = False
) -> bytes:
    """A file an operator named: links followed, then a regular file of ``max_size`` at most.

    ``secret=True`` also requires the file to be owned by the current user (or root) and
    not writable by group or others; ``private=True`` (for files holding keys) also
    refuses a file group or others can read. The checks are made on the opened file
    (``fstat``), so no rename between a check and the read can fool them. Raises
    :class:`FileRefused`.
    """
    return _read(path, max_size, follow=True, secret=secret or private, private=private)


# ------------------------------------------------------------------------------ writing

#: Temp files are named ``.<name>.importobot-tmp-<pid>`` in the target's directory (D22).
TEMP_MARKER = ".importobot-tmp-"


class DurableWriteError(ImportobotError):
    """A crash-safe rewrite could not be made; the target is unchanged (exit 2)."""


def _fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_error(path: str, what: str, exc: OSError) -> DurableWriteError:
    import errno

    refused = {errno.EXDEV: "cross-device", errno.EBUSY: "busy", errno.EROFS: "read-only"}
    kind = refused.get(exc.errno or 0, "")
    reason = f"{kind} ({exc.strerror})" if kind else (exc.strerror or type(exc).__name__)
    return DurableWriteError(f"{_shown(path)}: {what}: {reason}; the file is unchanged")


def replace_file_durably(path: str, data: bytes, *, new_mode: int = 0o644) -> None:
    """Replace the file at ``path`` with ``data`` crash-safely (D22); create it if missing.

    The temp file ``.<name>.importobot-tmp-<pid>`` is created beside it with
    ``O_EXCL|O_NOFOLLOW`` and mode 0600, given the original's mode (``new_mode`` for a new
    file) and owner when permitted, written, ``fsync``-ed, renamed over ``path`` with
    ``os.replace``, and the directory is ``fsync``-ed. A symbolic link, a hard-linked file
    or a special file at ``path`` is refused (:class:`FileRefused`): a rename would
    silently break the link. Any failure removes the temp file, leaves ``path`` as it was
    and raises :class:`DurableWriteError` (EXDEV, EBUSY, EROFS named).
    """
    import stat as _stat

    try:
        before: os.stat_result | None = os.lstat(path)
    except FileNotFoundError:
        before = None
    except OSError as exc:
        raise _write_error(path, "cannot inspect it", exc) from None
    if before is not None:
        if _stat.S_ISLNK(before.st_mode):
            raise FileRefused(path, "symlink", "a symbolic link: not rewritten")
        if not _stat.S_ISREG(before.st_mode):
            raise FileRefused(path, _kind(before.st_mode))
        if before.st_nlink > 1:
            raise FileRefused(path, "unsafe", "has other hard links: not rewritten")
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}{TEMP_MARKER}{os.getpid()}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
    try:
        fd = os.open(tmp, flags, 0o600)
    except FileExistsError:
        try:  # a stale temp file of a dead process that had our pid: ours to remove
            os.unlink(tmp)
            fd = os.open(tmp, flags, 0o600)
        except OSError as exc:
            raise _write_error(path, "cannot create a temp file beside it", exc) from None
    except OSError as exc:
        raise _write_error(path, "cannot create a temp file beside it", exc) from None
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            mode = _stat.S_IMODE(before.st_mode) if before is not None else new_mode
            os.fchmod(fd, mode)
            if before is not None and hasattr(os, "fchown"):
                if before.st_uid != os.geteuid() or before.st_gid != os.getegid():
                    try:
                        os.fchown(fd, before.st_uid, before.st_gid)
                    except PermissionError:
                        pass  # the owner is kept only when permitted (D22)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise _write_error(path, "cannot write the new version", exc) from None
    try:
        _fsync_dir(directory)
    except OSError as exc:
        raise DurableWriteError(
            f"{_shown(path)}: written, but its directory could not be synced "
            f"({exc.strerror}); the new version may not survive a power loss"
        ) from None
