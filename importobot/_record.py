"""Small value classes without :mod:`dataclasses` (hook start-up, D17).

``dataclasses`` imports ``inspect`` (and with it ``ast``, ``dis``, ``tokenize``) and
builds each class with ``exec``: about 10 ms of the pre-commit hook's start-up, more
than scanning a small commit. A :class:`Record` subclass lists its fields in
``__slots__`` (with annotations for type checkers) and its defaults in ``_defaults``;
it gets keyword/positional construction, equality, hashing and :func:`replace`.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    R = TypeVar("R", bound="Record")

__all__ = ["Record", "replace"]

_MISSING = object()


class Record:
    """Base of slot-based value classes; frozen unless ``_mutable``."""

    __slots__: tuple[str, ...] = ()
    #: Field → default value, or a zero-argument factory when listed in ``_factories``.
    _defaults: dict[str, Any] = {}
    _factories: dict[str, Callable[[], Any]] = {}
    _mutable = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        names = self.__slots__
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__}() takes at most {len(names)} arguments")
        for name, value in zip(names, args, strict=False):
            if name in kwargs:
                raise TypeError(f"{type(self).__name__}() got multiple values for {name!r}")
            kwargs[name] = value
        for name in names:
            value = kwargs.pop(name, _MISSING)
            if value is _MISSING:
                if name in self._factories:
                    value = self._factories[name]()
                elif name in self._defaults:
                    value = self._defaults[name]
                else:
                    raise TypeError(f"{type(self).__name__}() missing argument {name!r}")
            object.__setattr__(self, name, value)
        if kwargs:
            raise TypeError(f"{type(self).__name__}() got unexpected {sorted(kwargs)}")

    def __setattr__(self, name: str, value: object) -> None:
        if not self._mutable:
            raise AttributeError(f"{type(self).__name__} is frozen; use replace()")
        object.__setattr__(self, name, value)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, n) for n in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record) or type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        if self._mutable:
            raise TypeError(f"unhashable type: {type(self).__name__!r}")
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({shown})"

    def __getstate__(self) -> dict[str, Any]:
        return {n: getattr(self, n) for n in self.__slots__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)


def replace(obj: R, **changes: Any) -> R:
    """A copy of ``obj`` with some fields changed (like :func:`dataclasses.replace`)."""
    values = {n: getattr(obj, n) for n in obj.__slots__}
    unknown = set(changes) - set(values)
    if unknown:
        raise TypeError(f"{type(obj).__name__} has no field {sorted(unknown)}")
    values.update(changes)
    return type(obj)(**values)
