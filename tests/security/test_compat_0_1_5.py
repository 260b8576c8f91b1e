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
from tests.keygen import new_raw


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


# -- 0.1.5's module surface: patch points and messages (issue 10, item 12) --------------
class _DictKeyring:
    """A keyring stand-in as 0.1.5's users wrote them: get/set only, every call recorded."""

    def __init__(self, entries: dict[tuple[str, str], str] | None = None) -> None:
        self.entries = dict(entries or {})
        self.calls: list[tuple[str, str, str]] = []

    def get_password(self, service: str, username: str) -> str | None:
        self.calls.append(("get", service, username))
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, value: str) -> None:
        self.calls.append(("set", service, username))
        self.entries[(service, username)] = value


def test_module_attributes_resolve_lazily_to_the_real_libraries():
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "import importobot.security.credential_manager as cm\n"
        "heavy = lambda: sorted(m for m in sys.modules if m.split('.')[0] in "
        "('cryptography', 'keyring'))\n"
        "assert heavy() == [], heavy()\n"
        "import cryptography.fernet, keyring\n"
        "assert cm.Fernet is cryptography.fernet.Fernet\n"
        "assert cm.MultiFernet is cryptography.fernet.MultiFernet\n"
        "assert cm.InvalidToken is cryptography.fernet.InvalidToken\n"
        "assert cm.keyring is keyring\n"
        "print('ok')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr
    from importobot.security import credential_manager

    with pytest.raises(AttributeError):
        credential_manager.no_such_name  # noqa: B018


def test_patching_fernet_to_none_is_a_missing_library():
    from unittest.mock import patch

    with (
        patch("importobot.security.credential_manager.Fernet", None),
        pytest.raises(SecurityError, match="Strong encryption unavailable") as info,
    ):
        CredentialManager(key=new_raw())
    for needle in ("pip install cryptography", "IMPORTOBOT_ENCRYPTION_KEY", "openssl rand -base64"):
        assert needle in str(info.value)
    assert isinstance(info.value, ImportobotError)
    # The patch is gone: the real library is back.
    assert CredentialManager(key=new_raw()).encrypt_credential("x").reveal() == "x"


def test_patching_fernet_changes_what_the_manager_uses():
    from unittest.mock import patch

    from cryptography.fernet import Fernet

    built: list[int] = []
    encrypted: list[bytes] = []

    class SpyFernet(Fernet):
        def __init__(self, key, backend=None):
            built.append(len(key))
            super().__init__(key, backend)

        def encrypt_at_time(self, data: bytes, current_time: int) -> bytes:
            encrypted.append(data)
            return super().encrypt_at_time(data, current_time)

    with patch("importobot.security.credential_manager.Fernet", SpyFernet):
        manager = CredentialManager(key=new_raw(), previous_keys=[_key()])
        cred = manager.encrypt_credential("through the spy")
    assert built == [44, 44]  # the primary and the previous key, both through the patch
    assert encrypted == [b"through the spy"]
    assert isinstance(manager.multi_fernet._fernets[0], SpyFernet)
    assert manager.decrypt_credential(cred) == "through the spy"
    # After the patch, a new manager uses the real class again.
    CredentialManager(key=new_raw()).encrypt_credential("not spied")
    assert encrypted == [b"through the spy"] and len(built) == 2


def test_patching_keyring_changes_what_the_manager_uses(monkeypatch):
    from unittest.mock import patch

    key = _key()
    fake = _DictKeyring({("importobot-ci", "bot"): key})
    monkeypatch.setenv("IMPORTOBOT_KEYRING_SERVICE", "importobot-ci")
    monkeypatch.setenv("IMPORTOBOT_KEYRING_USERNAME", "bot")
    with patch("importobot.security.credential_manager.keyring", fake):
        manager = CredentialManager()
    assert manager.key_source.label == "keyring:importobot-ci/bot"
    other = CredentialManager(key=key, previous_keys=[])  # no keyring read outside the patch
    assert manager.decrypt_credential(other.encrypt_credential("k")) == "k"
    # The key, then the D5 previous-key entry, both from the stand-in.
    assert fake.calls == [("get", "importobot-ci", "bot"), ("get", "importobot-ci", "bot.previous")]


