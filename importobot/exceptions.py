"""The importobot error hierarchy (0.1.5 path: ``importobot.exceptions.ImportobotError``).

Every error importobot raises derives from :class:`ImportobotError`; the CLI turns
one into a single line on stderr. No error message or ``args`` ever holds a key,
a plaintext or a password: messages say *what* is wrong, never the value.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DecryptionError",
    "ImportobotError",
    "InvalidKeyError",
    "KeyBackendError",
    "KeyBackendUnavailableError",
    "KeyAlphabetError",
    "KeyLengthError",
    "KeyringEntryExistsError",
    "KeyringUnavailableError",
    "LegacyKeyError",
    "LowEntropyKeyError",
    "MissingDependencyError",
    "MissingKeyError",
    "PlaceholderKeyError",
    "PublishedKeyError",
    "RepeatedBytesKeyError",
    "SecurityError",
    "WrappedKeyAuthError",
]


class ImportobotError(Exception):
    """Base of every importobot error."""

    #: Process exit code the CLI uses for this error (D15: usage/config/environment).
    exit_code = 2
    #: The message as the command line says it (``--overwrite`` where the library says
    #: ``overwrite=True``); ``None`` when it reads the same. The CLI prints
    #: ``exc.cli_message or str(exc)``.
    cli_message: str | None = None


class ConfigError(ImportobotError):
    """Invalid configuration: a file, a key in it, and what is wrong."""


class SecurityError(ImportobotError):
    """Raised when security requirements cannot be met (the one 0.1.5 class)."""


class MissingDependencyError(SecurityError):
    """An optional library (``cryptography``, ``keyring``) is not installed."""


class MissingKeyError(SecurityError):
    """No encryption key is configured in any source (rule IOB201)."""

    rule = "IOB201"


class KeyringUnavailableError(SecurityError):
    """The OS keyring cannot be used: no backend, locked, timed out (D7)."""


class KeyringEntryExistsError(SecurityError):
    """The keyring entry already holds a key and ``overwrite`` was not given.

    ``service`` and ``username`` name the entry; the message says ``overwrite=True``,
    :attr:`cli_message` says ``--overwrite``.
    """

    def __init__(self, service: str, username: str = "") -> None:
        self.service = service
        self.username = username
        where = f"{service}/{username}" if username else service
        tail = "to replace it (the old key is kept as a previous key)."
        super().__init__(
            f"An encryption key already exists in the keyring entry {where}. "
            f"Pass overwrite=True {tail}"
        )
        self.cli_message = (
            f"an encryption key already exists in the keyring entry {where}; "
            f"pass --overwrite {tail}"
        )

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.service, self.username))


class InvalidKeyError(SecurityError):
    """A configured key was refused. ``rule`` is IOB202 (malformed) or IOB203 (weak).

    ``legacy_usable`` is true when importobot 0.1.5 accepted the value (D3): it can
    still decrypt old data as a ``legacy:`` previous key.
    """

    rule = "IOB202"
    legacy_usable = False


class KeyLengthError(InvalidKeyError):
    """The key does not decode to exactly 32 bytes."""


class KeyAlphabetError(InvalidKeyError):
    """The key holds characters outside both base64 alphabets, or mixes them."""


class LegacyKeyError(KeyLengthError):
    """A spelling importobot 0.1.5 accepted (hex, a 32-character string) that D1 refuses (D3)."""

    legacy_usable = True


class PlaceholderKeyError(InvalidKeyError):
    """The key is a readable placeholder such as ``changeme``."""

    rule = "IOB203"


class PublishedKeyError(InvalidKeyError):
    """The key is a published example key (documentation, demo, test vector)."""

    rule = "IOB203"


class RepeatedBytesKeyError(InvalidKeyError):
    """The key's bytes repeat (few distinct bytes, a repeated or sequential pattern)."""

    rule = "IOB203"


class LowEntropyKeyError(InvalidKeyError):
    """The key decodes to readable text or otherwise too little randomness."""

    rule = "IOB203"


class DecryptionError(SecurityError, ValueError):
    """A token could not be decrypted; also a ``ValueError`` for 0.1.5 callers."""


class WrappedKeyAuthError(InvalidKeyError):
    """A wrapped key failed authentication (D24, rule IOB202): its header or payload was
    edited, it was wrapped by another KEK, or the unwrapped key's fingerprint is not the
    header's. ``backend`` names the KEK backend (``pkcs11``, ``vault``, ``awskms``)."""

    rule = "IOB202"

    def __init__(self, message: str, backend: str = "") -> None:
        super().__init__(message)
        self.backend = backend

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (str(self), self.backend))


class KeyBackendError(SecurityError):
    """A key-encrypting-key backend failed (D24): one line naming the backend and its
    error code (``CKR_PIN_INCORRECT``, ``HTTP 403``, ``DisabledException``, …).

    ``backend`` is the URI scheme's backend name; ``code`` the backend's own error name.
    Never carries a key, a PIN or a token.
    """

    def __init__(self, message: str, backend: str = "", code: str = "") -> None:
        super().__init__(message)
        self.backend = backend
        self.code = code

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (str(self), self.backend, self.code))


class KeyBackendUnavailableError(KeyBackendError):
    """The backend could not be reached or did not answer in time (down, sealed, timeout).

    ``importobot hook check-key --optional`` reports it as a warning, so an offline
    developer can still commit.
    """
