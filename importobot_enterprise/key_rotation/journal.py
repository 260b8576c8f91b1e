"""The run journal beside a file-backed store: ``<store>.importobot-rotation.json`` (D20).

One JSON file may hold the runs of several stores that share it (the tables of one
SQLite database), keyed by store description. Written with :func:`atomic_write`.
Holds fingerprints, typed ids (:mod:`~importobot_enterprise.key_rotation.ids`) and
counts only. A journal that is not what importobot writes (hand-edited, truncated,
nested too deep, not a regular file) is refused in one line: remove it to start over.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from importobot_enterprise.key_rotation.durable import atomic_write, sweep_temp_files
from importobot_enterprise.key_rotation.errors import JournalError

__all__ = ["JOURNAL_SUFFIX", "MAX_JOURNAL_BYTES", "JournalBeside", "JsonJournal", "parse_journal"]

JOURNAL_SUFFIX = ".importobot-rotation.json"
#: A journal lists at most a few ten thousand ids: anything far larger is not ours.
MAX_JOURNAL_BYTES = 64 * 1024 * 1024


def parse_journal(text: str | bytes, where: str) -> Any:
    """JSON text of a journal, parsed; :class:`JournalError` (one line) if it is not JSON."""
    try:
        return json.loads(text)
    except RecursionError:
        reason = "nested too deeply"
    except (ValueError, UnicodeDecodeError) as exc:
        reason = type(exc).__name__ if isinstance(exc, UnicodeDecodeError) else "not JSON"
    raise JournalError(f"{where}: corrupt rotation journal ({reason}); remove it to start over")


class JsonJournal:
    """The journal file beside ``target`` for the run named ``key``."""

    def __init__(self, target: Path, key: str) -> None:
        self.path = target.with_name(target.name + JOURNAL_SUFFIX)
        self.key = key

    def _read_bytes(self) -> bytes | None:
        """The journal's bytes (``None``: no journal); never through a link or a FIFO."""
        from importobot.fsio import FileRefused, read_content

        try:
            return read_content(str(self.path), MAX_JOURNAL_BYTES)
        except FileRefused as exc:
            if exc.reason == "missing":
                return None
            failure = JournalError(f"{exc}: refused as a rotation journal")
        raise failure  # outside the handler: one line

    def _load(self) -> dict[str, Any]:
        raw = self._read_bytes()
        if raw is None:
            return {"version": 1, "runs": {}}
        data = parse_journal(raw, str(self.path))
        if not isinstance(data, dict) or not isinstance(data.get("runs"), dict):
            raise JournalError(f"{self.path}: not an importobot rotation journal")
        return data

    def sweep(self) -> None:
        """Remove temp files of the journal left by killed runs."""
        sweep_temp_files(self.path)

    def read(self) -> dict[str, Any] | None:
        """This store's entry, or ``None``; an entry that is not an object is corrupt."""
        entry = self._load()["runs"].get(self.key)
        if entry is not None and not isinstance(entry, dict):
            raise JournalError(f"{self.path}: corrupt rotation journal (an entry is not an object)")
        return entry

    def write(self, entry: dict[str, Any]) -> None:
        """Record this store's entry durably."""
        data = self._load()
        data["runs"][self.key] = entry
        atomic_write(self.path, _dump(data))

    def clear(self) -> None:
        """Drop this store's entry; remove the file when no run is left."""
        data = self._load()
        if self.key not in data["runs"]:
            return
        del data["runs"][self.key]
        if data["runs"]:
            atomic_write(self.path, _dump(data))
        else:
            self.path.unlink(missing_ok=True)


class JournalBeside:
    """The journal methods of a store whose journal is a :class:`JsonJournal` file
    beside it (a mixin listed before the store's base class)."""

    _journal: JsonJournal
    journal_label: str

    def _use_journal(self, target: Path, key: str) -> None:
        self._journal = JsonJournal(target, key)
        self.journal_label = str(self._journal.path)

    def read_journal(self) -> dict[str, Any] | None:
        """This store's entry in the journal beside it."""
        return self._journal.read()

    def write_journal(self, data: dict[str, Any]) -> None:
        """Record this store's entry durably."""
        self._journal.write(data)

    def clear_journal(self) -> None:
        """Drop this store's entry (the file goes with the last entry)."""
        self._journal.clear()


def _dump(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, default=str) + "\n").encode("utf-8")
