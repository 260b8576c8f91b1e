"""Commands: what each ``importobot`` subcommand does, behind the thin click layer.

Each module holds the logic of one command family as plain functions (values in, a
result or an exit code out); :mod:`importobot.cli` only parses, calls and renders.
Shared here: :class:`Outcome` (what a command prints and its exit code),
:func:`read_secret` (a value from stdin) and :func:`write_output` (a report to stdout or
``--output``). A function raises
:class:`~importobot.exceptions.ImportobotError` (exit 2, one line) for usage,
configuration and environment errors.
"""

from __future__ import annotations

import sys

from importobot._record import Record
from importobot.exceptions import ImportobotError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO

__all__ = [
    "MAX_STDIN_BYTES",
    "InputError",
    "Outcome",
    "decode_stdin",
    "read_secret",
    "write_output",
]

#: The most a command reads from stdin (one key, value or token).
MAX_STDIN_BYTES = 1024 * 1024


class InputError(ImportobotError):
    """Unusable input on stdin (not UTF-8, too large, empty): exit 2."""


class Outcome(Record):
    """What a command prints and its exit code (D15)."""

    #: Text for standard output, each line ending in a newline (may be empty).
    stdout: str
    exit_code: int = 0
    #: Text for standard error (notes), each line ending in a newline.
    stderr: str = ""


def decode_stdin(data: bytes, what: str = "stdin") -> str:
    """``data`` as UTF-8 text minus one trailing newline; :class:`InputError` otherwise.

    The message names the offset of the first bad byte, never the bytes around it.
    """
    if len(data) > MAX_STDIN_BYTES:
        raise InputError(f"{what} holds more than {MAX_STDIN_BYTES // 1024} KiB: one value only")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{what} is not UTF-8 text (an invalid byte at offset {exc.start}); "
            f"pass the value as UTF-8"
        ) from None
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


def read_secret(prompt: str, stdin: BinaryIO | None = None) -> str:
    """A value from stdin: a hidden prompt on a terminal, else all of stdin (bounded).

    Raises :class:`InputError` when stdin is not UTF-8 text or larger than
    :data:`MAX_STDIN_BYTES`.
    """
    if stdin is None:
        if sys.stdin is None:
            return ""
        if sys.stdin.isatty():
            import getpass

            return getpass.getpass(prompt)
        stream = getattr(sys.stdin, "buffer", None)
        if stream is None:  # a text stream without bytes (an embedding's stand-in)
            try:
                text: str = sys.stdin.read(MAX_STDIN_BYTES + 1)
                data = text.encode("utf-8", "surrogateescape")
            except UnicodeError:
                raise InputError("stdin is not UTF-8 text; pass the value as UTF-8") from None
            return decode_stdin(data)
        stdin = stream
    return decode_stdin(stdin.read(MAX_STDIN_BYTES + 1))


def write_output(text: str, output: str | None) -> None:
    """A report to stdout (``output`` ``None`` or ``-``), or to the file ``output`` whole or
    not at all (:func:`importobot.fsio.replace_file_durably`: temp file, fsync, rename)."""
    import os

    from importobot.exceptions import ConfigError
    from importobot.fsio import DurableWriteError, FileRefused, replace_file_durably

    if output is None or output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        replace_file_durably(os.path.abspath(output), text.encode("utf-8"))
    except (FileRefused, DurableWriteError) as exc:
        raise ConfigError(f"--output {exc}") from None
