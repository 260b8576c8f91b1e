"""Wire formats, exact: RFC 5424 syslog (with an optional CEF payload), HEC JSON, bulk NDJSON.

RFC 5424 (section 6): ``<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]``, header
fields printable US-ASCII within their limits (HOSTNAME 255, APP-NAME 48, PROCID 128,
MSGID 32), ``-`` for a missing value. The event travels as structured data::

    [importobot@PEN id="…" type="…" severity="…" rule="…" path="…" …]
    [importobot-counts@PEN findings="3"] [importobot-payload@PEN seq="42"]

with ``"``, ``\\`` and ``]`` escaped in PARAM-VALUEs (6.3.3), a list value as the parameter
repeated, and a short UTF-8 MSG led by the BOM (6.4). With ``format = "cef"`` the MSG is a
CEF record instead (``CEF:0|importobot|importobot|VERSION|SIGNATURE|NAME|SEVERITY|ext``:
``\\`` and ``|`` escaped in the header, ``\\``, ``=``, CR and LF in extension values) and no
BOM precedes it. A message longer than the transport's limit (2,048 octets over UDP) is
split into several complete messages that share the event id and say ``part="k/n"``.
"""

from __future__ import annotations

import json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from importobot.events import SecurityEvent

__all__ = [
    "BOM",
    "bulk_lines",
    "cef_message",
    "hec_event",
    "json_document",
    "jsonl_line",
    "octet_frame",
    "syslog_messages",
]

BOM = b"\xef\xbb\xbf"
APP_NAME = "importobot"
#: RFC 5424 severity (0 emergency … 7 debug) per event severity.
SYSLOG_SEVERITY = {"info": 6, "notice": 5, "warning": 4, "error": 3, "critical": 2}
#: CEF severity (0-10) per event severity.
CEF_SEVERITY = {"info": 3, "notice": 4, "warning": 6, "error": 8, "critical": 10}
#: Event fields in the first SD element, in this order (``counts``/``payload`` have their own).
_SD_FIELDS = (
    "id",
    "type",
    "severity",
    "rule",
    "repository",
    "path",
    "line",
    "commit",
    "fingerprint",
    "run_id",
    "host",
    "user",
    "tool_version",
)
_TRUNCATED = "…"


# -- helpers ----------------------------------------------------------------------------
def _header_field(value: str | None, limit: int) -> str:
    """A header field: printable US-ASCII (33-126) only, at most ``limit``, ``-`` if empty."""
    if not value:
        return "-"
    text = "".join(c if 33 <= ord(c) <= 126 else "_" for c in value)[:limit]
    return text or "-"


def _sd_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _scalar_text(value: object) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return str(value)


