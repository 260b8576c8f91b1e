"""The wrapped-key source (D24): format, D9 filter, source order, trust rules, failures.

Trust tests prove "refused without contacting anything" with a real loopback listener
that records every connection; positive paths unwrap through a real SoftHSM2 token.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from importobot.exceptions import (
    InvalidKeyError,
    KeyBackendUnavailableError,
    MissingDependencyError,
    MissingKeyError,
    SecurityError,
)
from importobot.keys.fingerprint import fingerprint
from importobot.keys.registry import Registry
from importobot.keys.wrapped import WrappedKey, parse_wrapped, quote_uri, unquote_uri
from importobot.scan.filters import content_filter
from importobot.security import CredentialManager
from importobot.security.key_sources import (
    RetiredKeyError,
    resolve_previous_keys,
    resolve_primary_key,
)
from importobot.security.key_validation import encode_key
from tests.kek_services import SoftHSM
from tests.keygen import contains_key, new_raw

# -- the format ----------------------------------------------------------------------------


def _sample(uri: str = "pkcs11:token=t;object=k", payload: bytes | None = None) -> WrappedKey:
    raw = new_raw()
    mechanism = {"pkcs11": "aes-gcm", "awskms": "kms"}.get(uri.split(":", 1)[0], "transit")
    return WrappedKey(uri, "1", fingerprint(raw), mechanism, payload or os.urandom(60))


def test_text_round_trips_and_survives_comma_lists() -> None:
    odd = "pkcs11:token=My Token, Inc.;object=k%20x:y"
    wk = _sample(odd)
    text = wk.text
    assert "," not in text and " " not in text and text.startswith("iobwk1:")
    assert parse_wrapped(text) == wk and parse_wrapped(f"  {text}\n") == wk
    assert unquote_uri(quote_uri(odd)) == odd
    # one entry of a comma-separated previous-key list stays one entry
    assert [parse_wrapped(p) for p in f"{text},{text}".split(",")] == [wk, wk]


@pytest.mark.parametrize(
    "edit",
    [
        lambda t: t[:-1],  # truncated payload (leftover bits: not a whole base64url group)
        lambda t: t[: t.rindex(":")],  # no payload
        lambda t: t.replace("iobwk1:", "iobwk2:"),
        lambda t: t.replace(":aes-gcm:", ":AES GCM:"),
        lambda t: t.replace("%3A", "%3G"),
        lambda t: t + "!",
        lambda t: t.replace(":1:", ":1,2:"),
    ],
)
def test_anything_that_does_not_parse_fully_is_refused(edit: object) -> None:
    text = _sample(payload=b"\xff" * 60).text  # fixed: truncation leaves non-zero bits
    bad = edit(text)  # type: ignore[operator]
    assert parse_wrapped(bad) is None
    assert content_filter(bad) != "importobot-wrapped-key"


def test_the_scanner_filters_whole_wrapped_keys_only() -> None:
    text = _sample().text
    assert content_filter(text) == "importobot-wrapped-key"


def test_check_reports_nothing_for_a_committed_wrapped_key(tmp_path: Path) -> None:
    from tests.enterprise.kek.conftest import clean_env, run_cli

    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True, timeout=60)
    text = _sample().text
    (repo / ".importobot-key.wrapped").write_text(text + "\n")
    (repo / ".env").write_text(f"IMPORTOBOT_WRAPPED_KEY={text}\nAPP_SECRET_KEY={text[7:]}\n")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, timeout=60)
    proc = run_cli("check", "--no-key-check", "--format", "json", env=clean_env(), cwd=repo)
    findings = json.loads(proc.stdout)["findings"]
    # The whole wrapped key is filtered; the same text stripped of its prefix is not.
    assert [(f["path"], f["variable"]) for f in findings] == [(".env", "APP_SECRET_KEY")]


# -- order and trust (no backend reached) ------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[tuple[int, list[object]]]:
    """A loopback port that records connection attempts (for "contacted nothing")."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    accepted: list[object] = []

    def drain() -> list[object]:
        while True:
            try:
                conn, _ = server.accept()
            except BlockingIOError:
                return accepted
            accepted.append(conn)
            conn.close()

    yield int(server.getsockname()[1]), accepted
    drain()
    server.close()
    assert not accepted, "a refused wrapped key contacted its backend"


def test_env_key_wins_and_the_wrapped_key_is_not_read(listener: tuple[int, list[object]]) -> None:
    port, _ = listener
    raw = new_raw()
    wk = _sample(f"vault+http://127.0.0.1:{port}/transit/keys/k")
    env = {
        "IMPORTOBOT_ENCRYPTION_KEY": encode_key(raw),
        "IMPORTOBOT_WRAPPED_KEY": wk.text,
        "IMPORTOBOT_KEK": wk.uri,
    }
    resolved = resolve_primary_key(env=env)
    assert resolved.raw == raw and resolved.source.label == "env:IMPORTOBOT_ENCRYPTION_KEY"
    assert resolve_primary_key(encode_key(raw), env=env).source.label == "explicit"


