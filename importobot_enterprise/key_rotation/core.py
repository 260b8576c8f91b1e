"""Rotating tokens in memory: trial order, fresh timestamps, verification (D20).

Trial order: the target key first, then the source manager's keys (primary, then
previous keys in order). Under the target a value is *done*; under a source key it is
re-encrypted with a fresh timestamp (``decrypt`` then ``encrypt_at_time(data, now)``)
and the new token is verified to decrypt, under the target key, to the same bytes
before anyone may use it; under neither it is *undecryptable* and left untouched.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum

from importobot.exceptions import DecryptionError
from importobot.security import CredentialManager, EncryptedCredential
from importobot_enterprise.key_rotation.errors import RotationError

__all__ = [
    "Outcome",
    "PlanSummary",
    "RotationPlan",
    "TokenResult",
    "rotate_credentials",
    "rotate_token",
]


class Outcome(str, Enum):
    """What happened to one value."""

    DONE = "done"  # already under the target key
    ROTATED = "rotated"  # re-encrypted under the target key (verified)
    UNDECRYPTABLE = "undecryptable"  # no given key opens it: left untouched
    FAILED = "failed"  # opened, but the new token did not verify: left untouched


#: Outcomes by code and codes by outcome: a page's outcomes travel as one byte each.
OUTCOMES = tuple(Outcome)
OUTCOME_CODES = {o: n for n, o in enumerate(OUTCOMES)}


@dataclass(frozen=True)
class TokenResult:
    """The outcome for one token. ``token`` is the new token (``None`` unless rotated).

    ``source`` is the fingerprint of the key that opened the old token. No plaintext.
    """

    outcome: Outcome
    token: bytes | None = None
    source: str | None = None
    length: int = -1  # of the plaintext: characters of UTF-8 text, else bytes


def open_with_trial_order(
    token: bytes, source: CredentialManager, target: CredentialManager
) -> tuple[bytes, str] | None:
    """``(plaintext, fingerprint)`` trying the target key first, then the source keys."""
    try:
        return target.open_token(token)
    except DecryptionError:
        pass
    if source is target:
        return None
    try:
        return source.open_token(token)
    except DecryptionError:
        return None


def rotate_token(
    token: bytes,
    source: CredentialManager,
    target: CredentialManager,
    *,
    now: int | None = None,
    rotate: bool = True,
) -> TokenResult:
    """Classify one token and (when ``rotate``) re-encrypt it under the target, verified."""
    opened = open_with_trial_order(token, source, target)
    if opened is None:
        return TokenResult(Outcome.UNDECRYPTABLE)
    plain, fp = opened
    if fp == target.key_fingerprint:
        return TokenResult(Outcome.DONE, source=fp, length=_chars(plain))
    if not rotate:
        return TokenResult(Outcome.ROTATED, source=fp, length=_chars(plain))
    when = int(time.time()) if now is None else int(now)
    new = target.encrypt_bytes(plain, now=when)
    if not verify_token(new, plain, target):
        return TokenResult(Outcome.FAILED, source=fp, length=_chars(plain))
    return TokenResult(Outcome.ROTATED, token=new, source=fp, length=_chars(plain))


def verify_token(token: bytes, plain: bytes, target: CredentialManager) -> bool:
    """True when ``token`` opens under the target's primary key to exactly ``plain``."""
    try:
        check, fp = target.open_token(token)
    except DecryptionError:
        return False
    return fp == target.key_fingerprint and check == plain


def _as_credential(item: EncryptedCredential | str | bytes) -> EncryptedCredential:
    if isinstance(item, EncryptedCredential):
        return item
    return EncryptedCredential.from_token(item)


def _text_length(plain_length: int, original: EncryptedCredential) -> int:
    return original.length if original.length >= 0 else plain_length


def _chars(plain: bytes) -> int:
    """Length as EncryptedCredential counts it: characters of UTF-8 text, else bytes."""
    try:
        return len(plain.decode("utf-8"))
    except UnicodeDecodeError:
        return len(plain)


@dataclass(frozen=True)
class PlanSummary:
    """What a rotation would do, computed without writing: counts and fingerprints only."""

    target_fingerprint: str
    total: int
    to_rotate: int
    already_current: int
    undecryptable: int
    skipped: int = 0
    by_source: dict[str, int] = field(default_factory=dict)
    undecryptable_ids: tuple[object, ...] = ()

    def lines(self) -> list[str]:
        """Human-readable plan lines (no secrets)."""
        out = [
            f"target key   {self.target_fingerprint}",
            f"values       {self.total}",
            f"to rotate    {self.to_rotate}",
            f"up to date   {self.already_current}",
            f"no key opens {self.undecryptable}",
        ]
        if self.skipped:
            out.append(f"skipped      {self.skipped} (NULL, empty or not a Fernet token)")
        for fp, count in sorted(self.by_source.items()):
            out.append(f"  from {fp}: {count}")
        if self.undecryptable_ids:
            shown = ", ".join(str(i) for i in self.undecryptable_ids[:20])
            more = len(self.undecryptable_ids) - 20
            out.append(f"  undecryptable ids: {shown}" + (f" (+{more} more)" if more > 0 else ""))
        return out


