"""``exclude`` globs, compiled once (interim; see issue 17 item 2)."""

from __future__ import annotations

import re
from fnmatch import translate

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["ExcludeMatcher"]


# Not a record: compiled matching state behind a method, not a value.
class ExcludeMatcher:
    """Match root-relative ``/`` paths against ``exclude`` globs.

    A path is excluded when a glob matches it whole (``fnmatchcase``), when ``glob/*``
    does (a directory glob), or, for a glob without ``/``, when it matches the base name.
    """

    __slots__ = ("_base", "_full")

    def __init__(self, globs: Sequence[str]) -> None:
        full = [translate(g) for g in globs]
        full += [translate(g.rstrip("/") + "/*") for g in globs]
        base = [translate(g) for g in globs if "/" not in g]
        self._full = re.compile("|".join(f"(?:{p})" for p in full)) if full else None
        self._base = re.compile("|".join(f"(?:{p})" for p in base)) if base else None

    def excluded(self, path: str) -> bool:
        if self._full is not None and self._full.match(path):
            return True
        return self._base is not None and bool(self._base.match(path.rsplit("/", 1)[-1]))
