"""Syslog against a real rsyslog on loopback: UDP, TCP (RFC 6587 octet counting) and TLS
(RFC 5425, certificate and host name verified), RFC 5424 and CEF, and its faults: rsyslog down
then up, a collector that never reads, certificate mismatches, a flush killed mid-way."""

from __future__ import annotations

import collections
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from importobot.events import SecurityEvent
from importobot_enterprise.siem import SIEMManager, Spool, SyslogConnector
from importobot_enterprise.siem.config import ConnectorSpec
from importobot_enterprise.siem.delivery import drain
from importobot_enterprise.siem.formats import BOM
from tests.enterprise.siem.servers import PKI, Rsyslog, SilentCollector, event_ids_in

ROOT = Path(__file__).resolve().parents[3]


def _url(rsyslog: Rsyslog, scheme: str, host: str = "127.0.0.1") -> str:
    port = {"udp": rsyslog.udp, "tcp": rsyslog.tcp, "tls": rsyslog.tls}[scheme]
    return f"{scheme}://{host}:{port}"


@pytest.mark.parametrize("scheme", ["udp", "tcp", "tls"])
@pytest.mark.parametrize("fmt", ["rfc5424", "cef"])
def test_rsyslog_receives_every_field(rsyslog: Rsyslog, pki: PKI, scheme: str, fmt: str) -> None:
    connector = SyslogConnector(
        _url(rsyslog, scheme, "localhost" if scheme == "tls" else "127.0.0.1"),
        name=f"rs-{scheme}-{fmt}",
        format=fmt,
        ca_file=str(pki.ca) if scheme == "tls" else None,
    )
    manager = SIEMManager([connector])
    event = manager.emit_security_event(
        "commit.blocked",
        {"seq": 42, "note": 'quote" bracket] back\\slash'},
        rule="IOB101",
        path="app/.env",
        line=3,
        fingerprint="iobfp1:0123456789abcdef",
        severity="error",
    )
    [record] = [r for r in rsyslog.wait_ids({event.id}) if event.id in str(r)]
    [sent] = connector.messages(event)
    assert record["raw"].encode() == sent  # byte for byte, framing removed by rsyslog
    assert record["input"] == {"udp": "imudp", "tcp": "imtcp", "tls": "imtcp-tls"}[scheme]
    assert record["version"] == "1" and record["pri"] == str(4 * 8 + 3)
    assert record["app"] == "importobot" and record["msgid"] == "commit.blocked"
    if fmt == "rfc5424":
        sd = record["sd"]
        assert sd.startswith(f'[importobot@32473 id="{event.id}" type="commit.blocked" ')
        assert 'rule="IOB101" path="app/.env" line="3"' in sd
        assert 'fingerprint="iobfp1:0123456789abcdef"' in sd
        assert '[importobot-payload@32473 seq="42" note="quote\\" bracket\\] back\\\\slash"]' in sd
        assert record["msg"].startswith(BOM.decode())
    else:
        assert record["sd"] == "-"
        assert record["msg"].startswith("CEF:0|importobot|importobot|")
        assert f"externalId={event.id}" in record["msg"] and "seq=42" in record["msg"]
        assert "cs1=IOB101" in record["msg"] and "filePath=app/.env" in record["msg"]
        assert not record["msg"].startswith(BOM.decode())


def test_udp_splits_a_long_event_into_complete_messages(rsyslog: Rsyslog) -> None:
    connector = SyslogConnector(_url(rsyslog, "udp"), name="rs-udp-long")
    event = SecurityEvent("custom.long", payload={f"f{i}": "v" * 300 for i in range(20)})
    messages = connector.messages(event)
    assert len(messages) > 2 and all(len(m) <= 2048 for m in messages)
    SIEMManager([connector]).emit(event)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        got = [r for r in rsyslog.received() if event.id in r.get("sd", "")]
        if len(got) == len(messages):
            break
        time.sleep(0.05)
    parts = sorted(r["raw"].encode() for r in got)
    assert parts == sorted(messages)
    fields = {f"f{i}" for i in range(20)}
    assert all(any(f'{f}="' in r["sd"] for r in got) for f in fields)


