"""The rotation hot path: Fernet tokens opened and made on the standard library's HMAC
and ``cryptography``'s AES, every new token proved by ``cryptography``'s own Fernet.

Where the time of a rotation goes (per value, one core): trying the target key first
(an HMAC that fails), opening the token under its source key (HMAC, AES-CBC, unpadding),
encrypting it again, and opening the new token to prove it (D20). ``Fernet.decrypt``
spends about half its time outside the cryptography itself (base64 and ``Cipher``
set-up through Python layers, a new HMAC context per trial); this module opens tokens
with one ``hmac.digest`` call per trial and one AES context per token.

Safety: a new token is opened again, to the very bytes it replaces, under the target
key's real key bytes (the same checks Fernet makes: version, HMAC, CBC, padding), and the
first new token of every batch is also opened by the reference implementation
(``CredentialManager.open_token``, i.e. ``cryptography``'s Fernet); should the two ever
disagree, the run drops this path for the manager's own. The final verification pass
decrypts, through the manager, every token this run did not make or prove. Where the
fast opener refuses a token the manager's path is asked, so a refusal here never makes a
token unreadable. Equivalence with Fernet is tested on random, tampered, truncated and
badly padded tokens. Used only for plain :class:`~importobot.security.CredentialManager`
objects whose ciphers are ``cryptography``'s Fernet; anything else takes the manager's
own methods.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
from typing import TYPE_CHECKING, Any

from importobot.security import CredentialManager
from importobot_enterprise.key_rotation.core import Outcome, _chars, rotate_token, verify_token

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Sequence

__all__ = ["FastOpener", "fast_opener"]

_MIN = 1 + 8 + 16 + 16 + 32
_INDEX = {o: n for n, o in enumerate(Outcome)}
_DONE, _ROTATED, _FAILED = _INDEX[Outcome.DONE], _INDEX[Outcome.ROTATED], _INDEX[Outcome.FAILED]
_TRANSLATE = bytes.maketrans(b"-_", b"+/")


class FastOpener:
    """Opens Fernet tokens under a fixed list of ``(fingerprint, signing, encryption)``
    keys, in order. Never pickled (it holds keys): workers get it by fork.

    AES-CBC decryption is done as one ECB pass over the ciphertext blocks (one reusable
    context per key, no per-token set-up) XORed with the IV and preceding blocks, only
    after the HMAC has authenticated the token, as Fernet itself orders it.
    """

    __slots__ = ("_keys", "_seal")

    def __init__(self, keys: Sequence[tuple[str, bytes, bytes]]) -> None:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        self._keys = [
            (fp, s, Cipher(algorithms.AES(e), modes.ECB()).decryptor())  # noqa: S305 - CBC by hand
            for fp, s, e in keys
        ]
        fp, signing, encryption = keys[0]
        ecb = Cipher(algorithms.AES(encryption), modes.ECB()).encryptor()  # noqa: S305
        self._seal = (signing, ecb)

    def seal(self, plain: bytes, now: int) -> bytes:
        """A Fernet token of ``plain`` under the first key, made at ``now`` (fresh IV)."""
        signing, ecb = self._seal
        iv = os.urandom(16)
        pad = 16 - len(plain) % 16
        padded = plain + bytes((pad,)) * pad
        out = bytearray()
        prev = int.from_bytes(iv, "big")
        for i in range(0, len(padded), 16):
            block = ecb.update(
                (int.from_bytes(padded[i : i + 16], "big") ^ prev).to_bytes(16, "big")
            )
            out += block
            prev = int.from_bytes(block, "big")
        body = b"\x80" + now.to_bytes(8, "big") + iv + bytes(out)
        return base64.urlsafe_b64encode(body + hmac.digest(signing, body, "sha256"))

    def __reduce__(self) -> tuple[Any, ...]:
        raise TypeError("FastOpener cannot be pickled: it holds keys")

    def open(self, token: bytes) -> tuple[bytes, str] | None:
        """``(plaintext, fingerprint)`` of the first key that opens ``token``, else None."""
        try:
            data = binascii.a2b_base64(token.translate(_TRANSLATE))
        except (binascii.Error, ValueError):
            return None
        n = len(data)
        if n < _MIN or data[0] != 0x80 or (n - 57) % 16:
            return None
        body, mac = data[:-32], data[-32:]
        keys = self._keys
        for at, (fp, signing, ecb) in enumerate(keys):
            if hmac.compare_digest(hmac.digest(signing, body, "sha256"), mac):
                if at:
                    # Trial order only decides how many HMACs fail first (a token
                    # authenticates under one key alone): the key that opened the last
                    # token is tried first, so a store mostly under one key costs one
                    # HMAC per token, not one per configured key.
                    keys.insert(0, keys.pop(at))
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
    faster, never different). A new token is made by :meth:`FastOpener.seal`, opened
    again to the same bytes under the target key, and once per batch also by the
    reference; should the reference ever disagree, the rest of the run takes the
    managers' own path (``broken``)."""

    def __init__(self, source: CredentialManager, target: CredentialManager) -> None:
        self.source, self.target = source, target
        self.target_fp = target.key_fingerprint
        self.both = fast_opener(target, source)
        self.only_target = fast_opener(target)
        #: Check the next new token against the reference too (set per batch).
        self.canary = True
        #: The reference disagreed once: every token takes the manager's path from now on.
        self.broken = False

    @property
    def usable(self) -> bool:
        return self.both is not None and self.only_target is not None

    def rotate(
        self, token: bytes, now: int, rotate: bool
    ) -> tuple[int, bytes | None, str | None, int]:
        """``rotate_token`` as ``(index in Outcome, new token, source fingerprint, length)``."""
        assert self.both is not None and self.only_target is not None  # noqa: S101 - usable
        opened = None if self.broken else self.both.open(token)
        if opened is None:  # the reference path decides what the fast one refused
            r = rotate_token(token, self.source, self.target, now=now, rotate=rotate)
            return _INDEX[r.outcome], r.token, r.source, r.length
        plain, fp = opened
        if fp == self.target_fp:
            return _DONE, None, fp, _chars(plain)
        if not rotate:
            return _ROTATED, None, fp, _chars(plain)
        new = self.only_target.seal(plain, now)
        check = self.only_target.open(new)
        if check is None or check[1] != self.target_fp or check[0] != plain:
            return _FAILED, None, fp, _chars(plain)
        if self.canary:
            # Once per batch the reference (cryptography's Fernet, through the manager)
            # must agree: a fault shared by seal and open would show on every token.
            self.canary = False
            if not verify_token(new, plain, self.target):
                self.broken = True
                return _FAILED, None, fp, _chars(plain)
        return _ROTATED, new, fp, _chars(plain)

    def opener_of(self, token: bytes) -> str | None:
        """Fingerprint of the key of ``target`` (primary first) that opens ``token``."""
        from importobot.exceptions import DecryptionError

        assert self.only_target is not None  # noqa: S101 - usable
        opened = None if self.broken else self.only_target.open(token)
        if opened is not None:
            return opened[1]
        try:
            return self.target.open_token(token)[1]
        except DecryptionError:
            return None
