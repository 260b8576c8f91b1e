"""What a reader yields: a candidate value with its name and exact location."""

from __future__ import annotations

from importobot._record import Record

__all__ = ["Candidate"]


class Candidate(Record):
    """A ``name``/``value`` pair found in a file.

    ``line`` and ``column`` are 1-based and locate the value's first character (the
    column in Unicode code points). ``name`` is ``None`` for a bare value.
    """

    name: str | None
    value: str
    line: int
    column: int
    #: The quote around the value (``'``, ``"``, ````` or ``""``).
    quote: str = ""
    #: True when the assignment sits in a comment.
    commented: bool = False
    #: True in an env-style context: compose ``environment:``, Actions ``env:``,
    #: Dockerfile ``ENV``/``ARG``, Kubernetes Secret/ConfigMap data.
    env: bool = False
    #: Text to show instead of the format's own name when it is not obvious.
    via: str | None = None
    #: True when the syntax around the value says key whatever the name: the argument
    #: of a key constructor (``Fernet(b"…")``, ``AESGCM(…)``).
    keyed: bool = False

    def __repr__(self) -> str:
        # The value may be a key: never show it.
        return f"Candidate(name={self.name!r}, line={self.line}, column={self.column})"
