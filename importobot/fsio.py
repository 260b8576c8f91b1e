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
Standard library only (the hook imports this).
"""

from __future__ import annotations

import os
import stat

from importobot.exceptions import ImportobotError

__all__ = ["FileRefused", "describe", "read_content", "read_operator_file"]

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
