"""The rotation hot path (``key_rotation.fast``) answers exactly as cryptography's Fernet:
same plaintext and key for every token Fernet opens, a refusal for every token it refuses
(tampered bytes, other keys, bad padding under a valid HMAC, truncation, bad base64)."""

from __future__ import annotations

import base64
import hmac
import os
import random
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from importobot.security import CredentialManager
from importobot_enterprise.key_rotation.fast import FastPath, fast_opener
from tests.enterprise.helpers import key_text
from tests.keygen import new_raw


def _fernet_open(token: bytes, keys: list[tuple[str, bytes]]) -> tuple[bytes, str] | None:
    for fp, raw in keys:
        try:
            return Fernet(key_text(raw).encode()).decrypt(token), fp
        except InvalidToken:
            continue
    return None


def _badly_padded(raw: bytes) -> bytes:
    """An authentic token (valid HMAC) whose plaintext padding is wrong."""
    signing, encryption = raw[:16], raw[16:]
    iv = os.urandom(16)
    enc = Cipher(algorithms.AES(encryption), modes.CBC(iv)).encryptor()
    ct = enc.update(b"x" * 15 + b"\x07") + enc.finalize()
    body = b"\x80" + (1_700_000_000).to_bytes(8, "big") + iv + ct
    return base64.urlsafe_b64encode(body + hmac.digest(signing, body, "sha256"))


def test_fast_opener_agrees_with_fernet() -> None:
    rng = random.Random(7)
    k0, k1, k2 = new_raw(), new_raw(), new_raw()
    target = CredentialManager(k1, previous_keys=[k0])
    opener = fast_opener(target)
    assert opener is not None
    keys = [(target.key_fingerprint, k1), (target.previous_fingerprints[0], k0)]
    tokens: list[bytes] = []
    for _ in range(300):
        plain = os.urandom(rng.randrange(0, 70))
        raw = rng.choice([k0, k1, k2])
        tok = Fernet(key_text(raw).encode()).encrypt(plain)
        tokens.append(tok)
        broken = bytearray(tok)
        broken[rng.randrange(len(broken))] ^= 1 << rng.randrange(7)
        tokens += [bytes(broken), tok[: rng.randrange(len(tok))], tok + b"A", b"gAAAA!" + tok[6:]]
    tokens += [_badly_padded(k1), b"", b"====", b"gAAAAA"]
    for tok in tokens:
        assert opener.open(tok) == _fernet_open(tok, keys), tok


def test_fast_path_only_for_plain_managers() -> None:
    class Custom(CredentialManager):
        def encrypt_bytes(self, data: bytes, *, now: int | None = None) -> bytes:
            return super().encrypt_bytes(data, now=now)

    k0, k1 = new_raw(), new_raw()
    assert FastPath(CredentialManager(k0), CredentialManager(k1)).usable
    assert not FastPath(CredentialManager(k0), Custom(k1)).usable


def test_a_fault_shared_by_seal_and_open_is_caught_by_the_reference(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug that made seal and open agree with each other but not with Fernet (here: new
    tokens with a broken HMAC that a matching open accepts) writes nothing Fernet cannot
    open: the per-batch reference check catches the first one, and the run falls back to
    the manager's own path."""
    from importobot_enterprise.key_rotation import SQLiteStore, rotate_store
    from importobot_enterprise.key_rotation.fast import FastOpener
    from tests.enterprise.helpers import make_sqlite, managers, only, plaintexts, sqlite_values

    k0, k1, old, new = managers()
    db = make_sqlite(tmp_path / "c.db", old, plaintexts(40))
    real_seal, real_open = FastOpener.seal, FastOpener.open
    armed: list[tuple[bytes, str]] = []

    def bad_seal(self: FastOpener, plain: bytes, now: int) -> bytes:
        token = bytearray(real_seal(self, plain, now))
        token[-3] = ord("A") if token[-3] != ord("A") else ord("B")  # breaks the HMAC
        armed.append((plain, new.key_fingerprint))
        return bytes(token)

    def agreeing_open(self: FastOpener, token: bytes) -> tuple[bytes, str] | None:
        found = real_open(self, token)
        return armed.pop() if found is None and armed else found

    monkeypatch.setattr(FastOpener, "seal", bad_seal)
    monkeypatch.setattr(FastOpener, "open", agreeing_open)
    with SQLiteStore(db, "creds", "id", "secret") as store:
        report = rotate_store(store, old, new, batch_size=10)
    assert report.failed == 1 and report.rotated == 39 and not report.complete
    target = only(k1)
    left = []
    for value in sqlite_values(db).values():
        token = value.encode() if isinstance(value, str) else value
        try:
            target.decrypt_bytes(token)  # type: ignore[arg-type]
        except ValueError:
            left.append(old.decrypt_bytes(token))  # type: ignore[arg-type]
    assert len(left) == 1  # the caught one: still the old, readable token
    monkeypatch.undo()
    with SQLiteStore(db, "creds", "id", "secret") as store:
        assert rotate_store(store, old, new).complete
    assert k0
