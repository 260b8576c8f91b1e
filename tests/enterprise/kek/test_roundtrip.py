"""The acceptance round trip against each real backend (SoftHSM2, OpenBao, moto's KMS):

``kek create`` → ``key wrap --generate --output .importobot-key.wrapped`` → with
``IMPORTOBOT_ENCRYPTION_KEY`` unset, ``encrypt | decrypt`` → ``kek rotate`` → ``key
rewrap`` → the old ciphertext still decrypts and the file names the new KEK version →
``importobot check`` reports nothing for the committed file. Events carry fingerprints.
"""

from __future__ import annotations

import json
import stat
import subprocess
import time
from pathlib import Path

import pytest

from importobot.keys.wrapped import parse_wrapped
from tests import eventsink
from tests.enterprise.kek.conftest import clean_env, run_cli

EVENTS_CONFIG = (
    "[tool.importobot]\n[[tool.importobot.events.connector]]\n"
    'name = "local"\ntype = "syslog"\nurl = "tcp://127.0.0.1:5514"\n'
)


@pytest.fixture(params=["pkcs11", "vault", "awskms"])
def kek(request: pytest.FixtureRequest) -> tuple[str, str, dict[str, str]]:
    """(scheme, KEK URI, environment) for a fresh KEK of each backend."""
    if request.param == "pkcs11":
        hsm = request.getfixturevalue("softhsm")
        uri = hsm.uri()
        env = hsm.env()
    elif request.param == "vault":
        bao = request.getfixturevalue("openbao")
        uri = bao.uri()
        env = bao.env()
    else:
        kms = request.getfixturevalue("moto_kms")
        uri = kms.uri()
        env = kms.env()
    return request.param, uri, clean_env(**env, IMPORTOBOT_KEK=uri)


def test_round_trip(kek: tuple[str, str, dict[str, str]], repo: Path, tmp_path: Path) -> None:
    scheme, uri, env = kek
    (repo / "pyproject.toml").write_text(EVENTS_CONFIG)
    env.update(eventsink.install(tmp_path))

    created = run_cli("kek", "create", env=env, cwd=repo)
    assert created.returncode == 0, created.stderr
    wrapped = run_cli(
        "key", "wrap", "--generate", "--output", ".importobot-key.wrapped", env=env, cwd=repo
    )
    assert wrapped.returncode == 0, wrapped.stderr
    path = repo / ".importobot-key.wrapped"
    text = path.read_text()
    assert text.endswith("\n") and text.count("\n") == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    first = parse_wrapped(text)
    assert first is not None and first.uri == uri

    token = run_cli("encrypt", env=env, cwd=repo, stdin="s3cret\n")
    assert token.returncode == 0, token.stderr
    opened = run_cli("decrypt", env=env, cwd=repo, stdin=token.stdout)
    assert (opened.returncode, opened.stdout) == (0, "s3cret\n"), opened.stderr

    status = run_cli("key", "status", "--format", "json", env=env, cwd=repo)
    report = json.loads(status.stdout)
    assert report["source"] == f"wrapped:{uri.split(':', 1)[0]}:file"
    assert report["fingerprint"] == first.fingerprint
    assert report["wrapped"] == {"kek": uri, "version": first.version, "mechanism": first.mechanism}

    if scheme == "awskms":
        time.sleep(1.1)  # KMS versions are rotation dates, to the second
    rotated = run_cli("kek", "rotate", env=env, cwd=repo)
    assert rotated.returncode == 0, rotated.stderr
    rewrapped = run_cli("key", "rewrap", env=env, cwd=repo)
    assert rewrapped.returncode == 0, rewrapped.stderr
    second = parse_wrapped(path.read_text())
    assert second is not None
    assert second.fingerprint == first.fingerprint and second.version != first.version
    status = run_cli("kek", "status", "--wrapped", str(path), env=env, cwd=repo)
    assert f"under version {second.version} (newest)" in status.stdout, status.stderr
    again = run_cli("decrypt", env=env, cwd=repo, stdin=token.stdout)
    assert (again.returncode, again.stdout) == (0, "s3cret\n"), again.stderr

    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, timeout=60)
    check = run_cli("check", "--format", "json", env=env, cwd=repo)
    findings = json.loads(check.stdout)["findings"]
    assert not [f for f in findings if f["path"] == ".importobot-key.wrapped"], findings
    assert check.returncode == 0, check.stdout

    events = [r["event"] for r in eventsink.recorded(env)]
    kinds = [e["type"] for e in events]
    assert {"kek.created", "key.wrapped", "kek.rotated", "key.rewrapped"} <= set(kinds), kinds
    wrapped_events = [e for e in events if e["type"] in ("key.wrapped", "key.rewrapped")]
    assert all(e["fingerprint"] == first.fingerprint for e in wrapped_events)
