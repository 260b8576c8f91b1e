"""Connectors: syslog (UDP, TCP, TLS), Splunk HEC, Elasticsearch ``_bulk``, a JSONL file.

Standard library only (``socket``, ``ssl``, ``http.client``): each connector speaks one
small, fixed protocol, and a client library would add a dependency tree to a security
tool's install for no gain (see pyproject.toml).

Every connector has importobot 0.1.5's ``send_event(event)`` (one event, now; raises
:class:`DeliveryError`) and ``deliver(events, deadline)``, which the spool's deliverer uses:
it returns one status per event — ``ok``, ``dup`` (the receiver already had it: delivered),
``park:<reason>`` (refused for good), ``again`` (send again now) or ``retry`` (send again after
a backoff) — or raises :class:`DeliveryError` when nothing was acknowledged.

What "acknowledged" means, per transport (D23):

* TCP and TLS syslog: the collector read the whole batch — after the frames, our side closes
  (TLS: close_notify) and waits for the collector to close in turn; at-least-once.
* UDP syslog: sent; best effort (no acknowledgement exists).
* HEC: HTTP 200 ``{"code":0}`` is "accepted"; with ``ack = true`` the batch counts only once
  the indexer acknowledgement for its ``ackId`` is true (at-least-once).
* ``_bulk``: each item's status — 201 created, 409 already there (``_id`` is the event id:
  delivered), 429/5xx again later, other 4xx parked.
* JSONL: written and fsynced.

Secrets (HEC token, Elastic API key) live only in the connector object, go only into the
``Authorization`` header, and never appear in a repr, an error or a log line.
"""

from __future__ import annotations

import os
import time

from importobot.events import SecurityEvent, event_type
from importobot_enterprise.siem import formats
from importobot_enterprise.siem.config import (
    TCP_MAX_DEFAULT,
    UDP_MAX,
    ConnectorSpec,
    token_variable,
)
from importobot_enterprise.siem.errors import DeliveryError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
    import ssl
    from collections.abc import Mapping, Sequence
    from typing import Any

__all__ = [
    "Connector",
    "ElasticConnector",
    "JsonlFileConnector",
    "SplunkHECConnector",
    "SyslogConnector",
    "connector_for",
]

_MAX_REPLY = 1 << 20


def _as_event(event: SecurityEvent | Mapping[str, Any]) -> SecurityEvent:
    """An event from a :class:`SecurityEvent` or a dict (0.1.5's ``{"event_type": …, …}``, or
    :meth:`SecurityEvent.to_dict`'s shape)."""
    if isinstance(event, SecurityEvent):
        return event
    data = dict(event)
    if "id" in data and "type" in data and "time" in data:
        return SecurityEvent.from_dict(data)
    kind = str(data.pop("event_type", data.pop("type", "event")))
    data.pop("timestamp", None)
    return SecurityEvent(event_type(kind), payload=data)


def _os_reason(exc: OSError) -> str:
    import sys

    ssl = sys.modules.get("ssl")  # loaded only where TLS is used: no import for a plain error
    if ssl is not None and isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not accepted: {exc.verify_message or 'verification failed'}"
    if ssl is not None and isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or type(exc).__name__}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    import socket

    if isinstance(exc, socket.gaierror):
        return "host name not resolved"
    return exc.strerror or type(exc).__name__


