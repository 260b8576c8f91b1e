"""The run journal beside a file-backed store: ``<store>.importobot-rotation.json`` (D20).

One JSON file may hold the runs of several stores that share it (the tables of one
SQLite database), keyed by store description. Written with :func:`atomic_write`.
Holds fingerprints, ids and counts only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from importobot_enterprise.key_rotation.durable import atomic_write, sweep_temp_files
from importobot_enterprise.key_rotation.errors import StoreError

__all__ = ["JOURNAL_SUFFIX", "JsonJournal"]

JOURNAL_SUFFIX = ".importobot-rotation.json"


class JsonJournal:
    """The journal file beside ``target`` for the run named ``key``."""

    def __init__(self, target: Path, key: str) -> None:
        self.path = target.with_name(target.name + JOURNAL_SUFFIX)
        self.key = key

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"version": 1, "runs": {}}
        except (OSError, ValueError) as exc:
            raise StoreError(f"{self.path}: unreadable rotation journal ({exc})") from None
        if not isinstance(data, dict) or not isinstance(data.get("runs"), dict):
            raise StoreError(f"{self.path}: not an importobot rotation journal")
        return data

    def sweep(self) -> None:
        """Remove temp files of the journal left by killed runs."""
        sweep_temp_files(self.path)

    def read(self) -> dict[str, Any] | None:
        """This store's entry, or ``None``."""
        entry = self._load()["runs"].get(self.key)
        return entry if isinstance(entry, dict) else None

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


def _dump(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=True, default=str) + "\n").encode("utf-8")
