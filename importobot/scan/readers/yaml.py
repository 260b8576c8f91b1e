"""YAML context without a YAML parser: parents by indentation, list items, block scalars.

A full parse is neither needed nor safe here (templated YAML, Helm charts and broken
files must still be read). Each function looks only at the lines it is given.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator

from importobot._lazyre import lazy_compile
from importobot.scan.readers.base import Candidate

__all__ = ["ENV_PARENTS", "is_env_context", "parents", "read_k8s_data", "read_yaml_line"]

_KEY_RE = lazy_compile(
    r"(?P<indent>[ \t]*)(?:-[ \t]+)?(?P<q>[\"']?)"
    r"(?P<name>[^\s:#\"'][^:#\"']*?)(?P=q)[ \t]*:(?:[ \t]|$)"
)
_ITEM_RE = lazy_compile(
    r"(?P<indent>[ \t]*)-[ \t]+(?P<value>[^\s#:{}\[\]][^\s#]*|\"[^\"]*\"|'[^']*')[ \t]*(?:#.*)?$"
)
_BLOCK_RE = lazy_compile(
    r"(?P<indent>[ \t]*)(?:-[ \t]+)?(?P<name>[\w.\-]+)[ \t]*:[ \t]*[|>][+-]?\d*[ \t]*(?:#.*)?$"
)

#: Parent keys whose children are environment variables (IOB101 contexts).
ENV_PARENTS = frozenset({"environment", "env", "data", "stringData", "variables"})
_MAX_LOOKBACK = 4000


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def parents(lines: list[str], idx: int) -> list[str]:
    """Keys of the mappings that enclose line ``idx``, innermost first."""
    out: list[str] = []
    line = lines[idx]
    if not line.strip():
        return out
    level = _indent(line)
    stripped = line.lstrip()
    if stripped.startswith("- "):
        level += 1  # a list item belongs to the key at its own indentation
    if level == 0:
        return out
    stop = max(-1, idx - _MAX_LOOKBACK)
    for j in range(idx - 1, stop, -1):
        text = lines[j]
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        ind = _indent(text)
        if ind >= level:
            continue
        m = _KEY_RE.match(text)
        if m is not None:
            out.append(m.group("name").strip())
        level = ind
        if ind == 0:
            break
    return out


def is_env_context(lines: list[str], idx: int) -> bool:
    """True inside compose ``environment:``, Actions ``env:`` and similar blocks."""
    found = parents(lines, idx)
    return bool(found) and found[0] in ENV_PARENTS


def read_yaml_line(lines: list[str], idx: int) -> Iterator[Candidate]:
    """Values the line reader cannot name: bare list items and block scalars.

    A list item under ``secrets:`` takes its parent's name; a block scalar
    (``key: |``) yields its first content line under the key's name.
    """
    line = lines[idx]
    im = _ITEM_RE.match(line)
    if im is not None and "=" not in im.group("value"):
        found = parents(lines, idx)
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
        m = re.match(r"[ \t]*(?P<name>[\w.\-]+)[ \t]*:[ \t]*(?P<value>\S.*?)[ \t]*$", line)
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