def _remaining(deadline: float, timeout: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeliveryError("timed out (deadline reached)", sent=True)
    return min(timeout, left)


def _read_file(path: str, *, repository_root: str | None, private: bool = False) -> bytes:
    from importobot import fsio

    try:
        if repository_root is not None:
            return fsio.read_content(path, 1 << 20)
        return fsio.read_operator_file(path, 1 << 20, secret=private, private=private)
    except fsio.FileRefused as exc:
        raise DeliveryError(str(exc)) from None


class Connector:
    """Base of importobot's connectors: a :class:`ConnectorSpec`, maybe a secret."""

    #: The spec type this class implements.
    kind = ""

    def __init__(self, spec: ConnectorSpec, secret: str | None = None) -> None:
        self.spec = spec
        self.__secret = secret
        self._batch_limit = spec.batch

    # -- identity, without the secret ----------------------------------------------------
    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def endpoint(self) -> str:
        return self.spec.url

    @property
    def batch_limit(self) -> int:
        return self._batch_limit

    def __repr__(self) -> str:
        secret = ", secret=<hidden>" if self.spec.needs_secret else ""
        return f"{type(self).__name__}(name={self.spec.name!r}, endpoint={self.spec.url!r}{secret})"

    def __reduce__(self) -> Any:
        raise TypeError(f"{type(self).__name__} holds a secret and is not pickled")

    def _secret(self) -> str:
        if not self.__secret:
            raise DeliveryError(
                f"no secret: set {token_variable(self.spec.name)} in the environment",
                retry=True,
            )
        return self.__secret

    def _scrub(self, text: str) -> str:
        """``text`` with the secret (if any) and key-shaped values removed."""
        from importobot.events import redact

        if self.__secret and len(self.__secret) >= 4:
            text = text.replace(self.__secret, "[redacted]")
        return redact(text)

    # -- sending --------------------------------------------------------------------------
    def send_event(self, event: SecurityEvent | Mapping[str, Any]) -> None:
        """Send one event now (not spooled). Raises :class:`DeliveryError`."""
        built = _as_event(event)
        deadline = time.monotonic() + self.spec.timeout
        [status] = self.deliver([built], deadline)
        if status not in ("ok", "dup"):
            reason = status[5:] if status.startswith("park:") else "not acknowledged"
            raise DeliveryError(f"{self.spec.name}: {reason}", retry=not status.startswith("park:"))

    def deliver(self, events: Sequence[SecurityEvent], deadline: float) -> list[str]:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the connector holds (nothing by default)."""

    # -- TLS --------------------------------------------------------------------------------
    def _tls_context(self) -> ssl.SSLContext:
        import ssl

        spec = self.spec
        root = spec.root if spec.origin == "repository" else None
        try:
            if spec.ca_file:
                cadata = _read_file(spec.ca_file, repository_root=root).decode("ascii", "replace")
                context = ssl.create_default_context(cadata=cadata)
            else:
                context = ssl.create_default_context()
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            if spec.cert_file and spec.key_file:
                _read_file(spec.key_file, repository_root=None, private=True)  # checks mode
                context.load_cert_chain(spec.cert_file, spec.key_file)
        except ssl.SSLError as exc:
            reason = exc.reason or "bad certificate file"
            raise DeliveryError(f"TLS set-up failed: {reason}") from None
        except OSError as exc:
            raise DeliveryError(f"TLS set-up failed: {_os_reason(exc)}") from None
        return context


# -- syslog -------------------------------------------------------------------------------
class SyslogConnector(Connector):
    """RFC 5424 syslog (optionally with a CEF payload) over ``udp://``, ``tcp://`` (RFC 6587
    octet counting) or ``tls://`` (RFC 5425: certificate and host name verified)."""

    kind = "syslog"

    def __init__(
        self,
        spec_or_url: ConnectorSpec | str,
        *,
        name: str = "syslog",
        format: str = "rfc5424",
        pen: int | None = None,
        ca_file: str | None = None,
    ) -> None:
        if isinstance(spec_or_url, str):
            from importobot_enterprise.siem.config import DEFAULT_PEN, _parse_host_url

            _parse_host_url(f"connector {name!r}", spec_or_url, ("udp", "tcp", "tls"))
            spec = ConnectorSpec(
                name=name,
                type="syslog",
                url=spec_or_url,
                format=format,
                pen=pen or DEFAULT_PEN,
                ca_file=os.path.abspath(ca_file) if ca_file else None,
            )
        else:
            spec = spec_or_url
        super().__init__(spec)
        from urllib.parse import urlsplit

        parts = urlsplit(spec.url)
        self._scheme = parts.scheme
        self._host = parts.hostname or ""
        self._port = parts.port or (6514 if parts.scheme == "tls" else 514)
        limit = spec.max_message or (UDP_MAX if self._scheme == "udp" else TCP_MAX_DEFAULT)
        self._limit = min(limit, UDP_MAX) if self._scheme == "udp" else limit

    def messages(self, event: SecurityEvent) -> list[bytes]:
        """The syslog message(s) for ``event`` as sent (before framing)."""
        return formats.syslog_messages(
            event,
            pen=self.spec.pen,
            facility=self.spec.facility,
            fmt=self.spec.format,
            limit=self._limit,
        )

    def deliver(self, events: Sequence[SecurityEvent], deadline: float) -> list[str]:
        messages = [m for event in events for m in self.messages(event)]
        if self._scheme == "udp":
            self._send_udp(messages, deadline)
        else:
            self._send_stream(messages, deadline)
        return ["ok"] * len(events)

    def _address(self, kind: int, deadline: float) -> list[tuple[Any, ...]]:
        import socket

        try:
            return socket.getaddrinfo(self._host, self._port, type=kind)
        except OSError as exc:
            raise DeliveryError(f"{self._host}: {_os_reason(exc)}") from None

    def _send_udp(self, messages: list[bytes], deadline: float) -> None:
        import socket

        family, kind, proto, _, address = self._address(socket.SOCK_DGRAM, deadline)[0]
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.settimeout(_remaining(deadline, self.spec.timeout))
                for message in messages:
                    sock.sendto(message, address)
        except OSError as exc:
            raise DeliveryError(f"udp send failed: {_os_reason(exc)}") from None

    def _send_stream(self, messages: list[bytes], deadline: float) -> None:
        import socket
        import ssl

        payload = b"".join(formats.octet_frame(m) for m in messages)
        timeout = self.spec.timeout
        context = self._tls_context() if self._scheme == "tls" else None
        try:
            raw = socket.create_connection(
                (self._host, self._port), timeout=_remaining(deadline, timeout)
            )
        except OSError as exc:
            raise DeliveryError(f"cannot connect: {_os_reason(exc)}") from None
        sock: socket.socket = raw
        try:
            if context is not None:
                sock = context.wrap_socket(raw, server_hostname=self._host)
            sent = 0
            view = memoryview(payload)
            while sent < len(payload):  # sendall, but with the deadline checked in between
                sock.settimeout(_remaining(deadline, timeout))
                sent += sock.send(view[sent : sent + 65536])
            sock.settimeout(_remaining(deadline, timeout))
            if isinstance(sock, ssl.SSLSocket):
                try:
                    sock = sock.unwrap()  # close_notify; the collector then closes
                except (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionResetError):
                    return  # the collector closed after reading everything: acknowledged
                sock.settimeout(_remaining(deadline, timeout))
            else:
                sock.shutdown(socket.SHUT_WR)
            while True:  # wait for the collector to close: it has read every frame
                chunk = sock.recv(4096)
                if not chunk:
                    return
        except DeliveryError:
            raise
        except ConnectionResetError:
            raise DeliveryError(
                "connection reset before the batch was acknowledged", sent=True
            ) from None
        except OSError as exc:
            raise DeliveryError(f"send failed: {_os_reason(exc)}", sent=True) from None
        finally:
            try:
                sock.close()
            finally:
                raw.close()


