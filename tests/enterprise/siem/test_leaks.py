"""No key, plaintext, token or connector secret in any wire byte of any connector (D23).

A careless emitter hands every connector events full of secrets: a finding on a committed
key, the key in every spelling in payload values, a Fernet token of a plaintext, the HEC token
and the Elastic API key themselves. The bytes each receiver got (syslog over UDP, TCP and TLS
in both formats, HEC and ``_bulk`` requests with their headers, the JSONL file) and the spool
on disk hold none of it; the connector secrets appear only in their own ``Authorization``
header.
"""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path

import pytest

from importobot.events import SinkConfig, event_from_finding
from importobot.security import CredentialManager
from importobot_enterprise.siem import SIEMManager, make_sink
from tests.enterprise.siem.servers import PKI, RecordingCollector, WireEndpoint
from tests.keygen import contains_key, new_raw, spellings


def test_no_secret_in_any_wire_byte(
    pki: PKI,
    hec: WireEndpoint,
    bulk: WireEndpoint,
    tmp_path: Path,
    spool_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from importobot.scan.rules.files import scan_file

    raw, other = new_raw(), new_raw()
    monkeypatch.setenv("IMPORTOBOT_ENCRYPTION_KEY", base64.urlsafe_b64encode(raw).decode())
    monkeypatch.setenv("IMPORTOBOT_EVENTS_TOKEN_CORP_SPLUNK", hec.state.secret)
    monkeypatch.setenv("IMPORTOBOT_EVENTS_TOKEN_CORP_ES", bulk.state.secret)
    plaintext = "plain-" + os.urandom(6).hex()
    token = CredentialManager(raw).encrypt_credential(plaintext).token

    collectors = {
        (scheme, fmt): RecordingCollector(scheme, pki)
        for scheme in ("udp", "tcp", "tls")
        for fmt in ("rfc5424", "cef")
    }
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "ca.pem").write_bytes(pki.ca.read_bytes())  # a repository's CA file: inside it
    repo_table = {
        "connector": [
            {
                "name": f"{scheme}-{fmt}",
                "type": "syslog",
                "url": c.url,
                "format": fmt,
                **({"ca-file": "ca.pem"} if scheme == "tls" else {}),
            }
            for (scheme, fmt), c in collectors.items()
        ]
        + [{"name": "file", "type": "jsonl", "url": "siem/events.jsonl"}]
    }
    (repo / "siem").mkdir()
    outside_table = {
        "connector": [
            {"name": "corp-splunk", "type": "splunk-hec", "url": hec.url, "ca-file": str(pki.ca)},
            {"name": "corp-es", "type": "elastic", "url": bulk.url, "ca-file": str(pki.ca)},
        ]
    }
    sink = make_sink(
        SinkConfig(
            str(repo),
            repository_source=str(repo / "pyproject.toml"),
            repository_table=repo_table,
            outside_source=str(tmp_path / "events.toml"),
            outside_table=outside_table,
        )
    )
    assert isinstance(sink, SIEMManager) and len(sink.connectors) == 9
    std = base64.b64encode(raw).decode()
    url = base64.urlsafe_b64encode(raw).decode()
    findings = list(scan_file(".env", f"APP_KEY=base64:{std}\nFERNET_KEY={url}\n".encode()))
    assert findings
    sent = [event_from_finding(f, repository="https://user:pw@git.example/r") for f in findings]
    for event in sent:
        sink.emit(event)
    sent.append(
        sink.emit_security_event(
            "careless",
            {
                "value": std,
                "hex": raw.hex(),
                "other": base64.urlsafe_b64encode(other).decode(),
                "line": f"FERNET_KEY={url.rstrip('=')} # prod",
                "token": token,
                "blob": f"creds {token} end",
                "hec": hec.state.secret,
                "es": bulk.state.secret,
                "auth": f"Splunk {hec.state.secret}",
            },
            path=f"config/{std}.env",
        )
    )
    sink.wait(20)
    deadline = time.monotonic() + 10
    ids = [e.id for e in sent]
    while time.monotonic() < deadline:
        if all(all(i.encode() in c.data for i in ids) for c in collectors.values()):
            break
        time.sleep(0.05)

    blobs: dict[str, bytes] = {name: bytes(c.data) for name, c in collectors.items()}  # type: ignore[misc]
    blobs["jsonl"] = (repo / "siem" / "events.jsonl").read_bytes()
    blobs["hec"] = hec.state.wire_bytes()
    blobs["bulk"] = bulk.state.wire_bytes()
    blobs["spool"] = b"".join(p.read_bytes() for p in spool_home.iterdir() if p.is_file())
    for name, blob in blobs.items():
        for event_id in ids:
            assert event_id.encode() in blob, (name, "event missing")
        for key in (raw, other):
            assert not contains_key(blob, key), name
        assert token.encode() not in blob and plaintext.encode() not in blob, name
        assert b"user:pw" not in blob, name
        for secret, own in ((hec.state.secret, "hec"), (bulk.state.secret, "bulk")):
            lines = [line for line in blob.split(b"\r\n") if secret.encode() in line]
            if name == own:
                header = b"Authorization: Splunk " if own == "hec" else b"Authorization: ApiKey "
                assert lines and all(line == header + secret.encode() for line in lines), name
            else:
                assert not lines, (name, own)
    # the finding's fingerprint travels instead of the key
    fingerprint = findings[0].fingerprint
    assert fingerprint is not None
    for name, blob in blobs.items():
        assert fingerprint.encode() in blob, name
    for spelled in spellings(raw):
        assert spelled not in repr(sink)
    for collector in collectors.values():
        collector.close()
