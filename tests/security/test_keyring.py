"""The OS-keyring source against a real Secret Service (gnome-keyring in a D-Bus session).

``scripts/test`` starts and unlocks gnome-keyring in a private session bus; outside it
these tests skip (and fail under the test command, see conftest.require_service).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid

import pytest

from importobot.exceptions import (
    KeyringEntryExistsError,
    KeyringUnavailableError,
    MissingDependencyError,
    SecurityError,
)
from importobot.keys.fingerprint import fingerprint
from importobot.security import CredentialManager, store_key_in_keyring
from importobot.security.key_sources import keyring_delete, keyring_get
from importobot.security.key_validation import parse_key
from tests.conftest import require_service
from tests.keygen import contains_key, new_raw


def _secret_service_ready() -> tuple[bool, str]:
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return False, "no D-Bus session (run through scripts/test)"
    try:
        import keyring
        import secretstorage
        from keyring.backends import SecretService
    except ImportError as exc:
        return False, f"missing {exc.name}"
    try:
        conn = secretstorage.dbus_init()
        collection = secretstorage.get_default_collection(conn)
        if collection.is_locked():
            return False, "the default collection is locked"
    except Exception as exc:  # noqa: BLE001 - any failure means not available
        return False, f"{type(exc).__name__}: {exc}"
    backend = keyring.get_keyring()
    if not isinstance(backend, SecretService.Keyring):
        return False, f"keyring backend is {type(backend).__name__}, not SecretService"
    return True, ""


@pytest.fixture
def service(monkeypatch):
    ok, why = _secret_service_ready()
    require_service("Secret Service", ok, why)
    name = f"importobot-test-{uuid.uuid4().hex[:8]}"
    yield name
    for user in ("importobot", "importobot.previous", "ci", "ci.previous"):
        keyring_delete(name, user)


def test_store_and_load_through_the_secret_service(service, monkeypatch):
    import secretstorage

    stored = store_key_in_keyring(service=service)
    raw = parse_key(stored)
    # It really went to the Secret Service, not some other backend.
    conn = secretstorage.dbus_init()
    items = list(
        secretstorage.get_default_collection(conn).search_items(
            {"service": service, "username": "importobot"}
        )
    )
    assert len(items) == 1 and items[0].get_secret().decode() == stored
    monkeypatch.setenv("IMPORTOBOT_KEYRING_SERVICE", service)
    cm = CredentialManager()
    assert cm.key_source.label == f"keyring:{service}/importobot"
    assert cm.key_fingerprint == fingerprint(raw)
    assert cm.decrypt_credential(cm.encrypt_credential("s3cret")) == "s3cret"


def test_existing_entry_needs_overwrite_and_keeps_the_old_key(service, monkeypatch):
    first = CredentialManager.store_key_in_keyring(service=service, username="ci")
    with pytest.raises(SecurityError, match="already exists") as info:
        CredentialManager.store_key_in_keyring(service=service, username="ci")
    assert isinstance(info.value, KeyringEntryExistsError)
    assert (info.value.service, info.value.username) == (service, "ci")
    assert "Pass overwrite=True" in str(info.value)
    assert info.value.cli_message is not None and "--overwrite" in info.value.cli_message
    assert "overwrite=True" not in info.value.cli_message
    assert keyring_get(service, "ci") == first  # untouched
    monkeypatch.setenv("IMPORTOBOT_KEYRING_SERVICE", service)
    monkeypatch.setenv("IMPORTOBOT_KEYRING_USERNAME", "ci")
    old_token = CredentialManager().encrypt_credential("precious").token
    # 0.1.5's runbook: overwrite the keyring entry first, then re-encrypt. It lost the
    # old key; now the old value moves to ci.previous and old data stays readable.
    second = CredentialManager.store_key_in_keyring(service=service, username="ci", overwrite=True)
    assert second != first
    assert keyring_get(service, "ci.previous") == first
    cm = CredentialManager()
    assert cm.key_fingerprint == fingerprint(parse_key(second))
    assert cm.previous_fingerprints == [fingerprint(parse_key(first))]
    assert cm.decrypt_credential(old_token) == "precious"


def test_explicit_key_is_validated_before_storing(service):
    with pytest.raises(SecurityError):
        store_key_in_keyring(service=service, key="changeme")
    assert keyring_get(service, "importobot") is None
    raw = new_raw()
    assert parse_key(store_key_in_keyring(service=service, key=raw)) == raw


def test_cli_key_store_reads_stdin_and_never_prints_the_key(service):
    raw = new_raw()
    import base64

    env = {**os.environ, "IMPORTOBOT_KEYRING_SERVICE": service}
    proc = subprocess.run(
        [sys.executable, "-m", "importobot.cli", "key", "store"],
        input=base64.b64encode(raw).decode() + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert fingerprint(raw) in proc.stdout
    assert not contains_key(proc.stdout + proc.stderr, raw)
    status = subprocess.run(
        [sys.executable, "-m", "importobot.cli", "key", "status"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert status.returncode == 0
    assert f"keyring:{service}/importobot" in status.stdout
    assert not contains_key(status.stdout + status.stderr, raw)


def test_no_backend_is_one_clear_line(tmp_path):
    # Outside any D-Bus session keyring falls back to its fail backend.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DBUS_SESSION_BUS_ADDRESS", "PYTHON_KEYRING_BACKEND"}
    }
    env.update(
        IMPORTOBOT_KEYRING_SERVICE="importobot-none",
        HOME=str(tmp_path),
        XDG_RUNTIME_DIR=str(tmp_path),
        XDG_CONFIG_HOME=str(tmp_path),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "importobot.cli", "key", "status"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "keyring" in lines[0].lower(), proc.stderr
    assert "Traceback" not in proc.stderr
    # It names what was tried and why it failed, and offers a way forward.
    for needle in (
        "keyring.backends.fail.Keyring",
        "Secret Service over D-Bus",
        "DBUS_SESSION_BUS_ADDRESS is unset",
        "IMPORTOBOT_ENCRYPTION_KEY",
        "IMPORTOBOT_WRAPPED_KEY",
    ):
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("bus", [None, "unix:path=/nonexistent/importobot-test-bus"])
def test_no_backend_names_the_backend_and_the_bus(monkeypatch, bus):
    import keyring
    from keyring.backends import fail

    if bus is None:
        monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    else:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus)
    monkeypatch.setenv("IMPORTOBOT_KEYRING_SERVICE", "importobot-none")
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        with pytest.raises(KeyringUnavailableError) as info:
            CredentialManager()
    finally:
        keyring.set_keyring(previous)
    message = str(info.value)
    assert len(message.splitlines()) == 1
    assert message.startswith("no usable OS keyring backend: keyring fell back to ")
    assert "keyring.backends.fail.Keyring" in message
    assert "Secret Service over D-Bus (" in message
    assert ("DBUS_SESSION_BUS_ADDRESS is unset" if bus is None else bus) in message
    assert "IMPORTOBOT_ENCRYPTION_KEY" in message and "IMPORTOBOT_WRAPPED_KEY" in message
    assert info.value.__cause__ is None


def test_keyring_entry_exists_error_words_the_option_for_each_surface():
    import pickle

    error = KeyringEntryExistsError("svc", "ci")
    assert isinstance(error, SecurityError)
    assert "already exists" in str(error) and "svc/ci" in str(error)
    assert "Pass overwrite=True" in str(error)
    assert error.cli_message is not None
    assert "--overwrite" in error.cli_message and "overwrite=True" not in error.cli_message
    back = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own blob
    assert (back.service, back.username, str(back)) == ("svc", "ci", str(error))
    assert back.cli_message == error.cli_message
    assert SecurityError("x").cli_message is None


def test_bare_dbus_session_times_out_cleanly(tmp_path):
    # A session bus with no unlocked Secret Service: D-Bus would hang for minutes (D7).
    require_service("dbus-run-session", shutil.which("dbus-run-session") is not None, "no dbus")
    env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    env.update(
        IMPORTOBOT_KEYRING_SERVICE="importobot-bare",
        IMPORTOBOT_KEYRING_TIMEOUT="2",
        HOME=str(tmp_path),
    )
    start = time.monotonic()
    proc = subprocess.run(
        ["dbus-run-session", "--", sys.executable, "-m", "importobot.cli", "key", "status"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    elapsed = time.monotonic() - start
    assert proc.returncode == 2, proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("importobot:")]
    assert len(errors) == 1 and "keyring" in errors[0].lower()
    assert "IMPORTOBOT_ENCRYPTION_KEY" in errors[0] and "IMPORTOBOT_WRAPPED_KEY" in errors[0]
    assert "Traceback" not in proc.stderr
    assert elapsed < 30


def test_missing_keyring_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "keyring", None)
    monkeypatch.setenv("IMPORTOBOT_KEYRING_SERVICE", "anything")
    with pytest.raises(MissingDependencyError, match=r"importobot\[security\]") as info:
        CredentialManager()
    assert "System keyring integration" in str(info.value)
    with pytest.raises(MissingDependencyError):
        store_key_in_keyring(service="anything")


def test_missing_cryptography(monkeypatch):
    for name in list(sys.modules):
        if name == "cryptography" or name.startswith("cryptography."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "cryptography", None)
    with pytest.raises(MissingDependencyError) as info:
        CredentialManager(key=new_raw())
    message = str(info.value)
    for needle in (
        "pip install cryptography",
        "IMPORTOBOT_ENCRYPTION_KEY",
        "openssl rand -base64 32",
    ):
        assert needle in message


def test_keyring_errors_are_not_keyring_tracebacks(monkeypatch):
    import keyring
    from keyring.errors import KeyringLocked

    class Locked(keyring.backend.KeyringBackend):
        priority = 1  # type: ignore[assignment]

        def get_password(self, service, username):
            raise KeyringLocked("Failed to unlock the collection!")

        def set_password(self, service, username, password):
            raise KeyringLocked("Failed to unlock the collection!")

        def delete_password(self, service, username):
            raise KeyringLocked("Failed to unlock the collection!")

    previous = keyring.get_keyring()
    keyring.set_keyring(Locked())
    try:
        monkeypatch.setenv("IMPORTOBOT_KEYRING_SERVICE", "x")
        with pytest.raises(KeyringUnavailableError, match="KeyringLocked") as info:
            CredentialManager()
        assert info.value.__cause__ is None and info.value.__suppress_context__
    finally:
        keyring.set_keyring(previous)