# -- HTTPS connectors -----------------------------------------------------------------------
class _HTTPSConnector(Connector):
    @classmethod
    def _https_spec(
        cls, endpoint: str | ConnectorSpec, name: str, ca_file: str | None, **fields: Any
    ) -> ConnectorSpec:
        """``endpoint`` when it is a spec; else the spec of this kind for an ``https://`` URL
        (checked as the configuration checks it) with ``fields``."""
        if isinstance(endpoint, ConnectorSpec):
            return endpoint
        from importobot_enterprise.siem.config import _parse_host_url

        _parse_host_url(f"connector {name!r}", endpoint, ("https",))
        return ConnectorSpec(
            name=name,
            type=cls.kind,
            url=endpoint,
            ca_file=os.path.abspath(ca_file) if ca_file else None,
            **fields,
        )

    def __init__(self, spec: ConnectorSpec, secret: str | None) -> None:
        super().__init__(spec, secret)
        from urllib.parse import urlsplit

        parts = urlsplit(spec.url)
        self._host = parts.hostname or ""
        self._port = parts.port or 443
        self._base = parts.path.rstrip("/")
        self._connection: Any = None

    def _connect(self, deadline: float) -> Any:
        import http.client

        if self._connection is None:
            self._connection = http.client.HTTPSConnection(
                self._host,
                self._port,
                timeout=_remaining(deadline, self.spec.timeout),
                context=self._tls_context(),
            )
        return self._connection

    def _post(
        self, path: str, body: bytes, headers: dict[str, str], deadline: float
    ) -> tuple[int, bytes]:
        """POST and read the reply (bounded); one reconnect if a kept-alive connection died."""
        import http.client

        from importobot._version import __version__

        all_headers = {
            "User-Agent": f"importobot/{__version__}",
            "Content-Length": str(len(body)),
            **headers,
        }
        for attempt in (1, 2):
            connection = self._connect(deadline)
            try:
                connection.timeout = _remaining(deadline, self.spec.timeout)
                if connection.sock is not None:
                    connection.sock.settimeout(connection.timeout)
                connection.request("POST", path, body=body, headers=all_headers)
                response = connection.getresponse()
                data = response.read(_MAX_REPLY)
                if response.will_close:
                    self.close()
                return response.status, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt == 2:
                    raise DeliveryError("the server closed the connection", sent=True) from None
            except http.client.HTTPException as exc:
                self.close()
                raise DeliveryError(f"bad HTTP reply ({type(exc).__name__})") from None
            except OSError as exc:
                self.close()
                raise DeliveryError(_os_reason(exc), sent=True) from None
        raise DeliveryError("unreachable")  # pragma: no cover

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None