def test_an_untrusted_kek_is_refused_without_contact(listener: tuple[int, list[object]]) -> None:
    port, _ = listener
    wk = _sample(f"vault+http://127.0.0.1:{port}/transit/keys/k")
    for trusted in ("", "vault+http://127.0.0.1:1/transit/keys/k"):
        env = {"IMPORTOBOT_WRAPPED_KEY": wk.text, "IMPORTOBOT_KEK": trusted}
        with pytest.raises(SecurityError, match="is not trusted") as info:
            resolve_primary_key(env=env)
        assert "never chooses what importobot talks to" in str(info.value)


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("vault+http://10.0.0.5:8200/transit/keys/k", "loopback host only"),
        ("vault+http://vault.example.com:8200/transit/keys/k", "loopback host only"),
        ("pkcs11:token=t;object=k;module-path=/tmp/evil.so", "module-path"),
        ("pkcs11:token=t;object=k?pin-value=1234", "pin-value"),
        ("pkcs11:token=t;object=k?module-name=evil", "module-name"),
        ("ftp://127.0.0.1/k", "unknown scheme"),
    ],
)
def test_uris_that_are_never_acted_on(uri: str, why: str) -> None:
    wk = _sample(uri)
    # even when IMPORTOBOT_KEK lists them
    env = {"IMPORTOBOT_WRAPPED_KEY": wk.text, "IMPORTOBOT_KEK": uri}
    with pytest.raises(SecurityError, match=why):
        resolve_primary_key(env=env)


