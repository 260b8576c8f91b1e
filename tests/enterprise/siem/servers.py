"""Real and local endpoints for the SIEM tests.

* :class:`Rsyslog` — a real ``rsyslogd`` on loopback (UDP, TCP, TLS through gtls), writing
  what it received as one JSON object per line (its own RFC 5424 parse plus the raw
  message), started and stopped on demand.
* :class:`WireEndpoint` — a local HTTPS server that checks Splunk HEC and Elasticsearch
  ``_bulk`` requests byte for byte (request line, headers, framing, canonical JSON, the
  NDJSON trailing newline) and answers as the real services do, or as a test commands (200,
  400, 403, 409, 429, 503, partial bulk failures, pending acknowledgements).
* :func:`make_pki` — a throwaway CA and certificates made with ``cryptography`` at test time
  (no key is ever committed).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"


# -- certificates -----------------------------------------------------------------------
@dataclass
class PKI:
    directory: Path
    ca: Path
    server_cert: Path
    server_key: Path
    wrong_cert: Path  # valid CA, wrong host name
    wrong_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path  # a CA that signed nothing here


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _ca(name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    names: list[str],
    usage: x509.ObjectIdentifier,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def make_pki(directory: Path) -> PKI:
    directory.mkdir(parents=True, exist_ok=True)
    ca, ca_key = _ca("importobot-test-CA")
    other, _ = _ca("importobot-other-CA")
    pem = serialization.Encoding.PEM
    (directory / "ca.pem").write_bytes(ca.public_bytes(pem))
    (directory / "other-ca.pem").write_bytes(other.public_bytes(pem))
    out: dict[str, Path] = {}
    for label, names, usage in (
        ("server", ["localhost", "127.0.0.1"], ExtendedKeyUsageOID.SERVER_AUTH),
        ("wrong", ["wrong.example"], ExtendedKeyUsageOID.SERVER_AUTH),
        ("client", ["importobot-client"], ExtendedKeyUsageOID.CLIENT_AUTH),
    ):
        cert, key = _leaf(ca, ca_key, names, usage)
        (directory / f"{label}.pem").write_bytes(cert.public_bytes(pem))
        _write_key(directory / f"{label}.key", key)
        out[label] = directory / f"{label}.pem"
    return PKI(
        directory=directory,
        ca=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server.key",
        wrong_cert=directory / "wrong.pem",
        wrong_key=directory / "wrong.key",
        client_cert=directory / "client.pem",
        client_key=directory / "client.key",
        other_ca=directory / "other-ca.pem",
    )


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- rsyslog ------------------------------------------------------------------------------
_TEMPLATE = """template(name="importobot-json" type="list" option.jsonf="on") {
  property(outname="input" name="inputname" format="jsonf")
  property(outname="pri" name="pri" format="jsonf")
  property(outname="version" name="protocol-version" format="jsonf")
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="app" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
  property(outname="raw" name="rawmsg" format="jsonf")
}
"""


class Rsyslog:
    """A real rsyslogd on 127.0.0.1: ``udp``, ``tcp`` and ``tls`` ports, ``received()``."""

    def __init__(self, directory: Path, pki: PKI) -> None:
        self.directory = directory
        self.pki = pki
        self.udp = free_port(socket.SOCK_DGRAM)
        self.tcp = free_port()
        self.tls = free_port()
        self.log = directory / "received.jsonl"
        self.conf = directory / "rsyslog.conf"
        self.pidfile = directory / "rsyslogd.pid"
        self.process: subprocess.Popen[bytes] | None = None
        work = directory / "work"
        work.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(
            f'global(workDirectory="{work}" maxMessageSize="64k"\n'
            f'       DefaultNetstreamDriverCAFile="{pki.ca}"\n'
            f'       DefaultNetstreamDriverCertFile="{pki.server_cert}"\n'
            f'       DefaultNetstreamDriverKeyFile="{pki.server_key}")\n'
            'module(load="imudp")\n'
            'module(load="imtcp" maxSessions="200")\n'
            f'input(type="imudp" address="127.0.0.1" port="{self.udp}")\n'
            f'input(type="imtcp" address="127.0.0.1" port="{self.tcp}")\n'
            f'input(type="imtcp" address="127.0.0.1" port="{self.tls}" name="imtcp-tls"\n'
            '      StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")\n'
            + _TEMPLATE
            + f'*.* action(type="omfile" file="{self.log}" template="importobot-json")\n'
        )

    @staticmethod
    def available() -> tuple[bool, str]:
        if not os.path.exists(RSYSLOGD):
            return False, "rsyslogd is not installed (apt-get install rsyslog rsyslog-gnutls)"
        if not Path("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so").exists() and not list(
            Path("/usr/lib").rglob("lmnsd_gtls.so")
        ):
            return False, "rsyslog-gnutls is not installed"
        return True, ""

    def check_config(self) -> None:
        proc = subprocess.run(
            [RSYSLOGD, "-N1", "-f", str(self.conf)], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(f"rsyslog config refused: {proc.stderr.strip()}")

    def start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        self.stderr = open(self.directory / "stderr.log", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", str(self.conf), "-i", str(self.pidfile)],
            stdout=self.stderr,
            stderr=self.stderr,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        for port in (self.tcp, self.tls):
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        break
                except OSError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            "rsyslogd did not start: "
                            + (self.directory / "stderr.log").read_text(errors="replace")[-500:]
                        ) from None
                    time.sleep(0.02)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self.stderr.close()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def received(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        out = []
        for line in self.log.read_bytes().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                out.append({"unparsed": line.decode("utf-8", "replace")})
        return out

    def raw_bytes(self) -> bytes:
        return self.log.read_bytes() if self.log.exists() else b""

    def wait_ids(self, ids: set[str], timeout: float = 15.0) -> list[dict[str, Any]]:
        """rsyslog writes asynchronously: the records once every id in ``ids`` is there (or
        whatever is there at ``timeout``)."""
        deadline = time.monotonic() + timeout
        while True:
            records = self.received()
            if ids <= set(event_ids_in(records)) or time.monotonic() > deadline:
                return records
            time.sleep(0.05)


def event_ids_in(records: list[dict[str, Any]]) -> list[str]:
    """Event ids in rsyslog's records (RFC 5424 SD ``id=`` or CEF ``externalId=``)."""
    import re

    ids = []
    for record in records:
        text = record.get("sd", "") + " " + record.get("msg", "")
        match = re.search(r'\bid="([0-9a-f]{32})"', text) or re.search(
            r"externalId=([0-9a-f]{32})", text
        )
        if match:
            ids.append(match.group(1))
    return ids


