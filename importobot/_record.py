"""Small value classes without :mod:`dataclasses` at run time (hook start-up, D17).

``dataclasses`` imports ``inspect`` (and with it ``ast``, ``dis``, ``tokenize``) and
builds each class with ``exec``: about 10 ms of the pre-commit hook's start-up, more
than scanning a small commit. A record is written like a dataclass::

    class Finding(Record):                 # frozen; ``class R(Record, frozen=False)``
        rule: str
        path: str | None = None
        notes: list[str] = field(default_factory=list)

At run time the metaclass turns the annotated names into ``__slots__`` (in order) and
keeps the defaults aside; :class:`Record` gives keyword/positional construction,
equality, hashing (frozen records), ``repr``, pickling and :func:`replace`. For type
checkers ``Record`` is a ``dataclass_transform`` base (frozen by default), ``field`` is
:func:`dataclasses.field` and ``replace`` is :func:`dataclasses.replace`, so a misspelt
or mistyped field is a type error. Modules that define records must keep
``from __future__ import annotations`` (the annotations are read as strings).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from dataclasses import field, replace
    from typing import Any, ClassVar

    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**_kwargs):
        """Run-time stand-in for :func:`typing.dataclass_transform` (a no-op)."""
        return lambda obj: obj

    def field(*, default_factory):
        """A field whose default is made per instance (``field(default_factory=list)``)."""
        return _Factory(default_factory)

    def replace(obj, /, **changes):
        """A copy of ``obj`` with some fields changed (like :func:`dataclasses.replace`)."""
        values = {n: getattr(obj, n) for n in obj._fields}
        unknown = set(changes) - set(values)
        if unknown:
            raise TypeError(f"{type(obj).__name__} has no field {sorted(unknown)}")
        values.update(changes)
        return type(obj)(**values)


__all__ = ["Record", "field", "replace"]

_MISSING = object()


# Not a record: the record machinery's own marker, defined before Record exists.
class _Factory:
    """A field's default factory, as returned by :func:`field` at run time."""

    __slots__ = ("factory",)

    def __init__(self, factory: Callable[[], Any]) -> None:
        self.factory = factory


def _is_classvar(annotation: object) -> bool:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    return isinstance(text, str) and text.split("[", 1)[0].split(".")[-1] == "ClassVar"


class _RecordType(type):
    """Builds a record class: ``__slots__`` from the annotations, defaults kept aside."""

    _fields: tuple[str, ...]
    _defaults: dict[str, Any]
    _factories: dict[str, Callable[[], Any]]

    def __new__(
        mcs,
        name: str,
        bases: tuple[type, ...],
        namespace: dict[str, Any],
        frozen: bool = True,
    ) -> _RecordType:
        parents = [b for b in bases if isinstance(b, _RecordType)]
        if not parents:  # Record itself
            return super().__new__(mcs, name, bases, namespace)
        if "__slots__" in namespace:
            raise TypeError(f"record {name}: declare fields as annotations, not __slots__")
        if "__annotations__" not in namespace and "__annotate__" in namespace:
            raise TypeError(f"record {name}: the module needs `from __future__ import annotations`")
        fields: list[str] = []
        defaults: dict[str, Any] = {}
        factories: dict[str, Callable[[], Any]] = {}
        for parent in parents:
            for inherited in parent._fields:
                if inherited not in fields:
                    fields.append(inherited)
            defaults.update(parent._defaults)
            factories.update(parent._factories)
        own: list[str] = []
        for field_name, annotation in namespace.get("__annotations__", {}).items():
            if _is_classvar(annotation):
                continue
            own.append(field_name)
            if field_name not in fields:
                fields.append(field_name)
            value = namespace.pop(field_name, _MISSING)
            if isinstance(value, _Factory):
                factories[field_name] = value.factory
            elif value is not _MISSING:
                defaults[field_name] = value
        seen_default = False
        for field_name in fields:
            has_default = field_name in defaults or field_name in factories
            if seen_default and not has_default:
                raise TypeError(
                    f"record {name}: field {field_name!r} has no default but follows one that has"
                )
            seen_default = seen_default or has_default
        namespace["__slots__"] = tuple(own)
        namespace["_fields"] = tuple(fields)
        namespace["_defaults"] = defaults
        namespace["_factories"] = factories
        namespace["_mutable"] = not frozen
        return super().__new__(mcs, name, bases, namespace)


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
class Record(metaclass=_RecordType):
    """Base of slot-based value classes; frozen unless declared with ``frozen=False``."""

    __slots__: tuple[str, ...] = ()
    #: Field names in order (own and inherited).
    _fields: ClassVar[tuple[str, ...]] = ()
    #: Field → default value.
    _defaults: ClassVar[dict[str, Any]] = {}
    #: Field → zero-argument factory (``field(default_factory=...)``).
    _factories: ClassVar[dict[str, Callable[[], Any]]] = {}
    _mutable: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Hot: scanners build a record per candidate value. Positional fields are set
        # straight from ``args``; only the rest are looked up in ``kwargs``.
        names = self._fields
        given = len(args)
        if given > len(names):
            raise TypeError(f"{type(self).__name__}() takes at most {len(names)} arguments")
        set_field = object.__setattr__
        for name, value in zip(names, args, strict=False):
            set_field(self, name, value)
        for name in names[given:]:
            value = kwargs.pop(name, _MISSING) if kwargs else _MISSING
            if value is _MISSING:
                if name in self._defaults:
                    value = self._defaults[name]
                elif name in self._factories:
                    value = self._factories[name]()
                else:
                    raise TypeError(f"{type(self).__name__}() missing argument {name!r}")
            set_field(self, name, value)
        if kwargs:
            twice = [n for n in names[:given] if n in kwargs]
            if twice:
                raise TypeError(f"{type(self).__name__}() got multiple values for {twice[0]!r}")
            raise TypeError(f"{type(self).__name__}() got unexpected {sorted(kwargs)}")

    if not TYPE_CHECKING:  # hidden from mypy, which would then allow any attribute name

        def __setattr__(self, name, value):
            if not self._mutable:
                raise AttributeError(f"{type(self).__name__} is frozen; use replace()")
            object.__setattr__(self, name, value)

        def __delattr__(self, name):
            if not self._mutable:
                raise AttributeError(f"{type(self).__name__} is frozen; use replace()")
            object.__delattr__(self, name)

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, n) for n in self._fields)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record) or type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        if self._mutable:
            raise TypeError(f"unhashable type: {type(self).__name__!r}")
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._fields)
        return f"{type(self).__name__}({shown})"

    def __getstate__(self) -> dict[str, Any]:
        return {n: getattr(self, n) for n in self._fields}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)
