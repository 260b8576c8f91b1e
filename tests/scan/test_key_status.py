"""KeyStatus: one typed answer for key status, the key hooks, check and compliance."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from importobot.exceptions import ConfigError
from importobot.keys.age import AgePolicy
from importobot.keys.fingerprint import fingerprint
from importobot.keys.registry import Registry
from importobot.project import load_project
from importobot.scan.rules.key_age import check_key_age
from importobot.scan.rules.key_setup import DOCS_URL, ROTATION_DOCS, check_key_setup
from importobot.scan.rules.key_status import MIGRATION_STEPS, KeyStatus, key_status
from tests.keygen import contains_key, new_raw

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.fixture
def repo(tmp_path) -> Path:
    (tmp_path / ".git").mkdir()
    return tmp_path


def _registry(repo: Path, **days: tuple[bytes, int, int | None]) -> Registry:
    reg = Registry(str(repo / ".importobot-keys.toml"))
    for raw, created, retired in days.values():
        reg.register(fingerprint(raw), NOW - timedelta(days=created))
        if retired is not None:
            reg.retire(fingerprint(raw), NOW - timedelta(days=retired))
    reg.save()
    return reg


def test_a_full_status(repo):
    primary, retired, registered, unregistered = (new_raw() for _ in range(4))
    _registry(
        repo,
        a=(primary, 100, None),
        b=(retired, 300, 10),
        c=(registered, 200, None),
    )
    env = {
        "IMPORTOBOT_ENCRYPTION_KEY": _b64(primary),
        "IMPORTOBOT_PREVIOUS_KEYS": ",".join(
            [_b64(retired), _b64(registered), _b64(unregistered), _b64(primary)]
        ),
    }
    status = key_status(load_project(str(repo)), env, NOW)
    assert isinstance(status, KeyStatus)
    assert status.valid and status.fingerprint == fingerprint(primary)
    assert status.source == "env:IMPORTOBOT_ENCRYPTION_KEY"
    assert status.entry is not None and status.entry.fingerprint == fingerprint(primary)
    assert status.state == "due" and status.created == NOW - timedelta(days=100)
    assert status.due == NOW - timedelta(days=10)
    assert [(p.fingerprint, p.registry_state) for p in status.previous] == [
        (fingerprint(retired), "retired"),
        (fingerprint(registered), "registered"),
        (fingerprint(unregistered), "unregistered"),
    ]  # the primary listed again is not a previous key
    assert [f.rule for f in status.findings] == ["IOB301", "IOB305"]
    iob305 = status.findings[1]
    assert iob305.severity == "warning" and iob305.fingerprint == fingerprint(retired)
    assert iob305.source == "env:IMPORTOBOT_PREVIOUS_KEYS"
    # Messages link the documentation URL, never a file outside the wheel.
    message = status.findings[0].message
    assert ROTATION_DOCS in message and "docs/" not in message.replace(ROTATION_DOCS, "")
    assert status.exit_code() == 1 and not status.migration
    data = status.to_dict()
    text = json.dumps(data)
    for raw in (primary, retired, registered, unregistered):
        assert not contains_key(text, raw) and not contains_key(repr(status), raw)
    assert data["age"] == {
        "created": "2026-08-17T12:00:00Z",
        "age": "100d",
        "due": "2026-11-15",
        "state": "due",
    }
    assert data["previous"][0]["retired_at"] == "2026-11-15T12:00:00Z"


def test_the_findings_check_needs_are_setup_and_age(repo):
    """Without previous keys, key_status gives exactly check_key_setup + check_key_age."""
    raw = new_raw()
    reg = _registry(repo, a=(raw, 80, None))
    env = {"IMPORTOBOT_ENCRYPTION_KEY": _b64(raw)}
    policy = AgePolicy(timedelta(days=90))
    status = key_status(load_project(str(repo)), env, NOW, policy=policy)
    setup = check_key_setup(env)
    expected = [
        *setup.findings,
        *check_key_age(fingerprint(raw), "env:IMPORTOBOT_ENCRYPTION_KEY", reg, policy, NOW),
    ]
    assert list(status.findings) == expected and [f.rule for f in expected] == ["IOB302"]
    assert status.policy is policy and status.registry is not None
    assert status.registry.path == reg.path and status.exit_code() == 0
    assert status.exit_code(strict=True) == 1


def test_switches(repo):
    raw = new_raw()
    env = {"IMPORTOBOT_ENCRYPTION_KEY": _b64(raw), "IMPORTOBOT_PREVIOUS_KEYS": "short"}
    project = load_project(str(repo))
    assert [f.rule for f in key_status(project, env, NOW).findings] == ["IOB202", "IOB304"]
    # previous=False (hook key-age): the previous keys are not read at all.
    assert [f.rule for f in key_status(project, env, NOW, previous=False).findings] == ["IOB304"]
    # use_registry=False (hook check-key): no registry, no age, no IOB3xx.
    bare = key_status(project, env, NOW, use_registry=False)
    assert bare.registry is None and bare.age is None
    assert [f.rule for f in bare.findings] == ["IOB202"]
    good = {"IMPORTOBOT_ENCRYPTION_KEY": _b64(raw), "IMPORTOBOT_PREVIOUS_KEYS": _b64(new_raw())}
    assert key_status(project, good, NOW, use_registry=False).previous[0].registry_state is None
    # optional: no key at all is no finding; without it, IOB201.
    assert key_status(project, {}, NOW, optional=True).findings == ()
    missing = key_status(project, {}, NOW)
    assert [f.rule for f in missing.findings] == ["IOB201"] and missing.source is None


def test_legacy_key_gets_the_migration(repo):
    status = key_status(
        load_project(str(repo)), {"IMPORTOBOT_ENCRYPTION_KEY": new_raw().hex()}, NOW
    )
    assert not status.valid and status.fingerprint is None
    assert status.migration == MIGRATION_STEPS and status.to_dict()["migration"]
    assert status.findings[0].rule == "IOB202"
    assert status.source == "env:IMPORTOBOT_ENCRYPTION_KEY"


def test_policy_and_registry_errors(repo):
    project = load_project(str(repo))
    env = {"IMPORTOBOT_ENCRYPTION_KEY": _b64(new_raw())}
    with pytest.raises(ConfigError, match="ambiguous"):
        key_status(project, env, NOW, max_age="3m")
    (repo / "elsewhere.toml").write_text("[[key]]\nfingerprint = 1\n")
    with pytest.raises(ConfigError, match="elsewhere.toml:2:"):
        key_status(project, env, NOW, registry=str(repo / "elsewhere.toml"))


def test_config_policy_and_registry_path(repo):
    raw = new_raw()
    (repo / ".importobot.toml").write_text('max-key-age = "30d"\nregistry = "keys/reg.toml"\n')
    (repo / "keys").mkdir()
    reg = Registry(str(repo / "keys" / "reg.toml"))
    reg.register(fingerprint(raw), NOW - timedelta(days=40))
    reg.save()
    status = key_status(load_project(str(repo)), {"IMPORTOBOT_ENCRYPTION_KEY": _b64(raw)}, NOW)
    assert status.state == "due" and "30d" in status.findings[0].message


def test_docs_url_is_the_package_documentation_url():
    import tomllib

    root = Path(__file__).resolve().parents[2]
    urls = tomllib.loads((root / "pyproject.toml").read_text())["project"]["urls"]
    assert urls["Documentation"] == DOCS_URL
    assert (root / "docs" / ROTATION_DOCS.rsplit("/", 1)[1]).is_file()
