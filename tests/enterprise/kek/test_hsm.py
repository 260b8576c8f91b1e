"""0.1.5's HSM store, real: versions on a SoftHSM2 token, never a value shown or on disk."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from importobot.keys.fingerprint import fingerprint
from importobot.security.key_validation import encode_key
from tests.enterprise.kek.conftest import clean_env, run_cli
from tests.kek_services import SoftHSM
from tests.keygen import contains_key, new_raw

HSM_URI = "pkcs11:token=importobot-hsm"


def _alias() -> str:
    return "alias-" + os.urandom(4).hex()


def test_0_1_5_methods_with_versions(softhsm: SoftHSM) -> None:
    from importobot_enterprise import HSMError, HSMKeyStore, SoftwareHSM

    assert SoftwareHSM is HSMKeyStore
    store = HSMKeyStore(HSM_URI, env=softhsm.env())
    alias = _alias()
    first, second = "first-" + os.urandom(8).hex(), "second-" + os.urandom(8).hex()
    store.store_key(alias, first)
    with pytest.raises(HSMError, match="already exists"):
        store.store_key(alias, second)
    assert store.retrieve_key(alias) == first
    assert store.rotate_key(alias, second) == 2
    assert store.retrieve_key(alias) == second
    assert store.retrieve_key(alias, 1) == first  # kept until retired
    listed = [k for k in store.list_keys() if k.alias == alias]
    assert [(k.version, k.length) for k in listed] == [(1, len(first)), (2, len(second))]
    assert all(k.created is not None for k in listed)
    assert first not in repr(listed) and second not in json.dumps([k.to_dict() for k in listed])
    assert store.retire_key(alias) == [1]
    with pytest.raises(HSMError, match="not found"):
        store.retrieve_key(alias, 1)
    with pytest.raises(HSMError, match="newest"):
        store.retire_key(alias, 2)
    assert store.delete_key(alias) == 1
    with pytest.raises(HSMError, match="not found"):
        store.retrieve_key(alias)
    with pytest.raises(HSMError, match="not found"):
        store.rotate_key(alias, first)


def test_values_are_private_objects_never_in_clear_on_disk(softhsm: SoftHSM) -> None:
    from importobot_enterprise.hsm import HSMKeyStore

    store = HSMKeyStore(HSM_URI, env=softhsm.env())
    raw = new_raw()
    alias = _alias()
    store.store_key(alias, encode_key(raw))
    [info] = [k for k in store.list_keys() if k.alias == alias]
    assert info.fingerprint == fingerprint(raw)
    for path in Path(softhsm.tokendir).rglob("*"):
        if path.is_file():
            assert not contains_key(path.read_bytes(), raw), path
    store.delete_key(alias)


def test_every_pkcs11_failure_is_an_hsm_error_with_its_ckr_name(softhsm: SoftHSM) -> None:
    from importobot_enterprise.hsm import HSMError, HSMKeyStore

    wrong = "bad-" + os.urandom(3).hex()
    with pytest.raises(HSMError) as info:
        HSMKeyStore(HSM_URI, env=softhsm.env(IMPORTOBOT_PKCS11_PIN=wrong)).list_keys()
    assert info.value.code == "CKR_PIN_INCORRECT" and "CKR_PIN_INCORRECT" in str(info.value)
    assert wrong not in str(info.value) and softhsm.pin not in str(info.value)
    with pytest.raises(HSMError) as missing:
        HSMKeyStore("pkcs11:token=absent", env=softhsm.env()).list_keys()
    assert missing.value.code == "CKR_TOKEN_NOT_PRESENT"
    with pytest.raises(HSMError, match="module-path"):
        HSMKeyStore(HSM_URI + ";module-path=/tmp/x.so", env=softhsm.env())
    with pytest.raises(HSMError, match="IMPORTOBOT_HSM"):
        HSMKeyStore(env={})


def test_hsm_commands(softhsm: SoftHSM, tmp_path: Path) -> None:
    env = clean_env(**softhsm.env(IMPORTOBOT_HSM=HSM_URI))
    alias = _alias()
    value = "v-" + os.urandom(12).hex()
    outputs: list[str] = []

    def cli(*args: str, stdin: str = "", code: int = 0) -> str:
        proc = run_cli("hsm", *args, env=env, cwd=tmp_path, stdin=stdin)
        assert proc.returncode == code, proc.stderr
        outputs.append(proc.stdout + proc.stderr)
        return proc.stdout

    assert "SoftHSM" in cli("status")
    assert "version 1" in cli("store", alias, stdin=value + "\n")
    cli("store", alias, stdin="other\n", code=2)
    assert "version 2" in cli("rotate", alias, stdin="new-" + value + "\n")
    listed = json.loads(cli("list", "--format", "json"))
    assert [k["version"] for k in listed if k["alias"] == alias] == [1, 2]
    assert "versions: 1" in cli("retire", alias)
    assert "1 version" in cli("delete", alias)
    cli("store", alias, code=2)  # no value on stdin: refused, nothing stored

    raw = new_raw()
    key_env = {"IMPORTOBOT_ENCRYPTION_KEY": encode_key(raw)}
    env.update(key_env)
    mirror_alias = _alias()
    assert fingerprint(raw) in cli("mirror", "--alias", mirror_alias)
    assert "already holds" in cli("mirror", "--alias", mirror_alias)
    from importobot_enterprise.hsm import HSMKeyStore

    assert HSMKeyStore(HSM_URI, env=softhsm.env()).retrieve_key(mirror_alias) == encode_key(raw)
    for text in outputs:
        assert value not in text and softhsm.pin not in text and not contains_key(text, raw)
