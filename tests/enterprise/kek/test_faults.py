"""Bad input and faults, backend by backend: each is one line naming the backend and its
code, never a traceback, never the key, the PIN or a token.

SoftHSM2, OpenBao and moto run for real. Where moto departs from KMS (a disabled key or
one pending deletion still decrypts; a blob under another key is ``AccessDenied`` with no
message), botocore's ``Stubber`` answers as KMS does. SoftHSM2 never locks a user PIN
(it only sets CKF_USER_PIN_COUNT_LOW), so the locked-token case reports the real token's
flags with CKF_USER_PIN_LOCKED added.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

import pytest

from importobot.exceptions import (
    KeyBackendError,
    KeyBackendUnavailableError,
    SecurityError,
    WrappedKeyAuthError,
)
from importobot.keys.wrapped import WrappedKey
from tests.enterprise.kek.conftest import clean_env, run_cli
from tests.kek_services import MotoKMS, OpenBao, SoftHSM
from tests.keygen import contains_key, new_raw


def _one_line(exc: BaseException, *secrets: str) -> str:
    text = str(exc)
    assert "\n" not in text and "Traceback" not in text
    for secret in secrets:
        assert secret not in text and secret not in repr(exc)
    return text


# -- PKCS#11 (SoftHSM2) ----------------------------------------------------------------------


@pytest.fixture
def p11(softhsm: SoftHSM) -> tuple[Any, dict[str, str]]:
    from importobot_enterprise.kek.pkcs11 import PKCS11KEK

    env = softhsm.env()
    backend = PKCS11KEK(softhsm.uri(), env)
    backend.create()
    return backend, env


def test_wrong_pin_is_one_line_with_the_ckr_code_and_exit_2(
    softhsm: SoftHSM, tmp_path: Any
) -> None:
    from importobot_enterprise.kek.pkcs11 import PKCS11KEK

    uri = softhsm.uri()
    PKCS11KEK(uri, softhsm.env()).create()
    wrong = "wrong-" + os.urandom(4).hex()
    env = clean_env(**softhsm.env(IMPORTOBOT_PKCS11_PIN=wrong, IMPORTOBOT_KEK=uri))
    for args in (["key", "wrap", "--generate"], ["kek", "status"], ["kek", "rotate"]):
        proc = run_cli(*args, env=env, cwd=tmp_path)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and "CKR_PIN_INCORRECT" in proc.stderr
        assert proc.stderr.startswith("importobot: error: pkcs11")
        for secret in (wrong, softhsm.pin):
            assert secret not in proc.stdout + proc.stderr


def test_locked_token(p11: tuple[Any, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    from pkcs11.constants import TokenFlag

    import importobot_enterprise.kek.pkcs11 as p11mod

    backend, _ = p11
    real = p11mod._token

    class Locked:
        def __init__(self, token: Any) -> None:
            self._token = token

        @property
        def flags(self) -> Any:
            return self._token.flags | TokenFlag.USER_PIN_LOCKED

        def __getattr__(self, name: str) -> Any:
            return getattr(self._token, name)

    monkeypatch.setattr(p11mod, "_token", lambda lib, uri: Locked(real(lib, uri)))
    with pytest.raises(KeyBackendError, match="locked") as info:
        backend.wrap(new_raw())
    assert info.value.code == "CKR_PIN_LOCKED"
    _one_line(info.value, backend.env["IMPORTOBOT_PKCS11_PIN"])


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"token": "no-such-token"}, "CKR_TOKEN_NOT_PRESENT"),
        ({"IMPORTOBOT_PKCS11_MODULE": "/nonexistent/libpkcs11.so"}, "module-load"),
        ({"IMPORTOBOT_PKCS11_MODULE": ""}, "module-not-set"),
        ({"IMPORTOBOT_PKCS11_PIN": ""}, "pin-not-set"),
        ({"wrong-module": ""}, "not-a-pkcs11-module"),
    ],
)
def test_missing_token_module_or_pin(softhsm: SoftHSM, change: dict[str, str], code: str) -> None:
    import _ctypes

    from importobot_enterprise.kek.pkcs11 import PKCS11KEK

    env = softhsm.env()
    token = change.pop("token", "importobot-kek")
    if "wrong-module" in change:
        change = {"IMPORTOBOT_PKCS11_MODULE": str(_ctypes.__file__)}  # a .so, not PKCS#11
    env.update(change)
    with pytest.raises(KeyBackendError) as info:
        PKCS11KEK(softhsm.uri(token=token), env).wrap(new_raw())
    assert info.value.code == code and info.value.backend == "pkcs11"
    _one_line(info.value, softhsm.pin)


def test_a_kek_that_is_not_an_aes_key(softhsm: SoftHSM) -> None:
    import pkcs11
    from pkcs11 import Attribute, KeyType

    from importobot_enterprise.kek.pkcs11 import LOCK, PKCS11KEK

    name = "generic-" + os.urandom(4).hex()
    with LOCK:
        token = pkcs11.lib(softhsm.module).get_token(token_label="importobot-kek")
        with token.open(user_pin=softhsm.pin, rw=True) as session:
            session.generate_key(
                KeyType.GENERIC_SECRET,
                256,
                label=name,
                id=b"\0\0\0\1",
                store=True,
                template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False},
            )
    with pytest.raises(KeyBackendError, match="not an AES key") as info:
        PKCS11KEK(softhsm.uri(name), softhsm.env()).wrap(new_raw())
    assert info.value.code == "CKR_KEY_TYPE_INCONSISTENT"


def test_the_kek_never_leaves_the_token(p11: tuple[Any, dict[str, str]], softhsm: SoftHSM) -> None:
    import pkcs11
    from pkcs11 import Attribute, ObjectClass
    from pkcs11 import exceptions as errors

    from importobot_enterprise.kek.pkcs11 import LOCK

    backend, _ = p11
    with LOCK:
        token = pkcs11.lib(softhsm.module).get_token(token_label="importobot-kek")
        with token.open(user_pin=softhsm.pin) as session:
            [kek] = session.get_objects(
                {Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.LABEL: backend.parsed.object}
            )
            assert kek[Attribute.SENSITIVE] and not kek[Attribute.EXTRACTABLE]
            assert kek[Attribute.LOCAL]  # generated on the token
            with pytest.raises(errors.AttributeSensitive):
                kek[Attribute.VALUE]  # noqa: B018


def test_truncated_edited_and_foreign_wrapped_keys(
    p11: tuple[Any, dict[str, str]], softhsm: SoftHSM
) -> None:
    from importobot_enterprise.kek.pkcs11 import PKCS11KEK

    backend, env = p11
    raw = new_raw()
    wk = backend.wrap(raw)
    other = PKCS11KEK(softhsm.uri(), env)
    other.create()
    foreign = other.wrap(raw)
    cases = [
        WrappedKey(wk.uri, wk.version, wk.fingerprint, wk.mechanism, wk.payload[:-3]),
        WrappedKey(wk.uri, wk.version, wk.fingerprint, wk.mechanism, b"\0" + wk.payload[1:]),
        WrappedKey(wk.uri, "2", wk.fingerprint, wk.mechanism, wk.payload),
        WrappedKey(wk.uri, foreign.version, foreign.fingerprint, wk.mechanism, foreign.payload),
    ]
    for bad in cases:
        with pytest.raises(WrappedKeyAuthError) as info:
            backend.unwrap(bad)
        assert info.value.rule == "IOB202"
        assert not contains_key(_one_line(info.value), raw)
    assert backend.unwrap(wk) == raw


def test_threads_share_the_token_safely(p11: tuple[Any, dict[str, str]]) -> None:
    backend, _ = p11
    keys = [new_raw() for _ in range(8)]
    wrong: list[int] = []

    def work(index: int) -> None:
        for _ in range(5):
            if backend.unwrap(backend.wrap(keys[index])) != keys[index]:
                wrong.append(index)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(keys))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not wrong and not any(t.is_alive() for t in threads)


def test_a_forked_child_unwraps_after_the_parent(p11: tuple[Any, dict[str, str]]) -> None:
    backend, _ = p11
    raw = new_raw()
    wk = backend.wrap(raw)
    assert backend.unwrap(wk) == raw  # the parent has used the module (logged in, then closed)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports by exit status
        try:
            os._exit(0 if backend.unwrap(wk) == raw else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert backend.unwrap(wk) == raw


# -- Vault / OpenBao transit -------------------------------------------------------------------


@pytest.fixture
def transit(openbao: OpenBao) -> tuple[Any, WrappedKey, bytes]:
    from importobot_enterprise.kek.vault import TransitKEK

    backend = TransitKEK(openbao.uri(), openbao.env())
    backend.create()
    raw = new_raw()
    return backend, backend.wrap(raw), raw


def test_vault_down(openbao: OpenBao) -> None:
    from importobot_enterprise.kek.vault import TransitKEK

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = TransitKEK(f"vault+http://127.0.0.1:{port}/transit/keys/k", openbao.env())
    with pytest.raises(KeyBackendUnavailableError) as info:
        backend.status()
    assert info.value.code == "unreachable"
    _one_line(info.value, openbao.token)


def test_vault_sealed(openbao: OpenBao, transit: tuple[Any, WrappedKey, bytes]) -> None:
    backend, wk, raw = transit
    assert openbao.unseal_key, "the dev server printed no unseal key"
    client: Any = openbao.client()
    client.sys.seal()
    try:
        with pytest.raises(KeyBackendUnavailableError, match="sealed") as info:
            backend.unwrap(wk)
        assert info.value.code == "HTTP 503"
        _one_line(info.value, openbao.token)
    finally:
        client.sys.submit_unseal_key(openbao.unseal_key)
        for _ in range(100):
            if not client.sys.is_sealed():
                break
            time.sleep(0.1)
    assert backend.unwrap(wk) == raw


def test_vault_token_expired(openbao: OpenBao, transit: tuple[Any, WrappedKey, bytes]) -> None:
    from importobot_enterprise.kek.vault import TransitKEK

    backend, wk, raw = transit
    short = openbao.client().auth.token.create(ttl="2s")["auth"]["client_token"]  # type: ignore[attr-defined]
    scoped = TransitKEK(backend.uri, {"VAULT_TOKEN": short})
    assert scoped.unwrap(wk) == raw
    time.sleep(2.5)
    expired = TransitKEK(backend.uri, {"VAULT_TOKEN": short})
    with pytest.raises(KeyBackendError) as info:
        expired.unwrap(wk)
    assert info.value.code == "HTTP 403"
    assert not contains_key(_one_line(info.value, short, openbao.token), raw)


def test_vault_transit_key_deleted(
    openbao: OpenBao, transit: tuple[Any, WrappedKey, bytes]
) -> None:
    backend, wk, _ = transit
    client: Any = openbao.client()
    client.secrets.transit.update_key_configuration(name=backend.key, deletion_allowed=True)
    client.secrets.transit.delete_key(name=backend.key)
    with pytest.raises(KeyBackendError, match="not found") as info:
        backend.unwrap(wk)
    assert info.value.code == "HTTP 400" and not isinstance(info.value, WrappedKeyAuthError)


def test_vault_min_decryption_version(
    openbao: OpenBao, transit: tuple[Any, WrappedKey, bytes]
) -> None:
    backend, wk, raw = transit
    backend.rotate()
    client: Any = openbao.client()
    client.secrets.transit.update_key_configuration(name=backend.key, min_decryption_version=2)
    with pytest.raises(KeyBackendError, match="min_decryption_version") as info:
        backend.unwrap(wk)
    assert info.value.code == "HTTP 400"
    assert backend.status().min_decryption == "2"


def test_vault_edited_and_foreign(openbao: OpenBao, transit: tuple[Any, WrappedKey, bytes]) -> None:
    from importobot_enterprise.kek.vault import TransitKEK

    backend, wk, raw = transit
    other = TransitKEK(openbao.uri(), openbao.env())
    other.create()
    foreign = other.wrap(raw)
    # An edited fingerprint: its last digit changed (to "0" it was the same 1 time in 16).
    fp = foreign.fingerprint
    edited = fp[:-1] + ("1" if fp[-1] == "0" else "0")
    for bad in (
        WrappedKey(wk.uri, wk.version, edited, wk.mechanism, wk.payload),
        WrappedKey(wk.uri, wk.version, wk.fingerprint, wk.mechanism, foreign.payload),
        WrappedKey(wk.uri, wk.version, wk.fingerprint, wk.mechanism, wk.payload[:-2]),
    ):
        with pytest.raises(WrappedKeyAuthError):
            backend.unwrap(bad)


# -- AWS KMS (moto; Stubber where moto departs from KMS) ---------------------------------------


@pytest.fixture
def kms_env(moto_kms: MotoKMS, monkeypatch: pytest.MonkeyPatch) -> MotoKMS:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in moto_kms.env().items():
        monkeypatch.setenv(name, value)
    return moto_kms


def _stubbed(backend: Any, operation: str, code: str, message: str = "") -> Any:
    from botocore.stub import Stubber

    client = backend._api()
    stub = Stubber(client)
    stub.add_client_error(operation, service_error_code=code, service_message=message)
    stub.activate()
    return stub


@pytest.mark.parametrize(
    ("code", "message", "words"),
    [
        ("DisabledException", "arn:aws:kms:... is disabled.", "disabled"),
        ("KMSInvalidStateException", "arn:aws:kms:... is pending deletion.", "pending deletion"),
        ("AccessDeniedException", "", "access denied"),
    ],
)
def test_kms_refusals_as_kms_answers_them(
    kms_env: MotoKMS, code: str, message: str, words: str
) -> None:
    from importobot_enterprise.kek.awskms import KMSKEK

    backend = KMSKEK(kms_env.uri(), os.environ)
    backend.create()
    raw = new_raw()
    wk = backend.wrap(raw)
    stub = _stubbed(backend, "decrypt", code, message)
    with pytest.raises(KeyBackendError, match=words) as info:
        backend.unwrap(wk)
    stub.deactivate()
    assert info.value.code == code and info.value.backend == "awskms"
    assert not isinstance(info.value, WrappedKeyAuthError)
    assert not contains_key(_one_line(info.value, kms_env.secret), raw)
    assert backend.unwrap(wk) == raw  # the emulator itself still decrypts


def test_kms_blob_under_another_key_is_iob202(kms_env: MotoKMS) -> None:
    from importobot_enterprise.kek.awskms import KMSKEK

    backend = KMSKEK(kms_env.uri(), os.environ)
    backend.create()
    wk = backend.wrap(new_raw())
    stub = _stubbed(backend, "decrypt", "IncorrectKeyException", "The key ID ... does not match")
    with pytest.raises(WrappedKeyAuthError):
        backend.unwrap(wk)
    stub.deactivate()
    edited = WrappedKey(wk.uri, wk.version, wk.fingerprint, wk.mechanism, wk.payload[:-1] + b"!")
    with pytest.raises(WrappedKeyAuthError):  # moto: InvalidCiphertextException
        backend.unwrap(edited)


def test_kms_missing_key_and_unreachable(kms_env: MotoKMS, monkeypatch: pytest.MonkeyPatch) -> None:
    from importobot_enterprise.kek.awskms import KMSKEK

    with pytest.raises(KeyBackendError) as info:
        KMSKEK(kms_env.uri(), os.environ).status()
    assert info.value.code == "NotFoundException"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    with pytest.raises(KeyBackendUnavailableError) as down:
        KMSKEK(kms_env.uri(), os.environ).status()
    _one_line(down.value, kms_env.secret)


def test_kms_uris(kms_env: MotoKMS) -> None:
    from importobot_enterprise.kek.awskms import KMSKEK, parse_kms_uri

    assert parse_kms_uri("awskms:alias/x") == ("alias/x", None)
    arn = "arn:aws:kms:eu-west-1:123456789012:key/" + "a" * 8
    assert parse_kms_uri("awskms:" + arn) == (arn, "eu-west-1")
    for bad in ("awskms:", "awskms:x", "awskms:arn:aws:s3:::bucket"):
        with pytest.raises(SecurityError):
            parse_kms_uri(bad)
    with pytest.raises(SecurityError, match="alias"):
        KMSKEK("awskms:" + arn, os.environ).create()
