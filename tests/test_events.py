"""importobot.events: the event record, its redaction, and sinks found through entry points."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from importobot import events, plugins
from importobot.events import (
    SEVERITIES,
    VOCABULARY,
    EventError,
    SecurityEvent,
    check_param_name,
    emit,
    emit_event,
    event_from_finding,
    event_type,
    redact,
)
from importobot.keys.fingerprint import fingerprint, fingerprint_opaque, is_fingerprint
from tests import eventsink
from tests.keygen import contains_key, new_raw, spellings


@pytest.fixture(autouse=True)
def _fresh_events(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No sink cache between tests, and no user configuration leaking in."""
    events._reset()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


def _all_spellings(raw: bytes) -> list[str]:
    std = base64.b64encode(raw).decode()
    return [*spellings(raw), "base64:" + std]


def _blob(event: SecurityEvent) -> str:
    return json.dumps(event.to_dict()) + repr(event)


# -- the record ---------------------------------------------------------------------------
def test_vocabulary_is_d23s() -> None:
    assert sorted(VOCABULARY) == sorted(
        [
            "commit.blocked",
            "push.rejected",
            "check.findings",
            "key.check_failed",
            "key.stale",
            "key.compromised",
            "key.stored",
            "key.registered",
            "key.retired",
            "key.wrapped",
            "key.rewrapped",
            "kek.created",
            "kek.rotated",
            "hsm.changed",
            "rotation.started",
            "rotation.finished",
            "rotation.failed",
            "fix.applied",
            "compliance.report",
            "org_scan.finished",
            "events.test",
            "spool.dropped",
        ]
    )


def test_defaults_are_filled_in() -> None:
    import importobot

    before = time.time()
    a = SecurityEvent("key.stale", severity="warning", fingerprint=fingerprint(new_raw()))
    b = SecurityEvent("key.stale")
    assert len(a.id) == 32 and int(a.id, 16) >= 0 and a.id != b.id
    assert a.run_id == b.run_id == events.run_id() and len(a.run_id) == 32
    assert before <= a.time <= time.time()
    assert a.time_text.endswith("Z") and a.time_text[10] == "T" and len(a.time_text) == 24
    assert a.tool_version == importobot.__version__
    assert a.host == os.uname().nodename
    assert a.user
    assert a.counts == {} and a.payload == {}


def test_time_text_is_rfc3339_utc() -> None:
    e = SecurityEvent("events.test", time=1_700_000_000.1234)
    assert e.time_text == "2023-11-14T22:13:20.123Z"
    assert SecurityEvent("events.test", time=59.9999).time_text == "1970-01-01T00:01:00.000Z"


def test_round_trip_through_dict() -> None:
    e = SecurityEvent(
        "rotation.finished",
        severity="notice",
        repository="https://github.com/o/r",
        counts={"rotated": 3, "failed": 0},
        payload={"store": "files:a.env", "ids": [1, "x"], "ok": True, "ratio": 0.5},
        fingerprint=fingerprint(new_raw()),
    )
    data = json.loads(json.dumps(e.to_dict()))
    again = SecurityEvent.from_dict(data)
    assert again.to_dict() == e.to_dict()
    assert again.id == e.id and abs(again.time - e.time) < 0.001


@pytest.mark.parametrize(
    ("name", "expected"),
    [("commit.blocked", "commit.blocked"), ("login", "custom.login"), ("custom.x", "custom.x")],
)
def test_free_form_types_are_custom(name: str, expected: str) -> None:
    assert event_type(name) == expected
    assert SecurityEvent(event_type(name)).type == expected


@pytest.mark.parametrize("bad", ["login", "custom.", "custom.a b", "custom." + "x" * 33, ""])
def test_unknown_types_are_refused(bad: str) -> None:
    with pytest.raises(EventError, match="type"):
        SecurityEvent(bad)


PARAM_NAMES = [
    ("seq", True),
    ("a-b.c_d:e", True),
    ("x" * 30 + ".y", True),
    ("", False),
    ("x" * 33, False),
    ("a=b", False),
    ("a b", False),
    ("a]b", False),
    ('a"b', False),
    ("caf\u00e9", False),
    ("tab\there", False),
    ("del\x7f", False),
]


