"""Text for people: one escaper for untrusted names, one plural.

Paths, variable names and messages built from repository content reach terminals, CI logs
and report files. :func:`printable` makes such a string safe for one line: control
characters (newline, ESC, …) and undecodable bytes (surrogate escapes from a non-UTF-8
file name) become visible escapes, so a file name can never forge a report line, colour a
terminal or break a UTF-8 writer. Everything else, non-ASCII letters included, is kept.
"""

from __future__ import annotations

__all__ = ["plural", "printable"]

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def printable(text: str) -> str:
    """``text`` with control characters and lone surrogates escaped (``\\n``, ``\\x1b``,
    ``\\xff`` for an undecodable byte). Backslashes are doubled only when something else
    had to be escaped, so ordinary Windows-style names stay as they are."""
    if text.isprintable():
        return text
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if ch in _NAMED:
            out.append(_NAMED[ch])
        elif 0xDC80 <= code <= 0xDCFF:  # a byte os.fsdecode could not decode
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out)


def plural(n: int, word: str, words: str | None = None) -> str:
    """``"1 file"``, ``"2 files"`` (``words`` for irregular plurals)."""
    return f"{n} {word if n == 1 else (words or word + 's')}"
