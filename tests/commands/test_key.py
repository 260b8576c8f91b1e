"""importobot key generate | store | status | register | retire (importobot.commands.key)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from importobot.cli import cli
from importobot.commands import key as commands
from importobot.exceptions import ConfigError
from importobot.keys.fingerprint import fingerprint
from importobot.keys.registry import Registry
from tests.keygen import contains_key, new_raw

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _set_key(monkeypatch) -> bytes:
    raw = new_raw()
    monkeypatch.setenv("IMPORTOBOT_ENCRYPTION_KEY", base64.urlsafe_b64encode(raw).decode())
    return raw


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_cli_register_status_and_retire(repo, monkeypatch):
    raw = _set_key(monkeypatch)
    created = (datetime.now(timezone.utc) - timedelta(days=100)).strftime("%Y-%m-%d")
    runner = CliRunner()
    result = runner.invoke(cli, ["key", "register", "--created", created])
    assert result.exit_code == 0 and fingerprint(raw) in result.output
    result = runner.invoke(cli, ["hook", "key-age", "--max-age", "90d"])
    assert result.exit_code == 1 and "IOB301" in result.output
    result = runner.invoke(cli, ["key", "status", "--max-age", "90d"])
    assert result.exit_code == 1 and "rotation due" in result.output
    result = runner.invoke(cli, ["key", "status", "--format", "json", "--max-age", "120d"])
    assert result.exit_code == 0 and '"state": "ok"' in result.output
    # Roll over: the old key becomes a previous key, the new one is registered.
    new = new_raw()
    monkeypatch.setenv("IMPORTOBOT_ENCRYPTION_KEY", base64.b64encode(new).decode())
    monkeypatch.setenv("IMPORTOBOT_PREVIOUS_KEYS", base64.b64encode(raw).decode())
    assert runner.invoke(cli, ["key", "register"]).exit_code == 0
    result = runner.invoke(cli, ["key", "retire", fingerprint(new)])
    assert result.exit_code == 2 and "active key" in result.output
    result = runner.invoke(cli, ["key", "retire"])
    assert result.exit_code == 0 and fingerprint(raw) in result.output
    reg = Registry.load(str(repo / ".importobot-keys.toml"))
    assert reg.get(fingerprint(raw)).retired is not None
    result = runner.invoke(cli, ["key", "status"])
    # A retired key still configured is IOB305 retired-key-configured (it was IOB302).
    assert "retired" in result.output and "IOB305 retired-key-configured" in result.output
    assert "IOB302" not in result.output and result.exit_code == 0
    for out in (result.output,):
        assert not contains_key(out, raw) and not contains_key(out, new)


# -- retire (D19) ---------------------------------------------------------------------------
def test_choose_retiree_policy():
    a, b, c = (fingerprint(new_raw()) for _ in range(3))
    assert commands.choose_retiree(None, [a], c) == a
    assert commands.choose_retiree(b, [a], c) == b
    with pytest.raises(ConfigError, match="no previous key is configured"):
        commands.choose_retiree(None, [], c)
    with pytest.raises(ConfigError, match="2 previous keys are configured"):
        commands.choose_retiree(None, [a, b], c)
    with pytest.raises(ConfigError, match="active key"):
        commands.choose_retiree(c, [a], c)
    with pytest.raises(ConfigError, match="iobfp1:"):
        commands.choose_retiree("not-a-fingerprint", [a], c)


def test_retire_records_an_unregistered_configured_previous_key(repo, monkeypatch):
    """The command `rotate` prints works although the old key was never registered."""
    old, new = new_raw(), new_raw()
    monkeypatch.setenv("IMPORTOBOT_ENCRYPTION_KEY", _b64(new))
    monkeypatch.setenv("IMPORTOBOT_PREVIOUS_KEYS", _b64(old))
    runner = CliRunner()
    result = runner.invoke(cli, ["key", "retire", fingerprint(old)])
    assert result.exit_code == 0, result.output
    assert "not registered" in result.output and "creation date unknown" in result.output
    assert "now remove it from IMPORTOBOT_PREVIOUS_KEYS" in result.output
    path = repo / ".importobot-keys.toml"
    text = path.read_text()
    assert "created =" not in text and "retired = " in text and "note = " in text
    record = Registry.load(str(path)).get(fingerprint(old))
    assert record is not None and record.created is None and record.retired is not None
    assert record.note == commands.UNKNOWN_CREATED_NOTE
    # Still configured: key status warns with IOB305 (exit 0: a warning).
    status = runner.invoke(cli, ["key", "status", "--format", "json"])
    data = json.loads(status.output)
    assert status.exit_code == 0
    assert [f["rule"] for f in data["findings"]] == ["IOB304", "IOB305"]
    assert data["previous"][0]["registry"] == "retired" and data["previous"][0]["retired"]
    # Retiring again keeps the first date and says so.
    again = runner.invoke(cli, ["key", "retire"])
    assert again.exit_code == 0 and "already retired" in again.output
    assert Registry.load(str(path)).get(fingerprint(old)) == record
    for out in (result.output, status.output, again.output):
        assert not contains_key(out, old) and not contains_key(out, new)


def test_retire_refuses_an_unknown_fingerprint(repo, monkeypatch):
    _set_key(monkeypatch)
    stranger = fingerprint(new_raw())
    result = CliRunner().invoke(cli, ["key", "retire", stranger])
    assert result.exit_code == 2
    assert "not a configured previous key" in result.output
    assert not (repo / ".importobot-keys.toml").exists()
    result = CliRunner().invoke(cli, ["key", "retire", "iobfp1:xyz"])
    assert result.exit_code == 2 and "16 hex digits" in result.output


def test_retire_function_with_fixed_clock(repo):
    old, new = new_raw(), new_raw()
    env = {"IMPORTOBOT_ENCRYPTION_KEY": _b64(new), "IMPORTOBOT_PREVIOUS_KEYS": _b64(old)}
    reg = Registry(str(repo / ".importobot-keys.toml"))
    reg.register(fingerprint(old), NOW - timedelta(days=200))
    reg.save()
    outcome = commands.retire(env=env, now=NOW, at="2026-11-01")
    assert outcome.exit_code == 0 and f"retired {fingerprint(old)}" in outcome.stdout
    record = Registry.load(reg.path, now=NOW).get(fingerprint(old))
    assert record.retired == datetime(2026, 11, 1, tzinfo=timezone.utc)
    with pytest.raises(ConfigError, match="--at: the date is in the future"):
        commands.retire(env=env, now=NOW, at="2026-12-01")


# -- register --------------------------------------------------------------------------------
def test_register_function(repo):
    raw = new_raw()
    env = {"IMPORTOBOT_ENCRYPTION_KEY": _b64(raw)}
    outcome = commands.register(created="2026-10-01", env=env, now=NOW)
    assert outcome.stdout.startswith(
        f"registered {fingerprint(raw)} (created 2026-10-01T00:00:00Z)"
    )
    assert "already registered" in commands.register(created="2026-10-01", env=env, now=NOW).stdout
    with pytest.raises(ConfigError, match="--created: the date is in the future"):
        commands.register(created="2027-01-01", env={"IMPORTOBOT_ENCRYPTION_KEY": _b64(new_raw())})


# -- status ----------------------------------------------------------------------------------
def test_status_function_text_and_json(repo):
    raw, prev = new_raw(), new_raw()
    env = {"IMPORTOBOT_ENCRYPTION_KEY": _b64(raw), "IMPORTOBOT_PREVIOUS_KEYS": "legacy:" + "p" * 40}
    reg = Registry(str(repo / ".importobot-keys.toml"))
    reg.register(fingerprint(raw), NOW - timedelta(days=80))
    reg.save()
    text = commands.status(env=env, now=NOW)
    assert text.exit_code == 0
    assert "rotation due 2026-12-05 (warn)" in text.stdout
    assert "(legacy 0.1.5 derivation) (not in the registry)" in text.stdout
    assert "IOB302 key-rotation-soon" in text.stdout
    data = json.loads(commands.status(fmt="json", env=env, now=NOW, max_age="30d").stdout)
    assert data["age"]["state"] == "due" and data["entry"]["fingerprint"] == fingerprint(raw)
    assert data["previous"][0]["registry"] == "unregistered" and data["previous"][0]["legacy"]
    assert commands.status(env=env, now=NOW, max_age="30d").exit_code == 1
    del prev


# -- store -----------------------------------------------------------------------------------
def _run(
    *args: str, env: dict[str, str] | None = None, stdin: bytes = b""
) -> subprocess.CompletedProcess[bytes]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "importobot.cli", *args],
        input=stdin,
        capture_output=True,
        env=full_env,
        timeout=60,
    )


@pytest.mark.parametrize("locale", ["C.UTF-8", "C"])
def test_key_store_non_utf8_stdin_is_one_line_exit_2(locale):
    raw = new_raw()
    proc = _run(
        "key",
        "store",
        env={
            "LC_ALL": locale,
            "PYTHONIOENCODING": "",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        },
        stdin=base64.b64encode(raw) + b"\xff\xfe\n",
    )
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "not UTF-8 text" in err and "offset 44" in err
    assert not contains_key(proc.stdout + proc.stderr, raw)


def test_key_store_without_a_keyring_names_no_missing_option():
    proc = _run(
        "key",
        "store",
        "--generate",
        "--overwrite",
        env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
    )
    err = proc.stderr.decode()
    assert proc.returncode == 2 and "Missing option" not in err
    assert err.count("\n") == 1 and "keyring" in err


def test_key_store_default_service_on_the_real_keyring(monkeypatch):
    from importobot.security.key_sources import keyring_delete, keyring_get
    from tests.conftest import require_service
    from tests.security.test_keyring import _secret_service_ready

    ok, why = _secret_service_ready()
    require_service("Secret Service", ok, why)
    user = f"test-{uuid.uuid4().hex[:8]}"
    try:
        first = _run("key", "store", "--generate", "--overwrite", "--username", user)
        out = first.stdout.decode()
        assert first.returncode == 0, first.stderr.decode()
        assert f"in keyring importobot/{user}" in out
        assert (
            f"importobot reads this entry when IMPORTOBOT_KEYRING_SERVICE=importobot and "
            f"IMPORTOBOT_KEYRING_USERNAME={user} is set"
        ) in out
        stored = keyring_get("importobot", user)
        assert stored and fingerprint(base64.urlsafe_b64decode(stored)) in out
        assert not contains_key(out, base64.urlsafe_b64decode(stored))
        refused = _run("key", "store", "--generate", "--username", user)
        err = refused.stderr.decode()
        assert refused.returncode == 2 and "already exists" in err
        assert "--overwrite" in err and "overwrite=True" not in err
        again = _run("key", "store", "--generate", "--overwrite", "--username", user)
        assert again.returncode == 0 and "stays readable" in again.stdout.decode()
        assert keyring_get("importobot", f"{user}.previous") == stored
        env = {"IMPORTOBOT_KEYRING_SERVICE": "importobot", "IMPORTOBOT_KEYRING_USERNAME": user}
        status = _run("key", "status", env=env)
        newer = keyring_get("importobot", user)
        assert newer is not None
        assert fingerprint(base64.urlsafe_b64decode(newer)) in status.stdout.decode()
        assert f"keyring:importobot/{user}" in status.stdout.decode()
    finally:
        keyring_delete("importobot", user)
        keyring_delete("importobot", f"{user}.previous")


# -- help and messages -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ["key", "store"],
        ["key", "status"],
        ["key", "register"],
        ["key", "retire"],
        ["key", "generate"],
        ["encrypt"],
        ["decrypt"],
        ["hook", "key-age"],
        ["hook", "check-key"],
    ],
)
def test_help_cites_no_design_number_or_repository_file(args):
    import re

    text = CliRunner().invoke(cli, [*args, "--help"]).output
    assert not re.search(r"\bD\d{1,2}\b", text), text
    assert "docs/" not in text and ".md" not in text


def test_key_age_hook_usage_cites_no_design_number():
    import re

    from importobot.hooks import check_key, key_age

    for usage in (key_age.USAGE, check_key.USAGE):
        assert not re.search(r"\bD\d{1,2}\b", usage) and "docs/" not in usage
