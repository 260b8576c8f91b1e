"""Reader for env-style files (``.env``, ``.env.*``, ``*.env``, ``.envrc``, shell exports)."""

from __future__ import annotations

from collections.abc import Iterator

from importobot import dotenv
from importobot._lazyre import lazy_compile
from importobot.scan.readers.base import Candidate

__all__ = ["looks_like_dotenv", "read_dotenv"]

_ASSIGN_LINE_RE = lazy_compile(r"[ \t]*(?:export[ \t]+)?[A-Za-z_][A-Za-z0-9_.\-]*[ \t]*=")
#: ``;`` before another assignment: several shell statements on one line
#: (``export A=1; export KEY=…``, common in ``.envrc``).
#: A ``;`` with no blank after it stays in the value (``uri;param=x`` is one value).
#: The look-behind starts a try only at the first blank of a run: a try from each blank
#: of a long run would rescan the rest of it (quadratic).
_NEXT_STATEMENT_RE = lazy_compile(
    r"(?<![ \t])[ \t]*;(?:[ \t]*(?=export[ \t]+[A-Za-z_]\w*=)|[ \t]+(?=[A-Za-z_]\w*=))"
)


def read_dotenv(text: str) -> Iterator[Candidate]:
    """Every assignment in ``text``, commented-out ones included (flagged).

    Several statements on one line (``export A=1; export KEY=…``) are read each on its
    own: the line is cut at each ``;`` that precedes an assignment, once.
    """
    lines: list[str] | None = None
    semicolons = ";" in text  # asked once, not once per entry
    for e in dotenv.parse(text):
        value, rest, rest_at = e.value, "", 0
        if semicolons and e.end_line in (0, e.line) and "\n" not in value:
            if not e.quote and ";" in value:
                m = _NEXT_STATEMENT_RE.search(value)
                if m is not None:
                    value, rest, rest_at = value[: m.start()], value[m.start() :], e.column - 1
                    rest_at += m.start()
            else:
                if lines is None:
                    lines = dotenv.split_lines(text)
                line = lines[e.line - 1] if e.line - 1 < len(lines) else ""
                after = e.column - 1 + len(value) + 1  # past the closing quote
                if _NEXT_STATEMENT_RE.match(line, after) is not None:
                    rest, rest_at = line[after:], after
        yield Candidate(
            e.name, value, e.line, e.column, e.quote, e.commented, env=True, via="dotenv"
        )
        if rest:
            yield from _statements(rest, rest_at, e.line, e.commented)


def _statements(rest: str, at: int, lineno: int, commented: bool) -> Iterator[Candidate]:
    """The assignments in ``rest`` (``; B=2; C=3`` at column ``at`` of line ``lineno``)."""
    spans = [m.span() for m in _NEXT_STATEMENT_RE.finditer(rest)]
    for i, (_, start) in enumerate(spans):
        end = spans[i + 1][0] if i + 1 < len(spans) else len(rest)
        for e in dotenv.parse(rest[start:end])[:1]:
            yield Candidate(
                e.name,
                e.value,
                lineno,
                at + start + e.column,
                e.quote,
                commented,
                env=True,
                via="dotenv",
            )


def looks_like_dotenv(text: str, *, sample: int = 200) -> bool:
    """True when most non-blank, non-comment lines are ``NAME=value`` (content sniffing)."""
    total = hits = 0
    for line in dotenv.split_lines(text)[: sample * 4]:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        total += 1
        if _ASSIGN_LINE_RE.match(line):
            hits += 1
        if total >= sample:
            break
    return total > 0 and hits / total >= 0.8
