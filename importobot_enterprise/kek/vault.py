"""``vault://`` and ``vault+http://`` KEKs (D24): a Vault or OpenBao transit key.

``vault://HOST:PORT/MOUNT/keys/NAME`` talks HTTPS to ``HOST:PORT`` (CA from
``VAULT_CACERT`` or ``BAO_CACERT``, else the system's); ``vault+http://`` is plain HTTP and
is accepted for a loopback host only (a local dev server; the base refuses it otherwise).
The token comes from ``VAULT_TOKEN``, ``BAO_TOKEN``, the file
``IMPORTOBOT_VAULT_TOKEN_FILE`` or ``~/.vault-token``; nothing else (no argv, no URI).

A data key is wrapped with ``transit/encrypt/NAME`` at the key's newest version with the
wrapped key's header as ``associated_data`` (the key must be an AEAD type such as
``aes256-gcm96``); the payload is the ciphertext after ``vault:vN:``, so the header's
version is the version transit decrypts with. OpenBao's ``transit/rewrap`` takes no
associated data, so moving a key to the newest version is decrypt + encrypt.
``min_decryption_version`` is the server's: an older wrapped key is refused there.
Every request has a 5 s timeout; errors are one line with the HTTP status.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import hvac
import requests
from hvac import exceptions as vault_errors

from importobot.exceptions import KeyBackendError, SecurityError
from importobot.keys.fingerprint import fingerprint
from importobot.keys.wrapped import WrappedKey, header_for
from importobot_enterprise.kek import KEKBackend, KEKStatus

__all__ = ["ENV_TOKEN_FILE", "TransitKEK", "backend", "parse_vault_uri"]

T = TypeVar("T")

ENV_TOKEN_FILE = "IMPORTOBOT_VAULT_TOKEN_FILE"  # noqa: S105 - a variable name
#: Seconds per HTTP request (the base also bounds the whole unwrap by D24's 5 s).
REQUEST_TIMEOUT = 5.0
_KEY_TYPE = "aes256-gcm96"

_STATUS = {
    vault_errors.InvalidRequest: 400,
    vault_errors.Unauthorized: 401,
    vault_errors.Forbidden: 403,
    vault_errors.InvalidPath: 404,
    vault_errors.PreconditionFailed: 412,
    vault_errors.RateLimitExceeded: 429,
    vault_errors.InternalServerError: 500,
    vault_errors.VaultNotInitialized: 501,
    vault_errors.BadGateway: 502,
    vault_errors.VaultDown: 503,
}


def parse_vault_uri(uri: str) -> tuple[str, str, str]:
    """``(base URL, mount, key name)`` of ``vault[+http]://HOST:PORT/MOUNT/keys/NAME``."""
    scheme, sep, rest = uri.partition("://")
    if not sep or scheme.lower() not in ("vault", "vault+http"):
        raise SecurityError(f"not a vault:// URI: {uri[:200]}")
    authority, _, path = rest.partition("/")
    mount, marker, name = path.rpartition("/keys/")
    if not authority or not marker or not mount.strip("/") or not name or "/" in name:
        raise SecurityError(
            f"vault URI {uri[:200]}: expected vault://HOST:PORT/MOUNT/keys/NAME "
            f"(e.g. vault://vault.example:8200/transit/keys/importobot)"
        )
    if "@" in authority:
        raise SecurityError(f"vault URI {uri[:200]}: no user or token in the URI")
    http = "http" if scheme.lower() == "vault+http" else "https"
    return f"{http}://{authority}", mount.strip("/"), name


def _token(env: Mapping[str, str]) -> str:
    for name in ("VAULT_TOKEN", "BAO_TOKEN"):
        value = env.get(name, "").strip()
        if value:
            return value
    from importobot.fsio import FileRefused, read_operator_file

    named = env.get(ENV_TOKEN_FILE, "").strip()
    path = named or os.path.join(os.path.expanduser("~"), ".vault-token")
    if named or os.path.isfile(path):
        try:
            value = read_operator_file(path, 8192, private=True).decode("utf-8", "replace").strip()
        except FileRefused as exc:
            raise KeyBackendError(f"vault: token file {exc}", "vault", "token-file") from None
        if value:
            return value
    raise KeyBackendError(
        f"vault: no token: set VAULT_TOKEN or BAO_TOKEN, or {ENV_TOKEN_FILE} "
        f"(or log in so ~/.vault-token exists)",
        "vault",
        "token-not-set",
    )


def _ca(env: Mapping[str, str]) -> str | bool:
    for name in ("VAULT_CACERT", "BAO_CACERT"):
        value = env.get(name, "").strip()
        if value:
            return value
    return True


def _reason(exc: vault_errors.VaultError) -> str:
    errors = getattr(exc, "errors", None)
    parts = errors if isinstance(errors, list) else [str(exc)]
    text = " ".join(str(p) for p in parts)
    text = " ".join(line.strip(" \t*") for line in text.splitlines() if line.strip(" \t*"))
    text = text.replace("1 error occurred:", "").strip()
    return text.split(", on ")[0][:200] or type(exc).__name__


