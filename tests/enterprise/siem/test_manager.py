"""``SIEMManager`` with importobot 0.1.5's names and behaviour (minus its bugs), as the
``importobot.event_sinks`` sink, and within the hook's delivery budget."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import importobot_enterprise
from importobot.events import EventError, SecurityEvent, emit_event
from importobot_enterprise.siem import (
    ElasticConnector,
    JsonlFileConnector,
    SIEMManager,
    SplunkHECConnector,
    SyslogConnector,
)
from importobot_enterprise.siem.manager import HOOK_BUDGET
from tests.enterprise.siem.servers import SilentCollector
from tests.keygen import contains_key, new_raw

ROOT = Path(__file__).resolve().parents[3]


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_the_seeds_import_check_in_a_fresh_process() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from importobot_enterprise import SIEMManager; print(SIEMManager.__name__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout == "SIEMManager\n"


def test_015_names_and_module_paths() -> None:
    from importobot_enterprise.siem import SIEMManager as FromModule

    assert importobot_enterprise.SIEMManager is FromModule
    for name in ("SplunkHECConnector", "ElasticConnector", "SyslogConnector"):
        assert getattr(importobot_enterprise, name) is getattr(importobot_enterprise.siem, name)
    manager = SIEMManager(connectors=[])
    assert manager.connectors == []
    hec = SplunkHECConnector("https://splunk.example:8088", "hec-" + os.urandom(8).hex())
    es = ElasticConnector("https://es.example:9200", "es-" + os.urandom(8).hex())
    manager.add_connector(hec)
    manager.add_connector(es)
    assert manager.connectors == [hec, es]
    assert hec.endpoint == "https://splunk.example:8088" and es.endpoint.endswith(":9200")
    for connector in (hec, es):
        assert "<hidden>" in repr(connector) and "hec-" not in repr(connector)
        assert "es-" not in repr(connector).replace("es.example", "")


def test_emit_security_event_sends_the_payload_as_fields(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    manager = SIEMManager(connectors=[])
    manager.add_connector(JsonlFileConnector(str(out)))
    event = manager.emit_security_event("login_failed", {"seq": 3, "user_name": "alice"})
    assert event.type == "custom.login_failed"
    [line] = read(out)
    assert line["type"] == "custom.login_failed" and line["id"] == event.id
    assert line["payload"] == {"seq": 3, "user_name": "alice"}
    vocab = manager.emit_security_event("key.stale", {"days": 120})
    assert vocab.type == "key.stale"


@pytest.mark.parametrize("bad", ["has space", "a=b", 'q"', "x]", "", "x" * 33, "caf\u00e9"])
def test_payload_keys_that_break_param_name_rules_are_refused(bad: str) -> None:
    with pytest.raises(EventError) as raised:
        SIEMManager().emit_security_event("x", {bad: 1})
    assert isinstance(raised.value, ValueError)


def test_key_shaped_payload_values_become_fingerprints(tmp_path: Path) -> None:
    raw = new_raw()
    out = tmp_path / "events.jsonl"
    SIEMManager([JsonlFileConnector(str(out))]).emit_security_event(
        "leak", {"value": base64.b64encode(raw).decode()}
    )
    text = out.read_text()
    assert not contains_key(text, raw) and "iobfp1:" in text


class OldStyleConnector:
    """A user's 0.1.5-era connector: ``send_event(dict)``."""

    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []

    def send_event(self, event: dict[str, Any]) -> None:
        self.got.append(event)


class Broken:
    def send_event(self, event: dict[str, Any]) -> None:
        raise RuntimeError("boom")


def test_015_style_connectors_still_work_and_are_isolated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = OldStyleConnector()
    out = tmp_path / "events.jsonl"
    manager = SIEMManager(connectors=[Broken(), old, JsonlFileConnector(str(out))])
    event = manager.emit_security_event("deploy", {"seq": 1})
    [got] = old.got
    assert got["event_type"] == "custom.deploy" and got["seq"] == 1 and got["id"] == event.id
    assert "timestamp" in got
    assert [x["id"] for x in read(out)] == [event.id]
    assert capsys.readouterr().err == "importobot: events: connector Broken failed: RuntimeError\n"