def test_store_key_in_keyring_through_a_patched_keyring(monkeypatch):
    fake = _DictKeyring()
    monkeypatch.setattr("importobot.security.credential_manager.keyring", fake)
    stored = CredentialManager.store_key_in_keyring(service="importobot-ci", username="automation")
    assert fake.entries[("importobot-ci", "automation")] == stored
    assert len(base64.urlsafe_b64decode(stored)) == 32
    with pytest.raises(SecurityError, match="already exists"):
        CredentialManager.store_key_in_keyring(service="importobot-ci", username="automation")
    rotated = CredentialManager.store_key_in_keyring(
        service="importobot-ci", username="automation", overwrite=True
    )
    assert fake.entries[("importobot-ci", "automation")] == rotated != stored
    assert fake.entries[("importobot-ci", "automation.previous")] == stored


def test_patching_keyring_to_none_is_the_missing_extra(monkeypatch):
    monkeypatch.setattr("importobot.security.credential_manager.keyring", None)
    with pytest.raises(SecurityError, match="System keyring integration"):
        CredentialManager.store_key_in_keyring(service="svc")


def test_a_patch_undone_leaves_no_stale_override(monkeypatch):
    import sys

    from importobot.exceptions import MissingDependencyError
    from importobot.security import credential_manager as cm

    # A hand-written save/patch/restore (older pytest's monkeypatch did the same): the
    # genuine objects end up in the module's namespace...
    saved_keyring, saved_fernet = cm.keyring, cm.Fernet
    try:
        cm.keyring, cm.Fernet = _DictKeyring(), None
        cm.keyring, cm.Fernet = saved_keyring, saved_fernet
        assert "keyring" in vars(cm) and "Fernet" in vars(cm)
        # ...and a library missing afterwards is still seen missing.
        monkeypatch.setitem(sys.modules, "keyring", None)
        with pytest.raises(MissingDependencyError, match="System keyring integration"):
            CredentialManager.store_key_in_keyring(service="svc")
        for name in [m for m in sys.modules if m.split(".")[0] == "cryptography"]:
            monkeypatch.delitem(sys.modules, name)
        monkeypatch.setitem(sys.modules, "cryptography", None)
        with pytest.raises(MissingDependencyError, match="pip install cryptography"):
            CredentialManager(key=new_raw())
    finally:
        vars(cm).pop("keyring", None)
        vars(cm).pop("Fernet", None)


def test_missing_cipher_at_encrypt_and_decrypt_time():
    secret = "sensitive-value-4f1c"
    manager = CredentialManager(key=new_raw())
    encrypted = manager.encrypt_credential(secret)
    manager._cipher = None
    with pytest.raises(SecurityError, match="Strong encryption unavailable") as enc:
        manager.encrypt_credential(secret)
    with pytest.raises(SecurityError, match="Strong decryption unavailable") as dec:
        manager.decrypt_credential(encrypted)
    with pytest.raises(SecurityError, match="Strong decryption unavailable"):
        manager.decrypt_credential(encrypted.token)
    with pytest.raises(SecurityError, match="Strong encryption unavailable"):
        manager.encrypt_bytes(b"x")
    for info in (enc, dec):
        message = str(info.value)
        # Our explanation comes first, then 0.1.5's phrase; never the value.
        assert message.startswith("this CredentialManager has no cipher")
        assert secret not in message and secret not in repr(info.value.args)
        assert not isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("value", "error"),
    [("invalid_key", "reads as words"), ("q7Zp2x9W", "too short"), ("", None)],
    ids=["placeholder", "short", "missing"],
)
def test_missing_or_invalid_key_says_strong_encryption_unavailable(monkeypatch, value, error):
    if value:
        monkeypatch.setenv("IMPORTOBOT_ENCRYPTION_KEY", value)
    with pytest.raises(SecurityError, match="Strong encryption unavailable") as info:
        CredentialManager()
    message = str(info.value)
    assert message.index("Strong encryption unavailable") > 0  # our explanation first
    assert "IMPORTOBOT_ENCRYPTION_KEY" in message
    if error:
        assert error in message and value not in message.replace("IMPORTOBOT_ENCRYPTION_KEY", "")
    with pytest.raises(SecurityError, match="Strong encryption unavailable"):
        CredentialManager(key=b"A" * 32)
