"""Splunk HEC and Elasticsearch ``_bulk`` over HTTPS, against local endpoints that check the
wire format byte for byte and answer 200, 400, 401/403, 409, 429, 503 or partial failures on
command; indexer acknowledgement; client certificates."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from importobot.events import SinkConfig
from importobot_enterprise.siem import (
    ElasticConnector,
    SIEMManager,
    SplunkHECConnector,
    Spool,
    make_sink,
)
from importobot_enterprise.siem.config import ConnectorSpec
from importobot_enterprise.siem.delivery import drain
from tests.enterprise.siem.servers import PKI, WireEndpoint


def hec_connector(hec: WireEndpoint, pki: PKI, **kw: object) -> SplunkHECConnector:
    return SplunkHECConnector(hec.url, hec.state.secret, ca_file=str(pki.ca), **kw)  # type: ignore[arg-type]


def es_connector(bulk: WireEndpoint, pki: PKI) -> ElasticConnector:
    return ElasticConnector(bulk.url, bulk.state.secret, ca_file=str(pki.ca))


def backlog(spool_home: Path, spec: ConnectorSpec) -> int:
    spool = Spool(str(spool_home))
    state = spool.load_state(spec.cid())
    return spool.backlog(spec.cid(), (state["pos"][0], state["pos"][1]))[0]


# -- HEC ------------------------------------------------------------------------------------
def test_hec_batches_events_in_the_exact_wire_format(hec: WireEndpoint, pki: PKI) -> None:
    connector = hec_connector(hec, pki)
    manager = SIEMManager([connector], wait=False)
    hec.state.hold = threading.Event()  # the first request waits: the rest queue up
    first = manager.emit_security_event("batch", {"seq": 0})
    ids = [first.id] + [manager.emit_security_event("batch", {"seq": i}).id for i in range(1, 6)]
    hec.state.hold.set()
    manager.wait(10)
    manager.flush(10)
    assert hec.state.violations == []
    assert [e["id"] for e in hec.state.events] == ids
    assert len(hec.state.requests) < len(ids)  # batched
    # Which request carries the batch depends on when the sender thread woke: the held
    # first request may already hold several events and the last one a single event.
    for request in hec.state.requests:
        assert request.raw_head.startswith(b"POST /services/collector/event HTTP/1.1\r\n")
        assert request.header("Authorization") == f"Splunk {hec.state.secret}"
        assert request.header("Content-Type") == "application/json"
        for line in request.body.split(b"\n"):
            obj = json.loads(line)
            assert list(obj) == ["time", "host", "source", "sourcetype", "event"]
            assert obj["source"] == "importobot" and obj["sourcetype"] == "importobot:event"
            assert obj["event"]["id"] in ids and isinstance(obj["time"], float)
    assert max(len(r.body.split(b"\n")) for r in hec.state.requests) > 1  # one holds several


def test_hec_indexer_acknowledgement(hec: WireEndpoint, pki: PKI, spool_home: Path) -> None:
    hec.state.ack_delay = 2  # two polls say "not yet"
    connector = hec_connector(hec, pki, ack=True)
    manager = SIEMManager([connector])
    event = manager.emit_security_event("acked", {"n": 1})
    assert [e["id"] for e in hec.state.events] == [event.id]
    paths = [r.path for r in hec.state.requests]
    assert paths[0] == "/services/collector/event" and paths.count("/services/collector/ack") == 3
    channel = hec.state.requests[0].header("X-Splunk-Request-Channel")
    assert channel
    assert all(r.header("X-Splunk-Request-Channel") == channel for r in hec.state.requests)
    assert backlog(spool_home, connector.spec) == 0


def test_hec_without_acknowledgement_in_time_stays_spooled(
    hec: WireEndpoint, pki: PKI, spool_home: Path
) -> None:
    hec.state.ack_delay = 10**6
    spec = ConnectorSpec(
        name="hec-slow-ack",
        type="splunk-hec",
        url=hec.url,
        ack=True,
        ca_file=str(pki.ca),
        timeout=0.3,
    )
    manager = SIEMManager([SplunkHECConnector(spec, hec.state.secret)])
    manager.emit_security_event("unacked", {"n": 1})
    assert backlog(spool_home, spec) == 1
    state = Spool(str(spool_home)).load_state(spec.cid())
    assert "did not acknowledge" in state["last_error"]


def test_hec_wrong_token_is_reported_without_the_token(
    hec: WireEndpoint, pki: PKI, spool_home: Path
) -> None:
    wrong = "hec-" + os.urandom(12).hex()
    connector = SplunkHECConnector(hec.url, wrong, ca_file=str(pki.ca), name="hec-wrong")
    SIEMManager([connector]).emit_security_event("denied", {"n": 1})
    state = Spool(str(spool_home)).load_state(connector.spec.cid())
    assert state["last_error"] == "HEC: HTTP 403 (Invalid token)"
    assert backlog(spool_home, connector.spec) == 1  # kept, not dropped
    assert wrong not in json.dumps(state) and hec.state.secret not in json.dumps(state)


def test_hec_busy_then_accepts(hec: WireEndpoint, pki: PKI) -> None:
    hec.state.answers.extend([("status", 503), ("status", 503)])
    manager = SIEMManager([hec_connector(hec, pki)], wait=False)
    event = manager.emit_security_event("busy", {"n": 1})
    manager.wait(5)
    [report] = manager.flush(timeout=20)
    assert report.delivered == 1 and [e["id"] for e in hec.state.events] == [event.id]
    assert len(hec.state.requests) == 3


def test_hec_invalid_event_is_parked_the_rest_delivered(
    hec: WireEndpoint, pki: PKI, spool_home: Path
) -> None:
    connector = hec_connector(hec, pki)
    spool = Spool(str(spool_home))
    cid = spool.register(connector.spec)
    from importobot.events import SecurityEvent

    events = [SecurityEvent("custom.p", payload={"n": i}) for i in range(4)]
    for event in events:
        spool.append(event.to_dict(), [cid])
    hec.state.answers.append(("invalid", 2))
    report = drain(spool, cid, connector, respect_backoff=False)
    assert report.parked == 1 and report.delivered == 3
    assert [e["id"] for e in hec.state.events] == [e.id for i, e in enumerate(events) if i != 2]
    parked = (spool_home / f"parked-{cid}.jsonl").read_text().splitlines()
    assert json.loads(parked[0])["event"]["id"] == events[2].id


# -- Elasticsearch _bulk -----------------------------------------------------------------------
def test_bulk_exact_ndjson_and_409_counts_as_delivered(
    bulk: WireEndpoint, pki: PKI, spool_home: Path
) -> None:
    connector = es_connector(bulk, pki)
    manager = SIEMManager([connector])
    event = manager.emit_security_event("indexed", {"seq": 9})
    assert bulk.state.violations == []
    [request] = bulk.state.requests
    assert request.raw_head.startswith(b"POST /_bulk HTTP/1.1\r\n")
    assert request.header("Authorization") == f"ApiKey {bulk.state.secret}"
    assert request.header("Content-Type") == "application/x-ndjson"
    action, doc, end = request.body.split(b"\n")
    assert end == b""  # terminated by a newline
    assert json.loads(action) == {"create": {"_index": "importobot-events", "_id": event.id}}
    assert json.loads(doc)["payload"] == {"seq": 9}
    # a resend after a crash: 409 conflict, counted as delivered
    spool = Spool(str(spool_home))
    cid = connector.spec.cid()
    spool.save_state(cid, {**spool.load_state(cid), "pos": [1, 0]})
    report = drain(spool, cid, connector)
    assert report.delivered == 1 and report.duplicates == 1
    assert len(bulk.state.events) == 1


def test_bulk_partial_failure_retries_429_parks_400(
    bulk: WireEndpoint, pki: PKI, spool_home: Path
) -> None:
    from importobot.events import SecurityEvent

    connector = es_connector(bulk, pki)
    spool = Spool(str(spool_home))
    cid = spool.register(connector.spec)
    events = [SecurityEvent("custom.item", payload={"n": i}) for i in range(4)]
    for event in events:
        spool.append(event.to_dict(), [cid])
    bulk.state.answers.append(("items", {1: 429, 2: 400}))
    first = drain(spool, cid, connector, respect_backoff=False)
    assert first.delivered == 1 and first.parked == 1 and first.error
    second = drain(spool, cid, connector, respect_backoff=False)
    # event 1 again; event 3 again (it was stored the first time: 409, delivered); 2 parked
    assert second.delivered == 2 and second.duplicates == 1
    stored = [d["id"] for d in bulk.state.events]
    assert stored == [events[0].id, events[3].id, events[1].id]
    state = spool.load_state(cid)
    assert (
        state["parked"] == 1
        and "mapper_parsing_exception" in (spool_home / f"parked-{cid}.jsonl").read_text()
    )
    assert backlog(spool_home, connector.spec) == 0


@pytest.mark.parametrize("status", [429, 503])
def test_bulk_overload_is_retried_with_backoff(bulk: WireEndpoint, pki: PKI, status: int) -> None:
    bulk.state.answers.append(("status", status))
    manager = SIEMManager([es_connector(bulk, pki)], wait=False)
    event = manager.emit_security_event("overload", {"n": 1})
    manager.wait(5)
    [report] = manager.flush(timeout=20)
    assert report.delivered == 1 and [d["id"] for d in bulk.state.events] == [event.id]


def test_bulk_bad_api_key(bulk: WireEndpoint, pki: PKI, spool_home: Path) -> None:
    connector = ElasticConnector(bulk.url, "nope-" + os.urandom(6).hex(), ca_file=str(pki.ca))
    SIEMManager([connector]).emit_security_event("denied", {"n": 1})
    state = Spool(str(spool_home)).load_state(connector.spec.cid())
    assert state["last_error"] == "_bulk: HTTP 401 (the API key was refused)"
    assert backlog(spool_home, connector.spec) == 1


# -- configuration, client certificates ------------------------------------------------------
def test_outside_config_with_a_client_certificate(
    pki: PKI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "hec-" + os.urandom(12).hex()
    endpoint = WireEndpoint("hec", pki, secret, client_ca=pki.ca)
    try:
        monkeypatch.setenv("IMPORTOBOT_EVENTS_TOKEN_CORP_SPLUNK", secret)
        table = {
            "connector": [
                {
                    "name": "corp-splunk",
                    "type": "splunk-hec",
                    "url": endpoint.url,
                    "ca-file": str(pki.ca),
                    "cert-file": str(pki.client_cert),
                    "key-file": str(pki.client_key),
                    "index": "security",
                }
            ]
        }
        config = SinkConfig(
            str(tmp_path), outside_source=str(tmp_path / "events.toml"), outside_table=table
        )
        sink = make_sink(config)
        assert sink is not None
        event = sink.emit_security_event("mtls", {"n": 1})
        sink.wait(10)
        assert [e["id"] for e in endpoint.state.events] == [event.id]
        body = json.loads(endpoint.state.requests[0].body)
        assert body["index"] == "security"
        # without the client certificate the server refuses the handshake
        plain = SplunkHECConnector(endpoint.url, secret, ca_file=str(pki.ca), name="no-cert")
        with pytest.raises(Exception, match="TLS|reset|closed|timed out|EOF"):
            plain.send_event({"event_type": "x"})
    finally:
        endpoint.close()


def test_a_group_readable_client_key_is_refused(
    pki: PKI, tmp_path: Path, hec: WireEndpoint
) -> None:
    key = tmp_path / "client.key"
    key.write_bytes(pki.client_key.read_bytes())
    key.chmod(0o644)
    spec = ConnectorSpec(
        name="loose-key",
        type="splunk-hec",
        url=hec.url,
        origin="outside",
        ca_file=str(pki.ca),
        cert_file=str(pki.client_cert),
        key_file=str(key),
    )
    with pytest.raises(Exception, match="readable by group or others"):
        SplunkHECConnector(spec, hec.state.secret).send_event({"event_type": "x"})


def _spooled(spool_home: Path, connector: object, n: int) -> tuple[Spool, str, list[str]]:
    from importobot.events import SecurityEvent

    spool = Spool(str(spool_home))
    cid = spool.register(connector.spec)  # type: ignore[attr-defined]
    events = [SecurityEvent("custom.e", payload={"n": i}) for i in range(n)]
    for event in events:
        spool.append(event.to_dict(), [cid])
    return spool, cid, [e.id for e in events]


def test_413_halves_the_batch(hec: WireEndpoint, pki: PKI, spool_home: Path) -> None:
    connector = hec_connector(hec, pki)
    spool, cid, ids = _spooled(spool_home, connector, 6)
    hec.state.answers.append(("reply", 413, {"text": "Content too large", "code": 27}))
    report = drain(spool, cid, connector, respect_backoff=False)
    assert report.delivered == 6 and connector.batch_limit == 3
    assert [e["id"] for e in hec.state.events] == ids


@pytest.mark.parametrize(
    "reply,error",
    [
        ((401, {"text": "Token is required", "code": 2}), "HEC: HTTP 401 (Token is required)"),
        ((200, {"text": "Success", "code": 0}), "indexer acknowledgement is off"),
        ((500, "not json"), "HEC: HTTP 500"),
    ],
)
def test_hec_failures_keep_the_events(
    hec: WireEndpoint, pki: PKI, spool_home: Path, reply: tuple[int, object], error: str
) -> None:
    connector = hec_connector(hec, pki, ack=True)
    spool, cid, _ = _spooled(spool_home, connector, 2)
    hec.state.answers.append(("reply", *reply))
    report = drain(spool, cid, connector, respect_backoff=False)
    assert report.error and error in report.error and report.delivered == 0
    state = spool.load_state(cid)
    assert spool.backlog(cid, (state["pos"][0], state["pos"][1]))[0] == 2


def test_bulk_isolates_then_parks_a_request_the_server_refuses(
    bulk: WireEndpoint, pki: PKI, spool_home: Path
) -> None:
    connector = es_connector(bulk, pki)
    spool, cid, ids = _spooled(spool_home, connector, 3)
    refused = (400, {"error": {"type": "parse_exception"}, "status": 400})
    bulk.state.answers.extend([("reply", *refused), ("reply", *refused)])
    report = drain(spool, cid, connector, respect_backoff=False)
    assert connector.batch_limit == 1  # one event per request to find the refused one
    assert report.parked == 1 and report.delivered == 2
    assert [d["id"] for d in bulk.state.events] == ids[1:]


def test_bulk_reply_that_does_not_match_the_request(
    bulk: WireEndpoint, pki: PKI, spool_home: Path
) -> None:
    connector = es_connector(bulk, pki)
    spool, cid, _ = _spooled(spool_home, connector, 2)
    bulk.state.answers.append(("reply", 200, {"errors": False, "items": []}))
    report = drain(spool, cid, connector, respect_backoff=False)
    assert report.error == "_bulk: the reply does not list one item per event"
    assert spool.load_state(cid)["inflight"] is not None  # it may have been stored: resend


def test_send_event_raises_one_line_errors(pki: PKI, tmp_path: Path) -> None:
    from importobot_enterprise.siem import DeliveryError, JsonlFileConnector, SyslogConnector

    with pytest.raises(DeliveryError, match="host name not resolved"):
        SyslogConnector("udp://no-such-host.invalid:514", name="x").send_event({"event_type": "t"})
    with pytest.raises(DeliveryError, match="not a regular file|cannot open"):
        JsonlFileConnector(str(tmp_path)).send_event({"event_type": "t"})
    with pytest.raises(DeliveryError, match="no secret: set IMPORTOBOT_EVENTS_TOKEN_ES"):
        ElasticConnector("https://127.0.0.1:9", None, name="es").send_event({"event_type": "t"})
    plain = socket_server()
    try:
        tls = SyslogConnector(f"tls://localhost:{plain.port}", name="t", ca_file=str(pki.ca))
        with pytest.raises(DeliveryError, match="TLS|reset|closed|timed out|EOF"):
            tls.send_event({"event_type": "t"})
    finally:
        plain.close()


def socket_server() -> object:
    """A TCP server that answers a TLS client with plain text, then closes."""
    import socket as socket_module

    class Plain:
        def __init__(self) -> None:
            self.sock = socket_module.socket()
            self.sock.bind(("127.0.0.1", 0))
            self.sock.listen(4)
            self.port = self.sock.getsockname()[1]
            self.thread = threading.Thread(target=self.serve, daemon=True)
            self.thread.start()

        def serve(self) -> None:
            try:
                conn, _ = self.sock.accept()
                conn.sendall(b"HTTP/1.0 400 not TLS\r\n\r\n")
                conn.close()
            except OSError:
                pass

        def close(self) -> None:
            self.sock.close()

    return Plain()
