"""importobot 0.1.5's documented API, as its users wrote against it (DESIGN "Compatibility").

Behaviour that DESIGN fixes on purpose is asserted in its fixed form and says so.
"""

from __future__ import annotations

import base64
import secrets

import pytest

from importobot.exceptions import ImportobotError
from importobot.security.credential_manager import (
    CredentialManager,
    EncryptedCredential,
    SecurityError,
)


def _key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


def test_environment_key_round_trip(monkeypatch):
    monkeypatch.setenv("IMPORTOBOT_ENCRYPTION_KEY", _key())
    manager = CredentialManager()
    encrypted = manager.encrypt_credential("integration_test_password")
    assert isinstance(encrypted, EncryptedCredential)
    assert encrypted.length == len("integration_test_password")
    assert encrypted.manager is manager
    assert manager.decrypt_credential(encrypted) == "integration_test_password"


def test_missing_key_says_strong_encryption_unavailable():
    with pytest.raises(SecurityError, match="Strong encryption unavailable"):
        CredentialManager()


def test_bytes_keys_raw_and_base64_text():
    raw = secrets.token_bytes(32)
    assert (
        CredentialManager(key=raw).decrypt_credential(
            CredentialManager(key=base64.urlsafe_b64encode(raw)).encrypt_credential("x")
        )
        == "x"
    )


def test_weak_raw_keys_are_refused_on_purpose():
    # 0.1.5 accepted b"A" * 32 and "a" * 32; DESIGN: keys are 32 random bytes, checked.
    with pytest.raises(SecurityError):
        CredentialManager(key=b"A" * 32)
    with pytest.raises(SecurityError):
        CredentialManager(key="a" * 32)


def test_many_credentials_unicode_and_large():
    manager = CredentialManager(key=_key())
    values = [
        "password1",
        "special_chars_!@#$%^&*()_+-=[]{}|;':\",./<>?",
        "pässwörd_🔒_测试_пароль",
        "A" * (1024 * 1024),
    ]
    encrypted = [manager.encrypt_credential(v) for v in values]
    assert [manager.decrypt_credential(e) for e in encrypted] == values
    assert len(encrypted[-1].ciphertext) > 1024 * 1024


def test_same_key_different_ciphertexts():
    manager = CredentialManager(key=_key())
    a, b = manager.encrypt_credential("same"), manager.encrypt_credential("same")
    assert a.ciphertext != b.ciphertext
    assert manager.decrypt_credential(a) == manager.decrypt_credential(b) == "same"


def test_wrong_manager_is_a_value_error():
    first, second = CredentialManager(key=_key()), CredentialManager(key=_key())
    with pytest.raises(ValueError, match="EncryptedCredential provided by different manager"):
        second.decrypt_credential(first.encrypt_credential("test_password"))


def test_repr_and_empty_and_hierarchy():
    manager = CredentialManager(key=_key())
    encrypted = manager.encrypt_credential("super_secret_password")
    assert "super_secret_password" not in repr(encrypted) + str(encrypted)
    assert "ciphertext=<hidden>" in repr(encrypted)
    with pytest.raises(ValueError, match="Credential must be non-empty"):
        manager.encrypt_credential("")
    assert issubclass(SecurityError, ImportobotError)


def test_stored_credential_lifecycle():
    key = _key()
    manager = CredentialManager(key=key.encode("ascii"))
    encrypted = manager.encrypt_credential("user_secret_password_123")
    restored = EncryptedCredential(
        ciphertext=encrypted.ciphertext, length=encrypted.length, manager=manager
    )
    assert restored.reveal() == "user_secret_password_123"
    assert CredentialManager(key=key).decrypt_credential(restored) == "user_secret_password_123"


def test_generate_key_decodes_to_32_bytes():
    assert len(base64.urlsafe_b64decode(CredentialManager.generate_key())) == 32
