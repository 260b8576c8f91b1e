"""The rotation hot path (``key_rotation.fast``) answers exactly as cryptography's Fernet:
same plaintext and key for every token Fernet opens, a refusal for every token it refuses
(tampered bytes, other keys, bad padding under a valid HMAC, truncation, bad base64)."""

from __future__ import annotations

import base64
import hmac
import os
import random

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


def test_last_opener_first_only_when_it_cannot_change_the_answer() -> None:
    """Keys sharing a signing half could both pass one token's HMAC: then the opener keeps
    the managers' trial order; otherwise the key that opened the last token goes first
    and every answer is still Fernet's."""
    k0, k1 = new_raw(), new_raw()
    twin = k1[:16] + new_raw()[16:]  # same signing key as k1, another encryption key
    shared = fast_opener(CredentialManager(k1, previous_keys=[twin]))
    assert shared is not None and not shared._reorder
    target = CredentialManager(k1, previous_keys=[k0])
    opener = fast_opener(target)
    assert opener is not None and opener._reorder
    keys = [(target.key_fingerprint, k1), (target.previous_fingerprints[0], k0)]
    tokens = [Fernet(key_text(k).encode()).encrypt(b"v%d" % n) for n, k in enumerate([k0] * 3)]
    tokens += [Fernet(key_text(k1).encode()).encrypt(b"t"), tokens[0]]
    for tok in tokens:
        assert opener.open(tok) == _fernet_open(tok, keys)
    assert opener._keys[0][0] == target.previous_fingerprints[0]  # k0 opened the last one
