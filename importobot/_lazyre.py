"""Regular expressions compiled on first use.

The hook starts on every commit, and Python's regex compiler is pure Python: compiling
every scanner pattern at import costs more than the scan of a small commit. A
:func:`lazy_compile` pattern compiles when first used, then binds the compiled
pattern's methods onto itself so later calls cost what a compiled pattern's do.
For type checkers it *is* :func:`re.compile`.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["lazy_compile"]

_METHODS = (
    "search",
    "match",
    "fullmatch",
    "finditer",
    "findall",
    "sub",
    "subn",
    "split",
    "pattern",
    "flags",
    "groups",
    "groupindex",
)


class _LazyPattern:
    """Stands in for a compiled pattern until first used."""

    def __init__(self, pattern: str | bytes, flags: int = 0) -> None:
        self._args: tuple[Any, int] = (pattern, flags)

    def __getattr__(self, name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)
        compiled = re.compile(*self._args)
        for method in _METHODS:
            self.__dict__[method] = getattr(compiled, method)
        return getattr(compiled, name)

    def __repr__(self) -> str:
        return f"lazy_compile({self._args[0]!r})"


if TYPE_CHECKING:
    from re import compile as lazy_compile
else:

    def lazy_compile(pattern, flags=0):
        """:func:`re.compile`, deferred to first use."""
        return _LazyPattern(pattern, flags)