# -- the HTTPS wire-format endpoint ---------------------------------------------------------
def canonical(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=True, separators=(",", ":")).encode()


_HEC_KEYS = ("time", "host", "source", "sourcetype", "index", "event")


@dataclass
class Request:
    method: str
    path: str
    headers: list[tuple[str, str]]
    raw_head: bytes
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


@dataclass
class WireState:
    kind: str  # "hec" or "bulk"
    secret: str
    requests: list[Request] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    answers: deque[Any] = field(default_factory=deque)
    events: list[dict[str, Any]] = field(default_factory=list)  # stored (accepted) events
    ids: set[str] = field(default_factory=set)
    next_ack: int = 0
    acks: dict[int, int] = field(default_factory=dict)  # ackId -> polls still pending
    ack_delay: int = 0
    hold: threading.Event | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wire_bytes(self) -> bytes:
        return b"".join(r.raw_head + r.body for r in self.requests)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _reply(self, status: int, body: object) -> None:
        data = canonical(body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        head = self.raw_requestline + b"".join(
            f"{k}: {v}\r\n".encode("latin-1") for k, v in self.headers.items()
        )
        request = Request("POST", self.path, list(self.headers.items()), head, body)
        with state.lock:
            state.requests.append(request)
        if state.hold is not None:
            state.hold.wait(30)
        if state.kind == "hec":
            self._hec(state, request)
        else:
            self._bulk(state, request)

    # -- Splunk HEC --------------------------------------------------------------------
    def _hec(self, state: WireState, request: Request) -> None:
        problems: list[str] = []
        if request.path == "/services/collector/ack":
            self._hec_ack(state, request)
            return
        if request.path != "/services/collector/event":
            problems.append(f"path {request.path}")
        auth = request.header("Authorization")
        if auth is None:
            self._reply(401, {"text": "Token is required", "code": 2})
            return
        if auth != f"Splunk {state.secret}":
            self._reply(403, {"text": "Invalid token", "code": 4})
            return
        if request.header("Content-Type") != "application/json":
            problems.append("content-type")
        if request.header("Content-Length") != str(len(request.body)):
            problems.append("content-length")
        decoder = json.JSONDecoder()
        text = request.body.decode("ascii")
        objects: list[dict[str, Any]] = []
        index = 0
        while index < len(text):
            obj, end = decoder.raw_decode(text, index)
            objects.append(obj)
            index = end
            if index < len(text):
                if text[index] != "\n":
                    problems.append("events must be separated by one newline")
                index += 1
        if not objects:
            self._reply(400, {"text": "No data", "code": 5})
            return
        if b"\n".join(canonical(o) for o in objects) != request.body:
            problems.append("body is not canonical JSON events joined by newlines")
        for number, obj in enumerate(objects):
            keys = [k for k in obj]
            if keys != [k for k in _HEC_KEYS if k in obj] or not {"time", "event"} <= set(obj):
                problems.append(f"event {number}: keys {keys}")
            if not isinstance(obj.get("time"), int | float) or round(obj["time"], 3) != obj["time"]:
                problems.append(f"event {number}: time must be epoch seconds (ms precision)")
        if problems:
            with state.lock:
                state.violations.extend(problems)
            self._reply(400, {"text": "Invalid data format", "code": 6, "invalid-event-number": 0})
            return
        answer = state.answers.popleft() if state.answers else None
        if answer is not None:
            kind, value = answer[0], answer[1]
            if kind == "reply":
                self._reply(value, answer[2])
                return
            if kind == "status":
                self._reply(value, {"text": "Server is busy", "code": 9})
                return
            if kind == "invalid":
                self._reply(
                    400, {"text": "Invalid data format", "code": 6, "invalid-event-number": value}
                )
                return
        with state.lock:
            for obj in objects:
                state.events.append(obj["event"])
                state.ids.add(obj["event"]["id"])
            reply: dict[str, Any] = {"text": "Success", "code": 0}
            channel = request.header("X-Splunk-Request-Channel")
            if channel is not None:
                reply["ackId"] = state.next_ack
                state.acks[state.next_ack] = state.ack_delay
                state.next_ack += 1
        self._reply(200, reply)

    def _hec_ack(self, state: WireState, request: Request) -> None:
        if request.header("Authorization") != f"Splunk {state.secret}":
            self._reply(403, {"text": "Invalid token", "code": 4})
            return
        if request.header("X-Splunk-Request-Channel") is None:
            self._reply(400, {"text": "Data channel is missing", "code": 10})
            return
        query = json.loads(request.body)
        result = {}
        with state.lock:
            for ack in query["acks"]:
                pending = state.acks.get(ack)
                if pending is None:
                    result[str(ack)] = False
                elif pending > 0:
                    state.acks[ack] = pending - 1
                    result[str(ack)] = False
                else:
                    result[str(ack)] = True
        self._reply(200, {"acks": result})

    # -- Elasticsearch _bulk -----------------------------------------------------------
    def _bulk(self, state: WireState, request: Request) -> None:
        problems: list[str] = []
        if request.path != "/_bulk":
            problems.append(f"path {request.path}")
        if request.header("Authorization") != f"ApiKey {state.secret}":
            self._reply(
                401,
                {"error": {"type": "security_exception", "reason": "unable to authenticate"}},
            )
            return
        if request.header("Content-Type") != "application/x-ndjson":
            problems.append("content-type")
        if not request.body.endswith(b"\n"):
            self._reply(
                400,
                {
                    "error": {
                        "type": "illegal_argument_exception",
                        "reason": "The bulk request must be terminated by a newline [\\n]",
                    },
                    "status": 400,
                },
            )
            with state.lock:
                state.violations.append("no trailing newline")
            return
        lines = request.body[:-1].split(b"\n")
        if len(lines) % 2:
            problems.append("odd number of NDJSON lines")
        pairs = []
        for i in range(0, len(lines) - 1, 2):
            action, doc = json.loads(lines[i]), json.loads(lines[i + 1])
            if canonical(action) != lines[i] or canonical(doc) != lines[i + 1]:
                problems.append(f"line {i}: not canonical JSON")
            if list(action) != ["create"] or list(action["create"]) != ["_index", "_id"]:
                problems.append(f"line {i}: action must be create with _index and _id")
            elif action["create"]["_id"] != doc.get("id"):
                problems.append(f"line {i}: _id is not the event id")
            pairs.append((action, doc))
        if problems:
            with state.lock:
                state.violations.extend(problems)
            self._reply(400, {"error": {"type": "parse_exception"}, "status": 400})
            return
        answer = state.answers.popleft() if state.answers else None
        if answer is not None and answer[0] == "status":
            self._reply(answer[1], {"error": {"type": "es_rejected_execution_exception"}})
            return
        if answer is not None and answer[0] == "reply":  # (status, body) as given
            self._reply(answer[1], answer[2])
            return
        forced: dict[int, int] = answer[1] if answer is not None and answer[0] == "items" else {}
        items = []
        errors = False
        with state.lock:
            for number, (action, doc) in enumerate(pairs):
                event_id = action["create"]["_id"]
                status = forced.get(number)
                if status is None:
                    status = 409 if event_id in state.ids else 201
                if status == 201:
                    state.ids.add(event_id)
                    state.events.append(doc)
                    item = {"_index": action["create"]["_index"], "_id": event_id, "status": 201}
                else:
                    errors = True
                    kind = {
                        409: "version_conflict_engine_exception",
                        429: "es_rejected_execution_exception",
                        400: "mapper_parsing_exception",
                    }.get(status, "internal_server_error")
                    item = {"_id": event_id, "status": status, "error": {"type": kind}}
                items.append({"create": item})
        self._reply(200, {"took": 1, "errors": errors, "items": items})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: WireState


class WireEndpoint:
    """A local HTTPS endpoint (``kind`` ``hec`` or ``bulk``) checking requests byte for byte."""

    def __init__(
        self,
        kind: str,
        pki: PKI,
        secret: str,
        *,
        cert: Path | None = None,
        key: Path | None = None,
        client_ca: Path | None = None,
    ) -> None:
        self.state = WireState(kind=kind, secret=secret)
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.state = self.state
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert or pki.server_cert), str(key or pki.server_key))
        if client_ca is not None:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(str(client_ca))
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def close(self) -> None:
        if self.state.hold is not None:
            self.state.hold.set()
        self.server.shutdown()
        self.server.server_close()