def test_rsyslog_down_then_up_loses_nothing(rsyslog: Rsyslog, spool_home: Path) -> None:
    connector = SyslogConnector(_url(rsyslog, "tcp"), name="rs-down-up")
    manager = SIEMManager([connector])
    rsyslog.stop()
    try:
        emitted = [manager.emit_security_event("outage", {"n": i}).id for i in range(20)]
        spool = Spool(str(spool_home))
        cid = connector.spec.cid()
        state = spool.load_state(cid)
        assert spool.backlog(cid, tuple(state["pos"]))[0] == 20  # type: ignore[arg-type]
        assert "Connection refused" in state["last_error"]
    finally:
        rsyslog.start()
    [report] = manager.flush(timeout=20)
    assert report.delivered == 20
    records = rsyslog.wait_ids(set(emitted))
    assert set(emitted) <= set(event_ids_in(records))


def test_a_collector_that_never_reads_costs_only_the_deadline(spool_home: Path) -> None:
    silent = SilentCollector()
    try:
        spec = ConnectorSpec(
            name="stuck", type="syslog", url=f"tcp://127.0.0.1:{silent.port}", timeout=0.5
        )
        connector = SyslogConnector(spec)
        manager = SIEMManager([connector])
        started = time.monotonic()
        event = manager.emit_security_event("stuck", {"pad": "x" * 1000})
        elapsed = time.monotonic() - started
        assert elapsed < 3.0  # the connector's deadline, not forever
        spool = Spool(str(spool_home))
        state = spool.load_state(spec.cid())
        assert state["last_error"] and "timed out" in state["last_error"]
        assert spool.backlog(spec.cid(), tuple(state["pos"]))[0] == 1  # type: ignore[arg-type]
        assert event.id
    finally:
        silent.close()


def test_one_stuck_connector_never_delays_another(rsyslog: Rsyslog, spool_home: Path) -> None:
    silent = SilentCollector()
    try:
        stuck = SyslogConnector(
            ConnectorSpec(
                name="stuck2", type="syslog", url=f"tcp://127.0.0.1:{silent.port}", timeout=5
            )
        )
        good = SyslogConnector(_url(rsyslog, "tcp"), name="good")
        manager = SIEMManager([stuck, good], wait=False)
        started = time.monotonic()
        event = manager.emit_security_event("isolation", {"n": 1})
        records = rsyslog.wait_ids({event.id}, timeout=4)
        assert event.id in event_ids_in(records)
        assert time.monotonic() - started < 4  # well before the stuck one's 5 s deadline
    finally:
        silent.close()


def test_tls_refuses_a_certificate_from_another_ca(
    rsyslog: Rsyslog, pki: PKI, spool_home: Path
) -> None:
    connector = SyslogConnector(
        _url(rsyslog, "tls", "localhost"), name="rs-wrong-ca", ca_file=str(pki.other_ca)
    )
    manager = SIEMManager([connector])
    event = manager.emit_security_event("tls_wrong_ca", {"n": 1})
    state = Spool(str(spool_home)).load_state(connector.spec.cid())
    assert "TLS certificate not accepted" in state["last_error"]
    time.sleep(0.3)
    assert event.id not in event_ids_in(rsyslog.received())


