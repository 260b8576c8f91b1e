"""Reader for env-style files (``.env``, ``.env.*``, ``*.env``, ``.envrc``, shell exports)."""

from __future__ import annotations

from collections.abc import Iterator

from importobot import dotenv
from importobot._lazyre import lazy_compile
from importobot.scan.readers.base import Candidate

__all__ = ["looks_like_dotenv", "read_dotenv"]

_ASSIGN_LINE_RE = lazy_compile(r"[ \t]*(?:export[ \t]+)?[A-Za-z_][A-Za-z0-9_.\-]*[ \t]*=")


def read_dotenv(text: str) -> Iterator[Candidate]:
    """Every assignment in ``text``, commented-out ones included (flagged)."""
    for e in dotenv.parse(text):
        yield Candidate(
            e.name, e.value, e.line, e.column, e.quote, e.commented, env=True, via="dotenv"
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
