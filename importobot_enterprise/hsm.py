"""0.1.5's HSM store, real (D24): secrets kept as PKCS#11 objects on a token, with versions.

importobot 0.1.5 shipped ``SoftwareHSM`` (an in-memory dict). :class:`HSMKeyStore` keeps
its methods — ``store_key(alias, value)``, ``retrieve_key(alias)``,
``rotate_key(alias, new_value)`` — over a PKCS#11 token (SoftHSM2 in the tests), adds
versions (``rotate_key`` makes version N+1 and keeps the old ones until
:meth:`~HSMKeyStore.retire_key`), :meth:`~HSMKeyStore.list_keys` (aliases, versions,
fingerprints, dates — never values) and :meth:`~HSMKeyStore.delete_key`.

Each version is a ``CKO_SECRET_KEY`` / ``CKK_GENERIC_SECRET`` token object labelled
``importobot:<alias>``, ``CKA_ID`` = the version (4 bytes, big-endian) followed by the
time it was stored (8 bytes, Unix seconds; SoftHSM2 cannot read ``CKA_START_DATE`` back),
``CKA_PRIVATE`` (only a logged-in user sees it; SoftHSM2 encrypts private objects on disk
under the user PIN). The value must be read back, so
these objects are **extractable by necessity**: an HSM-resident KEK that wraps the key
(``importobot key wrap``) is the stronger path, and the docs say so.

The token is named by a ``pkcs11:token=LABEL`` URI (``IMPORTOBOT_HSM`` by default), the
module by ``IMPORTOBOT_PKCS11_MODULE`` and the PIN by ``IMPORTOBOT_PKCS11_PIN[_FILE]``,
as for ``pkcs11:`` KEKs; every call runs under the same process-wide lock. Every PKCS#11
failure is an :class:`HSMError` whose message names the ``CKR_…`` code; none holds a
value or a PIN.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from importobot._record import Record
from importobot.exceptions import KeyBackendError, SecurityError

__all__ = [
    "ENV_HSM",
    "HSMError",
    "HSMKeyInfo",
    "HSMKeyStore",
    "PKCS11KeyStore",
    "SoftwareHSM",
]

ENV_HSM = "IMPORTOBOT_HSM"
LABEL_PREFIX = "importobot:"
#: Largest value stored (a key, a token, a password: not files).
MAX_VALUE_BYTES = 64 * 1024


class HSMError(SecurityError):
    """A store operation failed: a PKCS#11 error (``code`` is its ``CKR_…`` name), an
    alias that exists or does not, a value that is not allowed. Never holds a value."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (str(self), self.code))


class HSMKeyInfo(Record):
    """One stored version: never its value."""

    alias: str
    version: int
    fingerprint: str
    #: When it was stored (UTC), or ``None`` for an object another tool made.
    created: datetime | None
    #: Value length in bytes.
    length: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "alias": self.alias,
            "version": self.version,
            "fingerprint": self.fingerprint,
            "created": self.created.strftime("%Y-%m-%dT%H:%M:%SZ") if self.created else None,
            "length": self.length,
        }


def _check_alias(alias: str) -> str:
    if not isinstance(alias, str) or not alias.strip():
        raise HSMError("an alias must be non-empty text", "alias")
    if len(alias) > 200 or not alias.isprintable():
        raise HSMError("an alias is at most 200 printable characters", "alias")
    return alias


def _value_bytes(value: str | bytes) -> bytes:
    if isinstance(value, str):
        data = value.encode("utf-8")
    elif isinstance(value, bytes | bytearray):
        data = bytes(value)
    else:
        raise HSMError("a value is text or bytes", "value")
    if not data:
        raise HSMError("refusing to store an empty value", "value")
    if len(data) > MAX_VALUE_BYTES:
        raise HSMError(f"a value is at most {MAX_VALUE_BYTES // 1024} KiB", "value")
    return data


def _fingerprint(data: bytes) -> str:
    """D2: a key's fingerprint when the value is a key, else the opaque text's."""
    from importobot.keys.fingerprint import fingerprint, fingerprint_opaque
    from importobot.security.key_validation import parse_key

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return fingerprint(data)
    try:
        return fingerprint(parse_key(text.strip()))
    except SecurityError:
        return fingerprint(data) if len(data) == 32 else fingerprint_opaque(text)


