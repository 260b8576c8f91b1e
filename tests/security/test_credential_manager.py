"""CredentialManager / EncryptedCredential: known answers, sources, previous keys, 0.1.5."""

from __future__ import annotations

import base64
import hashlib
import os
import pickle
from datetime import datetime, timezone

import pytest

from importobot.exceptions import (
    DecryptionError,
    ImportobotError,
    KeyLengthError,
    MissingKeyError,
    SecurityError,
)
from importobot.keys.fingerprint import fingerprint
from importobot.security import CredentialManager, EncryptedCredential, generate_key
from importobot.security import SecurityError as ReexportedSecurityError
from importobot.security.credential_manager import SecurityError as OldPathSecurityError
from tests.keygen import new_raw

# Known answer: the key is derived at run time (no key literal in the repository),
# the token was computed independently from the Fernet spec with AES-CBC + HMAC-SHA256
# (IV 00..0f, time 499162800 = 1985-10-26T08:20:00Z, plaintext "hello").
KAT_TOKEN = (
    "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0OD47DdLpTgd29pO4-Le9zhKcqlY4AvEFk"
    "1FbTLSPufoqpgs0uoodptSJShtI7Gg_Q9A=="
)
KAT_TIME = 499162800


def _kat_key() -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(b"importobot/kat/1").digest()).decode()


def _url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


def test_known_answer_decrypts_and_carries_its_time():
    cm = CredentialManager(key=_kat_key())
    assert cm.decrypt_credential(KAT_TOKEN) == "hello"
    cred = EncryptedCredential.from_token(KAT_TOKEN, manager=cm)
    assert cred.length == -1 and cred.key_fingerprint is None
    assert cred.encrypted_at == datetime.fromtimestamp(KAT_TIME, tz=timezone.utc)
    assert cred.reveal() == "hello"
    assert cred.length == 5 and cred.key_fingerprint == cm.key_fingerprint


def test_encryption_with_a_fixed_clock_matches_the_spec_layout():
    from cryptography.hazmat.primitives import hashes, hmac, padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    raw = hashlib.sha256(b"importobot/kat/1").digest()
    cm = CredentialManager(key=raw)
    cred = cm.encrypt_credential("hello", now=KAT_TIME)
    data = base64.urlsafe_b64decode(cred.ciphertext)
    assert data[0] == 0x80
    assert int.from_bytes(data[1:9], "big") == KAT_TIME
    # Verify and decrypt by hand: HMAC-SHA256 under the first half, AES-128-CBC under the second.
    mac = hmac.HMAC(raw[:16], hashes.SHA256())
    mac.update(data[:-32])
    mac.verify(data[-32:])
    decryptor = Cipher(algorithms.AES(raw[16:]), modes.CBC(data[9:25])).decryptor()
    padded = decryptor.update(data[25:-32]) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    assert unpadder.update(padded) + unpadder.finalize() == b"hello"
    assert cred.encrypted_at == datetime.fromtimestamp(KAT_TIME, tz=timezone.utc)


def test_round_trip_explicit_env_and_repr_hides_everything(monkeypatch):
    raw = new_raw()
    cm = CredentialManager(key=_url(raw))
    assert cm.key_source.kind == "explicit"
    assert cm.key_fingerprint == fingerprint(raw)
    cred = cm.encrypt_credential("s3cret")
    assert cm.decrypt_credential(cred) == "s3cret"
    assert cred.reveal() == "s3cret"
    assert repr(cred) == "EncryptedCredential(length=6, ciphertext=<hidden>)"
    assert str(cred) == repr(cred)
    assert "s3cret" not in repr(cm) and _url(raw) not in repr(cm)
    monkeypatch.setenv("IMPORTOBOT_ENCRYPTION_KEY", _url(raw))
    env_cm = CredentialManager()
    assert env_cm.key_source.label == "env:IMPORTOBOT_ENCRYPTION_KEY"
    assert env_cm.decrypt_credential(cred) == "s3cret"
    assert env_cm.decrypt_credential(cred.token) == "s3cret"


def test_explicit_key_wins_over_env(monkeypatch):
    monkeypatch.setenv("IMPORTOBOT_ENCRYPTION_KEY", _url(new_raw()))
    raw = new_raw()
    assert CredentialManager(key=raw).key_fingerprint == fingerprint(raw)


