"""The rotation hot path: Fernet *opening* on the standard library's HMAC, with
``cryptography``'s AES, and ``cryptography``'s own Fernet for every new token.

Where the time of a rotation goes (per value, one core): trying the target key first
(an HMAC that fails), opening the token under its source key (HMAC, AES-CBC, unpadding),
encrypting it again, and opening the new token to prove it (D20). ``Fernet.decrypt``
spends about half its time outside the cryptography itself (base64 and ``Cipher``
set-up through Python layers, a new HMAC context per trial); this module opens tokens
with one ``hmac.digest`` call per trial and one AES context per token.

Safety of the split: new tokens are made by the reference implementation
(the target manager's own Fernet, ``encrypt_at_time``), and *opened* here to check them; the final
verification pass opens every token it has not seen proved through the manager itself.
A fault in this module can make a token look unreadable (listed, left untouched) or a
new token fail its check (not written): never a token written that Fernet cannot open.
Used only for plain :class:`~importobot.security.CredentialManager` objects whose
ciphers are ``cryptography``'s Fernet; anything else takes the manager's own methods.
"""

from __future__ import annotations

import binascii
import hmac
from typing import TYPE_CHECKING, Any

from importobot.security import CredentialManager

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Sequence

__all__ = ["FastOpener", "fast_opener"]

_MIN = 1 + 8 + 16 + 16 + 32
_TRANSLATE = bytes.maketrans(b"-_", b"+/")


class FastOpener:
    """Opens Fernet tokens under a fixed list of ``(fingerprint, signing, encryption)``
    keys. Never pickled (it holds keys): workers get it by fork.

    The HMAC of each key is keyed once (the standard library's ``hmac`` object, copied
    per trial: no key schedule per token). AES-CBC decryption is done as one ECB pass
    over the ciphertext blocks (one reusable context per key, no per-token set-up) XORed
    with the IV and preceding blocks, only after the HMAC has authenticated the token,
    as Fernet itself orders it.

    Trial order: the keys in the order given, except that the key that opened the last
    token is tried first when no two keys share a signing key. Then at most one key's
    HMAC can match a token (short of a SHA-256 collision), so the order of the trials
    cannot change the answer, only how many failed HMACs come before it: a rotation
    reads runs of tokens under one source key.
    """

    __slots__ = ("_keys", "_reorder")

    def __init__(self, keys: Sequence[tuple[str, bytes, bytes]]) -> None:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        self._keys = [
            (
                fp,
                hmac.new(s, digestmod="sha256"),
                Cipher(algorithms.AES(e), modes.ECB()).decryptor(),  # noqa: S305 - CBC by hand
            )
            for fp, s, e in keys
        ]
        self._reorder = len({s for _, s, _ in keys}) == len(keys)

    def __reduce__(self) -> tuple[Any, ...]:
        raise TypeError("FastOpener cannot be pickled: it holds keys")

    def open(self, token: bytes) -> tuple[bytes, str] | None:
        """``(plaintext, fingerprint)`` of the key that opens ``token``, else None."""
        try:
            data = binascii.a2b_base64(token.translate(_TRANSLATE))
        except (binascii.Error, ValueError):
            return None
        n = len(data)
        if n < _MIN or data[0] != 0x80 or (n - 57) % 16:
            return None
        body, mac = data[:-32], data[-32:]
        keys = self._keys
        for i, (fp, signing, ecb) in enumerate(keys):
            check = signing.copy()
            check.update(body)
            if hmac.compare_digest(check.digest(), mac):
                if i and self._reorder:
                    keys.insert(0, keys.pop(i))
                blocks = ecb.update(data[25:-32])
                size = len(blocks)
                chain = int.from_bytes(data[9 : 9 + size], "big")
                padded = (int.from_bytes(blocks, "big") ^ chain).to_bytes(size, "big")
                pad = padded[-1]
                if not 1 <= pad <= 16 or padded[-pad:] != bytes((pad,)) * pad:
                    return None  # authentic but badly padded: Fernet refuses it too
                return padded[:-pad], fp
        return None


def _parts(fernet: Any) -> tuple[bytes, bytes] | None:
    from cryptography.fernet import Fernet

    cls = type(fernet)
    if not isinstance(fernet, Fernet) or any(
        getattr(cls, name, None) is not getattr(Fernet, name)
        for name in ("decrypt", "encrypt_at_time", "_decrypt_data", "_encrypt_from_parts")
    ):
        return None  # not cryptography's own Fernet (the manager's sealed subclass is)
    signing = getattr(fernet, "_signing_key", None)
    encryption = getattr(fernet, "_encryption_key", None)
    if not (isinstance(signing, bytes) and isinstance(encryption, bytes)):
        return None
    if len(signing) != 16 or len(encryption) not in (16, 24, 32):
        return None
    return signing, encryption