class HSMKeyStore:
    """Versioned secrets on a PKCS#11 token (see the module docstring).

    ``uri`` names the token (``pkcs11:token=LABEL``; default ``IMPORTOBOT_HSM``); ``env``
    (default ``os.environ``) supplies ``IMPORTOBOT_PKCS11_MODULE`` and the PIN.
    """

    def __init__(self, uri: str | None = None, *, env: Mapping[str, str] | None = None) -> None:
        self.env: Mapping[str, str] = os.environ if env is None else env
        text = (uri or self.env.get(ENV_HSM, "")).strip()
        if not text:
            raise HSMError(
                f"name the token: HSMKeyStore('pkcs11:token=LABEL') or set {ENV_HSM}", "uri"
            )
        from importobot.security.key_sources import check_kek_uri

        try:
            check_kek_uri(text)  # no module-path / pin-* attributes, whoever wrote the URI
            from importobot_enterprise.kek.pkcs11 import parse_pkcs11_uri

            self._uri = parse_pkcs11_uri(text, need_object=False)
        except HSMError:
            raise
        except SecurityError as exc:
            raise HSMError(str(exc), "uri") from None
        self.uri = text

    def __repr__(self) -> str:
        return f"HSMKeyStore(uri={self.uri!r})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("HSMKeyStore cannot be pickled")

    # -- plumbing ------------------------------------------------------------------------------
    @contextmanager
    def _session(self, rw: bool = False) -> Iterator[Any]:
        from importobot_enterprise.kek.pkcs11 import open_session

        try:
            with open_session(self.env, self._uri, rw=rw) as session:
                yield session
        except HSMError:
            raise
        except KeyBackendError as exc:
            raise HSMError(str(exc), exc.code) from None

    @staticmethod
    def _fail(exc: BaseException, what: str) -> HSMError:
        from importobot_enterprise.kek.pkcs11 import ckr_name

        code = ckr_name(exc)
        return HSMError(f"HSM: {what} failed ({code})", code)

    def _objects(
        self, session: Any, alias: str | None = None
    ) -> list[tuple[str, int, Any, datetime | None]]:
        """``(alias, version, object, created)`` for our objects (one alias or all), sorted."""
        from pkcs11 import Attribute, ObjectClass
        from pkcs11 import exceptions as pkcs11_errors

        from importobot_enterprise.kek.pkcs11 import LOCK

        template: dict[Any, Any] = {Attribute.CLASS: ObjectClass.SECRET_KEY}
        if alias is not None:
            template[Attribute.LABEL] = LABEL_PREFIX + alias
        found: list[tuple[str, int, Any, datetime | None]] = []
        with LOCK:
            try:
                for obj in session.get_objects(template):
                    label = str(obj[Attribute.LABEL])
                    if not label.startswith(LABEL_PREFIX):
                        continue
                    raw_id = bytes(obj[Attribute.ID])
                    version = int.from_bytes(raw_id[:4], "big")
                    created = None
                    if len(raw_id) == 12:
                        stamp = int.from_bytes(raw_id[4:], "big")
                        created = datetime.fromtimestamp(stamp, tz=timezone.utc)
                    found.append((label[len(LABEL_PREFIX) :], version, obj, created))
            except pkcs11_errors.PKCS11Error as exc:
                raise self._fail(exc, "listing objects") from None
        return sorted(found, key=lambda item: (item[0], item[1]))

    def _create(self, session: Any, alias: str, version: int, data: bytes) -> None:
        from pkcs11 import Attribute, KeyType, ObjectClass
        from pkcs11 import exceptions as pkcs11_errors

        from importobot_enterprise.kek.pkcs11 import LOCK

        with LOCK:
            try:
                session.create_object(
                    {
                        Attribute.CLASS: ObjectClass.SECRET_KEY,
                        Attribute.KEY_TYPE: KeyType.GENERIC_SECRET,
                        Attribute.TOKEN: True,
                        Attribute.PRIVATE: True,
                        Attribute.SENSITIVE: False,
                        Attribute.EXTRACTABLE: True,
                        Attribute.LABEL: LABEL_PREFIX + alias,
                        Attribute.ID: version.to_bytes(4, "big")
                        + int(time.time()).to_bytes(8, "big"),
                        Attribute.VALUE: data,
                    }
                )
            except pkcs11_errors.PKCS11Error as exc:
                raise self._fail(
                    exc, f"storing {alias!r} version {version} (C_CreateObject)"
                ) from None

    @staticmethod
    def _value(obj: Any) -> bytes:
        from pkcs11 import Attribute

        return bytes(obj[Attribute.VALUE])

    # -- 0.1.5's methods --------------------------------------------------------------------
    def store_key(self, alias: str, value: str | bytes) -> None:
        """Store a new alias (version 1); an existing alias is an :class:`HSMError`."""
        alias = _check_alias(alias)
        data = _value_bytes(value)
        with self._session(rw=True) as session:
            if self._objects(session, alias):
                raise HSMError(
                    f"Key alias {alias!r} already exists; use rotate_key for a new version",
                    "exists",
                )
            self._create(session, alias, 1, data)

    def retrieve_key(self, alias: str, version: int | None = None) -> str:
        """The newest value of ``alias`` (or ``version``), as text."""
        data = self.retrieve_key_bytes(alias, version)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise HSMError(
                f"{alias!r} holds bytes that are not UTF-8 text; use retrieve_key_bytes", "value"
            ) from None

    def retrieve_key_bytes(self, alias: str, version: int | None = None) -> bytes:
        """The newest value of ``alias`` (or ``version``), as bytes."""
        from pkcs11 import exceptions as pkcs11_errors

        from importobot_enterprise.kek.pkcs11 import LOCK

        alias = _check_alias(alias)
        with self._session() as session:
            found = self._objects(session, alias)
            if version is not None:
                found = [item for item in found if item[1] == version]
            if not found:
                which = f" version {version}" if version is not None else ""
                raise HSMError(f"Key alias {alias!r}{which} not found", "not-found")
            with LOCK:
                try:
                    return self._value(found[-1][2])
                except pkcs11_errors.PKCS11Error as exc:
                    raise self._fail(exc, f"reading {alias!r}") from None

    def rotate_key(self, alias: str, new_value: str | bytes) -> int:
        """Store ``new_value`` as the next version of ``alias``; returns that version.

        The old versions stay (readable with ``retrieve_key(alias, version)``) until
        :meth:`retire_key`.
        """
        alias = _check_alias(alias)
        data = _value_bytes(new_value)
        with self._session(rw=True) as session:
            found = self._objects(session, alias)
            if not found:
                raise HSMError(f"Key alias {alias!r} not found", "not-found")
            version = found[-1][1] + 1
            self._create(session, alias, version, data)
            return version

    # -- additions ------------------------------------------------------------------------------
    def list_keys(self) -> list[HSMKeyInfo]:
        """Every stored version: alias, version, fingerprint, date, length — never a value."""
        from pkcs11 import exceptions as pkcs11_errors

        from importobot_enterprise.kek.pkcs11 import LOCK

        out: list[HSMKeyInfo] = []
        with self._session() as session:
            for alias, version, obj, created in self._objects(session):
                with LOCK:
                    try:
                        data = self._value(obj)
                    except pkcs11_errors.PKCS11Error as exc:
                        raise self._fail(exc, f"reading {alias!r}") from None
                out.append(HSMKeyInfo(alias, version, _fingerprint(data), created, len(data)))
                del data
        return out

    def retire_key(self, alias: str, version: int | None = None) -> list[int]:
        """Destroy old versions of ``alias``: ``version``, or every one but the newest.

        The newest version is never retired (delete the alias for that). Returns the
        versions destroyed.
        """
        alias = _check_alias(alias)
        with self._session(rw=True) as session:
            found = self._objects(session, alias)
            if not found:
                raise HSMError(f"Key alias {alias!r} not found", "not-found")
            newest = found[-1][1]
            if version is not None:
                if version == newest:
                    raise HSMError(
                        f"version {version} is the newest of {alias!r}; rotate first", "newest"
                    )
                doomed = [item for item in found if item[1] == version]
                if not doomed:
                    raise HSMError(f"Key alias {alias!r} version {version} not found", "not-found")
            else:
                doomed = found[:-1]
            return self._destroy(alias, doomed)

    def delete_key(self, alias: str) -> int:
        """Destroy every version of ``alias``; returns how many."""
        alias = _check_alias(alias)
        with self._session(rw=True) as session:
            found = self._objects(session, alias)
            if not found:
                raise HSMError(f"Key alias {alias!r} not found", "not-found")
            return len(self._destroy(alias, found))

    def _destroy(self, alias: str, items: list[tuple[str, int, Any, datetime | None]]) -> list[int]:
        from pkcs11 import exceptions as pkcs11_errors

        from importobot_enterprise.kek.pkcs11 import LOCK

        done: list[int] = []
        with LOCK:
            for _, version, obj, _ in items:
                try:
                    obj.destroy()
                except pkcs11_errors.PKCS11Error as exc:
                    raise self._fail(exc, f"destroying {alias!r} version {version}") from None
                done.append(version)
        return done

    def token_info(self) -> dict[str, Any]:
        """The token's label, maker, model, serial and flags, and how many objects are ours."""
        with self._session() as session:
            token = session.token
            flags = token.flags
            return {
                "label": token.label.strip(),
                "manufacturer": token.manufacturer_id.strip(),
                "model": token.model.strip(),
                "serial": token.serial.decode("ascii", "replace").strip(),
                "flags": sorted(f.name for f in type(flags) if f.name and f in flags),
                "objects": len(self._objects(session)),
            }


#: The name for what 0.1.5 called ``SoftwareHSM`` (now a real PKCS#11 store).
PKCS11KeyStore = HSMKeyStore
SoftwareHSM = HSMKeyStore