def test_invalid_env_key_is_an_error_naming_the_variable(monkeypatch):
    monkeypatch.setenv("IMPORTOBOT_ENCRYPTION_KEY", "q7Zp2x9W")
    monkeypatch.setenv("IMPORTOBOT_KEYRING_SERVICE", "never-consulted")
    with pytest.raises(KeyLengthError, match="IMPORTOBOT_ENCRYPTION_KEY"):
        CredentialManager()


def test_no_key_anywhere():
    with pytest.raises(MissingKeyError) as info:
        CredentialManager()
    assert "importobot key generate" in str(info.value)
    assert isinstance(info.value, SecurityError)


def test_previous_keys_decrypt_only(monkeypatch, tmp_path):
    old, older, new = new_raw(), new_raw(), new_raw()
    t_old = CredentialManager(key=old).encrypt_credential("a")
    t_older = CredentialManager(key=older).encrypt_credential("b")
    monkeypatch.setenv("IMPORTOBOT_ENCRYPTION_KEY", _url(new))
    monkeypatch.setenv("IMPORTOBOT_PREVIOUS_KEYS", f"{_url(old)}, ")
    keys_file = tmp_path / "previous"
    keys_file.write_text(f"# older keys\n{base64.b64encode(older).decode()}\n")
    keys_file.chmod(0o600)
    monkeypatch.setenv("IMPORTOBOT_PREVIOUS_KEYS_FILE", str(keys_file))
    cm = CredentialManager()
    assert cm.previous_fingerprints == [fingerprint(old), fingerprint(older)]
    assert cm.decrypt_credential(t_old) == "a"
    assert cm.decrypt_credential(t_older) == "b"
    assert cm.open_token(t_old.token)[1] == fingerprint(old)
    # New tokens are under the primary key only.
    fresh = cm.encrypt_credential("c")
    assert cm.open_token(fresh.token)[1] == fingerprint(new)
    with pytest.raises(DecryptionError):
        CredentialManager(key=old).decrypt_credential(fresh)


def test_previous_keys_file_must_be_private(monkeypatch, tmp_path):
    keys_file = tmp_path / "previous"
    keys_file.write_text(_url(new_raw()) + "\n")
    keys_file.chmod(0o644)
    monkeypatch.setenv("IMPORTOBOT_PREVIOUS_KEYS_FILE", str(keys_file))
    with pytest.raises(SecurityError, match="chmod 600"):
        CredentialManager(key=new_raw())


def test_tampered_token_wrong_key_and_garbage():
    cm = CredentialManager(key=new_raw())
    token = bytearray(cm.encrypt_credential("s3cret").ciphertext)
    token[-5] = ord("A") if token[-5] != ord("A") else ord("B")
    with pytest.raises(DecryptionError, match="decryption failed"):
        cm.decrypt_credential(bytes(token))
    other = CredentialManager(key=new_raw())
    cred = cm.encrypt_credential("s3cret")
    with pytest.raises(ValueError, match="different manager") as info:
        other.decrypt_credential(cred)
    assert isinstance(info.value, SecurityError)
    assert info.value.__context__ is None or "s3cret" not in repr(info.value.__context__)
    with pytest.raises(DecryptionError):
        cm.decrypt_credential("not a token")
    with pytest.raises(DecryptionError):
        EncryptedCredential.from_token("not a token")


def test_non_utf8_plaintext():
    cm = CredentialManager(key=new_raw())
    token = cm.encrypt_bytes(b"\xff\xfe\x00")
    assert cm.decrypt_bytes(token) == b"\xff\xfe\x00"
    with pytest.raises(DecryptionError, match="UTF-8"):
        cm.decrypt_credential(token)


def test_empty_credential_is_value_error():
    with pytest.raises(ValueError):
        CredentialManager(key=new_raw()).encrypt_credential("")


def test_one_security_error_everywhere():
    assert ReexportedSecurityError is OldPathSecurityError
    assert issubclass(SecurityError, ImportobotError)
    assert issubclass(DecryptionError, ValueError)


def test_reveal_without_manager():
    cm = CredentialManager(key=new_raw())
    cred = EncryptedCredential.from_token(cm.encrypt_credential("x").token)
    with pytest.raises(SecurityError, match="no CredentialManager"):
        cred.reveal()


