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

__all__ = ["comment_start", "read_line", "read_lines"]

# A type annotation may stand between the name and ``=`` (``SECRET_KEY: str = "…"``,
# ``secretKey: string | undefined = "…"``; blanks around that ``=``, so a base64 value's
# padding is never taken for it); ``||=`` and ``??=`` assign a default.
# ``==`` and ``===`` compare: only a quoted literal after one is read (``token === "…"``),
# never the code that follows it (``a.key===e.__key&&…``, ``A_NSECBYTES == a_NSECBYTES``).
# ``${NAME:-default}`` refers to NAME, it does not assign it (the reference's default
# is judged as the value of the setting around it).
# A bare name in brackets names the setting too (php-fpm's ``env[NAME] = …``,
# ``php_admin_value[name] = …``).
# The name is matched atomically (lookahead + backreference) and only at a word start,
# so a long run of base64 cannot make the regex backtrack quadratically. The pattern
# ends where the value starts; :func:`_assignments` finds where the value ends.
_HEAD_RE = lazy_compile(
    r"""(?<![\w.\-$@/])(?<!\$\{)(?:(?<=\[)(?P<br>))?(?P<q>["']?)(?=(?P<name>[A-Za-z_][\w.\-]*))
    (?P=name)(?P=q)(?(br)\])
    (?:[ \t]*:[ \t]*[A-Za-z_][\w.]*(?:\[[^\]=\r\n]{0,40}\])?
       (?:[ \t]*\|[ \t]*[A-Za-z_][\w.]*)*[ \t]+(?==[ \t]))?
    [ \t]*(?:=>|:=|\?\?=|\|\|=|\?=|===?(?=[ \t]*["'`])|=(?!=)|(?<!:):(?![:/]))[ \t]*
    (?:[bBrRuU]{1,2}(?=["']))?""",
    re.X,
)
#: Quoted values, by their opening quote.
_QUOTED_RE = {
    '"': lazy_compile(r'"(?:[^"\\\n]|\\.)*"'),
    "'": lazy_compile(r"'(?:[^'\\\n]|\\.)*'"),
    "`": lazy_compile(r"`[^`\n]*`"),
}
#: A bare value runs up to the first of these characters.
_BARE_STOP_RE = lazy_compile(r"[\s'\"`,;]")
#: A directive that sets a variable by name and value, blank-separated: Dockerfile
#: ``ENV``/``ARG``, csh ``setenv``, Apache ``SetEnv``, fish ``set -x``/``-gx``/``--export``,
#: nginx ``fastcgi_param``/``uwsgi_param``/``scgi_param`` (its ``;`` is not the value's).
#: (The flag is looked ahead for its ``x`` once, then taken whole: no backtracking over it.)
_DIRECTIVE_WORDS = r"""ENV|ARG|(?i:setenv)|set[ \t]+(?:-(?=[A-Za-z]*x)[A-Za-z]+|--export)
    |(?:fastcgi|uwsgi|scgi)_param"""
_DOCKER_RE = lazy_compile(
    rf"""[ \t]*(?P<kw>{_DIRECTIVE_WORDS})[ \t]+(?P<name>[A-Za-z_]\w*)[ \t]+
    (?P<value>[^=\s].*)$""",
    re.X,
)
_DOCKER_ENV_RE = lazy_compile(r"[ \t]*(?:ENV|ARG)[ \t]")
# Each pattern searched along a whole line starts with a literal or a class (the ``--``,
# then a look-behind at what precedes it): the regex engine then skips to candidate
# positions in C instead of trying the pattern at every character.
_FLAG_RE = lazy_compile(
    r"""--(?<![\w-]--)(?P<name>[A-Za-z][\w-]*)(?:=|[ \t]+)
    (?P<value>"[^"\n]*"|'[^'\n]*'|[^\s'"-][^\s'"]*)""",
    re.X,
)
#: A comment's start: ``#`` or ``//`` at the line's start or after a blank; at the
#: start only, after blanks, ``;``, ``--``, ``*``, ``/*`` (and ``<!--`` for markup).
_LEAD_COMMENT_RE = lazy_compile(r"#|//|\s*(?:;|--|\*|/\*)")
_LEAD_MARKUP_COMMENT_RE = lazy_compile(r"#|//|\s*(?:;|--|\*|/\*|<!--)")
_INNER_COMMENT_RE = lazy_compile(r"#(?<=\s#)|//(?<=\s//)")


def comment_start(text: str, *, markup: bool = False) -> int:
    """Where a comment starts in the line ``text``, else ``-1``."""
    lead = _LEAD_MARKUP_COMMENT_RE if markup else _LEAD_COMMENT_RE
    if lead.match(text) is not None:
        return 0
    m = _INNER_COMMENT_RE.search(text)
    return m.start() if m is not None else -1


_WINDOW = 4096
_MIN_VALUE = 16
_LONG_LINE = 16384


_CLOSERS = {")": "(", "]": "[", "}": "{"}
#: A bare value's nested assignments (``a=b=c…``) have values that are suffixes of the
#: outer one. They are read while their lengths add up to at most this many times the
#: outer value's length (plus a floor); the innermost one is always read. So the work
#: per line stays linear however many ``=`` a value holds.
_NESTED_FACTOR = 2
_NESTED_FLOOR = 1024