def _values(value: object) -> list[str]:
    """A field or payload value as the texts it is sent as (a list: one per item)."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [_scalar_text(item) for item in value]
    return [_scalar_text(value)]


def _fit(text: str, limit: int, escape: Callable[[str], str] = str) -> str:
    """``text`` cut so that ``escape(result)`` takes at most ``limit`` UTF-8 bytes (on a
    character boundary), marked with an ellipsis when cut."""

    def size(t: str) -> int:
        return len(escape(t).encode("utf-8", "surrogateescape"))

    if size(text) <= limit:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits with the mark
        mid = (low + high + 1) // 2
        if size(text[:mid] + _TRUNCATED) <= limit:
            low = mid
        else:
            high = mid - 1
    return text[:low] + _TRUNCATED


def _pri(facility: int, severity: str) -> int:
    return facility * 8 + SYSLOG_SEVERITY.get(severity, 6)


def _header(event: SecurityEvent, facility: int) -> str:
    return (
        f"<{_pri(facility, event.severity)}>1 {event.time_text} "
        f"{_header_field(event.host, 255)} {APP_NAME} - {_header_field(event.type, 32)}"
    )


def summary(event: SecurityEvent) -> str:
    """One human line: type, rule, place, fingerprint, counts (no secret: fields are redacted)."""
    parts = [event.type]
    if event.rule:
        parts.append(f"rule={event.rule}")
    if event.path:
        place = event.path + (f":{event.line}" if event.line else "")
        parts.append(f"path={place}")
    if event.commit:
        parts.append(f"commit={event.commit[:12]}")
    if event.fingerprint:
        parts.append(f"fingerprint={event.fingerprint}")
    parts.extend(f"{name}={count}" for name, count in sorted(event.counts.items()))
    return " ".join(parts)


# -- RFC 5424 -----------------------------------------------------------------------------
def _sd_params(event: SecurityEvent) -> list[tuple[str, str, str]]:
    """(element, name, value) for every parameter, in sending order."""
    params: list[tuple[str, str, str]] = []
    for name in _SD_FIELDS:
        for text in _values(getattr(event, name)):
            params.append(("importobot", name, text))
    for name, count in event.counts.items():
        params.append(("importobot-counts", name, str(count)))
    for name, value in event.payload.items():
        for text in _values(value):
            params.append(("importobot-payload", name, text))
    return params


def _render_sd(params: list[tuple[str, str, str]], pen: int) -> str:
    out: list[str] = []
    current = None
    for element, name, value in params:
        if element != current:
            if current is not None:
                out.append("]")
            out.append(f"[{element}@{pen}")
            current = element
        out.append(f' {name}="{_sd_escape(value)}"')
    if current is not None:
        out.append("]")
    return "".join(out) or "-"


def _rfc5424(event: SecurityEvent, pen: int, facility: int, params: list[Any], msg: str) -> bytes:
    head = _header(event, facility)
    sd = _render_sd(params, pen)
    data = f"{head} {sd}".encode("utf-8", "surrogateescape")
    return data + b" " + BOM + msg.encode("utf-8", "surrogateescape") if msg else data


def _split(
    params: list[tuple[str, str, str]],
    fixed: list[tuple[str, str, str]],
    render: Any,
    limit: int,
) -> list[list[tuple[str, str, str]]]:
    """Pack ``params`` into parts whose rendering (with ``fixed`` and a part marker) fits."""
    marker = ("importobot", "part", "999/999")
    base = len(render([*fixed, marker]))
    room = limit - base
    if room < 64:
        raise ValueError("a syslog message limit this small cannot carry an event")
    parts: list[list[tuple[str, str, str]]] = [[]]
    used = 0
    for element, name, value in params:
        # a parameter's cost, including an element opening it might need
        overhead = len(name) + len(element) + 20  # ' name=""' and an element it may open
        if len(_sd_escape(value).encode("utf-8", "surrogateescape")) + overhead > room:
            value = _fit(value, room - overhead, _sd_escape)
        cost = len(_sd_escape(value).encode("utf-8", "surrogateescape")) + overhead
        if used + cost > room and parts[-1]:
            parts.append([])
            used = 0
        parts[-1].append((element, name, value))
        used += cost
    return parts


def syslog_messages(
    event: SecurityEvent,
    *,
    pen: int,
    facility: int,
    fmt: str = "rfc5424",
    limit: int | None = None,
) -> list[bytes]:
    """The RFC 5424 message(s) for ``event`` (several only when one exceeds ``limit``)."""
    if fmt == "cef":
        return cef_messages(event, facility=facility, limit=limit)
    params = _sd_params(event)
    msg = summary(event)
    whole = _rfc5424(event, pen, facility, params, msg)
    if limit is None or len(whole) <= limit:
        return [whole]
    fixed = [p for p in params if p[1] in ("id", "type") and p[0] == "importobot"]
    rest = [p for p in params if p not in fixed]

    def render(ps: list[tuple[str, str, str]]) -> bytes:
        return _rfc5424(event, pen, facility, ps, "")

    chunks = _split(rest, fixed, render, limit - 8)
    total = len(chunks)
    out: list[bytes] = []
    for number, chunk in enumerate(chunks, 1):
        ps = [*fixed, ("importobot", "part", f"{number}/{total}"), *chunk]
        # the first SD element must come first: keep "importobot" params together
        ps.sort(key=lambda p: ("importobot", "importobot-counts", "importobot-payload").index(p[0]))
        message = _rfc5424(event, pen, facility, ps, "")
        if number == 1:
            room = limit - len(message) - 1 - len(BOM)
            if room > 16:
                message += b" " + BOM + _fit(msg, room).encode("utf-8", "surrogateescape")
        out.append(message)
    return out


# -- CEF --------------------------------------------------------------------------------
def _cef_header(value: str) -> str:
    return value.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _cef_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace("=", "\\=").replace("\r", "\\r").replace("\n", "\\n")


#: Event field -> CEF extension key (ArcSight dictionary names; labelled custom strings).
_CEF_FIXED: tuple[tuple[str, str, str | None], ...] = (
    ("id", "externalId", None),
    ("path", "filePath", None),
    ("host", "dvchost", None),
    ("user", "suser", None),
    ("rule", "cs1", "rule"),
    ("fingerprint", "cs2", "fingerprint"),
    ("repository", "cs3", "repository"),
    ("commit", "cs4", "commit"),
    ("run_id", "cs5", "run_id"),
    ("line", "cn1", "line"),
)


def _cef_pairs(event: SecurityEvent) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(fixed pairs, further pairs): event fields, then counts and payload by their names."""
    fixed: list[tuple[str, str]] = [("rt", str(int(round(event.time * 1000))))]
    for field, key, label in _CEF_FIXED:
        value = getattr(event, field)
        if value is None:
            continue
        if label is not None:
            fixed.append((f"{key}Label", label))
        fixed.append((key, str(value)))
    used = {k for k, _ in fixed}
    further: list[tuple[str, str]] = []
    for name, count in event.counts.items():
        further.append((name if name not in used else f"count_{name}", str(count)))
    for name, value in event.payload.items():
        key = name if name not in used else f"payload_{name}"
        for text in _values(value):
            further.append((key, text))
    return fixed, further


