"""Fernet credential encryption (0.1.5 path: ``importobot.security.credential_manager``).

``cryptography`` is imported when a :class:`CredentialManager` is built, not when this
module is imported (D18), so the hooks and ``importobot --help`` stay fast.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from importobot.exceptions import (
    DecryptionError,
    InvalidKeyError,
    KeyringEntryExistsError,
    MissingDependencyError,
    MissingKeyError,
    SecurityError,
)
from importobot.keys.fingerprint import fingerprint
from importobot.keys.material import weakness
from importobot.keys.tokens import token_time
from importobot.security.key_sources import (
    KeySource,
    PreviousKey,
    compat_handed_out,
    compat_override,
    import_keyring,
    keyring_get,
    keyring_set,
    previous_entry_name,
    resolve_previous_keys,
    resolve_primary_key,
)
from importobot.security.key_validation import (
    LEGACY_PREFIX,
    derive_legacy_key,
    encode_key,
    parse_key,
)

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable

    from cryptography.fernet import Fernet, MultiFernet

__all__ = ["CredentialManager", "EncryptedCredential", "SecurityError", "generate_key"]

_CRYPTO_HINT = (
    "Strong encryption unavailable: the 'cryptography' package is not installed. "
    "Install it (pip install cryptography), set IMPORTOBOT_ENCRYPTION_KEY to a 32-byte key "
    "(generate one with: openssl rand -base64 32). Credentials are never stored with "
    "weak encryption."
)
# 0.1.5's phrases, after our own explanation of what is missing.
_ENCRYPTION_UNAVAILABLE = (
    "Strong encryption unavailable: credentials are never stored with weak encryption"
)
_NO_CIPHER = (
    "this CredentialManager has no cipher (the 'cryptography' package is missing, or "
    "_cipher was cleared): {phrase}. Install it (pip install cryptography) and set "
    "IMPORTOBOT_ENCRYPTION_KEY to a 32-byte key (openssl rand -base64 32)"
)


# -- 0.1.5 module attributes (PEP 562) ---------------------------------------------------
def _from_cryptography(name: str) -> Callable[[], Any]:
    def load() -> Any:
        try:
            from cryptography import fernet
        except ImportError:
            return None
        return getattr(fernet, name)

    return load


#: Resolved on first use, never at import: importing this module loads neither library.
#: ``None`` when the library is missing (as 0.1.5 had it).
_COMPAT_LOADERS: dict[str, Callable[[], Any]] = {
    "Fernet": _from_cryptography("Fernet"),
    "MultiFernet": _from_cryptography("MultiFernet"),
    "InvalidToken": _from_cryptography("InvalidToken"),
    "keyring": import_keyring,
}


def __getattr__(name: str) -> Any:
    """0.1.5's ``Fernet``, ``MultiFernet``, ``InvalidToken`` and ``keyring`` attributes.

    Not cached: a ``unittest.mock.patch`` of ``credential_manager.Fernet`` (or
    ``.keyring``) puts its value in this module's namespace, where :func:`_resolve`
    finds it when a manager is built (or the keyring is called).
    """
    loader = _COMPAT_LOADERS.get(name)
    if loader is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return compat_handed_out(name, loader())


def _resolve(name: str) -> Any:
    """``name`` as patched on this module, else freshly imported (``None`` when missing)."""
    patched, value = compat_override(name)
    return value if patched else _COMPAT_LOADERS[name]()


def _refuse_pickle(self: object) -> Any:
    raise TypeError(f"{type(self).__name__} cannot be pickled or copied: it holds a key")


_SEALED: dict[type, type] = {}


def _sealed(cls: Any) -> Any:
    """A subclass of ``cls`` whose instances refuse to be pickled (they hold key bytes).

    Fernet and MultiFernet objects pickle their keys by default; the manager hands out
    ``multi_fernet``, so its objects refuse like the manager does (D6). A stand-in that
    is not a class (a ``Mock`` from a patch) is used as given.
    """
    if not isinstance(cls, type):
        return cls
    sealed = _SEALED.get(cls)
    if sealed is None:
        sealed = type(cls.__name__, (cls,), {"__reduce__": _refuse_pickle})
        sealed.__module__ = cls.__module__
        sealed.__qualname__ = cls.__qualname__
        _SEALED[cls] = sealed
    return sealed


def _fernet_classes() -> tuple[type[Fernet], type[MultiFernet], type[Exception]]:
    fernet_cls = _resolve("Fernet")
    multi_cls = _resolve("MultiFernet")
    invalid_token = _resolve("InvalidToken")
    if fernet_cls is None or multi_cls is None or invalid_token is None:
        raise MissingDependencyError(_CRYPTO_HINT)
    return _sealed(fernet_cls), _sealed(multi_cls), invalid_token


def generate_key() -> str:
    """A new random key as text (url-safe base64 of 32 bytes, a Fernet key)."""
    while True:
        raw = secrets.token_bytes(32)
        # A uniformly random key fails the weakness checks with p < 2**-40; redraw anyway.
        if weakness(raw) is None:
            return encode_key(raw)


def _restore_credential(
    ciphertext: bytes, length: int, key_fingerprint: str | None, encrypted_at: datetime | None
) -> EncryptedCredential:
    return EncryptedCredential(
        ciphertext=ciphertext,
        length=length,
        key_fingerprint=key_fingerprint,
        encrypted_at=encrypted_at,
    )


@dataclass(eq=False)
class EncryptedCredential:
    """One encrypted credential: a Fernet token plus what is known about it without the key.

    ``repr``/``str`` show neither plaintext nor key. Pickling keeps the token and drops
    the manager (so the key is never pickled).
    """

    ciphertext: bytes
    length: int
    manager: CredentialManager | None = field(default=None, repr=False)
    key_fingerprint: str | None = None
    encrypted_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.encrypted_at is None:
            self.encrypted_at = token_time(self.ciphertext)

    @property
    def token(self) -> str:
        """The Fernet token as text (what goes into a file or a database column)."""
        return self.ciphertext.decode("ascii")

    @classmethod
    def from_token(
        cls, text: str | bytes, manager: CredentialManager | None = None
    ) -> EncryptedCredential:
        """Load a stored token. ``length`` is -1 and ``key_fingerprint`` None until decrypted."""
        raw = text.strip().encode("ascii") if isinstance(text, str) else bytes(text).strip()
        if token_time(raw) is None:
            raise DecryptionError("decryption failed: the value is not a Fernet token")
        return cls(ciphertext=raw, length=-1, manager=manager)

    def reveal(self) -> str:
        """Decrypt and return the plaintext (needs a manager)."""
        if self.manager is None:
            raise SecurityError(
                "this EncryptedCredential has no CredentialManager; pass one to from_token() "
                "or call manager.decrypt_credential(credential)"
            )
        return self.manager.decrypt_credential(self)

    def __repr__(self) -> str:
        return f"EncryptedCredential(length={self.length}, ciphertext=<hidden>)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _restore_credential,
            (self.ciphertext, self.length, self.key_fingerprint, self.encrypted_at),
        )


class CredentialManager:
    """Encrypts and decrypts credentials with Fernet; previous keys decrypt only.

    Key sources, in order: ``key=``, ``IMPORTOBOT_ENCRYPTION_KEY``, the OS keyring
    entry named by ``IMPORTOBOT_KEYRING_SERVICE`` / ``IMPORTOBOT_KEYRING_USERNAME``.
    ``previous_keys`` (if given) replaces the configured previous keys; entries may be
    ``legacy:<0.1.5 value>``.
    """

    def __init__(
        self,
        key: bytes | str | None = None,
        *,
        previous_keys: Sequence[bytes | str] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        fernet_cls, multi_cls, invalid_token = _fernet_classes()
        try:
            resolved = resolve_primary_key(key, env)
        except (MissingKeyError, InvalidKeyError) as exc:
            # 0.1.5's callers match this phrase; the same error, its own words first.
            exc.args = (f"{exc}. {_ENCRYPTION_UNAVAILABLE}",)
            raise
        if previous_keys is None:
            previous = resolve_previous_keys(env)
        else:
            previous = [_explicit_previous(item, n) for n, item in enumerate(previous_keys, 1)]
        previous = [p for p in previous if p.raw != resolved.raw]
        self._source = resolved.source
        self._fingerprint = fingerprint(resolved.raw)
        self._previous = previous
        self._invalid_token = invalid_token
        self._multi_cls = multi_cls
        #: The primary key's Fernet (0.1.5's name: code written for it sets it to None
        #: to simulate a missing library; encryption and decryption then refuse).
        self._cipher: Fernet | None = fernet_cls(encode_key(resolved.raw))
        # Trial order (D20): the primary key first, then previous keys in order.
        self._previous_ciphers: list[tuple[str, Fernet]] = [
            (fingerprint(p.raw), fernet_cls(encode_key(p.raw))) for p in previous
        ]

    def _encrypting_cipher(self) -> Fernet:
        if self._cipher is None:
            raise SecurityError(_NO_CIPHER.format(phrase="Strong encryption unavailable"))
        return self._cipher

    def _trials(self) -> list[tuple[str, Fernet]]:
        if self._cipher is None:
            raise SecurityError(_NO_CIPHER.format(phrase="Strong decryption unavailable"))
        return [(self._fingerprint, self._cipher), *self._previous_ciphers]

    # -- what the manager is -------------------------------------------------------
    @property
    def key_fingerprint(self) -> str:
        """D2 fingerprint of the primary key."""
        return self._fingerprint

    @property
    def key_source(self) -> KeySource:
        """Where the primary key came from (explicit, env:…, keyring:…)."""
        return self._source

    @property
    def previous_fingerprints(self) -> list[str]:
        """Fingerprints of the decrypt-only keys, in trial order."""
        return [fp for fp, _ in self._previous_ciphers]

    @property
    def multi_fernet(self) -> MultiFernet:
        """``MultiFernet([primary, *previous])`` for callers that need the primitive.

        Like the manager, it (and each Fernet in it) refuses to be pickled or copied.
        """
        return self._multi_cls([self._encrypting_cipher()] + [f for _, f in self._previous_ciphers])

    def __repr__(self) -> str:
        return (
            f"CredentialManager(source={self._source.label!r}, "
            f"fingerprint={self._fingerprint!r}, previous={len(self._previous)})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        raise TypeError("CredentialManager cannot be pickled: it holds an encryption key")

    # -- encryption ----------------------------------------------------------------
    def encrypt_credential(self, credential: str, *, now: int | None = None) -> EncryptedCredential:
        """Encrypt text under the primary key; ``now`` fixes the token time (tests, rotation)."""
        if not isinstance(credential, str):
            raise TypeError("credential must be str")
        if not credential:
            raise ValueError("Credential must be non-empty")
        when = int(time.time()) if now is None else int(now)
        token = self._encrypting_cipher().encrypt_at_time(credential.encode("utf-8"), when)
        return EncryptedCredential(
            ciphertext=token,
            length=len(credential),
            manager=self,
            key_fingerprint=self._fingerprint,
            encrypted_at=datetime.fromtimestamp(when, tz=timezone.utc),
        )

    def encrypt_bytes(self, data: bytes, *, now: int | None = None) -> bytes:
        """Encrypt raw bytes; returns the token bytes."""
        when = int(time.time()) if now is None else int(now)
        return self._encrypting_cipher().encrypt_at_time(data, when)

    def open_token(self, token: str | bytes) -> tuple[bytes, str]:
        """Decrypt a token: ``(plaintext bytes, fingerprint of the key that opened it)``.

        Trial order is the primary key, then previous keys. Raises
        :class:`DecryptionError` (a ``SecurityError`` and a ``ValueError``).
        """
        data = token.encode("ascii", "replace") if isinstance(token, str) else bytes(token)
        data = data.strip()
        for fp, fernet in self._trials():
            try:
                return fernet.decrypt(data), fp
            except self._invalid_token:
                continue
        raise DecryptionError(
            "decryption failed: the token was not made by any configured key, or it was altered"
        )

    def decrypt_bytes(self, token: str | bytes) -> bytes:
        """Decrypt a token to bytes."""
        return self.open_token(token)[0]

    def decrypt_credential(self, credential: EncryptedCredential | str | bytes) -> str:
        """Decrypt to text. Accepts an :class:`EncryptedCredential` or a token."""
        if isinstance(credential, EncryptedCredential):
            try:
                plain, fp = self.open_token(credential.ciphertext)
            except DecryptionError:
                if credential.manager is not None and credential.manager is not self:
                    raise DecryptionError(
                        "EncryptedCredential provided by different manager (decryption failed)"
                    ) from None
                raise
        else:
            plain, fp = self.open_token(credential)
        try:
            text = plain.decode("utf-8")
        except UnicodeDecodeError:
            raise DecryptionError(
                "decryption failed: the plaintext is not UTF-8 text (use decrypt_bytes)"
            ) from None
        if isinstance(credential, EncryptedCredential):
            credential.length = len(text)
            credential.key_fingerprint = fp
        return text

    # -- keys ----------------------------------------------------------------------
    @staticmethod
    def generate_key() -> str:
        """A new random key as text (url-safe base64 of 32 bytes)."""
        return generate_key()

    @classmethod
    def store_key_in_keyring(
        cls,
        *,
        service: str,
        username: str = "importobot",
        key: bytes | str | None = None,
        overwrite: bool = False,
    ) -> str:
        """Store a key (given or generated) in the OS keyring; returns the stored key text.

        An existing entry is kept unless ``overwrite=True``; then the old value is first
        appended to ``<username>.previous`` so data under it stays readable (D5).
        Callers must not print the returned text.
        """
        if not service:
            raise ValueError("Keyring service name must be provided.")
        if not username:
            raise ValueError("Keyring username must be provided.")
        raw = parse_key(key, "the key to store") if key is not None else None
        text = generate_key() if raw is None else encode_key(raw)
        existing = keyring_get(service, username)
        if existing and existing.strip():
            if not overwrite:
                raise KeyringEntryExistsError(service, username)
            if existing.strip() != text:
                entry = previous_entry_name(username)
                prior = keyring_get(service, entry) or ""
                items = [p.strip() for p in prior.split(",") if p.strip()]
                if existing.strip() not in items:
                    items.append(existing.strip())
                keyring_set(service, entry, ",".join(items))
        keyring_set(service, username, text)
        return text


def _explicit_previous(item: bytes | str, index: int) -> PreviousKey:
    source = KeySource("explicit", "previous_keys=")
    if isinstance(item, str) and item.strip().startswith(LEGACY_PREFIX):
        raw = derive_legacy_key(item.strip()[len(LEGACY_PREFIX) :])
        return PreviousKey(raw, source, legacy=True)
    return PreviousKey(parse_key(item, f"previous key #{index}"), source)