def _unquote(raw: str) -> tuple[str, str, int]:
    """(value, quote, offset of the value inside ``raw``)."""
    if len(raw) >= 2 and raw[0] in "'\"`" and raw[-1] == raw[0]:
        return raw[1:-1], raw[0], 1
    if raw[:1] in "'\"`":
        return raw[1:], raw[0], 1
    # An unquoted value may swallow a closing bracket of the code around it: drop
    # trailing closers that have no opener (counted once: linear in the value).
    end = len(raw)
    if end and raw[-1] in _CLOSERS:
        excess = {c: raw.count(c) - raw.count(o) for c, o in _CLOSERS.items()}
        while end and excess.get(raw[end - 1], 0) > 0:
            excess[raw[end - 1]] -= 1
            end -= 1
    return raw[:end], "", 0


def _assignments(text: str) -> Iterator[tuple[str, int, int, int]]:
    """(name, start of the match, start and end of the raw value) of each assignment.

    A bare value may hide further assignments (``cfg = Config{Key: "…"}``): the search
    goes on from inside it, not after it. Values too short for a key are left out.
    """
    pos = 0
    n = len(text)
    run_start = run_end = -1  # the outer bare value the search is inside
    budget = 0
    pending: tuple[str, int, int, int] | None = None  # innermost nested one not read yet
    while True:
        head = _HEAD_RE.search(text, pos)
        if head is None:
            break
        vs = head.end()
        first = text[vs : vs + 1]
        nested = False
        if first in _QUOTED_RE:
            m = _QUOTED_RE[first].match(text, vs)
            if m is None:
                # Unclosed: no value here (what precedes the quote is too short for one).
                pos = head.start() + 1
                continue
            end = pos = m.end()
        elif run_start < vs < run_end:
            end = run_end  # inside the same run of bare characters: the same end
            nested = True
            pos = vs
        else:
            stop = _BARE_STOP_RE.search(text, vs)
            end = stop.start() if stop is not None else n
            if end == vs:
                pos = head.start() + 1
                continue
            run_start, run_end = vs, end
            budget = _NESTED_FACTOR * (end - vs) + _NESTED_FLOOR
            pos = vs  # a nested assignment may start the value (``env = NAME=…``)
        if not nested and pending is not None:
            yield pending  # the search has left the run: its innermost assignment
            pending = None
        if end - vs < _MIN_VALUE:
            continue  # too short to be key-shaped: skip before building a candidate
        found = (head.group("name"), head.start(), vs, end)
        if nested:
            if end - vs > budget:
                budget = -1  # spent: of the rest of this run, only the innermost is read
                pending = found
                continue
            budget -= end - vs
        yield found
    if pending is not None:
        yield pending


def read_line(text: str, lineno: int, *, base_column: int = 0) -> Iterator[Candidate]:
    """Assignments in one line (``text`` without its line end). Never raises."""
    comment_at = comment_start(text)
    if comment_at < 0:
        comment_at = len(text) + 1
    docker_env = _DOCKER_ENV_RE.match(text) is not None
    seen: set[int] = set()
    dm = _DOCKER_RE.match(text)
    if dm is not None:
        # An nginx directive's ``;`` ends it, not the value.
        value, quote, off = _unquote(dm.group("value").rstrip().removesuffix(";").rstrip())
        start = dm.start("value") + off
        seen.add(start)
        yield Candidate(
            dm.group("name"), value, lineno, base_column + start + 1, quote, False, env=docker_env
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
    for name, at, vs, ve in _assignments(text):
        value, quote, off = _unquote(text[vs:ve])
        start = vs + off
        if start in seen:
            continue
        seen.add(start)
        yield Candidate(
            name,
            value,
            lineno,
            base_column + start + 1,
            quote,
            at > comment_at,
            env=docker_env,
        )


_EDGE = 1024
_DELIM_RE = lazy_compile(r"[\s\"'`,;]")
_LAST_DELIM_RE = lazy_compile(r"(?s).*[\s\"'`,;]")


def _window(text: str, lo: int, hi: int) -> tuple[int, int]:
    """``text[lo:hi]`` widened so that no value is cut in two (issue 16 item 4: a value
    cut at a window's edge was a second, truncated finding): each edge moves out to the
    nearest space, quote, ``,`` or ``;`` within ``_EDGE`` characters (else it stays)."""
    if hi < len(text):
        m = _DELIM_RE.search(text, hi, min(len(text), hi + _EDGE))
        if m is not None:
            hi = m.start()
    if lo > 0:
        start = max(0, lo - _EDGE)
        m = _LAST_DELIM_RE.match(text, start, lo)
        if m is not None:
            lo = m.end()
        elif start == 0:
            lo = 0
    return lo, hi


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
            lo, hi = _window(text, max(0, spot - 256), min(len(text), spot + _WINDOW))
            done_until = hi - 512
            window = text[lo:hi]
            if window_filter is not None and not window_filter(window):
                continue
            yield from read_line(window, idx + 1, base_column=lo)
