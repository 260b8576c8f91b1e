"""Row ids as the journal keeps them: with their type, so a resume compares like with like.

``last_id`` of an interrupted run is sent back to the database (``WHERE id > :last``),
so it must come back as the very type the driver gave: an ``int`` for integer and
bigint, ``Decimal`` for numeric, ``str`` for text, ``UUID``, ``bytes`` for bytea and
BLOB, an aware ``datetime`` for timestamptz. Integers, finite floats and strings are
stored as themselves; the other types as ``{"$id": TYPE, "value": TEXT}``.
"""

from __future__ import annotations

import math
import uuid
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from importobot_enterprise.key_rotation.errors import JournalError, UnsupportedIdError

__all__ = ["decode_id", "encode_id", "show_id"]

_INT64 = 2**63


def encode_id(value: Any) -> Any:
    """The JSON form of one id (see the module docstring)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        raise UnsupportedIdError("boolean id columns are not supported")
    if isinstance(value, int):
        if -_INT64 <= value < _INT64:
            return value
        raise UnsupportedIdError("an integer id outside the 64-bit range")
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        raise UnsupportedIdError("a NaN or infinite float id")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$id": "bytes", "value": bytes(value).hex()}
    if isinstance(value, uuid.UUID):
        return {"$id": "uuid", "value": str(value)}
    if isinstance(value, Decimal):
        return {"$id": "decimal", "value": str(value)}
    if isinstance(value, datetime):
        return {"$id": "datetime", "value": value.isoformat()}
    if isinstance(value, date):
        return {"$id": "date", "value": value.isoformat()}
    if isinstance(value, time):
        return {"$id": "time", "value": value.isoformat()}
    raise UnsupportedIdError(
        f"id values of type {type(value).__name__} are not supported (use an integer, "
        f"numeric, text, uuid, bytea or timestamp id column)"
    )


_DECODERS: dict[str, Any] = {
    "bytes": bytes.fromhex,
    "uuid": uuid.UUID,
    "decimal": Decimal,
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
    "time": time.fromisoformat,
}


def decode_id(data: Any, where: str) -> Any:
    """An id back from its JSON form; :class:`JournalError` naming ``where`` if it is not one."""
    if data is None or isinstance(data, str):
        return data
    if isinstance(data, bool):
        raise JournalError(f"{where}: an id is a boolean")
    if isinstance(data, int):
        if -_INT64 <= data < _INT64:
            return data
        raise JournalError(f"{where}: an id is outside the 64-bit integer range")
    if isinstance(data, float):
        if math.isfinite(data):
            return data
        raise JournalError(f"{where}: an id is not a finite number")
    if isinstance(data, dict) and set(data) == {"$id", "value"}:
        kind, text = data["$id"], data["value"]
        decoder = _DECODERS.get(kind) if isinstance(kind, str) else None
        if decoder is not None and isinstance(text, str) and len(text) <= 4096:
            try:
                return decoder(text)
            except (ValueError, InvalidOperation):
                pass
    raise JournalError(f"{where}: an id is not in a form importobot writes")


def show_id(value: Any) -> Any:
    """An id for a report: JSON-ready and readable (bytes as ``\\x…`` hex, as PostgreSQL
    prints bytea)."""
    if value is None or isinstance(value, (str, int, float)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(value).hex()
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    return str(value)
