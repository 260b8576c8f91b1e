"""The rotation observer (issue 10 item 7): started / progress / finished / failed, with
counts, the store label and fingerprints, never a value; the progress bar is one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from importobot_enterprise.key_rotation import (
    JournalMismatchError,
    RotationObserver,
    RotationReport,
    SQLiteStore,
    rotate_store,
    verify_store,
)
from tests.enterprise.helpers import make_sqlite, managers, only, plaintexts, sqlite_values
from tests.keygen import contains_key, new_raw


class Recorder(RotationObserver):
    needs_total = True

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def started(self, report: RotationReport) -> None:
        self.calls.append(("started", report.to_json()))

    def progress(self, report: RotationReport, phase: str, done: int, total: int | None) -> None:
        self.calls.append(("progress", phase, done, total, report.to_json()))

    def finished(self, report: RotationReport) -> None:
        self.calls.append(("finished", report.to_json()))

    def failed(self, report: RotationReport, error: BaseException) -> None:
        self.calls.append(("failed", type(error).__name__, str(error), report.to_json()))


def test_a_run_is_observed_start_to_finish_without_values(tmp_path: Path) -> None:
    k0, k1, old, new = managers()
    plains = plaintexts(25)
    db = make_sqlite(tmp_path / "c.db", old, plains)
    rec = Recorder()
    with SQLiteStore(db, "creds", "id", "secret") as store:
        report = rotate_store(store, old, new, batch_size=10, observer=rec)
    kinds = [c[0] for c in rec.calls]
    assert kinds[0] == "started" and kinds[-1] == "finished" and "failed" not in kinds
    phases = [(c[1], c[2], c[3]) for c in rec.calls if c[0] == "progress"]
    assert phases == [
        ("rotating", 10, 25),
        ("rotating", 20, 25),
        ("rotating", 25, 25),
        ("verifying", 10, 25),
        ("verifying", 20, 25),
        ("verifying", 25, 25),
    ]
    final = rec.calls[-1][1]
    assert final["rotated"] == 25 and final["complete"] and final == report.to_json()
    assert final["target_fingerprint"] == new.key_fingerprint
    assert final["source_fingerprints"] == [old.key_fingerprint]
    assert final["store"].startswith("sqlite:")
    blob = repr(rec.calls)
    assert not contains_key(blob, k0) and not contains_key(blob, k1)
    assert not any(p.decode() in blob for p in plains)
    assert not any(str(v) in blob for v in sqlite_values(db).values())


def test_a_failed_run_is_reported_then_raised(tmp_path: Path) -> None:
    _, _, old, new = managers()
    db = make_sqlite(tmp_path / "c.db", old, plaintexts(3))
    other = only(new_raw()).key_fingerprint
    rec = Recorder()
    with SQLiteStore(db, "creds", "id", "secret") as store:
        store.write_journal({"target_fingerprint": other, "last_id": 1, "started": "x"})
        with pytest.raises(JournalMismatchError):
            rotate_store(store, old, new, observer=rec)
    assert [c[0] for c in rec.calls] == ["started", "failed"]
    assert rec.calls[1][1] == "JournalMismatchError" and other in rec.calls[1][2]


def test_dry_run_and_verify_only_are_observed(tmp_path: Path) -> None:
    _, k1, old, new = managers()
    db = make_sqlite(tmp_path / "c.db", old, plaintexts(4))
    rec = Recorder()
    with SQLiteStore(db, "creds", "id", "secret", read_only=True) as store:
        rotate_store(store, old, new, dry_run=True, observer=rec)
        verify_store(store, only(k1), observer=rec)
    kinds = [(c[0], c[1] if c[0] == "progress" else None) for c in rec.calls]
    assert kinds == [
        ("started", None),
        ("progress", "rotating"),
        ("finished", None),
        ("started", None),
        ("progress", "verifying"),
        ("finished", None),
    ]
    assert rec.calls[2][1]["dry_run"] and rec.calls[5][1]["verify_only"]
    assert rec.calls[5][1]["unverified"] == 4


def test_the_progress_callback_of_earlier_releases_still_works(tmp_path: Path) -> None:
    _, _, old, new = managers()
    db = make_sqlite(tmp_path / "c.db", old, plaintexts(30))
    seen: list[tuple[int, int | None]] = []
    rec = Recorder()
    with SQLiteStore(db, "creds", "id", "secret") as store:
        rotate_store(store, old, new, batch_size=20, progress=lambda d, t: seen.append((d, t)))
        rotate_store(store, old, new, batch_size=20, progress=lambda d, t: None, observer=rec)
    assert seen == [(20, 30), (30, 30)]
    assert rec.calls[-1][0] == "finished"


def test_the_cli_progress_bar_is_an_observer() -> None:
    from importobot_enterprise import cli

    assert issubclass(cli._ProgressBar, RotationObserver)