def test_the_kek_list_may_come_from_the_users_config(
    tmp_path: Path, listener: tuple[int, list[object]]
) -> None:
    port, _ = listener
    config = tmp_path / "cfg" / "importobot"
    config.mkdir(parents=True)
    wk = _sample(f"vault+http://127.0.0.1:{port}/transit/keys/k")
    (config / "kek.toml").write_text('uris = ["pkcs11:token=t;object=k"]\n')
    env = {"IMPORTOBOT_WRAPPED_KEY": wk.text, "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    with pytest.raises(SecurityError, match="is not trusted"):
        resolve_primary_key(env=env)
    from importobot.security.key_sources import trusted_kek_uris

    assert trusted_kek_uris(env) == ["pkcs11:token=t;object=k"]


def test_a_missing_extra_is_an_error_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    wk = _sample()
    monkeypatch.setitem(sys.modules, "pkcs11", None)  # python-pkcs11 not installed
    monkeypatch.delitem(sys.modules, "importobot_enterprise.kek.pkcs11", raising=False)
    env = {
        "IMPORTOBOT_WRAPPED_KEY": wk.text,
        "IMPORTOBOT_KEK": wk.uri,
        "IMPORTOBOT_KEYRING_SERVICE": "must-not-be-read",
    }
    with pytest.raises(MissingDependencyError, match=r"'pkcs11' extra: pip install"):
        resolve_primary_key(env=env)


def test_a_malformed_wrapped_key_is_iob202() -> None:
    text = _sample().text[:-7]
    with pytest.raises(InvalidKeyError, match="truncated or malformed") as info:
        resolve_primary_key(env={"IMPORTOBOT_WRAPPED_KEY": text})
    assert info.value.rule == "IOB202"


def test_the_library_does_not_read_the_default_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".importobot-key.wrapped").write_text(_sample().text + "\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MissingKeyError):
        CredentialManager(env={})


# -- through a real SoftHSM2 token ---------------------------------------------------------------


@pytest.fixture
def hsm_kek(softhsm: SoftHSM) -> tuple[str, dict[str, str]]:
    from importobot_enterprise.kek.pkcs11 import PKCS11KEK

    uri = softhsm.uri()
    env = softhsm.env(IMPORTOBOT_KEK=uri)
    PKCS11KEK(uri, env).create()
    return uri, env


def _wrap(uri: str, env: dict[str, str], raw: bytes) -> WrappedKey:
    from importobot_enterprise.kek.pkcs11 import PKCS11KEK

    return PKCS11KEK(uri, env).wrap(raw)


def test_wrapped_env_key_and_wrapped_previous_keys(hsm_kek: tuple[str, dict[str, str]]) -> None:
    uri, env = hsm_kek
    new, old = new_raw(), new_raw()
    old_token = CredentialManager(key=old).encrypt_credential("s3cret").token
    env = {
        **env,
        "IMPORTOBOT_WRAPPED_KEY": _wrap(uri, env, new).text,
        "IMPORTOBOT_PREVIOUS_KEYS": f"{_wrap(uri, env, old).text},{encode_key(new_raw())}",
    }
    # before the keyring (which would fail here: no Secret Service in this process)
    keyring_too = {**env, "IMPORTOBOT_KEYRING_SERVICE": "never-read-for-the-primary-key"}
    assert resolve_primary_key(env=keyring_too).source.label == "wrapped:pkcs11:env"
    manager = CredentialManager(env=env)
    assert manager.key_source.label == "wrapped:pkcs11:env"
    assert manager.key_fingerprint == fingerprint(new)
    assert manager.decrypt_credential(old_token) == "s3cret"
    assert len(resolve_previous_keys(env)) == 2
    assert not contains_key(repr(manager), new)


def test_wrapped_key_file_and_key_status_label(
    hsm_kek: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    from importobot.project import load_project
    from importobot.scan.rules.key_status import key_status

    uri, env = hsm_kek
    raw = new_raw()
    (tmp_path / ".git").mkdir()
    path = tmp_path / ".importobot-key.wrapped"
    wk = _wrap(uri, env, raw)
    path.write_text(f"# the team's key, wrapped\n{wk.text}\n")
    status = key_status(load_project(str(tmp_path)), env, use_registry=False)
    assert (status.source, status.fingerprint, status.valid) == (
        "wrapped:pkcs11:file",
        fingerprint(raw),
        True,
    )
    assert status.wrapped == {"kek": uri, "version": "1", "mechanism": "aes-gcm"}
    # an edited header fails authentication: IOB202 with the wrapped source
    for edited in (
        WrappedKey(wk.uri, wk.version, fingerprint(new_raw()), wk.mechanism, wk.payload),
        WrappedKey(wk.uri, "7", wk.fingerprint, wk.mechanism, wk.payload),
        WrappedKey(wk.uri, wk.version, wk.fingerprint, wk.mechanism, bytes(60)),
    ):
        path.write_text(edited.text + "\n")
        status = key_status(load_project(str(tmp_path)), env, use_registry=False)
        assert [(f.rule, f.source) for f in status.findings] == [("IOB202", "wrapped:pkcs11:file")]
        assert status.fingerprint is None and not status.valid


def test_a_wrapped_key_from_another_kek_is_iob202(
    hsm_kek: tuple[str, dict[str, str]], softhsm: SoftHSM
) -> None:
    from importobot_enterprise.kek.pkcs11 import PKCS11KEK

    uri, env = hsm_kek
    other = softhsm.uri()
    PKCS11KEK(other, env).create()
    wk = _wrap(other, env, new_raw())
    forged = WrappedKey(uri, wk.version, wk.fingerprint, wk.mechanism, wk.payload)
    with pytest.raises(InvalidKeyError, match="authentication failed") as info:
        resolve_primary_key(env={**env, "IMPORTOBOT_WRAPPED_KEY": forged.text})
    assert info.value.rule == "IOB202"


def test_a_retired_key_restored_from_history_is_refused_as_primary(
    hsm_kek: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    uri, env = hsm_kek
    raw = new_raw()
    (tmp_path / ".git").mkdir()
    path = tmp_path / ".importobot-key.wrapped"
    path.write_text(_wrap(uri, env, raw).text + "\n")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    reg = Registry(str(tmp_path / ".importobot-keys.toml"))
    reg.register(fingerprint(raw), now - timedelta(days=30))
    reg.retire(fingerprint(raw), now - timedelta(days=1))
    reg.save()
    # The registry is judged before the token is asked: a wrong PIN is never reached.
    bad_pin = {**env, "IMPORTOBOT_PKCS11_PIN": "wrong", "IMPORTOBOT_WRAPPED_KEY_FILE": str(path)}
    with pytest.raises(RetiredKeyError, match="retired") as info:
        CredentialManager(env=bad_pin)
    assert info.value.rule == "IOB301"
    from importobot.project import load_project
    from importobot.scan.rules.key_status import key_status

    status = key_status(load_project(str(tmp_path)), env)
    assert [f.rule for f in status.findings] == ["IOB301"]
    assert status.source == "wrapped:pkcs11:file" and not status.valid


def test_check_key_optional_warns_on_an_unreachable_backend(tmp_path: Path) -> None:
    from tests.enterprise.kek.conftest import clean_env, run_cli

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = int(s.getsockname()[1])
    uri = f"vault+http://127.0.0.1:{closed}/transit/keys/k"
    env = clean_env(
        IMPORTOBOT_WRAPPED_KEY=_sample(uri).text, IMPORTOBOT_KEK=uri, VAULT_TOKEN="t-" + "x" * 8
    )
    strict = run_cli("hook", "check-key", env=env, cwd=tmp_path)
    assert strict.returncode == 2
    assert strict.stderr.count("\n") == 1 and "(unreachable)" in strict.stderr
    optional = run_cli("hook", "check-key", "--optional", env=env, cwd=tmp_path)
    assert (
        optional.returncode == 0
        and "warning" in optional.stderr
        and "Traceback" not in (optional.stderr)
    )


def test_a_backend_that_never_answers_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)  # accepts the connection, never answers
    uri = f"vault+http://127.0.0.1:{server.getsockname()[1]}/transit/keys/k"
    env = {
        "IMPORTOBOT_WRAPPED_KEY": _sample(uri).text,
        "IMPORTOBOT_KEK": uri,
        "IMPORTOBOT_KEK_TIMEOUT": "1",
        "VAULT_TOKEN": "t-" + "y" * 8,
    }
    try:
        with pytest.raises(KeyBackendUnavailableError, match="did not answer within 1 s"):
            resolve_primary_key(env=env)
    finally:
        server.close()