def cef_message(event: SecurityEvent, pairs: list[tuple[str, str]] | None = None) -> str:
    """The CEF record of ``event`` (``pairs``: the extension to use instead of all of it)."""
    from importobot._version import __version__

    if pairs is None:
        fixed, further = _cef_pairs(event)
        pairs = [*fixed, *further]
    name = event.type.replace(".", " ").replace("_", " ")
    header = "|".join(
        _cef_header(part)[:limit]
        for part, limit in (
            ("importobot", 63),
            ("importobot", 63),
            (__version__, 31),
            (event.type, 1023),
            (name[:1].upper() + name[1:], 512),
        )
    )
    extension = " ".join(f"{key}={_cef_value(value)}" for key, value in pairs)
    return f"CEF:0|{header}|{CEF_SEVERITY.get(event.severity, 3)}|{extension}"


def cef_messages(event: SecurityEvent, *, facility: int, limit: int | None) -> list[bytes]:
    """RFC 5424 message(s) whose MSG is a CEF record (no SD, no BOM)."""
    head = _header(event, facility).encode("utf-8", "surrogateescape") + b" - "
    whole = head + cef_message(event).encode("utf-8", "surrogateescape")
    if limit is None or len(whole) <= limit:
        return [whole]
    fixed, further = _cef_pairs(event)
    fixed = [(k, v) for k, v in fixed if k in ("rt", "externalId")]
    rest = [p for p in _cef_pairs(event)[0] if p not in fixed] + further
    base = len(head) + len(cef_message(event, [*fixed, ("part", "999/999")]).encode())
    room = limit - base - 8
    if room < 64:
        raise ValueError("a syslog message limit this small cannot carry an event")
    chunks: list[list[tuple[str, str]]] = [[]]
    used = 0
    for key, value in rest:
        if len(f" {key}={_cef_value(value)}".encode("utf-8", "surrogateescape")) > room:
            value = _fit(value, room - len(key) - 2, _cef_value)
        text = f" {key}={_cef_value(value)}"
        cost = len(text.encode("utf-8", "surrogateescape"))
        if used + cost > room and chunks[-1]:
            chunks.append([])
            used = 0
        chunks[-1].append((key, value))
        used += cost
    total = len(chunks)
    return [
        head
        + cef_message(event, [*fixed, ("part", f"{n}/{total}"), *chunk]).encode(
            "utf-8", "surrogateescape"
        )
        for n, chunk in enumerate(chunks, 1)
    ]


def octet_frame(message: bytes) -> bytes:
    """RFC 6587 octet counting (also RFC 5425's framing over TLS): ``LEN SP MSG``."""
    return b"%d " % len(message) + message


# -- JSON ---------------------------------------------------------------------------------
def _dumps(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=True, separators=(",", ":")).encode()


def json_document(event: SecurityEvent) -> dict[str, Any]:
    """The event as one JSON object (every field, ``@timestamp`` for Elasticsearch)."""
    document = event.to_dict()
    document["@timestamp"] = event.time_text
    return document


def hec_event(
    event: SecurityEvent, *, source: str, sourcetype: str, index: str | None = None
) -> bytes:
    """One HEC event object: ``time`` in epoch seconds (ms precision), the event as ``event``."""
    body: dict[str, Any] = {
        "time": round(event.time, 3),
        "host": event.host or "unknown",
        "source": source,
        "sourcetype": sourcetype,
    }
    if index:
        body["index"] = index
    body["event"] = event.to_dict()
    return _dumps(body)


def bulk_lines(event: SecurityEvent, *, index: str) -> bytes:
    """A ``create`` action (``_id`` = the event id, so a resend is a 409) and the document."""
    action = {"create": {"_index": index, "_id": event.id}}
    return _dumps(action) + b"\n" + _dumps(json_document(event)) + b"\n"


def jsonl_line(event: SecurityEvent) -> bytes:
    """One JSON object per line (for Fluent Bit or Vector to pick up)."""
    return _dumps(event.to_dict()) + b"\n"
