"""The one TOML loader: a fast path for the simple TOML configuration files are made of,
:mod:`tomllib` (``tomli`` on 3.10) for everything else.

Importing :mod:`tomllib` costs more than starting Python (it imports ``typing``, ``string``,
``datetime`` and compiles its regexes), and the pre-commit hook reads configuration on every
commit (D17). Configuration is nearly always tables of strings, integers, booleans and
arrays of them, which :func:`loads` parses itself. Anything outside that subset (floats,
dates, inline tables, dotted or quoted keys, multi-line strings, nested arrays, a duplicate
key or table, any syntax error) makes the fast path give up, and :mod:`tomllib` parses the
whole text, so results and error messages are :mod:`tomllib`'s. The fast path never
accepts a text :mod:`tomllib` refuses, and never returns a different value (a differential
test checks both).

:func:`loads_table` returns one table of a larger file (``[tool.importobot]`` of a
``pyproject.toml``) by parsing only that table's sections when that is safe.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["TomlError", "declares_table", "loads", "loads_table"]


class TomlError(ValueError):
    """The text is not valid TOML (the message says where)."""


class _Unsupported(Exception):
    """The fast path does not handle this text; :mod:`tomllib` decides."""


_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_DIGITS = frozenset("0123456789")
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}
#: After a scalar value: what may follow it.
_VALUE_END = frozenset(" \t\r\n#,]")


def _bad_char(c: str) -> bool:
    """Control characters TOML refuses in strings and comments (tab is allowed)."""
    o = ord(c)
    return (o < 0x20 and c != "\t") or o == 0x7F


# Not a record: a parser cursor that moves (``pos``) as it reads, not a value.
class _Parser:
    """A cursor over the text; every method raises :class:`_Unsupported` when unsure."""

    __slots__ = ("n", "pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.n = len(text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < self.n else ""

    def skip_ws(self) -> None:
        text, n, pos = self.text, self.n, self.pos
        while pos < n and text[pos] in " \t":
            pos += 1
        self.pos = pos

    def skip_comment(self) -> None:
        if self.peek() != "#":
            return
        end = self.text.find("\n", self.pos)
        end = self.n if end < 0 else end
        body = self.text[self.pos + 1 : end]
        if body.endswith("\r"):
            body = body[:-1]
        if any(_bad_char(c) for c in body):
            raise _Unsupported
        self.pos = end

    def _newline(self) -> bool:
        """Whitespace, an optional comment, then consume one newline if there is one."""
        self.skip_ws()
        self.skip_comment()
        if self.peek() == "\n":
            self.pos += 1
            return True
        if self.text.startswith("\r\n", self.pos):
            self.pos += 2
            return True
        return False

    def end_of_line(self) -> None:
        """Whitespace, an optional comment, then a newline or the end of the text."""
        if not self._newline() and self.peek():
            raise _Unsupported

    def skip_blank(self) -> None:
        """Whitespace, newlines and comments (inside an array)."""
        while self._newline():
            pass

    def bare_key(self) -> str:
        start = self.pos
        text, n, pos = self.text, self.n, self.pos
        while pos < n and text[pos] in _BARE:
            pos += 1
        if pos == start:
            raise _Unsupported
        self.pos = pos
        return text[start:pos]

    def basic_string(self) -> str:
        text = self.text
        if text.startswith('"""', self.pos):
            raise _Unsupported
        pos = self.pos + 1
        out: list[str] = []
        while True:
            if pos >= self.n:
                raise _Unsupported
            c = text[pos]
            if c == '"':
                self.pos = pos + 1
                return "".join(out)
            if c == "\\":
                nxt = text[pos + 1 : pos + 2]
                if nxt in _ESCAPES:
                    out.append(_ESCAPES[nxt])
                    pos += 2
                    continue
                width = 4 if nxt == "u" else 8 if nxt == "U" else 0
                digits = text[pos + 2 : pos + 2 + width]
                if not width or len(digits) != width:
                    raise _Unsupported
                if any(d not in "0123456789abcdefABCDEF" for d in digits):
                    raise _Unsupported
                code = int(digits, 16)
                if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                    raise _Unsupported
                out.append(chr(code))
                pos += 2 + width
                continue
            if _bad_char(c):
                raise _Unsupported
            out.append(c)
            pos += 1

    def literal_string(self) -> str:
        text = self.text
        if text.startswith("'''", self.pos):
            raise _Unsupported
        end = text.find("'", self.pos + 1)
        if end < 0:
            raise _Unsupported
        body = text[self.pos + 1 : end]
        if any(_bad_char(c) for c in body):
            raise _Unsupported
        self.pos = end + 1
        return body

    def scalar(self) -> str | int | bool:
        c = self.peek()
        if c == '"':
            return self.basic_string()
        if c == "'":
            return self.literal_string()
        start = self.pos
        text, n, pos = self.text, self.n, self.pos
        while pos < n and text[pos] not in _VALUE_END:
            pos += 1
        word = text[start:pos]
        self.pos = pos
        if word == "true":
            return True
        if word == "false":
            return False
        return _integer(word)

    def value(self) -> object:
        c = self.peek()
        if c == "[":
            self.pos += 1
            items: list[object] = []
            while True:
                self.skip_blank()
                if self.peek() == "]":
                    self.pos += 1
                    return items
                if self.peek() in ("[", "{"):
                    raise _Unsupported
                items.append(self.scalar())
                self.skip_blank()
                c = self.peek()
                if c == ",":
                    self.pos += 1
                elif c == "]":
                    self.pos += 1
                    return items
                else:
                    raise _Unsupported
        if c == "{":
            raise _Unsupported
        return self.scalar()

    def header(self) -> tuple[list[str], bool]:
        """``[a.b]`` or ``[[a.b]]`` (bare keys only): the path and whether it is an array."""
        self.pos += 1
        array = self.peek() == "["
        if array:
            self.pos += 1
        path: list[str] = []
        while True:
            self.skip_ws()
            path.append(self.bare_key())
            self.skip_ws()
            c = self.peek()
            if c == ".":
                self.pos += 1
                continue
            if c != "]":
                raise _Unsupported
            self.pos += 1
            if array:
                if self.peek() != "]":
                    raise _Unsupported
                self.pos += 1
            return path, array


