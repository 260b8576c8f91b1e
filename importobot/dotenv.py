"""A ``.env`` parser: text → entries with exact line and column numbers. No I/O.

It reads what dotenv loaders accept (python-dotenv, dotenvx, docker ``--env-file``,
shell ``export`` files): ``export NAME=value``, single, double and back quotes,
inline ``#`` comments after whitespace, spaces around ``=``, ``NAME: value``
separators, double- or single-quoted values spanning several lines, CRLF line ends
and a UTF-8 byte order mark on line 1. Commented-out assignments
(``# NAME=value``) are returned too, flagged ``commented``: a key in a comment is
still a committed key.

:func:`parse` never raises on any input; a line it cannot read is skipped.
"""

from __future__ import annotations

import re

from importobot._lazyre import lazy_compile
from importobot._record import Record

__all__ = ["Entry", "parse", "split_lines"]


class Entry(Record):
    """One ``NAME=value`` assignment.

    ``line`` and ``column`` (both 1-based, the column in code points) locate the
    first character of the value, inside its quotes; for an empty value they point
    just past the separator. ``end_line`` differs from ``line`` for a multi-line value.
    """

    name: str
    value: str
    line: int
    column: int
    #: The quote character around the value (``'``, ``"``, `````) or ``""``.
    quote: str = ""
    #: True when the assignment sits in a ``#`` comment.
    commented: bool = False
    end_line: int = 0

    def __repr__(self) -> str:
        # The value may be a key: never show it.
        return f"Entry(name={self.name!r}, line={self.line}, column={self.column})"


_ASSIGN_RE = lazy_compile(
    r"[ \t]*(?:export[ \t]+|set[ \t]+)?(?P<name>[A-Za-z_][A-Za-z0-9_.\-]*)"
    r"[ \t]*(?P<sep>=|:(?=[ \t]|$))[ \t]*"
)
_COMMENT_RE = lazy_compile(r"[ \t]*#+[ \t]*(?:-[ \t]+)?")


def split_lines(text: str) -> list[str]:
    """Split on ``\\n`` only (as git and editors count lines), dropping a ``\\r`` before it."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.split("\n")
    if "\r" not in text:
        return lines
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _closing(text: str, start: int, quote: str) -> int:
    """Index of the quote closing a value opened before ``start``, or -1."""
    i = start
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\" and quote == '"':
            i += 2
            continue
        if c == quote:
            return i
        i += 1
    return -1


def _unquoted(rest: str) -> str:
    """A bare value ends at whitespace followed by ``#`` (an inline comment)."""
    cut = len(rest)
    for m in re.finditer(r"[ \t]#", rest):
        cut = m.start()
        break
    return rest[:cut].rstrip()


def parse(text: str) -> list[Entry]:
    """Parse dotenv ``text`` into entries in file order. Never raises."""
    lines = split_lines(text)
    entries: list[Entry] = []
    i = 0
    total = len(lines)
    while i < total:
        line = lines[i]
        lineno = i + 1
        i += 1
        commented = False
        offset = 0
        cm = _COMMENT_RE.match(line)
        if cm is not None:
            commented = True
            offset = cm.end()
        m = _ASSIGN_RE.match(line, offset)
        if m is None:
            continue
        name = m.group("name")
        start = m.end()
        rest = line[start:]
        if not rest:
            entries.append(Entry(name, "", lineno, start + 1, "", commented, lineno))
            continue
        quote = rest[0]
        if quote in "'\"`":
            close = _closing(rest, 1, quote)
            if close >= 0:
                entries.append(
                    Entry(name, rest[1:close], lineno, start + 2, quote, commented, lineno)
                )
                continue
            if not commented and quote in "'\"":
                # A value spanning lines: look for the closing quote below.
                parts = [rest[1:]]
                j = i
                found = -1
                while j < total and j - i < 10_000:
                    close = _closing(lines[j], 0, quote)
                    if close >= 0:
                        parts.append(lines[j][:close])
                        found = j
                        break
                    parts.append(lines[j])
                    j += 1
                if found >= 0:
                    entries.append(
                        Entry(
                            name,
                            "\n".join(parts),
                            lineno,
                            start + 2,
                            quote,
                            commented,
                            found + 1,
                        )
                    )
                    i = found + 1
                    continue
            # An unclosed quote: read the rest of the line as the value.
            entries.append(
                Entry(name, _unquoted(rest[1:]), lineno, start + 2, quote, commented, lineno)
            )
            continue
        entries.append(Entry(name, _unquoted(rest), lineno, start + 1, "", commented, lineno))
    return entries