class SilentCollector:
    """Accepts TCP connections and never reads from them (a stuck collector)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.held: list[socket.socket] = []
        self._stop = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.held.append(conn)

    def close(self) -> None:
        self._stop = True
        self.thread.join(2)
        for conn in self.held:
            conn.close()
        self.sock.close()


def lines(path: Path) -> Iterator[dict[str, Any]]:
    for line in path.read_text().splitlines():
        yield json.loads(line)


class RecordingCollector:
    """A syslog collector that keeps every byte it is sent (``udp``, ``tcp`` or ``tls``;
    TLS bytes are the decrypted stream) and closes after the sender does, like rsyslog."""

    def __init__(self, scheme: str, pki: PKI) -> None:
        self.scheme = scheme
        self.data = bytearray()
        self.lock = threading.Lock()
        kind = socket.SOCK_DGRAM if scheme == "udp" else socket.SOCK_STREAM
        self.sock = socket.socket(socket.AF_INET, kind)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.context: ssl.SSLContext | None = None
        if scheme == "tls":
            self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.context.load_cert_chain(str(pki.server_cert), str(pki.server_key))
        if scheme != "udp":
            self.sock.listen(16)
        self.sock.settimeout(0.1)
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                if self.scheme == "udp":
                    chunk, _ = self.sock.recvfrom(65536)
                    with self.lock:
                        self.data += chunk + b"\n"  # datagram boundary, for reading
                    continue
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._stream, args=(conn,), daemon=True).start()

    def _stream(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        stream: Any = conn
        try:
            if self.context is not None:
                stream = self.context.wrap_socket(conn, server_side=True)
            while True:
                try:
                    chunk = stream.recv(65536)
                except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                    break
                if not chunk:
                    break
                with self.lock:
                    self.data += chunk
        except OSError:
            pass
        finally:
            stream.close()

    @property
    def url(self) -> str:
        return f"{self.scheme}://localhost:{self.port}"

    def close(self) -> None:
        self._stop = True
        self.thread.join(2)
        self.sock.close()