def test_pickling_never_carries_the_key():
    raw = new_raw()
    cm = CredentialManager(key=raw)
    with pytest.raises(TypeError):
        pickle.dumps(cm)
    cred = cm.encrypt_credential("s3cret")
    blob = pickle.dumps(cred)
    assert raw not in blob and _url(raw).encode() not in blob and b"s3cret" not in blob
    back = pickle.loads(blob)  # noqa: S301 - our own blob
    assert back.manager is None and cm.decrypt_credential(back) == "s3cret"


def test_multi_fernet_refuses_to_pickle_like_the_manager():
    import copy

    from cryptography.fernet import Fernet, MultiFernet

    raw, old = new_raw(), new_raw()
    cm = CredentialManager(key=raw, previous_keys=[_url(old)])
    multi = cm.multi_fernet
    assert isinstance(multi, MultiFernet)
    # Every object the manager hands out that holds key bytes refuses, like the manager.
    for obj in (multi, *multi._fernets, cm._cipher):
        assert isinstance(obj, (Fernet, MultiFernet))
        for attempt in (pickle.dumps, copy.copy, copy.deepcopy):
            with pytest.raises(TypeError, match="cannot be pickled") as info:
                attempt(obj)
            assert _url(raw) not in str(info.value) and _url(old) not in str(info.value)
    # It still works as the primitive: the primary encrypts, every key decrypts, rotate.
    old_token = Fernet(_url(old)).encrypt(b"before")
    assert multi.decrypt(old_token) == b"before"
    rotated = multi.rotate(old_token)
    assert cm.open_token(rotated) == (b"before", cm.key_fingerprint)
    assert cm.decrypt_bytes(multi.encrypt(b"now")) == b"now"
    # Fernet objects made by the caller are theirs: untouched.
    pickle.dumps(Fernet(_url(new_raw())))


def test_generate_key_is_a_fernet_key():
    from cryptography.fernet import Fernet

    text = generate_key()
    assert len(text) == 44 and text.endswith("=")
    Fernet(text)
    assert CredentialManager.generate_key() != text


# -- 0.1.5 legacy keys (D3) ----------------------------------------------------------
def _encrypt_like_0_1_5(key_text: str, plaintext: str) -> bytes:
    """0.1.5's normalisation + Fernet, written out independently of importobot."""
    from cryptography.fernet import Fernet

    candidate = key_text.strip().encode("utf-8")
    if len(candidate) == 32:
        raw = candidate
    else:
        try:
            decoded: bytes | None = base64.urlsafe_b64decode(candidate)
        except ValueError:
            decoded = None
        if decoded is not None and len(decoded) == 32:
            raw = decoded
        elif decoded is not None and len(decoded) > 32:
            raw = hashlib.blake2b(decoded, digest_size=32).digest()
        else:
            raw = hashlib.blake2b(candidate, digest_size=32).digest()
    return Fernet(base64.urlsafe_b64encode(raw)).encrypt(plaintext.encode())


@pytest.mark.parametrize(
    "old_key",
    [
        lambda: os.urandom(32).hex(),  # hex
        lambda: _url(new_raw()).rstrip("="),  # a 43-character Fernet key
        lambda: base64.b32encode(os.urandom(25)).decode(),  # a 40-character passphrase
    ],
    ids=["hex", "fernet-43", "passphrase-40"],
)
def test_0_1_5_tokens_decrypt_through_legacy_previous_keys(monkeypatch, old_key):
    old = old_key()
    token = _encrypt_like_0_1_5(old, "from 0.1.5")
    with pytest.raises(SecurityError, match="only allowed for previous"):
        CredentialManager(key="legacy:" + old)
    monkeypatch.setenv("IMPORTOBOT_ENCRYPTION_KEY", generate_key())
    monkeypatch.setenv("IMPORTOBOT_PREVIOUS_KEYS", "legacy:" + old)
    cm = CredentialManager()
    assert cm.decrypt_credential(token) == "from 0.1.5"
    explicit = CredentialManager(key=new_raw(), previous_keys=["legacy:" + old])
    assert explicit.decrypt_credential(token) == "from 0.1.5"
