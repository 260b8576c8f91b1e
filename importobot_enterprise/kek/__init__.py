"""Key-encrypting-key backends (D24): envelope encryption of importobot's 32-byte data key.

One interface, :class:`KEKBackend`, three backends, each in its own module behind its
own extra and imported only when a URI of its scheme is used:

- ``pkcs11:`` (:mod:`.pkcs11`, extra ``pkcs11``): an AES-256 key generated on a PKCS#11
  token, non-extractable and sensitive, versioned by ``CKA_ID``; AES-GCM with the header
  as AAD;
- ``vault://`` / ``vault+http://`` (:mod:`.vault`, extra ``vault``): a Vault or OpenBao
  transit key; the header as ``associated_data``;
- ``awskms:`` (:mod:`.awskms`, extra ``awskms``): an AWS KMS key; the header in the
  ``EncryptionContext``, ``KeyId`` always pinned.

The base package finds them through the ``importobot.kek_backends`` entry-point group
(:func:`importobot.security.key_sources.kek_backend`), so it never imports this package.
Nothing here prints, logs or raises with a key, a PIN or a token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from importobot._record import Record, field
from importobot.exceptions import KeyBackendError, KeyBackendUnavailableError, WrappedKeyAuthError
from importobot.keys.wrapped import WrappedKey, parse_wrapped

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "KEKBackend",
    "KEKStatus",
    "KeyBackendError",
    "KeyBackendUnavailableError",
    "WrappedKey",
    "WrappedKeyAuthError",
    "backend_for",
    "parse_wrapped",
]


class KEKStatus(Record):
    """What a KEK is, never what it holds.

    ``versions`` lists every version the backend keeps (oldest first), ``latest`` the
    one new wraps use, ``min_decryption`` the oldest that still unwraps (``None`` when
    the backend has no such notion), ``details`` backend facts (key type, state …).
    """

    uri: str
    backend: str
    key_id: str
    versions: tuple[str, ...]
    latest: str
    min_decryption: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "backend": self.backend,
            "key_id": self.key_id,
            "versions": list(self.versions),
            "latest": self.latest,
            "min_decryption": self.min_decryption,
            "details": dict(self.details),
        }


class KEKBackend:
    """One KEK, named by its URI. Subclasses implement the ``_``-free methods.

    ``network`` backends are called under the D24 timeout by the base; PKCS#11 is not
    (its calls are serialised under one process lock, and no thread is abandoned inside
    one).
    """

    #: Backend name in messages: ``pkcs11``, ``vault``, ``awskms``.
    name = "kek"
    #: ``aes-gcm``, ``transit``, ``kms``: the mechanism field of the wrapped key.
    mechanism = ""
    network = True

    def __init__(self, uri: str, env: Mapping[str, str]) -> None:
        self.uri = uri
        self.env = env

    # -- the interface -----------------------------------------------------------------
    def wrap(self, dek: bytes) -> WrappedKey:
        """Wrap ``dek`` under the KEK's newest version."""
        raise NotImplementedError

    def unwrap(self, wrapped: WrappedKey) -> bytes:
        """The data key inside ``wrapped`` (its header authenticated)."""
        raise NotImplementedError

    def rewrap(self, wrapped: WrappedKey) -> WrappedKey:
        """The same data key, wrapped under the KEK's newest version."""
        dek = self.unwrap(wrapped)
        return self.wrap(dek)

    def create(self) -> KEKStatus:
        """Create the KEK (an error when it exists)."""
        raise NotImplementedError

    def rotate(self) -> KEKStatus:
        """Add a new KEK version; older versions still unwrap."""
        raise NotImplementedError

    def status(self) -> KEKStatus:
        """The KEK's id and versions."""
        raise NotImplementedError

    def close(self) -> None:
        """Release sessions and connections (idempotent)."""

    # -- helpers for subclasses ------------------------------------------------------------
    def check_wrapped(self, wrapped: WrappedKey) -> None:
        """``wrapped`` belongs to this KEK and mechanism (else an authentication failure)."""
        if wrapped.uri != self.uri or wrapped.mechanism != self.mechanism:
            raise WrappedKeyAuthError(
                f"{self.name}: the wrapped key names KEK {wrapped.uri} ({wrapped.mechanism}), "
                f"not {self.uri} ({self.mechanism})",
                self.name,
            )

    def error(self, what: str, code: str, *, unavailable: bool = False) -> KeyBackendError:
        """One line: ``<backend> KEK <uri>: <what> (<code>)``."""
        cls = KeyBackendUnavailableError if unavailable else KeyBackendError
        return cls(f"{self.name} KEK {self.uri}: {what} ({code})", self.name, code)

    def auth_error(self, what: str) -> WrappedKeyAuthError:
        return WrappedKeyAuthError(f"{self.name} KEK {self.uri}: {what}", self.name)


def backend_for(uri: str, env: Mapping[str, str] | None = None) -> KEKBackend:
    """The backend for ``uri`` (trust checks of the base applied; entry-point lookup)."""
    from importobot.security.key_sources import kek_backend

    backend: KEKBackend = kek_backend(uri, env)
    return backend