class RotationPlan:
    """Rotate in-memory credentials from ``source_manager`` to ``target_manager``.

    :meth:`summary` says what would happen (no encryption, nothing returned but counts);
    :meth:`execute` returns the rotated credentials, each verified to decrypt under the
    target key to its original plaintext, and raises :class:`RotationError` (with every
    result) when any item could not be rotated.
    """

    def __init__(
        self,
        items: Iterable[EncryptedCredential | str | bytes],
        source_manager: CredentialManager,
        target_manager: CredentialManager,
        *,
        now: int | None = None,
    ) -> None:
        self.items: list[EncryptedCredential | str | bytes] = list(items)
        self.source_manager = source_manager
        self.target_manager = target_manager
        self.now = now

    def _credentials(self) -> list[EncryptedCredential | None]:
        out: list[EncryptedCredential | None] = []
        for item in self.items:
            try:
                out.append(_as_credential(item))
            except DecryptionError:
                out.append(None)
        return out

    def summary(self) -> PlanSummary:
        """The dry run: counts by outcome and by source key fingerprint; writes nothing."""
        counts: Counter[Outcome] = Counter()
        by_source: Counter[str] = Counter()
        bad: list[object] = []
        for pos, cred in enumerate(self._credentials()):
            if cred is None:
                counts[Outcome.UNDECRYPTABLE] += 1
                bad.append(pos)
                continue
            res = rotate_token(
                cred.ciphertext, self.source_manager, self.target_manager, rotate=False
            )
            counts[res.outcome] += 1
            if res.outcome is Outcome.ROTATED and res.source:
                by_source[res.source] += 1
            if res.outcome is Outcome.UNDECRYPTABLE:
                bad.append(pos)
        return PlanSummary(
            target_fingerprint=self.target_manager.key_fingerprint,
            total=len(self.items),
            to_rotate=counts[Outcome.ROTATED],
            already_current=counts[Outcome.DONE],
            undecryptable=counts[Outcome.UNDECRYPTABLE],
            by_source=dict(by_source),
            undecryptable_ids=tuple(bad),
        )

    def execute(self) -> list[EncryptedCredential]:
        """Rotate every item; raise :class:`RotationError` if any item failed."""
        now = int(time.time()) if self.now is None else int(self.now)
        stamp = datetime.fromtimestamp(now, tz=timezone.utc)
        target = self.target_manager
        results: list[EncryptedCredential] = []
        failed: list[int] = []
        for pos, (item, cred) in enumerate(zip(self.items, self._credentials(), strict=True)):
            if cred is None:
                failed.append(pos)
                results.append(item if isinstance(item, EncryptedCredential) else _raw(item))
                continue
            res = rotate_token(cred.ciphertext, self.source_manager, target, now=now)
            if res.outcome is Outcome.DONE:
                ciphertext, made = cred.ciphertext, cred.encrypted_at
            elif res.outcome is Outcome.ROTATED and res.token is not None:
                ciphertext, made = res.token, stamp
            else:
                failed.append(pos)
                results.append(cred)
                continue
            results.append(
                EncryptedCredential(
                    ciphertext=ciphertext,
                    length=_text_length(res.length, cred),
                    manager=target,
                    key_fingerprint=target.key_fingerprint,
                    encrypted_at=made,
                )
            )
        if failed:
            shown = ", ".join(str(p) for p in failed[:20])
            raise RotationError(
                f"decryption failed for {len(failed)} of {len(self.items)} credentials "
                f"(positions {shown}{', ...' if len(failed) > 20 else ''}); "
                f"the others were rotated to {target.key_fingerprint}",
                results,
                failed,
            )
        return results


def _raw(item: str | bytes) -> EncryptedCredential:
    data = item.encode("utf-8", "replace") if isinstance(item, str) else bytes(item)
    return EncryptedCredential(ciphertext=data, length=-1)


def rotate_credentials(
    credentials: Sequence[EncryptedCredential | str | bytes] | Iterable[EncryptedCredential],
    source_manager: CredentialManager,
    target_manager: CredentialManager,
) -> list[EncryptedCredential]:
    """Re-encrypt credentials under ``target_manager`` (0.1.5 contract), each verified.

    Every item is processed; on any failure :class:`RotationError` carries ``results``
    (originals at the failed positions) and ``failed`` (positions).
    """
    return RotationPlan(credentials, source_manager, target_manager).execute()