@pytest.mark.parametrize(("name", "ok"), PARAM_NAMES)
def test_payload_keys_are_rfc5424_param_names(name: str, ok: bool) -> None:
    if ok:
        assert check_param_name(name) == name
        assert SecurityEvent("events.test", payload={name: 1}).payload == {name: 1}
        assert SecurityEvent("events.test", counts={name: 1}).counts == {name: 1}
    else:
        with pytest.raises(EventError, match="PARAM-NAME"):
            SecurityEvent("events.test", payload={name: 1})
        with pytest.raises(EventError, match="PARAM-NAME"):
            SecurityEvent("events.test", counts={name: 1})


def test_a_key_shaped_payload_key_is_refused_unshown() -> None:
    name = new_raw()[:16].hex()  # 32 hex characters: a valid PARAM-NAME, and a 16-byte key
    with pytest.raises(EventError) as info:
        SecurityEvent("events.test", payload={name: 1})
    assert name not in str(info.value) and "key-shaped" in str(info.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("severity", "fatal"),
        ("rule", "X101"),
        ("rule", "IOB101,"),
        ("line", 0),
        ("line", True),
        ("commit", "ABCDEF12"),
        ("commit", "xyz"),
        ("counts", {"n": -1}),
        ("counts", {"n": True}),
        ("id", "nothex"),
        ("run_id", "0" * 31),
        ("time", -1),
    ],
)
def test_fixed_shape_fields_are_checked(field: str, value: object) -> None:
    with pytest.raises(EventError, match=field):
        SecurityEvent("events.test", **{field: value})  # type: ignore[arg-type]


def test_a_key_in_the_fingerprint_field_is_refused_unshown() -> None:
    for text in _all_spellings(new_raw()):
        with pytest.raises(EventError) as info:
            SecurityEvent("key.stale", fingerprint=text)
        assert text not in str(info.value)


def test_fields_accept_their_shapes() -> None:
    e = SecurityEvent(
        "check.findings",
        severity="error",
        rule="IOB101,IOB102",
        path="config/.env",
        line=7,
        commit="0123456789abcdef0123456789abcdef01234567",
        counts={"findings": 2, "IOB101": 1, "IOB102": 1},
    )
    assert (e.rule, e.path, e.line, e.severity) == ("IOB101,IOB102", "config/.env", 7, "error")
    assert set(SEVERITIES) == {"info", "notice", "warning", "error", "critical"}


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pa55@github.com/o/r.git", "https://github.com/o/r.git"),
        ("https://ghp_tokenvalue@github.com/o/r", "https://github.com/o/r"),
        ("ssh://git@host:22/o/r", "ssh://host:22/o/r"),
        ("git@github.com:o/r.git", "git@github.com:o/r.git"),
        ("/srv/repos/r", "/srv/repos/r"),
        ("https://a:b@c@host/x", "https://host/x"),
    ],
)
def test_repository_loses_user_and_password(url: str, shown: str) -> None:
    assert SecurityEvent("events.test", repository=url).repository == shown


def test_control_characters_and_undecodable_names_are_escaped() -> None:
    name = os.fsdecode(b"a\nb\xff.env")
    e = SecurityEvent("commit.blocked", path=name, payload={"note": "x\r\ny\x1b[31m"})
    assert e.path == "a\\nb\\xff.env"
    assert e.payload["note"] == "x\\r\\ny\\x1b[31m"
    json.dumps(e.to_dict()).encode("utf-8")  # always encodable


# -- no key, token, plaintext or connector secret -------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "",
        "short",
        "config/settings/production.env",
        "src/importobot/keys/material.py",
        "plaintext encryption key in an env-style file",
        "iobfp1:0123456789abcdef",
        "https://github.com/importobot/importobot",
        "x" * 40,
    ],
)
def test_redact_keeps_ordinary_text(text: str) -> None:
    assert redact(text) == text


def test_redact_keeps_context_around_a_key() -> None:
    raw = new_raw()
    fp = fingerprint(raw)
    key = base64.urlsafe_b64encode(raw).decode()
    assert redact(f"APP_KEY={key} # set by ops") == f"APP_KEY={fp} # set by ops"
    assert redact(f"k{raw.hex()}") == f"k{fp}"
    glued = redact(f"ab{key}cd")  # a random run: replaced whole, never cut into pieces
    assert not contains_key(glued, raw) and glued.startswith("iobfp1:") and glued.endswith("cd")
    filler = "a" * 200  # not random: only the key inside is replaced
    assert redact(filler + key) == filler + fp
    assert redact("x" * 200 + key + "y" * 20) == "x" * 200 + fp + "y" * 20


