"""In-memory rotation: the 0.1.5 contract, trial order, fresh timestamps, verification (D20)."""

from __future__ import annotations

import pickle
import time

import pytest

from importobot.exceptions import DecryptionError, SecurityError
from importobot.security import CredentialManager, EncryptedCredential
from importobot_enterprise.key_rotation import (
    Outcome,
    RotationError,
    RotationPlan,
    rotate_credentials,
    rotate_token,
)
from tests.enterprise.helpers import managers, only
from tests.keygen import contains_key, new_raw


def test_rotate_credentials_0_1_5_shape() -> None:
    k0, k1, old, new = managers()
    creds = [old.encrypt_credential(f"s3cret-{i}") for i in range(5)]
    out = rotate_credentials(creds, old, new)
    assert [type(c) for c in out] == [EncryptedCredential] * 5
    for i, c in enumerate(out):
        assert c.key_fingerprint == new.key_fingerprint
        assert only(k1).decrypt_credential(c.token) == f"s3cret-{i}"
        assert c.reveal() == f"s3cret-{i}"
        assert c.length == len(f"s3cret-{i}")
    with pytest.raises(DecryptionError):
        only(k0).decrypt_credential(out[0].token)


def test_plan_execute_and_tokens_as_text() -> None:
    _, k1, old, new = managers()
    tokens = [old.encrypt_credential("a").token, old.encrypt_credential("bb").ciphertext]
    loaded = [EncryptedCredential.from_token(tokens[0])]
    out = RotationPlan([*tokens, *loaded], old, new).execute()
    assert [only(k1).decrypt_credential(c.token) for c in out] == ["a", "bb", "a"]


def test_fresh_timestamps_not_multifernet_rotate() -> None:
    _, _, old, new = managers()
    hundred_days_ago = int(time.time()) - 100 * 86400
    cred = old.encrypt_credential("v", now=hundred_days_ago)
    (out,) = rotate_credentials([cred], old, new)
    assert out.encrypted_at is not None and cred.encrypted_at is not None
    assert (out.encrypted_at - cred.encrypted_at).days >= 99


def test_trial_order_done_rotated_undecryptable() -> None:
    k0, k1, old, new = managers()
    stranger = CredentialManager(new_raw())
    cases = [
        (new.encrypt_bytes(b"x"), Outcome.DONE),
        (old.encrypt_bytes(b"y"), Outcome.ROTATED),
        (stranger.encrypt_bytes(b"z"), Outcome.UNDECRYPTABLE),
    ]
    for token, expected in cases:
        assert rotate_token(token, old, new).outcome is expected


def test_failure_keeps_going_and_reports_positions() -> None:
    _, k1, old, new = managers()
    stranger = CredentialManager(new_raw())
    items = [
        old.encrypt_credential("one"),
        stranger.encrypt_credential("two"),
        old.encrypt_credential("three"),
        "not a token",
    ]
    with pytest.raises(RotationError) as info:
        rotate_credentials(items, old, new)
    err = info.value
    assert isinstance(err, SecurityError) and isinstance(err, ValueError)
    assert err.failed == [1, 3]
    assert err.results[1] is items[1]
    assert only(k1).decrypt_credential(err.results[0].token) == "one"
    assert only(k1).decrypt_credential(err.results[2].token) == "three"
    assert "two" not in str(err) and "three" not in str(err)


def test_plan_summary_writes_nothing_and_counts() -> None:
    k0, k1, old, new = managers()
    stranger = CredentialManager(new_raw())
    items = [
        old.encrypt_credential("a"),
        new.encrypt_credential("b"),
        stranger.encrypt_credential("c"),
    ]
    before = [c.ciphertext for c in items]
    summary = RotationPlan(items, old, new).summary()
    assert (summary.total, summary.to_rotate, summary.already_current, summary.undecryptable) == (
        3,
        1,
        1,
        1,
    )
    assert summary.by_source == {old.key_fingerprint: 1}
    assert summary.undecryptable_ids == (2,)
    assert [c.ciphertext for c in items] == before
    text = "\n".join(summary.lines())
    assert new.key_fingerprint in text
    assert not contains_key(text, k0) and not contains_key(text, k1)


class CorruptingManager(CredentialManager):
    """A target whose encryption flips a byte: verification must refuse every token."""

    def encrypt_bytes(self, data: bytes, *, now: int | None = None) -> bytes:
        token = bytearray(super().encrypt_bytes(data, now=now))
        token[-5] = ord("A") if token[-5] != ord("A") else ord("B")
        return bytes(token)


def test_corrupting_encryptor_returns_nothing_rotated() -> None:
    k0 = new_raw()
    old = CredentialManager(k0)
    bad = CorruptingManager(new_raw(), previous_keys=[k0])
    items = [old.encrypt_credential(f"v{i}") for i in range(4)]
    res = rotate_token(items[0].ciphertext, old, bad)
    assert res.outcome is Outcome.FAILED and res.token is None
    with pytest.raises(RotationError) as info:
        rotate_credentials(items, old, bad)
    assert info.value.failed == [0, 1, 2, 3]
    assert [c.ciphertext for c in info.value.results] == [c.ciphertext for c in items]


def test_legacy_previous_key_is_rotated() -> None:
    # A 0.1.5 32-character passphrase key (D3: its bytes were the key), decrypt-only as
    # legacy:<value>.
    from cryptography.fernet import Fernet

    from tests.enterprise.helpers import key_text

    passphrase = new_raw().hex()[:32]
    derived = passphrase.encode()
    legacy_token = Fernet(key_text(derived).encode()).encrypt(b"old-secret")
    k1 = new_raw()
    new = CredentialManager(k1, previous_keys=[f"legacy:{passphrase}"])
    (out,) = rotate_credentials([legacy_token.decode()], new, new)
    assert only(k1).decrypt_credential(out.token) == "old-secret"


def test_results_do_not_pickle_keys() -> None:
    k0, k1, old, new = managers()
    (out,) = rotate_credentials([old.encrypt_credential("p")], old, new)
    blob = pickle.dumps(out)
    assert not contains_key(blob, k1) and not contains_key(blob, k0)


def test_0_1_5_keyword_construction_and_fields() -> None:
    # 0.1.5's RotationPlan was a dataclass(items, source_manager, target_manager).
    k0, k1 = new_raw(), new_raw()
    old, new = CredentialManager(k0), CredentialManager(k1)  # new knows nothing of k0
    items = [old.encrypt_credential("legacy-secret")]
    plan = RotationPlan(items=items, source_manager=old, target_manager=new)
    assert plan.items == items and plan.source_manager is old and plan.target_manager is new
    (out,) = plan.execute()
    assert new.decrypt_credential(out) == "legacy-secret"


def test_length_counts_characters_for_tokens_loaded_from_text() -> None:
    _, _, old, new = managers()
    token = old.encrypt_credential("pässwörd-€").token
    (out,) = rotate_credentials([token], old, new)
    assert out.length == len("pässwörd-€")
