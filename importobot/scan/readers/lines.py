"""Line-by-line reader for any text file: assignments of every common syntax.

``NAME=value``, ``name: value``, ``"name": "value"``, ``name := "value"``,
``'name' => 'value'``, ``ENV NAME value`` (Dockerfile), ``--flag value`` /
``--flag=value`` (command lines), Python ``b'…'`` literals; several per line.
Assignments inside comments are returned flagged ``commented``. Very long lines
(minified files) are read only in windows around the positions a caller asks for,
so the work stays linear.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

from importobot._lazyre import lazy_compile
from importobot.scan.readers.base import Candidate

__all__ = ["read_line", "read_lines"]

# The name is matched atomically (lookahead + backreference) and only at a word start,
# so a long run of base64 cannot make the regex backtrack quadratically.
_ASSIGN_RE = lazy_compile(
    r"""(?<![\w.\-$@/])(?P<q>["']?)(?=(?P<name>[A-Za-z_][\w.\-]*))(?P=name)(?P=q)
    [ \t]*(?:=>|:=|==?|(?<!:):(?![:/]))[ \t]*
    (?:[bBrRuU]{1,2}(?=["']))?
    (?P<value>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`[^`\n]*`|[^\s'"`,;]+)""",
    re.X,
)
_DOCKER_RE = lazy_compile(
    r"[ \t]*(?:ENV|ARG)[ \t]+(?P<name>[A-Za-z_]\w*)[ \t]+(?P<value>[^=\s].*)$"
)
_DOCKER_ENV_RE = lazy_compile(r"[ \t]*(?:ENV|ARG)[ \t]")
_FLAG_RE = lazy_compile(
    r"""(?<![\w-])--(?P<name>[A-Za-z][\w-]*)(?:=|[ \t]+)
    (?P<value>"[^"\n]*"|'[^'\n]*'|[^\s'"-][^\s'"]*)""",
    re.X,
)
_COMMENT_START_RE = lazy_compile(r"(?:^|(?<=\s))(?:#|//)|^\s*(?:;|--|\*|/\*)")
_WINDOW = 4096
_MIN_VALUE = 16
_LONG_LINE = 16384


def _unquote(raw: str) -> tuple[str, str, int]:
    """(value, quote, offset of the value inside ``raw``)."""
    if len(raw) >= 2 and raw[0] in "'\"`" and raw[-1] == raw[0]:
        return raw[1:-1], raw[0], 1
    if raw[:1] in "'\"`":
        return raw[1:], raw[0], 1
    # An unquoted value may swallow a closing bracket of the code around it.
    value = raw
    while (
        value
        and value[-1] in ")]}"
        and value.count(value[-1]) > value.count({")": "(", "]": "[", "}": "{"}[value[-1]])
    ):
        value = value[:-1]
    return value, "", 0


def read_line(text: str, lineno: int, *, base_column: int = 0) -> Iterator[Candidate]:
    """Assignments in one line (``text`` without its line end). Never raises."""
    cm = _COMMENT_START_RE.search(text)
    comment_at = cm.start() if cm is not None else len(text) + 1
    docker_env = _DOCKER_ENV_RE.match(text) is not None
    seen: set[int] = set()
    dm = _DOCKER_RE.match(text)
    if dm is not None:
        value, quote, off = _unquote(dm.group("value").rstrip())
        start = dm.start("value") + off
        seen.add(start)
        yield Candidate(
            dm.group("name"), value, lineno, base_column + start + 1, quote, False, env=True
        )
    for fm in _FLAG_RE.finditer(text):
        value, quote, off = _unquote(fm.group("value"))
        start = fm.start("value") + off
        seen.add(start)
        yield Candidate(
            fm.group("name"),
            value,
            lineno,
            base_column + start + 1,
            quote,
            fm.start() > comment_at,
        )
    pos = 0
    while True:
        m = _ASSIGN_RE.search(text, pos)
        if m is None:
            break
        raw = m.group("value")
        # A bare value may hide further assignments (``cfg = Config{Key: "…"}``):
        # search again from inside it, not after it.
        pos = m.start("value") + 1 if raw[:1] not in "'\"`" else m.end()
        if len(raw) < _MIN_VALUE:
            continue  # too short to be key-shaped: skip before building a candidate
        value, quote, off = _unquote(raw)
        start = m.start("value") + off
        if start in seen:
            continue
        seen.add(start)
        yield Candidate(
            m.group("name"),
            value,
            lineno,
            base_column + start + 1,
            quote,
            m.start() > comment_at,
            env=docker_env,
        )


def read_lines(
    lines: list[str],
    indices: Iterable[int] | None = None,
    *,
    hot: dict[int, list[int]] | None = None,
    window_filter: Callable[[str], bool] | None = None,
) -> Iterator[Candidate]:
    """Assignments in ``lines`` (0-based ``indices`` only, when given).

    ``hot`` maps a line index to character offsets worth reading in a very long line;
    such a line is read only in windows around them. ``window_filter`` (optional) is
    asked about each window's text first; a window it refuses is not read (the
    windows themselves stay the same).
    """
    for idx in indices if indices is not None else range(len(lines)):
        if idx < 0 or idx >= len(lines):
            continue
        text = lines[idx]
        if len(text) <= _LONG_LINE:
            yield from read_line(text, idx + 1)
            continue
        spots = (hot or {}).get(idx) or [0]
        done_until = -1
        for spot in sorted(spots):
            if spot < done_until:
                continue
            lo = max(0, spot - 256)
            hi = min(len(text), spot + _WINDOW)
            done_until = hi - 512
            window = text[lo:hi]
            if window_filter is not None and not window_filter(window):
                continue
            yield from read_line(window, idx + 1, base_column=lo)