CONTEXTS = ["{k}", "KEY={k}", "url https://h/x?key={k}&a=1", '"{k}"', "key: {k}, more"]


@pytest.mark.parametrize("context", CONTEXTS)
def test_key_shaped_payload_values_become_fingerprints(context: str) -> None:
    raw = new_raw()
    for text in _all_spellings(raw):
        value = context.format(k=text)
        e = SecurityEvent(
            "events.test", payload={"value": value, "list": [value]}, path=value, host=value
        )
        assert not contains_key(_blob(e), raw), (context, text)
        assert fingerprint(raw) in e.payload["value"]  # type: ignore[operator]


@pytest.mark.parametrize("size", [16, 24, 48, 64])
def test_other_key_sizes_and_opaque_secrets(size: int) -> None:
    raw = secrets.token_bytes(size)
    # An opaque random secret whose base64-ish runs are all short: judged as a whole word.
    opaque = "".join(
        secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ")
        + secrets.choice("abcdefghijkmnpqrstuvwxyz")
        + secrets.choice("23456789")
        + secrets.choice("!%&*")
        for _ in range(10)
    )
    token = secrets.token_urlsafe(40)
    e = SecurityEvent(
        "events.test",
        payload={"a": base64.b64encode(raw).decode(), "b": opaque, "c": token + "!%"},
    )
    blob = _blob(e)
    assert not contains_key(blob, raw)
    assert opaque[:16] not in blob and token[:16] not in blob
    assert e.payload["a"] == fingerprint(raw)
    assert e.payload["b"] == fingerprint_opaque(opaque)
    assert e.payload["c"] == fingerprint_opaque(token) + "!%"


def test_weak_key_sized_values_carry_no_fingerprint() -> None:
    weak = base64.b64encode(bytes(range(32))).decode()  # sequential bytes: weak (D4)
    assert SecurityEvent("events.test", payload={"v": weak}).payload["v"] == "[redacted]"


def test_fernet_tokens_and_plaintexts_never_appear() -> None:
    from importobot.security import CredentialManager

    raw = new_raw()
    manager = CredentialManager(raw)
    token = manager.encrypt_credential("correct horse battery").token
    e = SecurityEvent("events.test", payload={"stored": token, "line": f"DB_PASSWORD={token}"})
    blob = _blob(e)
    assert token not in blob and token[:20] not in blob and "correct horse" not in blob
    assert e.payload["stored"] == fingerprint_opaque(token)


def test_pem_private_keys_are_replaced() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    body = "".join(pem.splitlines()[1:-1])
    e = SecurityEvent("events.test", payload={"pem": pem, "inline": pem.replace("\n", "\\n")})
    blob = _blob(e)
    assert body[:24] not in blob and "PRIVATE KEY" not in blob
    assert is_fingerprint(str(e.payload["pem"]))


def test_secret_named_payload_keys_keep_no_text() -> None:
    fp = fingerprint(new_raw())
    e = SecurityEvent(
        "events.test",
        payload={
            "password": "hunter2",
            "api_key": "abc",
            "hec-token": "tok",
            "key": "something",
            "key_type": "fernet",
            "key_fingerprint": fp,
            "token": fp,
            "token_count": 3,
        },
    )
    assert e.payload == {
        "password": "[redacted]",
        "api_key": "[redacted]",
        "hec-token": "[redacted]",
        "key": "[redacted]",
        "key_type": "fernet",
        "key_fingerprint": fp,
        "token": fp,
        "token_count": 3,
    }


