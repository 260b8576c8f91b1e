"""The durable spool (D23): permissions, links, checksums, torn writes, the size bound and its
``spool.dropped`` announcement, full disks, parallel writers, no /tmp fallback."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from importobot.events import SecurityEvent
from importobot_enterprise.siem import JsonlFileConnector, SIEMManager, Spool, SpoolError
from importobot_enterprise.siem.delivery import drain
from importobot_enterprise.siem.spool import default_directory

ROOT = Path(__file__).resolve().parents[3]


def jsonl_ids(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


def test_directory_and_files_are_private(spool_home: Path, tmp_path: Path) -> None:
    manager = SIEMManager([JsonlFileConnector(str(tmp_path / "out.jsonl"))])
    manager.emit_security_event("probe", {"n": 1})
    assert stat.S_IMODE(os.lstat(spool_home).st_mode) == 0o700
    names = sorted(os.listdir(spool_home))
    assert [n for n in names if n.startswith("seg-")] == ["seg-0000000000000001"]
    for name in names:
        st = os.lstat(spool_home / name)
        assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600, name
    assert len(jsonl_ids(tmp_path / "out.jsonl")) == 1


def test_where_the_spool_lives(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "s"))
    assert default_directory() == str(tmp_path / "s" / "importobot" / "spool")
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_directory() == str(tmp_path / ".local" / "state" / "importobot" / "spool")
    monkeypatch.setenv("XDG_STATE_HOME", "relative/dir")  # not absolute: ignored (XDG spec)
    assert default_directory() == str(tmp_path / ".local" / "state" / "importobot" / "spool")
    monkeypatch.delenv("HOME")
    monkeypatch.delenv("XDG_STATE_HOME")
    assert default_directory() is None


def test_no_state_directory_means_spooling_off_said_once_no_tmp(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("XDG_STATE_HOME")
    monkeypatch.delenv("HOME", raising=False)
    before = set(os.listdir("/tmp"))
    out = tmp_path / "out.jsonl"
    manager = SIEMManager([JsonlFileConnector(str(out))])
    manager.emit_security_event("one", {"n": 1})
    manager.emit_security_event("two", {"n": 2})
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "importobot: events: no state directory (XDG_STATE_HOME and HOME are unset): "
        "spooling is off; events are sent once, best effort"
    ]
    assert len(jsonl_ids(out)) == 2  # still sent, from memory
    assert not {n for n in set(os.listdir("/tmp")) - before if "importobot" in n}


@pytest.mark.parametrize("attack", ["symlink", "mode", "owner", "file"])
def test_an_unsafe_spool_directory_is_refused(
    spool_home: Path,
    tmp_path: Path,
    attack: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = tmp_path / "attacker"
    target.mkdir(mode=0o700)
    spool_home.parent.mkdir(parents=True)
    if attack == "symlink":
        spool_home.symlink_to(target)
    elif attack == "mode":
        spool_home.mkdir(mode=0o755)
        spool_home.chmod(0o755)
    elif attack == "owner":  # the directory is someone else's: we pose as another user
        spool_home.mkdir(mode=0o700)
        uid = os.geteuid()
        monkeypatch.setattr(os, "geteuid", lambda: uid + 1)
    else:
        spool_home.write_text("not a directory")
    with pytest.raises(SpoolError) as raised:
        Spool(str(spool_home)).append({"id": "x"}, ["c"])
    assert "spool" in str(raised.value) and "\n" not in str(raised.value)
    assert os.listdir(target) == []
    # through the manager: one stderr line, spooling off, the event sent once from memory
    out = tmp_path / "out.jsonl"
    manager = SIEMManager([JsonlFileConnector(str(out))])
    manager.emit_security_event("probe", {"n": 1})
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "spooling is off" in err
    assert len(jsonl_ids(out)) == 1 and os.listdir(target) == []


def test_the_directory_is_checked_on_every_operation(spool_home: Path, tmp_path: Path) -> None:
    spool = Spool(str(spool_home))
    spool.append({"id": "a"}, ["c"])
    moved = tmp_path / "moved"
    spool_home.rename(moved)
    spool_home.symlink_to(moved)  # swapped for a link after the first use
    with pytest.raises(SpoolError, match="symbolic link"):
        spool.append({"id": "b"}, ["c"])
    with pytest.raises(SpoolError, match="symbolic link"):
        spool.read("c", (0, 0), limit=10)


def test_a_planted_segment_link_is_never_written_through(spool_home: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    spool = Spool(str(spool_home))
    spool.append({"id": "a"}, ["c"])
    os.unlink(spool_home / "seg-0000000000000001")
    os.symlink(victim, spool_home / "seg-0000000000000001")
    with pytest.raises(SpoolError):
        spool.append({"id": "b"}, ["c"])
    assert victim.read_text() == "precious\n"


def test_records_go_only_to_the_connectors_named_when_emitted(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    client_a = SIEMManager([JsonlFileConnector(str(a), name="client-a")], wait=False)
    client_b = SIEMManager([JsonlFileConnector(str(b), name="client-b")], wait=False)
    ea = client_a.emit_security_event("from_a", {"n": 1})
    eb = client_b.emit_security_event("from_b", {"n": 2})
    client_a.flush(5)
    client_b.flush(5)
    assert jsonl_ids(a) == [ea.id] and jsonl_ids(b) == [eb.id]


def test_a_corrupt_record_is_skipped_counted_and_reported(spool_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    connector = JsonlFileConnector(str(out))
    stalled = SIEMManager([connector], wait=False)
    events = [SecurityEvent("custom.n", payload={"n": i}) for i in range(5)]
    cid = stalled.spool.register(connector.spec)
    for event in events:
        stalled.spool.append(event.to_dict(), [cid])
    segment = spool_home / "seg-0000000000000001"
    data = bytearray(segment.read_bytes())
    second = data.index(b"\n") + 1 + 20
    data[second] ^= 0x20  # flip a bit inside the second record
    segment.write_bytes(bytes(data))
    report = drain(stalled.spool, cid, connector)
    assert report.corrupt == 1 and report.delivered == 4
    got = jsonl_ids(out)
    assert got == [e.id for i, e in enumerate(events) if i != 1]
    assert stalled.spool.load_state(cid)["corrupt"] == 1


def test_an_append_after_a_torn_write_starts_a_fresh_line(spool_home: Path, tmp_path: Path) -> None:
    spool = Spool(str(spool_home))
    connector = JsonlFileConnector(str(tmp_path / "out.jsonl"))
    cid = spool.register(connector.spec)
    first = SecurityEvent("custom.first")
    spool.append(first.to_dict(), [cid])
    with open(spool_home / "seg-0000000000000001", "ab") as handle:
        handle.write(b"0badc0de " + cid.encode() + b' {"id": "torn')  # a crash mid-write
    second = SecurityEvent("custom.second")
    spool.append(second.to_dict(), [cid])
    report = drain(spool, cid, connector)
    assert report.delivered == 2 and report.corrupt == 1
    assert jsonl_ids(tmp_path / "out.jsonl") == [first.id, second.id]


def test_when_full_the_oldest_are_dropped_counted_and_announced_first(
    spool_home: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.jsonl"
    connector = JsonlFileConnector(str(out))
    spool = Spool(str(spool_home), max_size=32 * 1024, segment_size=8 * 1024)
    cid = spool.register(connector.spec)
    events = [SecurityEvent("custom.fill", payload={"n": i, "pad": "p" * 400}) for i in range(120)]
    for event in events:
        spool.append(event.to_dict(), [cid])
    assert spool.size() <= 32 * 1024
    pending, total = spool.drops(cid)
    assert pending == total > 0
    report = drain(spool, cid, connector)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert lines[0]["type"] == "spool.dropped"
    assert lines[0]["counts"] == {"dropped": total}
    assert lines[0]["severity"] == "warning"
    kept = [x["id"] for x in lines[1:]]
    assert kept == [e.id for e in events[-len(kept) :]]  # the newest survive, in order
    assert len(kept) + total == len(events)  # every event delivered or counted
    assert spool.drops(cid) == (0, total) and report.delivered == len(kept)


def test_delivered_segments_are_removed(spool_home: Path, tmp_path: Path) -> None:
    spool = Spool(str(spool_home), segment_size=8 * 1024)
    connector = JsonlFileConnector(str(tmp_path / "out.jsonl"))
    cid = spool.register(connector.spec)
    for i in range(60):
        spool.append(SecurityEvent("custom.n", payload={"n": i, "pad": "x" * 400}).to_dict(), [cid])
    assert len([n for n in os.listdir(spool_home) if n.startswith("seg-")]) > 3
    drain(spool, cid, connector)
    spool.compact()
    assert [n for n in os.listdir(spool_home) if n.startswith("seg-")] == [
        max(n for n in os.listdir(spool_home) if n.startswith("seg-"))
    ]
    assert spool.backlog(cid, tuple(spool.load_state(cid)["pos"])) == (0, None)  # type: ignore[arg-type]


_EMIT = textwrap.dedent(
    """
    import os, resource, sys
    limit = int(sys.argv[2])
    if limit:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    from importobot_enterprise.siem import JsonlFileConnector, SIEMManager
    m = SIEMManager([JsonlFileConnector(sys.argv[1])], wait=False)
    n = int(sys.argv[3])
    for i in range(n):
        e = m.emit_security_event("fill", {"n": i, "pad": "p" * 300})
        print(e.id, flush=True)
    print("dropped", m.dropped, flush=True)
    sys.exit(0)
    """
)


def _emit(env_home: Path, out: Path, n: int, limit: int = 0) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    if limit:  # coverage's own data file would hit the limit too (and say so on stderr)
        env = {k: v for k, v in env.items() if not k.startswith("COVERAGE_")}
    env["XDG_STATE_HOME"] = str(env_home)
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-c", _EMIT, str(out), str(limit), str(n)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_a_file_size_limit_never_changes_the_exit_code(tmp_path: Path) -> None:
    """RLIMIT_FSIZE (EFBIG) stands for a full disk: one line per dropped event, exit 0."""
    home = tmp_path / "state"
    out = tmp_path / "out" / "x.jsonl"
    out.parent.mkdir()
    proc = _emit(home, Path("/dev/null/x"), 40, limit=8 * 1024)
    assert proc.returncode == 0, proc.stderr
    dropped = int(proc.stdout.split("dropped ")[1])
    assert dropped > 0
    lines = proc.stderr.splitlines()
    assert len(lines) == dropped
    assert all(line.startswith("importobot: events: spool: cannot append") for line in lines)


def _mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    return proc.returncode == 0


def test_a_full_spool_disk_drops_counts_and_announces(tmp_path: Path) -> None:
    """A small tmpfs where mounting is allowed (else RLIMIT_FSIZE stands in)."""
    state = tmp_path / "state"
    mounted = _mount_tmpfs(state, "96k")
    out = tmp_path / "later" / "x.jsonl"  # no directory yet: delivery fails, records stay
    try:
        first = _emit(state, out, 1)  # registers the connector
        assert first.returncode == 0
        if mounted:
            filler = state / "filler"
            fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                while os.write(fd, b"\0" * 4096):
                    pass
            except OSError:
                pass  # full
            finally:
                os.close(fd)
            proc = _emit(state, out, 20)
            filler.unlink()
        else:
            proc = _emit(state, out, 60, limit=12 * 1024)
        assert proc.returncode == 0
        dropped = int(proc.stdout.split("dropped ")[1])
        assert dropped > 0
        assert proc.stderr.count("cannot append") == dropped
        # once there is room (and a place to write): spool.dropped goes first, with the count
        out.parent.mkdir()
        spool = Spool(str(state / "importobot" / "spool"))
        [(cid, spec)] = spool.specs().items()
        report = drain(spool, cid, JsonlFileConnector(spec), respect_backoff=False)
        lines = [json.loads(x) for x in out.read_text().splitlines()]
        assert lines[0]["type"] == "spool.dropped" and lines[0]["counts"]["dropped"] == dropped
        emitted = first.stdout.split()[:1] + proc.stdout.split("dropped")[0].split()
        kept = [x["id"] for x in lines[1:]]
        assert set(kept) <= set(emitted) and len(kept) + dropped == len(emitted)
        assert report.delivered == len(kept)
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(state)], check=False)


def test_parallel_writers_lose_nothing(tmp_path: Path) -> None:
    """Two to four hooks emitting at once: flock serialises appends; nothing is torn."""
    home = tmp_path / "state"
    out = tmp_path / "out.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    env.update(XDG_STATE_HOME=str(home), PYTHONPATH=str(ROOT))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _EMIT, str(out), "0", "60"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    emitted: list[str] = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0 and stderr == "", stderr
        emitted += [line for line in stdout.splitlines() if not line.startswith("dropped")]
    spool = Spool(str(home / "importobot" / "spool"))
    [(cid, spec)] = spool.specs().items()
    drain(spool, cid, JsonlFileConnector(spec))
    got = jsonl_ids(out)
    assert sorted(set(got)) == sorted(emitted) and len(emitted) == 240
    assert spool.load_state(cid)["corrupt"] == 0


def test_an_event_larger_than_the_spool_is_refused_in_one_line(spool_home: Path) -> None:
    spool = Spool(str(spool_home), max_size=16 * 1024)
    with pytest.raises(SpoolError, match="larger than 8 KiB"):
        spool.append({"id": "x", "pad": "p" * 9000}, ["c"])
    spool.append({"id": "y", "pad": "p" * 100}, ["c"])  # and the spool still works


def test_memory_spool_when_spooling_is_off() -> None:
    from importobot_enterprise.siem.spool import MemorySpool

    spool = MemorySpool()
    connector = JsonlFileConnector("/nonexistent/x.jsonl")
    cid = spool.register(connector.spec)
    assert spool.register(connector.spec) == cid and cid in spool.specs()
    for i in range(10005):
        spool.append({"id": f"{i:032x}"}, [cid])
    assert spool.drops(cid) == (5, 5)  # the oldest went, counted
    spool.announced(cid, 5)
    assert spool.drops(cid) == (0, 5)
    batch = spool.read(cid, (0, 0), limit=3, skip=frozenset({f"{5:032x}"}))
    assert [r["id"] for _, r in batch.records] == [f"{i:032x}" for i in (6, 7, 8)]
    assert spool.backlog(cid, batch.end) == (10005 - 9, None)
    lock = spool.delivery_lock(cid, 0.1)
    assert lock is not None and spool.delivery_lock(cid, 0.01) is None
    spool.release(cid, lock)
    state = spool.load_state(cid)
    spool.save_state(cid, {**state, "delivered": 3})
    assert spool.load_state(cid)["delivered"] == 3
    spool.add_drops([cid], 2)
    spool.park(cid, {}, "x")
    assert spool.compact() == 0 and spool.size() == 0 and not spool.durable


def test_damaged_bookkeeping_files_mean_resending_never_losing(spool_home: Path) -> None:
    spool = Spool(str(spool_home))
    assert repr(spool) == f"Spool({str(spool_home)!r}, max_size={50 * 1024 * 1024})"
    connector = JsonlFileConnector("/nonexistent/x.jsonl")
    cid = spool.register(connector.spec)
    spool.append({"id": "a" * 32}, [cid])
    (spool_home / f"state-{cid}").write_bytes(b"x" * 2048)  # checksum fails
    assert spool.load_state(cid)["pos"] == [0, 0]  # from the start: sent again, not lost
    (spool_home / f"drops-{cid}").write_bytes(b"garbage")
    assert spool.drops(cid) == (0, 0)
    (spool_home / "conn-0123456789abcdef01234567.json").write_text("{not json")
    (spool_home / "conn-fedcba9876543210fedcba98.json").write_text(
        json.dumps(connector.spec.to_json())  # a spec under another id: not trusted
    )
    assert list(spool.specs()) == [cid]
    os.symlink("/etc/hostname", spool_home / "seg-0000000000000009")  # a planted link
    assert [r for _, r in spool.read(cid, (0, 0), limit=10).records] == [{"id": "a" * 32}]


def test_a_long_error_and_skip_list_fit_the_state_record(spool_home: Path) -> None:
    spool = Spool(str(spool_home))
    cid = spool.register(JsonlFileConnector("/nonexistent/x.jsonl").spec)
    state = spool.load_state(cid)
    state["last_error"] = "e" * 5000
    state["skip"] = [["f" * 32, 1, i] for i in range(200)]
    spool.save_state(cid, state)
    stored = spool.load_state(cid)
    assert stored["last_error"].startswith("eee") and len(stored["last_error"]) < 2048
    assert len(stored["skip"]) < 200