class TransitKEK(KEKBackend):
    """A transit key: ``encrypt``/``decrypt`` with associated data, versions by transit."""

    name = "vault"
    mechanism = "transit"
    network = True

    def __init__(self, uri: str, env: Mapping[str, str]) -> None:
        super().__init__(uri, env)
        self.url, self.mount, self.key = parse_vault_uri(uri)
        self._client: Any = None

    def _api(self) -> Any:
        if self._client is None:
            self._client = hvac.Client(
                url=self.url, token=_token(self.env), verify=_ca(self.env), timeout=REQUEST_TIMEOUT
            )
        return self._client

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            session = getattr(getattr(client, "adapter", None), "session", None)
            if session is not None:
                session.close()

    def _call(self, what: str, call: Callable[[Any], T], *, auth_on: tuple[str, ...] = ()) -> T:
        """Run ``call(transit)``; every failure becomes one line with the HTTP status."""
        try:
            return call(self._api().secrets.transit)
        except vault_errors.VaultError as exc:
            status = _STATUS.get(type(exc), getattr(exc, "status_code", None) or 0)
            reason = _reason(exc)
            if any(marker in reason for marker in auth_on):
                raise self.auth_error(
                    f"transit refused the wrapped key ({reason}): it was edited or made by "
                    f"another KEK"
                ) from None
            hint = {
                403: "; is the token valid, unexpired and allowed to use this key?",
                404: f"; is the transit engine mounted at {self.mount}/?",
                503: "; is the server sealed or in standby?",
            }.get(status, "")
            if "too old" in reason:
                hint = "; the key's min_decryption_version is above this version: rewrap it"
            raise self.error(
                f"{what} failed: {reason}{hint}", f"HTTP {status}", unavailable=status == 503
            ) from None
        except requests.exceptions.SSLError:
            raise self.error(
                f"{what} failed: TLS verification failed (set VAULT_CACERT to the server's CA)",
                "TLS",
            ) from None
        except requests.exceptions.Timeout:
            raise self.error(
                f"{what}: no answer within {REQUEST_TIMEOUT:g} s", "timeout", unavailable=True
            ) from None
        except requests.exceptions.ConnectionError:
            raise self.error(
                f"{what} failed: cannot connect to {self.url}", "unreachable", unavailable=True
            ) from None

    def _key_info(self) -> dict[str, Any]:
        data: dict[str, Any] = self._call(
            f"reading transit key {self.key}",
            lambda t: t.read_key(name=self.key, mount_point=self.mount),
        )["data"]
        return data

    def wrap(self, dek: bytes) -> WrappedKey:
        latest = int(self._key_info()["latest_version"])
        head = header_for(self.uri, str(latest), fingerprint(dek), self.mechanism)
        answer = self._call(
            "wrapping the key (transit encrypt)",
            lambda t: t.encrypt_data(
                name=self.key,
                plaintext=base64.b64encode(dek).decode("ascii"),
                key_version=latest,
                associated_data=base64.b64encode(head.aad).decode("ascii"),
                mount_point=self.mount,
            ),
        )
        text = str(answer["data"]["ciphertext"])
        prefix = f"vault:v{latest}:"
        if not text.startswith(prefix):
            raise self.error("transit answered with another key version", "unexpected-version")
        try:
            payload = base64.b64decode(text[len(prefix) :], validate=True)
        except (binascii.Error, ValueError):
            raise self.error("transit answered with unreadable ciphertext", "bad-answer") from None
        return WrappedKey(head.uri, head.version, head.fingerprint, head.mechanism, payload)

    def unwrap(self, wrapped: WrappedKey) -> bytes:
        self.check_wrapped(wrapped)
        if not wrapped.version.isdigit():
            raise self.auth_error(f"version {wrapped.version!r} is not a transit version")
        ciphertext = f"vault:v{int(wrapped.version)}:" + base64.b64encode(wrapped.payload).decode()
        answer = self._call(
            "unwrapping the key (transit decrypt)",
            lambda t: t.decrypt_data(
                name=self.key,
                ciphertext=ciphertext,
                associated_data=base64.b64encode(wrapped.aad).decode("ascii"),
                mount_point=self.mount,
            ),
            auth_on=("message authentication failed", "invalid ciphertext", "invalid key version"),
        )
        try:
            return base64.b64decode(answer["data"]["plaintext"], validate=True)
        except (binascii.Error, ValueError, KeyError, TypeError):
            raise self.error("transit answered with no readable plaintext", "bad-answer") from None

    def create(self) -> KEKStatus:
        try:
            self._key_info()
        except KeyBackendError as exc:
            if exc.code != "HTTP 404":
                raise
        else:
            raise self.error(
                f"transit key {self.key} already exists; use `importobot kek rotate`", "exists"
            )
        self._call(
            f"creating transit key {self.key}",
            lambda t: t.create_key(
                name=self.key, key_type=_KEY_TYPE, exportable=False, mount_point=self.mount
            ),
        )
        return self.status()

    def rotate(self) -> KEKStatus:
        self._call(
            f"rotating transit key {self.key}",
            lambda t: t.rotate_key(name=self.key, mount_point=self.mount),
        )
        return self.status()

    def status(self) -> KEKStatus:
        info = self._key_info()
        versions = sorted(int(v) for v in (info.get("keys") or {}))
        return KEKStatus(
            uri=self.uri,
            backend=self.name,
            key_id=f"{self.mount}/keys/{self.key}",
            versions=tuple(str(v) for v in versions),
            latest=str(info.get("latest_version")),
            min_decryption=str(info.get("min_decryption_version")),
            details={
                "type": info.get("type"),
                "exportable": bool(info.get("exportable")),
                "deletion_allowed": bool(info.get("deletion_allowed")),
                "server": self.url,
            },
        )


def backend(uri: str, env: Mapping[str, str]) -> TransitKEK:
    """Entry point (``importobot.kek_backends``: ``vault``, ``vault+http``)."""
    return TransitKEK(uri, env)