def test_known_secret_variables_never_appear(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMPORTOBOT_EVENTS_TOKEN_CORP_SPLUNK", "short-hec-token")
    monkeypatch.setenv("IMPORTOBOT_PKCS11_PIN", "4321")
    monkeypatch.setenv("VAULT_TOKEN", "hvs.notakeyshape")
    e = SecurityEvent(
        "events.test",
        path="logs/short-hec-token.txt",
        payload={"pin": "4321", "msg": "vault said hvs.notakeyshape", "n": "4321"},
    )
    blob = _blob(e)
    assert "short-hec-token" not in blob and "hvs.notakeyshape" not in blob
    assert e.payload["n"] == "[redacted]"


_SEPARATORS = st.sampled_from(["", " ", "=", ": ", "/", "?k=", "\t", ",", '"', "'", "(", "\n"])


@settings(max_examples=150, deadline=None)
@given(
    st.binary(min_size=32, max_size=32),
    st.integers(min_value=0, max_value=7),
    st.lists(st.tuples(st.text(max_size=12), _SEPARATORS), max_size=4),
)
def test_no_spelling_of_a_key_survives(
    raw: bytes, which: int, around: list[tuple[str, str]]
) -> None:
    from importobot.keys.material import weakness

    if weakness(raw) is not None:
        return  # a weak value is [redacted] or not key-shaped at all (D4); covered above
    text = _all_spellings(raw)[which % len(_all_spellings(raw))]
    value = "".join(a + s for a, s in around) + text + "".join(s + a for a, s in around)
    e = SecurityEvent("events.test", payload={"v": value}, path=value)
    assert not contains_key(_blob(e), raw)


def test_events_from_the_scanners_findings_hold_no_key(tmp_path: Path) -> None:
    from importobot.scan.rules.files import scan_file

    raw = new_raw()
    std = base64.b64encode(raw).decode()
    files = {
        ".env": f"APP_KEY=base64:{std}\nFERNET_KEY={base64.urlsafe_b64encode(raw).decode()}\n",
        "settings.py": f'SECRET_KEY = "{raw.hex()}"\n',
        "k" + raw[:16].hex() + ".env": f"k{raw.hex()}={std}\n",
    }
    found = []
    for name, text in files.items():
        for finding in scan_file(name, text.encode()):
            found.append(finding)
            e = event_from_finding(finding, repository="https://u:p@example.invalid/r")
            assert e.rule == finding.rule and e.fingerprint == finding.fingerprint
            assert not contains_key(_blob(e), raw), name
            assert raw[:16].hex() not in _blob(e)
    assert len(found) >= 3


def test_events_from_a_real_rotation_hold_no_key_token_or_plaintext(tmp_path: Path) -> None:
    from importobot.security import CredentialManager
    from importobot_enterprise.key_rotation import FileStore, rotate_store

    old, new = new_raw(), new_raw()
    old_manager = CredentialManager(old)
    new_manager = CredentialManager(new, previous_keys=[old])
    plaintexts = [f"plain-{i}-{secrets.token_hex(4)}" for i in range(5)]
    old_tokens = [old_manager.encrypt_credential(p).token for p in plaintexts]
    store_file = tmp_path / "creds.env"
    store_file.write_text("".join(f"V{i}={t}\n" for i, t in enumerate(old_tokens)))
    report = rotate_store(FileStore(str(store_file)), old_manager, new_manager)
    new_tokens = [line.split("=", 1)[1] for line in store_file.read_text().splitlines()]
    assert report.rotated == 5
    summary = report.to_json()
    e = SecurityEvent(
        "rotation.finished",
        fingerprint=report.target_fingerprint,
        counts={k: v for k, v in summary.items() if isinstance(v, int) and not isinstance(v, bool)},
        # A careless emitter hands over everything it saw: still nothing secret gets out.
        payload={
            "store": report.store,
            "sources": report.source_fingerprints,
            "old": old_tokens,
            "new": new_tokens,
            "detail": " ".join(old_tokens + new_tokens),
        },
    )
    blob = _blob(e)
    for raw in (old, new):
        assert not contains_key(blob, raw)
    for token in old_tokens + new_tokens:
        assert token not in blob
    for plain in plaintexts:
        assert plain not in blob


# -- sinks through the real entry-point path ---------------------------------------------------
@pytest.fixture
def sink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = eventsink.install(tmp_path)
    monkeypatch.syspath_prepend(env["IMPORTOBOT_TEST_SINK_SITE"])
    monkeypatch.setenv("IMPORTOBOT_TEST_SINK_FILE", env["IMPORTOBOT_TEST_SINK_FILE"])
    sys.modules.pop(eventsink.SINK_MODULE, None)
    eventsink.only_test_sinks(monkeypatch)
    return env


def _repo(tmp_path: Path, config: str | None) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir(exist_ok=True)
    if config is not None:
        (repo / "pyproject.toml").write_text(config)
    return repo


EVENTS_CONFIG = (
    "[tool.importobot]\nexclude = []\n[[tool.importobot.events.connector]]\n"
    'name = "local"\ntype = "syslog"\nurl = "tcp://127.0.0.1:5514"\n'
)


def test_configured_repository_events_reach_the_sink(tmp_path: Path, sink: dict[str, str]) -> None:
    repo = _repo(tmp_path, EVENTS_CONFIG)
    raw = new_raw()
    sent = emit_event(
        "commit.blocked",
        root=str(repo),
        rule="IOB101",
        path=".env",
        line=1,
        fingerprint=fingerprint(raw),
        payload={"value": base64.b64encode(raw).decode()},
    )
    assert sent is not None
    [record] = eventsink.recorded(sink)
    assert record["event"] == sent.to_dict()
    assert record["config"] == {
        "root": str(repo),
        "repository_source": str(repo / "pyproject.toml"),
        "repository_table": {
            "connector": [{"name": "local", "type": "syslog", "url": "tcp://127.0.0.1:5514"}]
        },
        "outside_source": None,
        "outside_table": None,
    }
    assert not contains_key(json.dumps(record), raw)


def test_settings_the_caller_loaded_are_used(tmp_path: Path, sink: dict[str, str]) -> None:
    from importobot.config import load_settings

    repo = _repo(tmp_path, EVENTS_CONFIG)
    s = load_settings(repo)
    (repo / "pyproject.toml").unlink()  # not read again
    assert emit(SecurityEvent("key.stale"), root=str(repo), settings=s) == 1


@pytest.mark.parametrize(
    "config",
    [None, '[project]\nname = "x"\n', '[tool.importobot]\nexclude = ["a"]\n'],
    ids=["no-config", "pyproject-without-table", "table-without-events"],
)
def test_nothing_configured_nothing_built_or_sent(
    tmp_path: Path, sink: dict[str, str], monkeypatch: pytest.MonkeyPatch, config: str | None
) -> None:
    repo = _repo(tmp_path, config)
    looked_up: list[str] = []
    monkeypatch.setattr(plugins, "entry_points", lambda group: looked_up.append(group) or {})
    assert emit_event("commit.blocked", root=str(repo), rule="IOB101") is None
    assert emit(SecurityEvent("key.stale"), root=str(repo)) == 0
    assert not events.configured(str(repo))
    assert looked_up == [] and eventsink.recorded(sink) == []


def test_the_outside_file_turns_events_on(
    tmp_path: Path, sink: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "events.toml"
    outside.write_text('[events]\n[[events.connector]]\nname = "corp"\ntype = "splunk-hec"\n')
    monkeypatch.setenv("IMPORTOBOT_EVENTS_CONFIG", str(outside))
    repo = _repo(tmp_path, None)
    assert emit_event("key.check_failed", root=str(repo), severity="error") is not None
    [record] = eventsink.recorded(sink)
    assert record["config"]["outside_source"] == str(outside)  # type: ignore[index]
    assert record["config"]["outside_table"] == {  # type: ignore[index]
        "connector": [{"name": "corp", "type": "splunk-hec"}]
    }
    assert record["config"]["repository_table"] is None  # type: ignore[index]


def test_the_user_file_is_read_only_when_events_are_on(
    tmp_path: Path, sink: dict[str, str]
) -> None:
    user = tmp_path / "xdg" / "importobot" / "events.toml"
    user.parent.mkdir(parents=True)
    user.write_text('[events]\n[[events.connector]]\nname = "corp"\ntype = "elastic"\n')
    bare = _repo(tmp_path, None)
    assert emit_event("key.stale", root=str(bare)) is None  # the user file alone: off
    events._reset()
    repo = _repo(tmp_path, '[tool.importobot.events]\nuse = ["corp"]\n')
    assert emit_event("key.stale", root=str(repo)) is not None
    [record] = eventsink.recorded(sink)
    config = record["config"]
    assert config["repository_table"] == {"use": ["corp"]}  # type: ignore[index]
    assert config["outside_source"] == str(user)  # type: ignore[index]
    assert config["outside_table"] == {  # type: ignore[index]
        "connector": [{"name": "corp", "type": "elastic"}]
    }


def test_sinks_are_looked_up_once_per_run(
    tmp_path: Path, sink: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _repo(tmp_path, EVENTS_CONFIG)
    real = plugins.entry_points
    calls: list[str] = []

    def counting(group: str) -> dict[str, object]:
        calls.append(group)
        return real(group)  # type: ignore[return-value]

    monkeypatch.setattr(plugins, "entry_points", counting)
    for _ in range(3):
        emit_event("key.stale", root=str(repo))
    assert calls == ["importobot.event_sinks"]
    assert len(eventsink.recorded(sink)) == 3


def test_a_failing_sink_never_reaches_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = eventsink.install(
        tmp_path,
        {"a-fails": "fail_on_emit", "b-cannot-start": "fail_on_start", "c-record": "record"},
    )
    monkeypatch.syspath_prepend(env["IMPORTOBOT_TEST_SINK_SITE"])
    monkeypatch.setenv("IMPORTOBOT_TEST_SINK_FILE", env["IMPORTOBOT_TEST_SINK_FILE"])
    raw = new_raw()
    monkeypatch.setenv("IMPORTOBOT_TEST_SINK_SECRET", base64.b64encode(raw).decode())
    sys.modules.pop(eventsink.SINK_MODULE, None)
    eventsink.only_test_sinks(monkeypatch)
    repo = _repo(tmp_path, EVENTS_CONFIG)
    assert emit(SecurityEvent("commit.blocked"), root=str(repo)) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "importobot: events: sink 'b-cannot-start' could not start: ValueError",
        "importobot: events: sink 'a-fails' failed: RuntimeError",
    ]
    assert not contains_key(err, raw)
    assert len(eventsink.recorded(env)) == 1


def test_configured_without_a_sink_says_which_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(plugins, "entry_points", lambda group: {})
    repo = _repo(tmp_path, EVENTS_CONFIG)
    assert emit_event("commit.blocked", root=str(repo)) is None
    assert emit_event("commit.blocked", root=str(repo)) is None
    assert capsys.readouterr().err == (
        "importobot: events: events are configured but no event sink is installed: "
        "event forwarding needs the 'enterprise' extra: pip install 'importobot[enterprise]'\n"
    )


def test_bad_configuration_is_one_line_not_an_exception(
    tmp_path: Path, sink: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo(tmp_path, "[tool.importobot]\nevents = = 1\n")
    assert emit_event("commit.blocked", root=str(repo)) is None
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "invalid TOML" in err[0]


def test_a_bad_field_with_a_sink_is_one_line(
    tmp_path: Path, sink: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _repo(tmp_path, EVENTS_CONFIG)
    raw = new_raw()
    assert emit_event("commit.blocked", root=str(repo), fingerprint=raw.hex()) is None
    err = capsys.readouterr().err
    assert err.startswith("importobot: events: event 'commit.blocked' not sent: fingerprint")
    assert not contains_key(err, raw) and eventsink.recorded(sink) == []


def test_a_declining_sink_is_not_loaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = eventsink.install(tmp_path, {"quiet": "decline"})
    monkeypatch.syspath_prepend(env["IMPORTOBOT_TEST_SINK_SITE"])
    sys.modules.pop(eventsink.SINK_MODULE, None)
    eventsink.only_test_sinks(monkeypatch)
    repo = _repo(tmp_path, EVENTS_CONFIG)
    assert emit_event("commit.blocked", root=str(repo)) is None
    assert not events.configured(str(repo))


def test_in_a_fresh_process_sinks_are_found_and_closed_at_exit(tmp_path: Path) -> None:
    env = eventsink.install(tmp_path)
    repo = _repo(tmp_path, EVENTS_CONFIG)
    code = (
        "from importobot.events import emit_event\n"
        "import sys\n"
        "e = emit_event('commit.blocked', rule='IOB101', path='.env', line=2)\n"
        "print(e.id)\n"
    )
    full = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    full.update(env)
    full["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=repo,
        env=full,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    [record] = eventsink.recorded(env)
    assert record["event"]["id"] == proc.stdout.strip()  # type: ignore[index]
    assert record["event"]["path"] == ".env"  # type: ignore[index]
    assert Path(env["IMPORTOBOT_TEST_SINK_FILE"] + ".closed").read_text() == "closed\n"


def test_docs_list_every_field_and_type() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "events.md").read_text()
    fields = {
        line.split("|")[1].strip().strip("`")
        for line in doc.split("## What an event holds")[1].split("Types:")[0].splitlines()
        if line.startswith("| `")
    }
    assert fields == set(SecurityEvent.__slots__)
    for name in VOCABULARY:
        assert f"`{name}`" in doc, name
