"""``importobot events flush | status | test`` through the real CLI (the commands entry point)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from importobot_enterprise.siem import JsonlFileConnector, SIEMManager, SyslogConnector
from importobot_enterprise.siem.config import ConnectorSpec
from tests.enterprise.siem.servers import PKI, Rsyslog, WireEndpoint, event_ids_in

ROOT = Path(__file__).resolve().parents[3]


def run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    full["PYTHONPATH"] = str(ROOT)
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "importobot.cli", "events", *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_events_is_a_listed_command() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "importobot.cli", "--help"], capture_output=True, text=True
    )
    assert "events" in proc.stdout
    help_ = run("--help")
    assert help_.returncode == 0
    for name in ("flush", "status", "test"):
        assert name in help_.stdout


def test_status_shows_backlog_oldest_age_drops_and_last_error(spool_home: Path) -> None:
    spec = ConnectorSpec(name="down", type="syslog", url="tcp://127.0.0.1:9", timeout=0.5)
    manager = SIEMManager([SyslogConnector(spec)])
    for i in range(3):
        manager.emit_security_event("queued", {"n": i})
    proc = run("status")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    size = os.path.getsize(spool_home / "seg-0000000000000001")
    assert lines[0] == f"spool: {spool_home} ({size} bytes)"
    assert lines[1].startswith("down (syslog tcp://127.0.0.1:9): backlog 3 (oldest ")
    assert "dropped 0" in lines[1] and "Connection refused" in lines[1]
    data = json.loads(run("status", "--format", "json").stdout)
    [row] = data["connectors"]
    assert row["backlog"] == 3 and row["oldest_age_seconds"] >= 0 and row["dropped"] == 0
    assert data["spool"] == str(spool_home)


def test_flush_drains_and_exits_0(tmp_path: Path, spool_home: Path) -> None:
    out = tmp_path / "later" / "events.jsonl"
    manager = SIEMManager([JsonlFileConnector(str(out), name="file")])
    ids = [manager.emit_security_event("queued", {"n": i}).id for i in range(5)]
    assert run("flush", "--timeout", "0.5").returncode == 1  # no directory yet
    out.parent.mkdir()
    proc = run("flush", "--connector", "file")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == f"file (jsonl {out}): delivered 5, 0 left\n"
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == ids
    again = run("flush")
    assert again.returncode == 0 and again.stdout == "nothing to deliver\n"


def test_flush_and_status_without_a_state_directory_exit_2(tmp_path: Path) -> None:
    env = {"HOME": "", "XDG_STATE_HOME": ""}
    for command in ("flush", "status"):
        proc = run(command, env=env)
        assert proc.returncode == 2
        assert proc.stderr == (
            "importobot: error: no state directory (XDG_STATE_HOME and HOME are unset): "
            "spooling is off\n"
        )


def test_test_reports_each_connector(
    tmp_path: Path, rsyslog: Rsyslog, pki: PKI, hec: WireEndpoint
) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "pyproject.toml").write_text(
        "[tool.importobot.events]\nuse = ['corp-splunk']\n"
        "[[tool.importobot.events.connector]]\n"
        f"name = 'rs'\ntype = 'syslog'\nurl = 'tcp://127.0.0.1:{rsyslog.tcp}'\n"
        "[[tool.importobot.events.connector]]\n"
        "name = 'closed'\ntype = 'syslog'\nurl = 'tcp://127.0.0.1:9'\n"
    )
    outside = tmp_path / "events.toml"
    outside.write_text(
        "[events]\n[[events.connector]]\nname = 'corp-splunk'\ntype = 'splunk-hec'\n"
        f"url = '{hec.url}'\nca-file = '{pki.ca}'\ndefault = false\n"
    )
    env = {
        "IMPORTOBOT_EVENTS_CONFIG": str(outside),
        "IMPORTOBOT_EVENTS_TOKEN_CORP_SPLUNK": hec.state.secret,
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    proc = run("test", cwd=repo, env=env)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"rs (syslog tcp://127.0.0.1:{rsyslog.tcp}): ok (event ")
    assert lines[1] == (
        "closed (syslog tcp://127.0.0.1:9): failed: cannot connect: Connection refused"
    )
    assert lines[2].startswith(f"corp-splunk (splunk-hec {hec.url}): ok (event ")
    rs_id = lines[0].split("event ")[1].rstrip(")")
    assert rs_id in event_ids_in(rsyslog.wait_ids({rs_id}))
    assert hec.state.events[0]["type"] == "events.test"
    assert hec.state.secret not in proc.stdout + proc.stderr
    assert not (tmp_path / "state").exists()  # a test event is sent directly, not spooled


def test_test_with_a_refused_committed_connector_exits_2(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "pyproject.toml").write_text(
        "[tool.importobot.events]\n[[tool.importobot.events.connector]]\n"
        "name = 'x'\ntype = 'splunk-hec'\nurl = 'https://evil.example'\n"
    )
    proc = run("test", cwd=repo, env={"XDG_CONFIG_HOME": str(tmp_path / "cfg")})
    assert proc.returncode == 2
    [line] = proc.stderr.splitlines()
    assert line.startswith("importobot: error: ") and "may not be defined in the repository" in line


@pytest.mark.parametrize("args", [["flush", "--timeout", "0"], ["status", "--format", "xml"]])
def test_usage_errors_exit_2(args: list[str]) -> None:
    assert run(*args).returncode == 2


def _invoke(*args: str) -> tuple[int, str, str]:
    from click.testing import CliRunner

    from importobot_enterprise.siem.cli import events

    result = CliRunner().invoke(events, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_status_and_flush_report_every_counter(spool_home: Path, tmp_path: Path) -> None:
    from importobot.events import SecurityEvent
    from importobot_enterprise.siem import Spool

    out = tmp_path / "events.jsonl"
    connector = JsonlFileConnector(str(out), name="counted")
    spool = Spool(str(spool_home), max_size=32 * 1024, segment_size=8 * 1024)
    cid = spool.register(connector.spec)
    for i in range(80):
        spool.append(SecurityEvent("custom.n", payload={"n": i, "pad": "p" * 400}).to_dict(), [cid])
    segment = sorted(spool_home.glob("seg-*"))[-1]
    data = bytearray(segment.read_bytes())
    data[30] ^= 0x01  # one corrupt record
    segment.write_bytes(bytes(data))
    state = spool.load_state(cid)
    state.update(parked=2, last_ok=0.0, last_error="HEC: HTTP 503", last_error_at=1.0)
    spool.save_state(cid, state)
    code, stdout, _ = _invoke("status")
    assert code == 0
    line = stdout.splitlines()[1]
    assert line.startswith(f"counted (jsonl {out}): backlog ")
    assert "not yet announced" in line and "parked 2" in line and "last error" in line
    code, stdout, _ = _invoke("status", "--format", "json")
    [row] = json.loads(stdout)["connectors"]
    assert row["dropped"] == row["dropped_unannounced"] > 0 and row["parked"] == 2
    code, stdout, _ = _invoke("flush", "--timeout", "20")
    assert code == 0, stdout
    assert "1 corrupt record skipped" in stdout and "0 left" in stdout
    lines = out.read_text().splitlines()
    assert json.loads(lines[0])["type"] == "spool.dropped"
    code, stdout, _ = _invoke("status")
    assert "1 corrupt record skipped" in stdout.splitlines()[1]
    assert "last delivery" in stdout.splitlines()[1]


def test_flush_of_an_unknown_connector_is_a_usage_error(spool_home: Path) -> None:
    SIEMManager(
        [JsonlFileConnector("/nonexistent/x", name="known")], wait=False
    ).emit_security_event("x", {"n": 1})
    code, _, stderr = _invoke("flush", "--connector", "unknown")
    assert code == 2 and "no connector named 'unknown'" in stderr


def test_status_with_an_empty_spool(spool_home: Path) -> None:
    code, stdout, _ = _invoke("status")
    assert code == 0 and stdout.splitlines()[1] == "no connector has used the spool yet"


def test_flush_reports_another_deliverer(spool_home: Path, tmp_path: Path) -> None:
    from importobot_enterprise.siem import Spool

    connector = JsonlFileConnector(str(tmp_path / "x.jsonl"), name="busy")
    manager = SIEMManager([connector], wait=False)
    spool = Spool(str(spool_home))
    cid = spool.register(connector.spec)
    lock = spool.delivery_lock(cid, 1)
    try:
        manager.emit_security_event("x", {"n": 1})
        code, stdout, _ = _invoke("flush", "--timeout", "0.5")
    finally:
        assert lock is not None
        spool.release(cid, lock)
    assert code == 1 and "another process is delivering to it" in stdout