def test_tls_checks_the_host_name(pki: PKI, spool_home: Path) -> None:
    """A server whose certificate (from the trusted CA) names another host is refused."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(pki.wrong_cert), str(pki.wrong_key))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]
    received: list[bytes] = []

    def serve() -> None:
        listener.settimeout(5)
        try:
            conn, _ = listener.accept()
            with context.wrap_socket(conn, server_side=True) as tls:
                received.append(tls.recv(65536))
        except (OSError, ssl.SSLError):
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        connector = SyslogConnector(
            f"tls://localhost:{port}", name="rs-wrong-host", ca_file=str(pki.ca)
        )
        SIEMManager([connector]).emit_security_event("tls_wrong_host", {"n": 1})
        state = Spool(str(spool_home)).load_state(connector.spec.cid())
        assert "TLS certificate not accepted" in state["last_error"]
        assert "mismatch" in state["last_error"].lower()
        thread.join(5)
        assert received == []
    finally:
        listener.close()


def _env(spool_home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    env["XDG_STATE_HOME"] = str(spool_home.parent.parent)
    env["PYTHONPATH"] = str(ROOT)
    return env


def _flush(env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "importobot.cli", "events", "flush", "--timeout", "60", *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_thousand_events_survive_an_outage_and_a_killed_flush(
    rsyslog: Rsyslog, spool_home: Path
) -> None:
    """The acceptance run: rsyslog stopped, 1,000 events emitted (each emit returned: they
    are spooled), rsyslog started, ``events flush`` killed with SIGKILL part-way, a second
    flush delivers the rest: every id arrives, duplicates counted."""
    spec = ConnectorSpec(name="accept-tcp", type="syslog", url=_url(rsyslog, "tcp"), batch=20)
    connector = SyslogConnector(spec)
    manager = SIEMManager([connector], wait=False)
    rsyslog.stop()
    try:
        emitted = [manager.emit_security_event("accept", {"seq": i}).id for i in range(1000)]
        manager.wait(5)
    finally:
        rsyslog.start()
    env = _env(spool_home)
    first = _flush(env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and first.poll() is None:
        if len(set(event_ids_in(rsyslog.received())) & set(emitted)) >= 100:
            break
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    first.wait()
    got_first = set(event_ids_in(rsyslog.received())) & set(emitted)
    assert first.returncode == -signal.SIGKILL, "the first flush finished before the kill"
    assert 0 < len(got_first) < 1000
    second = _flush(env)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, (out, err)
    records = rsyslog.wait_ids(set(emitted), timeout=30)
    ids = [i for i in event_ids_in(records) if i in set(emitted)]
    counts = collections.Counter(ids)
    assert set(counts) == set(emitted)  # all 1,000 arrived
    duplicates = sum(n - 1 for n in counts.values())
    assert "left" in out and "0 left" in out
    print(f"acceptance: 1000 events, {duplicates} duplicates at rsyslog; second flush: {out}")
    assert duplicates <= spec.batch * 2  # at most the batch(es) in flight when killed
    if duplicates:
        assert "sent again after an interruption" in out


def test_events_flush_exits_1_while_a_backlog_remains(spool_home: Path) -> None:
    spec = ConnectorSpec(name="nowhere", type="syslog", url="tcp://127.0.0.1:9", timeout=0.5)
    SIEMManager([SyslogConnector(spec)]).emit_security_event("x", {"n": 1})
    proc = _flush(_env(spool_home))
    proc.kill()
    proc.wait()
    flush = subprocess.run(
        [sys.executable, "-m", "importobot.cli", "events", "flush", "--timeout", "1.5"],
        env=_env(spool_home),
        capture_output=True,
        text=True,
        check=False,
    )
    assert flush.returncode == 1
    assert flush.stdout.startswith("nowhere (syslog tcp://127.0.0.1:9): delivered 0, 1 left")
    assert "Connection refused" in flush.stdout


def test_drain_is_single_flight_per_connector(rsyslog: Rsyslog, spool_home: Path) -> None:
    connector = SyslogConnector(_url(rsyslog, "tcp"), name="single")
    spool = Spool(str(spool_home))
    cid = spool.register(connector.spec)
    lock = spool.delivery_lock(cid, 1)
    assert lock is not None
    try:
        report = drain(spool, cid, connector, lock_timeout=0.05)
        assert report.busy
    finally:
        spool.release(cid, lock)
