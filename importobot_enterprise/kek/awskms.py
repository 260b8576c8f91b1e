"""``awskms:`` KEKs (D24): an AWS KMS symmetric key, through boto3's credential chain.

``awskms:arn:aws:kms:REGION:ACCOUNT:key/ID``, ``awskms:arn:…:alias/NAME`` or
``awskms:alias/NAME`` (region from boto3's chain: ``AWS_REGION``/``AWS_DEFAULT_REGION``,
the profile). Credentials are boto3's own (environment, profile, instance role …);
``AWS_ENDPOINT_URL`` points boto3 at another endpoint (the tests' emulator).

A data key is wrapped with ``Encrypt`` under the URI's key with the wrapped key's header
in the ``EncryptionContext``; ``Decrypt`` always passes the pinned ``KeyId`` (a blob made
under another key is refused, never decrypted by whatever key it names). KMS exposes no
backing-key version, so the version field holds the newest rotation date from
``ListKeyRotations`` (the key's creation date before its first rotation), as
``YYYYMMDDTHHMMSSZ``. ``rewrap`` is ``ReEncrypt`` with the new header as context.
Every request has a 5 s connect and read timeout; errors are one line with the AWS code.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, TypeVar

import boto3
import botocore.exceptions as aws_errors
from botocore.config import Config

from importobot.exceptions import SecurityError
from importobot.keys.fingerprint import fingerprint
from importobot.keys.wrapped import WrappedKey, header_for
from importobot_enterprise.kek import KEKBackend, KEKStatus

__all__ = ["CONTEXT_KEY", "KMSKEK", "backend", "parse_kms_uri"]

T = TypeVar("T")

#: The EncryptionContext entry holding the wrapped key's header.
CONTEXT_KEY = "importobot-wrapped-key"
REQUEST_TIMEOUT = 5
#: Codes that mean "this blob is not for this key, or was altered": IOB202.
_AUTH_CODES = ("InvalidCiphertextException", "IncorrectKeyException")
_UNAVAILABLE_CODES = ("KMSInternalException", "DependencyTimeoutException", "ThrottlingException")


_SESSIONS: dict[int, Any] = {}
#: What a boto3 session resolves once and keeps: a change makes a new session.
_SESSION_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_KMS",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)


def _session() -> Any:
    """A boto3 session shared by this process's KMS calls (it caches the service model:
    ~100 ms per client otherwise); a forked child, or changed AWS settings, make a new one.
    Only a hash of the settings is kept."""
    stamp = hash((os.getpid(), *(os.environ.get(name) for name in _SESSION_VARIABLES)))
    if stamp not in _SESSIONS:
        _SESSIONS.clear()
        _SESSIONS[stamp] = boto3.session.Session()
    return _SESSIONS[stamp]


def parse_kms_uri(uri: str) -> tuple[str, str | None]:
    """``(KeyId for KMS calls, region or None)`` of an ``awskms:`` URI."""
    if not uri.lower().startswith("awskms:"):
        raise SecurityError(f"not an awskms: URI: {uri[:200]}")
    key = uri[len("awskms:") :].strip()
    if key.startswith("arn:"):
        parts = key.split(":", 5)
        if len(parts) != 6 or parts[2] != "kms" or not parts[5].startswith(("key/", "alias/")):
            raise SecurityError(
                f"awskms URI {uri[:200]}: expected awskms:arn:aws:kms:REGION:ACCOUNT:key/ID "
                f"or ...:alias/NAME"
            )
        return key, parts[3] or None
    if key.startswith("alias/") and len(key) > len("alias/"):
        return key, None
    raise SecurityError(
        f"awskms URI {uri[:200]}: name the key by its ARN (awskms:arn:aws:kms:…) or an alias "
        f"(awskms:alias/NAME)"
    )


@contextmanager
def _quiet_wire_logs() -> Iterator[None]:
    """botocore logs request and response bodies at DEBUG: a data key in ``Plaintext``.

    While a call carries key material, its loggers say nothing below INFO.
    """
    prefixes = ("botocore", "boto3", "urllib3")
    names = {n for n in logging.Logger.manager.loggerDict if n.split(".", 1)[0] in prefixes}
    loggers = [logging.getLogger(name) for name in sorted(names | set(prefixes))]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        if lg.getEffectiveLevel() < logging.INFO:
            lg.setLevel(logging.INFO)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _stamp(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


class KMSKEK(KEKBackend):
    """An AWS KMS key: ``Encrypt``/``Decrypt``/``ReEncrypt`` with the header as context."""

    name = "awskms"
    mechanism = "kms"
    network = True

    def __init__(self, uri: str, env: Mapping[str, str]) -> None:
        super().__init__(uri, env)
        self.key_id, self.region = parse_kms_uri(uri)
        self._client: Any = None

    def _api(self) -> Any:
        if self._client is None:
            config = Config(
                connect_timeout=REQUEST_TIMEOUT,
                read_timeout=REQUEST_TIMEOUT,
                retries={"max_attempts": 2, "mode": "standard"},
            )
            try:
                self._client = _session().client("kms", region_name=self.region, config=config)
            except aws_errors.NoRegionError:
                raise self.error(
                    "no AWS region: set AWS_REGION or use the key's ARN", "NoRegionError"
                ) from None
        return self._client

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _call(self, what: str, call: Callable[[Any], T]) -> T:
        try:
            with _quiet_wire_logs():
                return call(self._api())
        except aws_errors.ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code") or "ClientError")
            message = (str(error.get("Message") or "").strip().splitlines() or [""])[0][:200]
            if code in _AUTH_CODES:
                raise self.auth_error(
                    f"KMS refused the wrapped key ({code}): it was edited or made under another key"
                ) from None
            if code == "AccessDeniedException" and what.startswith("unwrapping"):
                # KMS answers a blob made under another key with IncorrectKeyException;
                # some endpoints say AccessDenied with no message: report it as it came.
                message = message or "access denied (or the blob belongs to another key)"
            hint = {
                "DisabledException": "the key is disabled",
                "KMSInvalidStateException": "the key is pending deletion or unavailable",
                "NotFoundException": "no such key or alias",
                "AccessDeniedException": "access denied",
            }.get(code, "")
            shown = "; ".join(dict.fromkeys(part for part in (hint, message) if part)) or code
            raise self.error(
                f"{what} failed: {shown}", code, unavailable=code in _UNAVAILABLE_CODES
            ) from None
        except (aws_errors.NoCredentialsError, aws_errors.PartialCredentialsError) as exc:
            raise self.error(
                f"{what} failed: no AWS credentials (boto3's chain found none)",
                type(exc).__name__,
            ) from None
        except (
            aws_errors.EndpointConnectionError,
            aws_errors.ConnectTimeoutError,
            aws_errors.ReadTimeoutError,
            aws_errors.ConnectionClosedError,
        ) as exc:
            raise self.error(
                f"{what} failed: KMS is unreachable", type(exc).__name__, unavailable=True
            ) from None
        except aws_errors.BotoCoreError as exc:
            raise self.error(f"{what} failed", type(exc).__name__) from None

    def _describe(self) -> dict[str, Any]:
        meta: dict[str, Any] = self._call(
            "describing the key", lambda kms: kms.describe_key(KeyId=self.key_id)
        )["KeyMetadata"]
        return meta

    def _rotations(self, key_arn: str) -> list[datetime]:
        dates: list[datetime] = []
        kwargs: dict[str, Any] = {"KeyId": key_arn}
        for _ in range(100):  # pages of up to 1000 rotations
            page = self._call(
                "listing the key's rotations", lambda kms: kms.list_key_rotations(**kwargs)
            )
            dates += [r["RotationDate"] for r in page.get("Rotations", []) if r.get("RotationDate")]
            if not page.get("Truncated") or not page.get("NextMarker"):
                break
            kwargs["Marker"] = page["NextMarker"]
        return sorted(dates)

    def _versions(self) -> tuple[dict[str, Any], list[str]]:
        meta = self._describe()
        created = meta.get("CreationDate")
        stamps = [_stamp(created)] if isinstance(created, datetime) else []
        stamps += [_stamp(d) for d in self._rotations(meta["Arn"])]
        return meta, stamps or ["initial"]

    def _context(self, wrapped: WrappedKey) -> dict[str, str]:
        return {CONTEXT_KEY: wrapped.header}

    def wrap(self, dek: bytes) -> WrappedKey:
        _, versions = self._versions()
        head = header_for(self.uri, versions[-1], fingerprint(dek), self.mechanism)
        answer = self._call(
            "wrapping the key (Encrypt)",
            lambda kms: kms.encrypt(
                KeyId=self.key_id, Plaintext=dek, EncryptionContext=self._context(head)
            ),
        )
        return WrappedKey(
            head.uri, head.version, head.fingerprint, head.mechanism, answer["CiphertextBlob"]
        )

    def unwrap(self, wrapped: WrappedKey) -> bytes:
        self.check_wrapped(wrapped)
        answer = self._call(
            "unwrapping the key (Decrypt)",
            lambda kms: kms.decrypt(
                CiphertextBlob=wrapped.payload,
                KeyId=self.key_id,
                EncryptionContext=self._context(wrapped),
            ),
        )
        return bytes(answer["Plaintext"])

    def rewrap(self, wrapped: WrappedKey) -> WrappedKey:
        self.check_wrapped(wrapped)
        _, versions = self._versions()
        head = header_for(self.uri, versions[-1], wrapped.fingerprint, self.mechanism)
        answer = self._call(
            "rewrapping the key (ReEncrypt)",
            lambda kms: kms.re_encrypt(
                CiphertextBlob=wrapped.payload,
                SourceKeyId=self.key_id,
                SourceEncryptionContext=self._context(wrapped),
                DestinationKeyId=self.key_id,
                DestinationEncryptionContext=self._context(head),
            ),
        )
        return WrappedKey(
            head.uri, head.version, head.fingerprint, head.mechanism, answer["CiphertextBlob"]
        )

    def create(self) -> KEKStatus:
        if not self.key_id.startswith("alias/"):
            raise SecurityError(
                f"awskms KEK {self.uri}: an ARN names a key that exists; to create one, name "
                f"it by an alias (awskms:alias/NAME)"
            )
        try:
            self._describe()
        except SecurityError as exc:
            if getattr(exc, "code", "") != "NotFoundException":
                raise
        else:
            raise self.error(f"{self.key_id} already exists; use `importobot kek rotate`", "exists")
        created = self._call(
            "creating the key (CreateKey)",
            lambda kms: kms.create_key(
                KeySpec="SYMMETRIC_DEFAULT",
                KeyUsage="ENCRYPT_DECRYPT",
                Description="importobot key-encrypting key",
            ),
        )["KeyMetadata"]
        self._call(
            "naming the key (CreateAlias)",
            lambda kms: kms.create_alias(AliasName=self.key_id, TargetKeyId=created["KeyId"]),
        )
        return self.status()

    def rotate(self) -> KEKStatus:
        meta = self._describe()
        self._call(
            "rotating the key (RotateKeyOnDemand)",
            lambda kms: kms.rotate_key_on_demand(KeyId=meta["KeyId"]),
        )
        return self.status()

    def status(self) -> KEKStatus:
        meta, versions = self._versions()
        return KEKStatus(
            uri=self.uri,
            backend=self.name,
            key_id=str(meta.get("Arn") or meta.get("KeyId")),
            versions=tuple(versions),
            latest=versions[-1],
            details={
                "state": meta.get("KeyState"),
                "enabled": bool(meta.get("Enabled")),
                "spec": meta.get("KeySpec") or meta.get("CustomerMasterKeySpec"),
                "manager": meta.get("KeyManager"),
            },
        )


def backend(uri: str, env: Mapping[str, str]) -> KMSKEK:
    """Entry point (``importobot.kek_backends``: ``awskms``)."""
    return KMSKEK(uri, env)