def _plain(manager: CredentialManager) -> bool:
    cls = type(manager)
    return cls.open_token is CredentialManager.open_token and (
        cls.encrypt_bytes is CredentialManager.encrypt_bytes
    )


def fast_opener(*managers: CredentialManager) -> FastOpener | None:
    """An opener over the keys of ``managers`` in trial order (each manager's primary
    key, then its previous keys; a key once), or ``None`` when any manager is not a
    plain ``CredentialManager`` over ``cryptography``'s Fernet."""
    keys: list[tuple[str, bytes, bytes]] = []
    seen: set[str] = set()
    for manager in managers:
        if not _plain(manager):
            return None
        try:
            trials = manager._trials()
        except Exception:  # noqa: BLE001 - no cipher: the manager's own path says why
            return None
        for fp, fernet in trials:
            parts = _parts(fernet)
            if parts is None:
                return None
            if fp not in seen:
                seen.add(fp)
                keys.append((fp, *parts))
    return FastOpener(keys)


class FastPath:
    """:func:`~importobot_enterprise.key_rotation.core.rotate_token` and the verification
    pass's question ("which key opens this?") over :class:`FastOpener`, with the
    managers' own methods wherever the fast opener says no (so an answer can only be
    faster, never different), and new tokens made by ``target.encrypt_bytes``."""

    def __init__(self, source: CredentialManager, target: CredentialManager) -> None:
        self.source, self.target = source, target
        self.target_fp = target.key_fingerprint
        self.both = fast_opener(target, source)
        self.only_target = fast_opener(target)

    @property
    def usable(self) -> bool:
        return self.both is not None and self.only_target is not None

    def rotate_many(
        self, tokens: Sequence[bytes], now: int, rotate: bool
    ) -> tuple[bytes, list[str | None], list[bytes]]:
        """:func:`~importobot_enterprise.key_rotation.core.rotate_token` over a page, as
        the engine's columns: one outcome code per token (``OUTCOME_CODES``), the
        fingerprint of the key that opened it (``None``: none did), and the new tokens
        of the rotated ones in order. No result object per token. New tokens are made
        by the target's own Fernet (``encrypt_at_time``, as ``encrypt_bytes`` does)."""
        from importobot_enterprise.key_rotation.core import (
            OUTCOME_CODES,
            Outcome,
            rotate_token,
            verify_token,
        )

        assert self.both is not None and self.only_target is not None  # noqa: S101 - usable
        both_open, check_open = self.both.open, self.only_target.open
        encrypt = self.target._encrypting_cipher().encrypt_at_time
        target_fp = self.target_fp
        done, rotated = OUTCOME_CODES[Outcome.DONE], OUTCOME_CODES[Outcome.ROTATED]
        failed = OUTCOME_CODES[Outcome.FAILED]
        codes = bytearray()
        sources: list[str | None] = []
        made: list[bytes] = []
        for token in tokens:
            opened = both_open(token)
            if opened is None:  # the reference path decides what the fast one refused
                r = rotate_token(token, self.source, self.target, now=now, rotate=rotate)
                codes.append(OUTCOME_CODES[r.outcome])
                sources.append(r.source)
                if r.token is not None:
                    made.append(r.token)
                continue
            plain, fp = opened
            sources.append(fp)
            if fp == target_fp:
                codes.append(done)
                continue
            if not rotate:
                codes.append(rotated)
                continue
            new = encrypt(plain, now)
            check = check_open(new)
            if (check is None or check[1] != target_fp or check[0] != plain) and not (
                verify_token(new, plain, self.target)
            ):
                codes.append(failed)
                continue
            codes.append(rotated)
            made.append(new)
        return bytes(codes), sources, made

    def opener_of(self, token: bytes) -> str | None:
        """Fingerprint of the key of ``target`` (primary first) that opens ``token``."""
        from importobot.exceptions import DecryptionError

        assert self.only_target is not None  # noqa: S101 - usable
        opened = self.only_target.open(token)
        if opened is not None:
            return opened[1]
        try:
            return self.target.open_token(token)[1]
        except DecryptionError:
            return None