def _json(data: bytes) -> Any:
    import json

    try:
        return json.loads(data)
    except ValueError:
        return None


class SplunkHECConnector(_HTTPSConnector):
    """Splunk HTTP Event Collector: ``POST /services/collector/event`` with
    ``Authorization: Splunk <token>``, batched JSON events, ``time`` in epoch seconds, and
    (``ack = true``) indexer acknowledgement on a channel of its own."""

    kind = "splunk-hec"

    def __init__(
        self,
        endpoint: str | ConnectorSpec,
        token: str | None = None,
        *,
        name: str = "splunk-hec",
        ack: bool = False,
        index: str | None = None,
        ca_file: str | None = None,
    ) -> None:
        spec = self._https_spec(endpoint, name, ca_file, ack=ack, index=index)
        super().__init__(spec, token)
        import uuid

        self._channel = str(uuid.uuid4())
        base = self._base
        if base.endswith("/services/collector/event"):
            base = base[: -len("/services/collector/event")]
        elif base.endswith("/services/collector"):
            base = base[: -len("/services/collector")]
        self._event_path = base + "/services/collector/event"
        self._ack_path = base + "/services/collector/ack"

    def _headers(self) -> dict[str, str]:
        headers = {
            "Authorization": f"Splunk {self._secret()}",
            "Content-Type": "application/json",
        }
        if self.spec.ack:
            headers["X-Splunk-Request-Channel"] = self._channel
        return headers

    def deliver(self, events: Sequence[SecurityEvent], deadline: float) -> list[str]:
        body = b"\n".join(
            formats.hec_event(
                e, source=self.spec.source, sourcetype=self.spec.sourcetype, index=self.spec.index
            )
            for e in events
        )
        status, data = self._post(self._event_path, body, self._headers(), deadline)
        reply = _json(data)
        code = reply.get("code") if isinstance(reply, dict) else None
        if status == 200 and code in (0, None):
            if self.spec.ack:
                ack_id = reply.get("ackId") if isinstance(reply, dict) else None
                if not isinstance(ack_id, int):
                    raise DeliveryError(
                        "HEC: indexer acknowledgement is off for this token", sent=True
                    )
                self._wait_ack(ack_id, deadline)
            return ["ok"] * len(events)
        if status == 400 and isinstance(reply, dict) and code in (6, 12, 13, 14):
            bad = reply.get("invalid-event-number")
            if isinstance(bad, int) and 0 <= bad < len(events):
                statuses = ["again"] * len(events)
                statuses[bad] = f"park:HEC refused the event (code {code})"
                return statuses
        if status == 413 and len(events) > 1:
            self._batch_limit = max(1, len(events) // 2)
            return ["again"] * len(events)
        text = reply.get("text") if isinstance(reply, dict) else None
        shown = self._scrub(str(text))[:80] if isinstance(text, str) else ""
        detail = f" ({shown})" if shown else ""
        raise DeliveryError(f"HEC: HTTP {status}{detail}")

    def _wait_ack(self, ack_id: int, deadline: float) -> None:
        import json

        body = json.dumps({"acks": [ack_id]}).encode()
        delay = 0.05
        while True:
            status, data = self._post(self._ack_path, body, self._headers(), deadline)
            reply = _json(data)
            if status != 200 or not isinstance(reply, dict):
                raise DeliveryError(f"HEC: acknowledgement query failed (HTTP {status})")
            acks = reply.get("acks")
            if isinstance(acks, dict) and acks.get(str(ack_id)) is True:
                return
            if time.monotonic() + delay >= deadline:
                raise DeliveryError(
                    "HEC: the indexer did not acknowledge the batch in time", sent=True
                )
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


class ElasticConnector(_HTTPSConnector):
    """Elasticsearch ``_bulk``: NDJSON ``create`` actions with ``_id`` = the event id (a resend
    is a 409, counted as delivered), ``Authorization: ApiKey <key>``, every item checked."""

    kind = "elastic"

    def __init__(
        self,
        endpoint: str | ConnectorSpec,
        api_key: str | None = None,
        *,
        name: str = "elastic",
        index: str = "importobot-events",
        ca_file: str | None = None,
    ) -> None:
        super().__init__(self._https_spec(endpoint, name, ca_file, index=index), api_key)
        base = self._base[: -len("/_bulk")] if self._base.endswith("/_bulk") else self._base
        self._bulk_path = base + "/_bulk"

    def deliver(self, events: Sequence[SecurityEvent], deadline: float) -> list[str]:
        index = self.spec.index or "importobot-events"
        body = b"".join(formats.bulk_lines(e, index=index) for e in events)
        headers = {
            "Authorization": f"ApiKey {self._secret()}",
            "Content-Type": "application/x-ndjson",
        }
        status, data = self._post(self._bulk_path, body, headers, deadline)
        if status == 200:
            reply = _json(data)
            items = reply.get("items") if isinstance(reply, dict) else None
            if not isinstance(items, list) or len(items) != len(events):
                raise DeliveryError("_bulk: the reply does not list one item per event", sent=True)
            return [self._item_status(item) for item in items]
        if status == 413 and len(events) > 1:
            self._batch_limit = max(1, len(events) // 2)
            return ["again"] * len(events)
        if status in (400, 413) and len(events) > 1:  # isolate the event the server refuses
            self._batch_limit = 1
            return ["again"] * len(events)
        if status in (400, 413):
            return [f"park:_bulk refused the request (HTTP {status})"]
        if status in (401, 403):
            raise DeliveryError(f"_bulk: HTTP {status} (the API key was refused)")
        raise DeliveryError(f"_bulk: HTTP {status}")

    @staticmethod
    def _item_status(item: object) -> str:
        result = next(iter(item.values()), None) if isinstance(item, dict) and item else None
        if not isinstance(result, dict):
            return "retry"
        code = result.get("status")
        if not isinstance(code, int):
            return "retry"
        if code in (200, 201):
            return "ok"
        if code == 409:
            return "dup"
        if code == 429 or code >= 500:
            return "retry"
        error = result.get("error")
        kind = error.get("type") if isinstance(error, dict) else None
        shown = kind if isinstance(kind, str) and kind.replace("_", "").isalnum() else "error"
        return f"park:_bulk item {code} {shown[:64]}"


# -- JSONL --------------------------------------------------------------------------------
class JsonlFileConnector(Connector):
    """One JSON object per line, appended and fsynced (for Fluent Bit or Vector to pick up).

    The file is opened ``O_NOFOLLOW`` (never through a symbolic link), must be a regular file,
    and for a repository-defined connector must stay inside the repository. A line left torn
    by a writer killed mid-write is ended before the next batch, so it costs that one line
    (sent again whole), never the next event."""

    kind = "jsonl"

    def __init__(self, spec_or_path: ConnectorSpec | str, *, name: str = "jsonl") -> None:
        if isinstance(spec_or_path, str):
            spec = ConnectorSpec(name=name, type="jsonl", url=os.path.abspath(spec_or_path))
        else:
            spec = spec_or_path
        super().__init__(spec)

    @property
    def path(self) -> str:
        return self.spec.url

    def deliver(self, events: Sequence[SecurityEvent], deadline: float) -> list[str]:
        import stat

        data = b"".join(formats.jsonl_line(e) for e in events)
        path = self.spec.url
        if self.spec.root is not None:
            from importobot_enterprise.siem.config import _inside

            if not _inside(self.spec.root, os.path.dirname(path)):
                raise DeliveryError("jsonl: the file is no longer inside the repository")
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
        try:
            fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), 0o600)
        except OSError as exc:
            if exc.errno == 40:  # ELOOP
                raise DeliveryError("jsonl: the file is a symbolic link; refused") from None
            raise DeliveryError(f"jsonl: cannot open the file ({_os_reason(exc)})") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise DeliveryError("jsonl: not a regular file; refused")
            if st.st_size and os.pread(fd, 1, st.st_size - 1) != b"\n":
                data = b"\n" + data  # a writer died mid-line: never glue an event onto it
            written = 0
            while written < len(data):
                written += os.write(fd, data[written:])
            os.fsync(fd)
        except OSError as exc:
            raise DeliveryError(f"jsonl: cannot write ({_os_reason(exc)})", sent=True) from None
        finally:
            os.close(fd)
        return ["ok"] * len(events)


_CLASSES: dict[str, type[Connector]] = {
    "syslog": SyslogConnector,
    "splunk-hec": SplunkHECConnector,
    "elastic": ElasticConnector,
    "jsonl": JsonlFileConnector,
}


def connector_for(spec: ConnectorSpec, environ: Mapping[str, str] | None = None) -> Connector:
    """The connector for ``spec``; a secret-bearing one takes its secret from
    ``IMPORTOBOT_EVENTS_TOKEN_<NAME>`` (never for a repository-defined spec)."""
    env = os.environ if environ is None else environ
    if spec.type == "splunk-hec":
        return SplunkHECConnector(spec, _token(spec, env))
    if spec.type == "elastic":
        return ElasticConnector(spec, _token(spec, env))
    if spec.type == "syslog":
        return SyslogConnector(spec)
    return JsonlFileConnector(spec)


def _token(spec: ConnectorSpec, env: Mapping[str, str]) -> str | None:
    if spec.origin == "repository":
        return None
    return env.get(token_variable(spec.name)) or None
