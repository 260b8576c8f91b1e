"""TOML parsing: :mod:`tomllib` on 3.11+, the ``tomli`` backport on 3.10 (imported on use)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["TomlError", "loads"]


class TomlError(ValueError):
    """The text is not valid TOML (the message says where)."""


def loads(text: str) -> dict[str, Any]:
    """Parse TOML text; raises :class:`TomlError` with the parser's message."""
    import importlib
    import sys

    tomllib = importlib.import_module("tomllib" if sys.version_info >= (3, 11) else "tomli")
    try:
        parsed: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TomlError(str(exc)) from None
    return parsed