def test_our_connectors_take_015_dicts_too(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    JsonlFileConnector(str(out)).send_event({"event_type": "legacy", "seq": 5})
    [line] = read(out)
    assert line["type"] == "custom.legacy" and line["payload"] == {"seq": 5}


def test_the_sink_spools_and_delivers_from_emit_event(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "pyproject.toml").write_text(
        "[tool.importobot.events]\n[[tool.importobot.events.connector]]\n"
        "name = 'file'\ntype = 'jsonl'\nurl = 'audit/events.jsonl'\n"
    )
    (repo / "audit").mkdir()
    event = emit_event("commit.blocked", root=str(repo), rule="IOB101", path=".env", line=1)
    assert event is not None
    deadline = time.monotonic() + 10
    while not read(repo / "audit" / "events.jsonl") and time.monotonic() < deadline:
        time.sleep(0.01)  # delivered from the sink's daemon thread
    [line] = read(repo / "audit" / "events.jsonl")
    assert line["id"] == event.id and line["rule"] == "IOB101"


def test_close_abandons_a_stuck_delivery_within_the_budget(spool_home: Path) -> None:
    silent = SilentCollector()
    try:
        connector = SyslogConnector(f"tcp://127.0.0.1:{silent.port}", name="stuck")
        manager = SIEMManager([connector], wait=False)
        started = time.monotonic()
        manager.emit(SecurityEvent("commit.blocked", rule="IOB101"))
        manager.close()
        assert time.monotonic() - started < HOOK_BUDGET + 0.1
        assert manager._workers[connector.spec.cid()].thread.is_alive()  # type: ignore[union-attr]
    finally:
        silent.close()


def test_a_process_with_a_stuck_collector_exits_within_the_budget(tmp_path: Path) -> None:
    """An emitting process (as a hook: emit_event, then exit) with a collector that accepts and
    never answers costs at most the delivery budget more than one whose collector refuses at
    once (interleaved runs, medians); its event stays spooled."""
    silent = SilentCollector()
    try:
        repos = {}
        for name, url in (
            ("stuck", f"tcp://127.0.0.1:{silent.port}"),
            ("refused", "tcp://127.0.0.1:9"),
        ):
            repo = tmp_path / name
            (repo / ".git").mkdir(parents=True)
            (repo / "pyproject.toml").write_text(
                "[tool.importobot.events]\n[[tool.importobot.events.connector]]\n"
                f"name = '{name}'\ntype = 'syslog'\nurl = '{url}'\n"
            )
            repos[name] = repo
        env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
        env.update(XDG_STATE_HOME=str(tmp_path / "state"), PYTHONPATH=str(ROOT))
        code = "from importobot.events import emit_event\nprint(emit_event('commit.blocked').id)\n"
        times: dict[str, list[float]] = {name: [] for name in repos}
        ids = []
        for _ in range(5):
            for name, repo in repos.items():
                started = time.monotonic()
                proc = subprocess.run(
                    [sys.executable, "-c", code],
                    cwd=repo,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                    timeout=30,
                )
                times[name].append(time.monotonic() - started)
                assert proc.returncode == 0 and proc.stderr == "", proc.stderr
                ids.append(proc.stdout.strip())
        median = {name: sorted(t)[len(t) // 2] for name, t in times.items()}
        assert median["stuck"] - median["refused"] < HOOK_BUDGET + 0.1, median
        spool = tmp_path / "state" / "importobot" / "spool"
        segments = b"".join(p.read_bytes() for p in spool.glob("seg-*"))
        assert all(i.encode() in segments for i in ids)
    finally:
        silent.close()


def test_a_torn_jsonl_line_never_swallows_the_next_event(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    out.write_bytes(b'{"id": "torn by a kill mid-wri')
    event = SIEMManager([JsonlFileConnector(str(out))]).emit_security_event("after", {"n": 1})
    lines = out.read_bytes().split(b"\n")
    assert json.loads(lines[1])["id"] == event.id and lines[2] == b""


def test_a_jsonl_file_that_is_a_link_is_refused(tmp_path: Path, spool_home: Path) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("precious\n")
    link = tmp_path / "events.jsonl"
    link.symlink_to(target)
    connector = JsonlFileConnector(str(link))
    SIEMManager([connector]).emit_security_event("x", {"n": 1})
    assert target.read_text() == "precious\n"
    from importobot_enterprise.siem import Spool

    state = Spool(str(spool_home)).load_state(connector.spec.cid())
    assert state["last_error"] == "jsonl: the file is a symbolic link; refused"
