"""Key storage and substitution judged from source labels, wrapped keys included.

The wrapped-key sources (D24) report ``wrapped:<scheme>:<env|file>`` labels; the report
reads only the label, so these tests give the gathered evidence such a label (the other
evidence is gathered for real from a repository).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from importobot._record import replace
from importobot.project import load_project
from importobot_enterprise.compliance.controls import judge
from importobot_enterprise.compliance.evidence import Evidence, gather, kek_pins
from importobot_enterprise.compliance.policy import load_policy, storage_of
from tests.gitrepo import commit, git, init_repo
from tests.kek_services import SoftHSM

from .scenario import base_env, cli, control, make_repo, report_json, validate


@pytest.mark.parametrize(
    ("label", "storage"),
    [
        ("env:IMPORTOBOT_ENCRYPTION_KEY", "env"),
        ("file:/run/secrets/previous", "file"),
        ("keyring:importobot-ci/automation", "keyring"),
        ("wrapped:vault:file", "wrapped"),
        ("wrapped:awskms:env", "wrapped"),
        ("wrapped:pkcs11:file", "hsm"),
        ("something-else", None),
        (None, None),
    ],
)
def test_storage_classes(label: str | None, storage: str | None) -> None:
    assert storage_of(label) == storage


def test_pinned_kek_uris_are_shown_without_pins_or_credentials() -> None:
    env = {
        "IMPORTOBOT_KEK": "pkcs11:token=prod;object=kek;pin-value=1234?module-name=x, "
        "vault://user:hunter2@127.0.0.1:8200/transit/keys/app#x, awskms:alias/app",
        "XDG_CONFIG_HOME": "/nonexistent",
    }
    assert kek_pins(env) == [
        "pkcs11:token=prod;object=kek",
        "vault://127.0.0.1:8200/transit/keys/app",
        "awskms:alias/app",
    ]


def _evidence(tmp_path: Path, config: str, label: str, valid: bool = True) -> Evidence:
    s = make_repo(tmp_path, age_days=10, committed_env=False, config=config)
    project = load_project(str(s.repo))
    env = {**s.env, "IMPORTOBOT_KEK": "pkcs11:token=prod;object=kek;pin-value=0000"}
    ev = gather(project, load_policy(project), env=env)
    fields = {"source": label} if valid else {"source": label, "valid": False, "fingerprint": None}
    ev.status = replace(ev.status, **fields)
    return ev


def _statuses(ev: Evidence) -> dict[str, str]:
    return {c.identifier: c.status for c in judge(ev)}


def test_a_key_wrapped_by_an_hsm_meets_hsm_storage_and_is_bound(tmp_path: Path) -> None:
    config = (
        'max-key-age = "180d"\n[tool.importobot.compliance]\nrequired-storage = "hsm"\n'
        'policy = { kek = "730d" }\n'
    )
    ev = _evidence(tmp_path, config, "wrapped:pkcs11:file")
    controls = {c.identifier: c for c in judge(ev)}
    assert controls["key-storage"].status == "pass"
    assert controls["key-substitution"].status == "pass"
    text = " ".join(i.text for i in controls["key-substitution"].items)
    assert "pinned in IMPORTOBOT_KEK: pkcs11:token=prod;object=kek" in text
    assert "0000" not in text
    crypto = " ".join(i.text for i in controls["cryptoperiod"].items)
    assert "key-encrypting key period 730d" in crypto
    draft = controls["crypto-architecture"].extra["draft"]
    assert any("PKCS#11 token" in line for line in draft)


def test_storage_below_the_minimum_and_an_undefined_kek_period(tmp_path: Path) -> None:
    config = 'max-key-age = "180d"\n[tool.importobot.compliance]\nrequired-storage = "hsm"\n'
    ev = _evidence(tmp_path, config, "wrapped:vault:env")
    controls = {c.identifier: c for c in judge(ev)}
    assert controls["key-storage"].status == "fail"
    assert "below hsm" in " ".join(i.text for i in controls["key-storage"].items)
    assert controls["cryptoperiod"].status == "warn"
    assert any("no defined cryptoperiod" in i.text for i in controls["cryptoperiod"].items)


def test_a_wrapped_key_that_did_not_unwrap_fails_substitution(tmp_path: Path) -> None:
    ev = _evidence(tmp_path, 'max-key-age = "180d"\n', "wrapped:vault:file", valid=False)
    assert _statuses(ev)["key-substitution"] == "fail"


def test_keyring_meets_keyring_storage_but_substitution_is_only_detected(tmp_path: Path) -> None:
    config = 'max-key-age = "180d"\n[tool.importobot.compliance]\nrequired-storage = "keyring"\n'
    ev = _evidence(tmp_path, config, "keyring:importobot-ci/automation")
    statuses = _statuses(ev)
    assert statuses["key-storage"] == "pass"
    assert statuses["key-substitution"] == "warn"
    ev.status = replace(ev.status, entry=None)  # not registered: nothing binds it
    assert _statuses(ev)["key-substitution"] == "fail"


def test_a_key_wrapped_in_softhsm_end_to_end(softhsm: SoftHSM, tmp_path: Path) -> None:
    """A real PKCS#11 KEK (SoftHSM2): the wrapped key is the primary, registered; the
    report judges it stored in an HSM and bound to a pinned KEK, and holds no PIN."""
    repo = init_repo(tmp_path / "repo")
    (repo / "pyproject.toml").write_text(
        '[tool.importobot]\nmax-key-age = "180d"\n\n[tool.importobot.compliance]\n'
        'required-storage = "hsm"\npolicy = { kek = "730d" }\n'
    )
    uri = softhsm.uri()
    env = {**base_env(), **softhsm.env(IMPORTOBOT_KEK=uri)}
    assert cli(repo, env, "kek", "create").returncode == 0
    wrapped = cli(repo, env, "key", "wrap", "--generate", "--output", ".importobot-key.wrapped")
    assert wrapped.returncode == 0, wrapped.stderr
    assert cli(repo, env, "key", "register").returncode == 0
    git(repo, "add", "-A")
    commit(repo, "wrapped key")
    code, report = report_json(repo, env)
    validate(report)
    statuses = {c["id"]: c["status"] for c in report["controls"]}
    assert statuses["key-storage"] == "pass", control(report, "key-storage")
    assert statuses["key-substitution"] == "pass", control(report, "key-substitution")
    assert statuses["key-validity"] == "pass" and statuses["exposure"] == "pass"
    (key,) = [k for k in report["keys"] if k["role"] == "primary"]
    assert key["source"] == "wrapped:pkcs11:file" and key["storage"] == "hsm"
    binding = " ".join(e["text"] for e in control(report, "key-substitution")["evidence"])
    assert f"wrapped under KEK {uri} version" in binding and "pinned outside" in binding
    assert "key-encrypting key period 730d (KEK pkcs11:" in json.dumps(report)
    for fmt in ("json", "markdown", "html"):
        out = cli(repo, env, "compliance", "report", "--format", fmt).stdout
        assert softhsm.pin not in out
    # the same file without the KEK pinned: nothing unwraps, substitution fails
    unpinned = {k: v for k, v in env.items() if k != "IMPORTOBOT_KEK"}
    proc = cli(repo, unpinned, "compliance", "report", "--format", "json")
    assert proc.returncode in (1, 2), proc.stderr
    if proc.returncode == 1:
        assert control(json.loads(proc.stdout), "key-substitution")["status"] == "fail"
