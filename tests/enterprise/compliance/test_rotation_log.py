"""The rotation log: ``importobot rotate`` appends one record per finished run (D25)."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from importobot.keys.fingerprint import fingerprint
from importobot.security import CredentialManager
from importobot_enterprise.compliance.rotation_log import (
    DEFAULT_LOG,
    RotationRecord,
    append_record,
    read_log,
)
from tests.gitrepo import commit, git, new_key
from tests.keygen import contains_key

from .scenario import base_env, cli, control, make_repo, now, register, report_json, validate

PLAINS = [f"secret-{i}" for i in range(5)]


def _rotation_repo(
    tmp_path: Path, config: str = 'max-key-age = "365d"\n'
) -> tuple[Path, dict[str, str], bytes, bytes]:
    """A repository with a registry, an old key (previous) and a new key (active), and a
    file store of tokens under the old key."""
    s = make_repo(tmp_path, age_days=400, committed_env=False, config=config)
    new_raw, new_text = new_key()
    register(s.repo, new_raw, now() - timedelta(days=1))
    old = CredentialManager(s.raw)
    lines = [f"S{i}={old.encrypt_credential(p).token}" for i, p in enumerate(PLAINS)]
    (s.repo / "secrets.env").write_text("\n".join(lines) + "\n")
    git(s.repo, "add", "-A")
    commit(s.repo, "store")
    env = {**s.env, "IMPORTOBOT_ENCRYPTION_KEY": new_text, "IMPORTOBOT_PREVIOUS_KEYS": s.key}
    return s.repo, env, s.raw, new_raw


def test_rotate_records_each_finished_run(tmp_path: Path) -> None:
    repo, env, old_raw, new_raw = _rotation_repo(tmp_path)
    before = datetime.now(timezone.utc).replace(microsecond=0)
    proc = cli(repo, env, "rotate", "files", "secrets.env", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert not (repo / DEFAULT_LOG).exists()  # a dry run is not a rotation
    proc = cli(repo, env, "rotate", "files", "secrets.env")
    assert proc.returncode == 0, proc.stderr
    logged = (repo / DEFAULT_LOG).read_text()
    proc = cli(repo, env, "rotate", "files", "secrets.env", "--verify")
    assert proc.returncode == 0, proc.stderr
    text = (repo / DEFAULT_LOG).read_text()
    assert text == logged  # --verify changes nothing, the log included
    proc = cli(repo, env, "rotate", "files", "secrets.env")  # a second run: nothing to rotate
    assert proc.returncode == 0, proc.stderr
    text = (repo / DEFAULT_LOG).read_text()
    first, second = (json.loads(line) for line in text.splitlines())
    assert first["version"] == 1 and first["mode"] == "rotate"
    assert first["store"] == "secrets.env"  # relative to the repository, no absolute path
    assert first["from"] == [fingerprint(old_raw)] and first["to"] == fingerprint(new_raw)
    assert first["counts"]["rotated"] == len(PLAINS) and first["counts"]["total"] == len(PLAINS)
    assert first["verified"] is True and first["complete"] is True
    started = datetime.fromisoformat(first["started"].replace("Z", "+00:00"))
    finished = datetime.fromisoformat(first["finished"].replace("Z", "+00:00"))
    assert before <= started <= finished <= datetime.now(timezone.utc)
    assert second["mode"] == "rotate" and second["verified"] is True
    assert second["counts"]["rotated"] == 0 and second["counts"]["already_current"] == len(PLAINS)
    assert second["counts"]["checked"] == len(PLAINS)
    for raw in (old_raw, new_raw):
        assert not contains_key(text, raw)
    assert "gAAAAA" not in text and not any(p in text for p in PLAINS)

    # The report reads it: history recorded, the timeline marks the rotation.
    git(repo, "add", "-A")
    commit(repo, "rotated")
    code, report = report_json(repo, env)
    validate(report)
    history = control(report, "rotation-history")
    assert history["status"] == "pass", history
    runs = [e for e in history["evidence"] if e["text"].startswith("rotate secrets.env")]
    assert runs and runs[0]["fingerprint"] == fingerprint(new_raw)
    assert runs[0]["path"] == DEFAULT_LOG and runs[0]["line"] == 1
    assert [r["store"] for r in report["rotations"]] == ["secrets.env", "secrets.env"]
    (active,) = [k for k in report["keys"] if k["role"] == "primary"]
    assert [r["direction"] for r in active["rotations"]] == ["to", "to"]
    (previous,) = [k for k in report["keys"] if k["role"] == "previous"]
    assert previous["rotations"][0]["direction"] == "from"
    html = cli(repo, env, "compliance", "report", "--format", "html").stdout
    assert html.count('class="rotation"') == 2


def test_no_log_where_the_project_keeps_no_key_records(tmp_path: Path) -> None:
    work = tmp_path / "scratch"
    work.mkdir()
    old_raw, old_text = new_key()
    new_raw, new_text = new_key()
    (work / "s.env").write_text(f"S={CredentialManager(old_raw).encrypt_credential('x').token}\n")
    env = {
        **base_env(),
        "IMPORTOBOT_ENCRYPTION_KEY": new_text,
        "IMPORTOBOT_PREVIOUS_KEYS": old_text,
    }
    proc = cli(work, env, "rotate", "files", "s.env")
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(work)) == ["s.env", "s.env.importobot-lock"]


def test_configured_log_path_and_a_log_that_cannot_be_written(tmp_path: Path) -> None:
    repo, env, _, new_raw = _rotation_repo(
        tmp_path, config='max-key-age = "365d"\nrotation-log = "audit/rotations.jsonl"\n'
    )
    (repo / "audit").mkdir()
    assert cli(repo, env, "rotate", "files", "secrets.env").returncode == 0
    (record,) = read_log(str(repo / "audit" / "rotations.jsonl")).records
    assert record.target == fingerprint(new_raw) and record.complete
    assert not (repo / DEFAULT_LOG).exists()
    # a symlinked log is never followed: the rotation still succeeds, one warning line
    outside = tmp_path / "elsewhere.jsonl"
    (repo / "audit" / "rotations.jsonl").unlink()
    (repo / "audit" / "rotations.jsonl").symlink_to(outside)
    proc = cli(repo, env, "rotate", "files", "secrets.env")
    assert proc.returncode == 0, proc.stderr
    assert "rotation log" in proc.stderr and "not written" in proc.stderr
    assert not outside.exists()


def _record(**changes: object) -> RotationRecord:
    fp = fingerprint(new_key()[0])
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    fields: dict[str, object] = {
        "store": "db.sqlite:creds.secret",
        "mode": "rotate",
        "sources": (fingerprint(new_key()[0]),),
        "target": fp,
        "started": when,
        "finished": when + timedelta(seconds=3),
        "verified": True,
        "complete": True,
        "counts": {"total": 3, "rotated": 3},
    }
    fields.update(changes)
    return RotationRecord(**fields)  # type: ignore[arg-type]


def test_a_torn_line_stays_a_bad_line_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"version": 1, "store": "cut by a cra')  # a crash mid-write
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    append_record(str(path), _record())
    assert len(synced) == 1  # the file (the directory only when the log is created)
    log = read_log(str(path))
    assert log.bad_lines == [1] and len(log.records) == 1 and log.records[0].line == 2
    fresh = tmp_path / "new.jsonl"
    synced.clear()
    append_record(str(fresh), _record())
    assert len(synced) == 2  # the file, then its directory
    assert fresh.read_text().count("\n") == 1


@pytest.mark.parametrize(
    "line",
    [
        "not json",
        "[]",
        '{"version": 2}',
        '{"version": 1, "store": "x", "mode": "rotate", "from": [], "to": "key"}',
        "[" * 10000,
    ],
)
def test_bad_records_are_counted_not_trusted(tmp_path: Path, line: str) -> None:
    path = tmp_path / "log.jsonl"
    good = json.dumps(_record().to_json())
    path.write_text(f"{good}\n{line}\n{good}\n")
    log = read_log(str(path))
    assert log.bad_lines == [2] and len(log.records) == 2


def test_the_report_warns_on_an_unreadable_log_and_a_log_that_is_not_a_file(tmp_path: Path) -> None:
    s = make_repo(tmp_path, age_days=10, committed_env=False)
    (s.repo / DEFAULT_LOG).write_text("garbage\n")
    _, report = report_json(s.repo, s.env)
    history = control(report, "rotation-history")
    assert history["status"] == "warn"
    assert any("lines not readable: 1" in e["text"] for e in history["evidence"])
    (s.repo / DEFAULT_LOG).unlink()
    os.mkfifo(s.repo / DEFAULT_LOG)  # never blocks the report
    _, report = report_json(s.repo, s.env)
    assert "not a regular file" in json.dumps(control(report, "rotation-history"))
