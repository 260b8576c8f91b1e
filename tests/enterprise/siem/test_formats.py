"""Wire formats, byte for byte: RFC 5424 (+ CEF), RFC 6587 framing, HEC, bulk, JSONL."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from importobot._version import __version__
from importobot.events import SecurityEvent
from importobot_enterprise.siem import formats

ID = "0123456789abcdef0123456789abcdef"
RUN = "fedcba9876543210fedcba9876543210"
T = 1796040000.25  # 2026-11-30T12:00:00.250Z


def fixed(**fields: object) -> SecurityEvent:
    base: dict[str, object] = {
        "id": ID,
        "run_id": RUN,
        "time": T,
        "host": "build-7",
        "user": "ci",
        "tool_version": "9.9.9",
    }
    base.update(fields)
    kind = str(base.pop("type", "commit.blocked"))
    return SecurityEvent(kind, **base)  # type: ignore[arg-type]


def test_rfc5424_message_exactly() -> None:
    event = fixed(
        severity="error",
        rule="IOB101",
        path=".env",
        line=3,
        counts={"findings": 2},
        payload={"seq": 42, "note": 'a"b]c\\d', "tags": ["x", "y"], "ok": True},
    )
    [message] = formats.syslog_messages(event, pen=32473, facility=4)
    assert message == (
        b"<35>1 2026-11-30T12:00:00.250Z build-7 importobot - commit.blocked "
        b'[importobot@32473 id="0123456789abcdef0123456789abcdef" type="commit.blocked" '
        b'severity="error" rule="IOB101" path=".env" line="3" '
        b'run_id="fedcba9876543210fedcba9876543210" host="build-7" user="ci" '
        b'tool_version="9.9.9"]'
        b'[importobot-counts@32473 findings="2"]'
        b'[importobot-payload@32473 seq="42" note="a\\"b\\]c\\\\d" tags="x" tags="y" ok="true"] '
        b"\xef\xbb\xbfcommit.blocked rule=IOB101 path=.env:3 findings=2"
    )


def test_header_fields_are_printable_ascii_within_limits() -> None:
    event = fixed(host="h\u00e9te with space" + "x" * 300, type="custom." + "a" * 32)
    [message] = formats.syslog_messages(event, pen=1, facility=10)
    head, stamp, host, app, procid, msgid, rest = message.split(b" ", 6)
    assert head == b"<86>1"  # authpriv(10)*8 + info(6), version 1
    assert stamp == b"2026-11-30T12:00:00.250Z"
    assert len(host) <= 255 and all(33 <= c <= 126 for c in host)
    assert app == b"importobot" and procid == b"-"
    assert len(msgid) <= 32 and msgid.startswith(b"custom.")
    assert rest.startswith(b"[importobot@1 ")


def test_the_pen_is_configurable_and_sd_ids_stay_within_32() -> None:
    [message] = formats.syslog_messages(fixed(payload={"a": 1}), pen=4294967295, facility=4)
    for sd_id in re.findall(rb"\[([^ \]]+)", message):
        assert len(sd_id) <= 32
    assert b'[importobot-payload@4294967295 a="1"]' in message


def test_cef_payload_exactly_and_without_bom() -> None:
    event = fixed(
        severity="warning",
        rule="IOB301",
        fingerprint="iobfp1:0123456789abcdef",
        payload={"seq": 1, "text": "a=b\\c|d\nline", "rt": "clash"},
    )
    [message] = formats.syslog_messages(event, pen=32473, facility=4, fmt="cef")
    head, cef = message.split(b" - CEF:", 1)
    cef = b"CEF:" + cef
    assert head == b"<36>1 2026-11-30T12:00:00.250Z build-7 importobot - commit.blocked"
    assert formats.BOM not in message
    assert (
        cef
        == (
            f"CEF:0|importobot|importobot|{__version__}|commit.blocked|Commit blocked|6|"
            "rt=1796040000250 externalId=0123456789abcdef0123456789abcdef dvchost=build-7 "
            "suser=ci cs1Label=rule cs1=IOB301 cs2Label=fingerprint cs2=iobfp1:0123456789abcdef "
            "cs5Label=run_id cs5=fedcba9876543210fedcba9876543210 "
            # the event escaped the backslash and newline (printable()); CEF escapes again
            "seq=1 text=a\\=b\\\\\\\\c|d\\\\nline payload_rt=clash"
        ).encode()
    )


def test_cef_header_escapes_pipe_and_backslash() -> None:
    assert formats._cef_header("a|b\\c") == "a\\|b\\\\c"
    assert formats._cef_value("a=b\\c\r\n") == "a\\=b\\\\c\\r\\n"


def test_octet_counting_frame() -> None:
    assert formats.octet_frame(b"<14>1 - - - - - -") == b"17 <14>1 - - - - - -"
    data = "é".encode()
    assert formats.octet_frame(data) == b"2 " + data  # octets, not characters


def _params(message: bytes) -> list[tuple[str, str]]:
    sd = message.decode("utf-8").split(" ", 7)[7]
    return re.findall(r'(\S+?)="((?:[^"\\]|\\.)*)"', sd)


@settings(max_examples=60, deadline=None)
@given(
    path=st.text(min_size=0, max_size=5000),
    payload=st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True),
        st.text(max_size=1500),
        max_size=12,
    ),
    fmt=st.sampled_from(["rfc5424", "cef"]),
)
def test_udp_messages_never_pass_2048_octets(path: str, payload: dict[str, str], fmt: str) -> None:
    event = fixed(path=path or None, payload=payload)
    messages = formats.syslog_messages(event, pen=32473, facility=4, fmt=fmt, limit=2048)
    assert all(len(m) <= 2048 for m in messages)
    for m in messages:
        m.decode("utf-8")  # every part is valid UTF-8 on its own
        assert ID.encode() in m  # every part names the event
    if len(messages) > 1:
        total = len(messages)
        for number, m in enumerate(messages, 1):
            assert f'part="{number}/{total}"'.encode() in m or (
                f"part={number}/{total}".encode() in m
            )
    if fmt == "rfc5424":
        names = {name for m in messages for name, _ in _params(m)}
        assert set(payload) <= names  # every payload field travels (perhaps shortened)


def test_a_long_event_splits_into_complete_messages() -> None:
    event = fixed(path="d/" * 2000, payload={f"p{i}": "v" * 200 for i in range(30)})
    messages = formats.syslog_messages(event, pen=32473, facility=4, limit=2048)
    assert len(messages) > 2
    for m in messages:
        assert m.startswith(b"<38>1 2026-11-30T12:00:00.250Z build-7 importobot - ")
        assert m.count(b"[importobot@32473 ") == 1


def test_hec_event_shape() -> None:
    event = fixed(payload={"seq": 7})
    body = formats.hec_event(event, source="importobot", sourcetype="importobot:event", index="sec")
    data = json.loads(body)
    assert list(data) == ["time", "host", "source", "sourcetype", "index", "event"]
    assert data["time"] == 1796040000.25
    assert data["event"] == event.to_dict()
    assert data["event"]["payload"]["seq"] == 7
    assert body == json.dumps(data, separators=(",", ":")).encode()


def test_bulk_lines_are_create_with_the_event_id() -> None:
    event = fixed()
    action, doc, end = formats.bulk_lines(event, index="importobot-events").split(b"\n")
    assert end == b""
    assert json.loads(action) == {"create": {"_index": "importobot-events", "_id": ID}}
    document = json.loads(doc)
    assert document["id"] == ID and document["@timestamp"] == "2026-11-30T12:00:00.250Z"


def test_jsonl_is_one_object_per_line() -> None:
    line = formats.jsonl_line(fixed(payload={"x": "a\nb"}))
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line)["payload"]["x"] == "a\\nb"  # control characters escaped at birth


@pytest.mark.parametrize("severity,pri", [("info", 38), ("critical", 34), ("notice", 37)])
def test_severity_maps_to_pri(severity: str, pri: int) -> None:
    [message] = formats.syslog_messages(fixed(severity=severity), pen=1, facility=4)
    assert message.startswith(f"<{pri}>1 ".encode())


def test_a_long_cef_event_splits_into_complete_records() -> None:
    event = fixed(path="d/" * 1500, payload={f"p{i}": "v=" * 150 for i in range(20)})
    messages = formats.syslog_messages(event, pen=32473, facility=4, fmt="cef", limit=2048)
    assert len(messages) > 2 and all(len(m) <= 2048 for m in messages)
    total = len(messages)
    for number, message in enumerate(messages, 1):
        head, cef = message.split(b" - CEF:", 1)
        assert head.startswith(b"<38>1 ") and formats.BOM not in message
        assert cef.startswith(b"0|importobot|importobot|")
        assert f"externalId={ID} part={number}/{total}".encode() in cef
    keys = {k for m in messages for k in re.findall(rb" (p\d+)=", m)}
    assert keys == {f"p{i}".encode() for i in range(20)}


def test_a_limit_too_small_for_an_event_is_refused() -> None:
    big = fixed(payload={"x": "y" * 600})
    with pytest.raises(ValueError, match="limit this small"):
        formats.syslog_messages(big, pen=32473, facility=4, limit=180)
    with pytest.raises(ValueError, match="limit this small"):
        formats.syslog_messages(big, pen=32473, facility=4, fmt="cef", limit=200)