def _integer(token: str) -> int:
    """A decimal TOML integer (``+1_000``, ``0``); hex, floats and dates are unsupported."""
    body = token[1:] if token[:1] in ("+", "-") else token
    if not body or body[0] not in _DIGITS or (body[0] == "0" and len(body) > 1):
        raise _Unsupported
    previous = ""
    for c in body:
        if c == "_":
            if previous not in _DIGITS:
                raise _Unsupported
        elif c not in _DIGITS:
            raise _Unsupported
        previous = c
    if previous == "_":
        raise _Unsupported
    return int(token)


def _fast_loads(text: str) -> dict[str, Any]:
    """Parse the supported subset; raise :class:`_Unsupported` for anything else."""
    p = _Parser(text)
    root: dict[str, Any] = {}
    current = root
    defined: set[tuple[str, ...]] = set()
    arrays: set[int] = set()  # ids of lists made by [[headers]] (static arrays can't grow)
    while p.pos < p.n:
        p.skip_ws()
        c = p.peek()
        if c in ("#", "\n", "\r", ""):
            p.end_of_line()
            continue
        if c == "[":
            path, is_array = p.header()
            p.end_of_line()
            table = root
            for part in path[:-1]:
                node = table.setdefault(part, {})
                if isinstance(node, list) and id(node) in arrays:
                    node = node[-1]
                if not isinstance(node, dict):
                    raise _Unsupported
                table = node
            last = path[-1]
            existing = table.get(last)
            if is_array:
                if existing is None:
                    existing = table[last] = []
                    arrays.add(id(existing))
                elif not (isinstance(existing, list) and id(existing) in arrays):
                    raise _Unsupported
                current = {}
                existing.append(current)
            else:
                key = tuple(path)
                if key in defined or not isinstance(existing, dict | None):
                    raise _Unsupported
                defined.add(key)
                if existing is None:
                    existing = table[last] = {}
                current = existing
            continue
        name = p.bare_key()
        p.skip_ws()
        if p.peek() != "=":
            raise _Unsupported
        p.pos += 1
        p.skip_ws()
        value = p.value()
        p.end_of_line()
        if name in current:
            raise _Unsupported
        current[name] = value
    return root


