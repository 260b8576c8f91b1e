"""YAML context without a YAML parser: parents by indentation, list items, block scalars.

A full parse is neither needed nor safe here (templated YAML, Helm charts and broken
files must still be read). Each function looks only at the lines it is given.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator

from importobot._lazyre import lazy_compile
from importobot.scan.readers.base import Candidate

__all__ = [
    "ENV_PARENTS",
    "YamlContext",
    "is_env_context",
    "parents",
    "read_k8s_data",
    "read_yaml_line",
]

# A mapping key: quoted (``"a b": …``, spaces kept) or bare (no trailing blanks; a run
# of blanks inside is taken whole, lookahead + backreference, so a long run of spaces
# is not retried at each of its positions).
_KEY_RE = lazy_compile(
    r"(?P<indent>[ \t]*)(?:-[ \t]+)?"
    r"(?:(?P<q>[\"'])(?P<qname>[^\s:#\"'][^:#\"']*)(?P=q)"
    r"|(?P<name>[^\s:#\"'](?:[^:#\"' \t]|(?=(?P<blank>[ \t]+))(?P=blank)[^:#\"' \t])*))"
    r"[ \t]*:(?:[ \t]|$)"
)
_ITEM_RE = lazy_compile(
    r"(?P<indent>[ \t]*)-[ \t]+(?P<value>[^\s#:{}\[\]][^\s#]*|\"[^\"]*\"|'[^']*')[ \t]*(?:#.*)?$"
)
_BLOCK_RE = lazy_compile(
    r"(?P<indent>[ \t]*)(?:-[ \t]+)?(?P<name>[\w.\-]+)[ \t]*:[ \t]*[|>][+-]?\d*[ \t]*(?:#.*)?$"
)

# The value ends at its last character that is not a blank (greedy, then one step
# back: a lazy value retried the trailing blanks at each of its positions).
_DATA_RE = lazy_compile(r"[ \t]*(?P<name>[\w.\-]+)[ \t]*:[ \t]*(?P<value>\S(?:.*[^ \t])?)[ \t]*$")

#: Parent keys whose children are environment variables (IOB101 contexts).
ENV_PARENTS = frozenset({"environment", "env", "data", "stringData", "variables"})
_MAX_LOOKBACK = 4000


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _key_name(text: str) -> str | None:
    m = _KEY_RE.match(text)
    if m is None:
        return None
    return (m.group("name") or m.group("qname")).strip()


class YamlContext:
    """The enclosing keys of the lines of one file, found in one forward pass.

    A stack holds the lines a later line may sit under (indentation strictly rising
    from bottom to top): the parents of a line are read off it, so finding them for
    every line costs linear time (walking back from each line was quadratic on long
    files of shallow lines). Answers are those of walking back at most
    ``_MAX_LOOKBACK`` lines. Lines must be asked about in order (else it starts over).
    """

    __slots__ = ("_lines", "_names", "_next", "_stack")

    def __init__(self, lines: list[str], start: int = 0) -> None:
        self._lines = lines
        self._next = start
        self._stack: list[tuple[int, int]] = []  # (indentation, line index)
        self._names: dict[int, str | None] = {}

    def _advance(self, idx: int) -> None:
        if idx < self._next:
            self._next = max(0, idx - _MAX_LOOKBACK + 1)
            self._stack = []
        stack = self._stack
        for j in range(self._next, idx):
            text = self._lines[j]
            stripped = text.strip()
            if not stripped or stripped.startswith("#"):
                continue
            ind = _indent(text)
            while stack and stack[-1][0] >= ind:
                stack.pop()
            stack.append((ind, j))
        self._next = max(self._next, idx)

    def parents(self, idx: int) -> list[str]:
        """Keys of the mappings that enclose line ``idx``, innermost first."""
        out: list[str] = []
        line = self._lines[idx]
        if not line.strip():
            return out
        level = _indent(line)
        if line.lstrip().startswith("- "):
            level += 1  # a list item belongs to the key at its own indentation
        if level == 0:
            return out
        self._advance(idx)
        for ind, j in reversed(self._stack):
            if j <= idx - _MAX_LOOKBACK:
                break
            if ind >= level:
                continue
            if j not in self._names:
                self._names[j] = _key_name(self._lines[j])
            name = self._names[j]
            if name is not None:
                out.append(name)
            level = ind
            if ind == 0:
                break
        return out

    def is_env_context(self, idx: int) -> bool:
        """True inside compose ``environment:``, Actions ``env:`` and similar blocks."""
        found = self.parents(idx)
        return bool(found) and found[0] in ENV_PARENTS


def parents(lines: list[str], idx: int) -> list[str]:
    """Keys of the mappings that enclose line ``idx``, innermost first."""
    return YamlContext(lines, max(0, idx - _MAX_LOOKBACK + 1)).parents(idx)


def is_env_context(lines: list[str], idx: int) -> bool:
    """True inside compose ``environment:``, Actions ``env:`` and similar blocks."""
    return YamlContext(lines, max(0, idx - _MAX_LOOKBACK + 1)).is_env_context(idx)


def read_yaml_line(
    lines: list[str], idx: int, context: YamlContext | None = None
) -> Iterator[Candidate]:
    """Values the line reader cannot name: bare list items and block scalars.

    A list item under ``secrets:`` takes its parent's name; a block scalar
    (``key: |``) yields its first content line under the key's name.
    """
    line = lines[idx]
    im = _ITEM_RE.match(line)
    if im is not None and "=" not in im.group("value").rstrip("="):  # not ``- KEY=value``
        found = context.parents(idx) if context is not None else parents(lines, idx)
        if found:
            raw = im.group("value")
            off = im.start("value")
            quote = ""
            if raw[:1] in "'\"" and raw[-1:] == raw[:1]:
                raw, quote, off = raw[1:-1], raw[0], off + 1
            yield Candidate(found[0], raw, idx + 1, off + 1, quote)
    bm = _BLOCK_RE.match(line)
    if bm is not None:
        level = _indent(line)
        for j in range(idx + 1, min(len(lines), idx + 50)):
            text = lines[j]
            if not text.strip():
                continue
            if _indent(text) <= level:
                break
            value = text.strip()
            yield Candidate(bm.group("name"), value, j + 1, _indent(text) + 1)
            break


def read_k8s_data(lines: list[str], *, secret: bool) -> Iterator[Candidate]:
    """Kubernetes ``data:``/``stringData:`` entries; Secret ``data`` values are base64-decoded.

    The decoded text is inspected at the line and column of the encoded value.
    """
    block_indent = -1
    decode = False
    for idx, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        ind = _indent(line)
        if block_indent >= 0 and ind <= block_indent:
            block_indent = -1
        if block_indent < 0:
            if stripped in ("data:", "stringData:", "binaryData:"):
                block_indent = ind
                decode = secret and stripped == "data:"
            continue
        m = _DATA_RE.match(line)
        if m is None:
            continue
        raw = m.group("value")
        quote = ""
        col = m.start("value") + 1
        if raw[:1] in "'\"" and raw[-1:] == raw[:1] and len(raw) >= 2:
            raw, quote, col = raw[1:-1], raw[0], col + 1
        if decode:
            try:
                text = base64.b64decode(raw, validate=True).decode("utf-8")
            except (binascii.Error, ValueError, UnicodeDecodeError):
                continue
            yield Candidate(
                m.group("name"), text.strip(), idx + 1, col, "", env=True, via="base64 data"
            )
        else:
            yield Candidate(m.group("name"), raw, idx + 1, col, quote, env=True)