def _tomllib_loads(text: str) -> dict[str, Any]:
    import importlib
    import sys

    tomllib = importlib.import_module("tomllib" if sys.version_info >= (3, 11) else "tomli")
    try:
        parsed: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TomlError(str(exc)) from None
    except RecursionError:
        raise TomlError("arrays or tables nested too deeply") from None
    return parsed


def loads(text: str) -> dict[str, Any]:
    """Parse TOML text; raises :class:`TomlError` with the parser's message."""
    try:
        return _fast_loads(text)
    except _Unsupported:
        return _tomllib_loads(text)


def _header_path(line: str) -> tuple[str, ...] | None:
    """The bare-key path of a ``[a.b]``/``[[a.b]]`` header line, else ``None``."""
    p = _Parser(line.strip())
    if p.peek() != "[":
        return None
    try:
        path, _ = p.header()
        p.end_of_line()
    except _Unsupported:
        return None
    return tuple(path)


_KEY_CHARS = _BARE | frozenset(".\"' \t")


def _may_define(line: str, name: str) -> bool:
    """True when a line outside the table's own sections may add to it.

    A header naming ``name`` in a form the fast path does not take (quoted keys), or a key
    spelled from the table's path (``tool.importobot.x = …`` at the root, ``importobot = {…}``
    or ``importobot.x = …`` under ``[tool]``, ``tool = {importobot = …}``). A mere mention
    (``"importobot>=0.2",`` in a dependency list) is not.
    """
    if name not in line:
        return False
    stripped = line.lstrip(" \t")
    if stripped.startswith("["):
        return True
    head = stripped.split("=", 1)[0].strip() if "=" in stripped else ""
    if not head or any(c not in _KEY_CHARS for c in head):
        return False
    return name in head or head.strip("\"'").startswith("tool")


def _sections(text: str, path: tuple[str, ...]) -> str | None:
    """The lines of ``text`` that make up table ``path``, or ``None`` when unsafe to cut."""
    if '"""' in text or "'''" in text:
        return None  # a header-like line could sit inside a multi-line string
    name = path[-1]
    keep: list[str] = []
    inside = False
    for line in text.splitlines(keepends=True):
        if line.lstrip(" \t").startswith("["):
            header = _header_path(line)
            if header is not None:
                inside = header[: len(path)] == path
                if inside:
                    keep.append(line)
                    continue
        if inside:
            keep.append(line)
        elif _may_define(line, name):
            return None
    return "".join(keep)


def loads_table(text: str, path: tuple[str, ...]) -> dict[str, Any] | None:
    """The table at ``path`` (e.g. ``("tool", "importobot")``), or ``None`` when absent.

    When it is safe, only the table's own sections are parsed (a ``pyproject.toml``'s
    other tables are never looked at); otherwise the whole text is, by :func:`loads`.
    A value at ``path`` that is not a table raises :class:`TomlError`.
    """
    document: dict[str, Any] | None = None
    part = _sections(text, path)
    if part is not None:
        try:
            document = _fast_loads(part)
        except _Unsupported:
            document = None
    if document is None:
        document = loads(text)
    node: object = document
    for depth, key in enumerate(path):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
        if not isinstance(node, dict):
            raise TomlError(f"[{'.'.join(path[: depth + 1])}] must be a table")
    return node if isinstance(node, dict) else None


def declares_table(data: bytes, path: tuple[str, ...]) -> bool:
    """A byte search (no parsing): may ``data`` define table ``path``?

    False only when it certainly does not (D17: most ``pyproject.toml`` files have no
    section of ours, and reading them must cost nothing). True for a header of the table
    or one under it, and for any other line that may add to it (see :func:`loads_table`).
    """
    name = path[-1].encode()
    if name not in data:
        return False
    if ".".join(path).encode() in data:
        return True
    text = data.decode("utf-8", "replace")
    return any(_may_define(line, path[-1]) for line in text.splitlines() if path[-1] in line)
