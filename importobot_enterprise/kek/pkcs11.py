"""``pkcs11:`` KEKs (D24) and the PKCS#11 plumbing the HSM store shares.

The KEK is an AES-256 key generated **on** the token (``CKA_EXTRACTABLE`` false,
``CKA_SENSITIVE`` true), named by an RFC 7512 URI (``pkcs11:token=LABEL;object=NAME``,
optionally ``id=``, ``serial=``, ``manufacturer=``, ``model=``, ``type=secret-key``) and
versioned by ``CKA_ID`` (a 4-byte big-endian counter: version 1, 2, …). A data key is
wrapped with ``CKM_AES_GCM`` (a 96-bit IV from the token's RNG, the wrapped key's header
as AAD, a 128-bit tag).

The module comes only from ``IMPORTOBOT_PKCS11_MODULE``; the user PIN from
``IMPORTOBOT_PKCS11_PIN`` or the file ``IMPORTOBOT_PKCS11_PIN_FILE`` (owned by the user,
not readable by others), never from a URI or argv. Every PKCS#11 call runs under
:data:`LOCK`: SoftHSM through python-pkcs11 corrupts data and crashes when called from
threads at once. After a fork the child re-initialises the library before its first
call. Errors are one line with the ``CKR_…`` name; never a PIN or key.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, unquote_to_bytes

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as pkcs11_errors
from pkcs11.constants import TokenFlag
from pkcs11.mechanisms import GCMParams

from importobot.exceptions import KeyBackendError, SecurityError
from importobot.keys.fingerprint import fingerprint
from importobot.keys.wrapped import WrappedKey, header_for
from importobot_enterprise.kek import KEKBackend, KEKStatus

__all__ = [
    "ENV_MODULE",
    "ENV_PIN",
    "ENV_PIN_FILE",
    "LOCK",
    "PKCS11KEK",
    "Pkcs11URI",
    "backend",
    "ckr_name",
    "open_session",
    "parse_pkcs11_uri",
]

ENV_MODULE = "IMPORTOBOT_PKCS11_MODULE"
ENV_PIN = "IMPORTOBOT_PKCS11_PIN"
ENV_PIN_FILE = "IMPORTOBOT_PKCS11_PIN_FILE"

#: One process-wide lock around every PKCS#11 call (re-entrant: a session's calls nest).
LOCK = threading.RLock()

#: python-pkcs11 exception class -> the PKCS#11 return value it stands for.
_CKR = {
    "AttributeTypeInvalid": "CKR_ATTRIBUTE_TYPE_INVALID",
    "AttributeValueInvalid": "CKR_ATTRIBUTE_VALUE_INVALID",
    "AttributeReadOnly": "CKR_ATTRIBUTE_READ_ONLY",
    "AttributeSensitive": "CKR_ATTRIBUTE_SENSITIVE",
    "ArgumentsBad": "CKR_ARGUMENTS_BAD",
    "DataInvalid": "CKR_DATA_INVALID",
    "DataLenRange": "CKR_DATA_LEN_RANGE",
    "DomainParamsInvalid": "CKR_DOMAIN_PARAMS_INVALID",
    "DeviceError": "CKR_DEVICE_ERROR",
    "DeviceMemory": "CKR_DEVICE_MEMORY",
    "DeviceRemoved": "CKR_DEVICE_REMOVED",
    "EncryptedDataInvalid": "CKR_ENCRYPTED_DATA_INVALID",
    "EncryptedDataLenRange": "CKR_ENCRYPTED_DATA_LEN_RANGE",
    "ExceededMaxIterations": "CKR_EXCEEDED_MAX_ITERATIONS",
    "FunctionCancelled": "CKR_FUNCTION_CANCELED",
    "FunctionFailed": "CKR_FUNCTION_FAILED",
    "FunctionRejected": "CKR_FUNCTION_REJECTED",
    "FunctionNotSupported": "CKR_FUNCTION_NOT_SUPPORTED",
    "KeyHandleInvalid": "CKR_KEY_HANDLE_INVALID",
    "KeyIndigestible": "CKR_KEY_INDIGESTIBLE",
    "KeyNeeded": "CKR_KEY_NEEDED",
    "KeyNotNeeded": "CKR_KEY_NOT_NEEDED",
    "KeySizeRange": "CKR_KEY_SIZE_RANGE",
    "KeyNotWrappable": "CKR_KEY_NOT_WRAPPABLE",
    "KeyTypeInconsistent": "CKR_KEY_TYPE_INCONSISTENT",
    "KeyUnextractable": "CKR_KEY_UNEXTRACTABLE",
    "GeneralError": "CKR_GENERAL_ERROR",
    "HostMemory": "CKR_HOST_MEMORY",
    "MechanismInvalid": "CKR_MECHANISM_INVALID",
    "MechanismParamInvalid": "CKR_MECHANISM_PARAM_INVALID",
    "NoEvent": "CKR_NO_EVENT",
    "ObjectHandleInvalid": "CKR_OBJECT_HANDLE_INVALID",
    "OperationActive": "CKR_OPERATION_ACTIVE",
    "OperationNotInitialized": "CKR_OPERATION_NOT_INITIALIZED",
    "PinExpired": "CKR_PIN_EXPIRED",
    "PinIncorrect": "CKR_PIN_INCORRECT",
    "PinInvalid": "CKR_PIN_INVALID",
    "PinLenRange": "CKR_PIN_LEN_RANGE",
    "PinLocked": "CKR_PIN_LOCKED",
    "PinTooWeak": "CKR_PIN_TOO_WEAK",
    "PublicKeyInvalid": "CKR_PUBLIC_KEY_INVALID",
    "RandomNoRNG": "CKR_RANDOM_NO_RNG",
    "RandomSeedNotSupported": "CKR_RANDOM_SEED_NOT_SUPPORTED",
    "SessionClosed": "CKR_SESSION_CLOSED",
    "SessionCount": "CKR_SESSION_COUNT",
    "SessionExists": "CKR_SESSION_EXISTS",
    "SessionHandleInvalid": "CKR_SESSION_HANDLE_INVALID",
    "SessionReadOnly": "CKR_SESSION_READ_ONLY",
    "SessionReadOnlyExists": "CKR_SESSION_READ_ONLY_EXISTS",
    "SessionReadWriteSOExists": "CKR_SESSION_READ_WRITE_SO_EXISTS",
    "SignatureLenRange": "CKR_SIGNATURE_LEN_RANGE",
    "SignatureInvalid": "CKR_SIGNATURE_INVALID",
    "TemplateIncomplete": "CKR_TEMPLATE_INCOMPLETE",
    "TemplateInconsistent": "CKR_TEMPLATE_INCONSISTENT",
    "SlotIDInvalid": "CKR_SLOT_ID_INVALID",
    "TokenNotPresent": "CKR_TOKEN_NOT_PRESENT",
    "TokenNotRecognised": "CKR_TOKEN_NOT_RECOGNIZED",
    "TokenWriteProtected": "CKR_TOKEN_WRITE_PROTECTED",
    "UnwrappingKeyHandleInvalid": "CKR_UNWRAPPING_KEY_HANDLE_INVALID",
    "UnwrappingKeySizeRange": "CKR_UNWRAPPING_KEY_SIZE_RANGE",
    "UnwrappingKeyTypeInconsistent": "CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT",
    "UserNotLoggedIn": "CKR_USER_NOT_LOGGED_IN",
    "UserAlreadyLoggedIn": "CKR_USER_ALREADY_LOGGED_IN",
    "AnotherUserAlreadyLoggedIn": "CKR_USER_ANOTHER_ALREADY_LOGGED_IN",
    "UserPinNotInitialized": "CKR_USER_PIN_NOT_INITIALIZED",
    "UserTooManyTypes": "CKR_USER_TOO_MANY_TYPES",
    "WrappedKeyInvalid": "CKR_WRAPPED_KEY_INVALID",
    "WrappedKeyLenRange": "CKR_WRAPPED_KEY_LEN_RANGE",
    "WrappingKeyHandleInvalid": "CKR_WRAPPING_KEY_HANDLE_INVALID",
    "WrappingKeySizeRange": "CKR_WRAPPING_KEY_SIZE_RANGE",
    "WrappingKeyTypeInconsistent": "CKR_WRAPPING_KEY_TYPE_INCONSISTENT",
}

_VERSION_BYTES = 4
_IV_BYTES = 12
_TAG_BITS = 128
#: RFC 7512 path attributes this backend understands.
_PATH_ATTRIBUTES = ("token", "serial", "manufacturer", "model", "object", "id", "type")

_forked = threading.Event()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked.set)


def ckr_name(exc: BaseException) -> str:
    """The ``CKR_…`` name a python-pkcs11 exception stands for (or a short description)."""
    name = _CKR.get(type(exc).__name__)
    if name is not None:
        return name
    if isinstance(exc, pkcs11_errors.NoSuchToken):
        return "CKR_TOKEN_NOT_PRESENT"
    if isinstance(exc, pkcs11_errors.NoSuchKey):
        return "CKR_KEY_HANDLE_INVALID"
    if isinstance(exc, pkcs11_errors.MultipleObjectsReturned):
        return "CKR_GENERAL_ERROR (several objects match)"
    if isinstance(exc, pkcs11_errors.MultipleTokensReturned):
        return "CKR_GENERAL_ERROR (several tokens match)"
    return type(exc).__name__


# Not a record: a backend internal, never exposed; its constructor takes ``id_`` (not ``id``).
class Pkcs11URI:
    """An RFC 7512 ``pkcs11:`` URI, decoded: token selection and object selection."""

    __slots__ = ("attrs", "id", "text")

    def __init__(self, text: str, attrs: dict[str, str], id_: bytes | None) -> None:
        self.text = text
        self.attrs = attrs
        self.id = id_

    @property
    def token(self) -> str | None:
        return self.attrs.get("token")

    @property
    def object(self) -> str | None:
        return self.attrs.get("object")


def parse_pkcs11_uri(uri: str, *, need_object: bool = True) -> Pkcs11URI:
    """Decode ``uri`` (RFC 7512). Refuses query attributes and unknown path attributes."""
    if not uri.lower().startswith("pkcs11:"):
        raise SecurityError(f"not a pkcs11: URI: {uri[:200]}")
    body = uri[len("pkcs11:") :]
    path, _, query = body.partition("?")
    if query:
        raise SecurityError(
            f"pkcs11 URI {uri[:200]}: query attributes are not accepted (the module comes "
            f"from {ENV_MODULE}, the PIN from {ENV_PIN} or {ENV_PIN_FILE})"
        )
    attrs: dict[str, str] = {}
    id_: bytes | None = None
    for part in path.split(";"):
        if not part:
            continue
        name, eq, value = part.partition("=")
        name = unquote(name).strip().lower()
        if not eq or name not in _PATH_ATTRIBUTES:
            known = ", ".join(_PATH_ATTRIBUTES)
            raise SecurityError(
                f"pkcs11 URI {uri[:200]}: unsupported attribute {name[:40]!r} (known: {known})"
            )
        if name in attrs or (name == "id" and id_ is not None):
            raise SecurityError(f"pkcs11 URI {uri[:200]}: attribute {name} given twice")
        if name == "id":
            id_ = unquote_to_bytes(value)
        else:
            attrs[name] = unquote(value, errors="strict")
    if attrs.get("type", "secret-key") != "secret-key":
        raise SecurityError(f"pkcs11 URI {uri[:200]}: a KEK is a secret key (type=secret-key)")
    if not attrs.get("token"):
        raise SecurityError(f"pkcs11 URI {uri[:200]}: name the token (token=LABEL)")
    if need_object and not attrs.get("object"):
        raise SecurityError(f"pkcs11 URI {uri[:200]}: name the key (object=LABEL)")
    return Pkcs11URI(uri, attrs, id_)


def _module_path(env: Mapping[str, str]) -> str:
    path = env.get(ENV_MODULE, "").strip()
    if not path:
        raise KeyBackendError(
            f"pkcs11: {ENV_MODULE} is not set; point it at the token's PKCS#11 module "
            f"(e.g. /usr/lib/softhsm/libsofthsm2.so)",
            "pkcs11",
            "module-not-set",
        )
    return path


def _pin(env: Mapping[str, str]) -> str:
    pin = env.get(ENV_PIN, "")
    if pin:
        return pin
    path = env.get(ENV_PIN_FILE, "").strip()
    if path:
        from importobot.fsio import FileRefused, read_operator_file

        try:
            data = read_operator_file(path, 4096, private=True)
        except FileRefused as exc:
            raise KeyBackendError(f"pkcs11: {ENV_PIN_FILE}: {exc}", "pkcs11", "pin-file") from None
        try:
            text = data.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise KeyBackendError(
                f"pkcs11: {ENV_PIN_FILE} is not UTF-8 text", "pkcs11", "pin-file"
            ) from None
        if text:
            return text
    raise KeyBackendError(
        f"pkcs11: no user PIN: set {ENV_PIN} or {ENV_PIN_FILE} (never on the command line)",
        "pkcs11",
        "pin-not-set",
    )


def _library(path: str) -> Any:
    """The loaded module (python-pkcs11 keeps one per path); re-initialised after a fork."""
    try:
        lib = pkcs11.lib(path)
    except pkcs11_errors.PKCS11Error as exc:
        detail = (str(exc).splitlines() or [""])[0]
        if detail.startswith("OS exception"):
            # "OS exception while loading PATH: PATH: <dlerror>": keep what dlerror said
            reason = detail.split(f"{path}: ")[-1][:200] or "dlopen failed"
            code = "not-a-pkcs11-module" if "C_GetFunctionList" in reason else "module-load"
            raise KeyBackendError(
                f"pkcs11: cannot load the module {ENV_MODULE}={path[:200]} ({reason}) ({code})",
                "pkcs11",
                code,
            ) from None
        raise KeyBackendError(
            f"pkcs11: the module {path[:200]} failed to initialise "
            f"(is its configuration readable, e.g. SOFTHSM2_CONF?) ({ckr_name(exc)})",
            "pkcs11",
            ckr_name(exc),
        ) from None
    if _forked.is_set():
        _forked.clear()
        lib.reinitialize()
    return lib


def _token(lib: Any, uri: Pkcs11URI) -> Any:
    serial = uri.attrs.get("serial")
    matches = [
        tok
        for tok in lib.get_tokens(token_label=uri.token)
        if (serial is None or tok.serial.decode("ascii", "replace").strip() == serial)
        and (
            "manufacturer" not in uri.attrs
            or tok.manufacturer_id.strip() == uri.attrs["manufacturer"]
        )
        and ("model" not in uri.attrs or tok.model.strip() == uri.attrs["model"])
    ]
    if not matches:
        raise KeyBackendError(
            f"pkcs11: no token labelled {uri.token!r} in the module (CKR_TOKEN_NOT_PRESENT)",
            "pkcs11",
            "CKR_TOKEN_NOT_PRESENT",
        )
    if len(matches) > 1:
        raise KeyBackendError(
            f"pkcs11: several tokens are labelled {uri.token!r}; add serial= to the URI "
            f"(CKR_GENERAL_ERROR)",
            "pkcs11",
            "CKR_GENERAL_ERROR",
        )
    return matches[0]


def fail(exc: BaseException, what: str) -> KeyBackendError:
    """One line for a PKCS#11 failure: what was being done and the ``CKR_…`` name."""
    code = ckr_name(exc)
    hint = {
        "CKR_PIN_INCORRECT": f": wrong PIN in {ENV_PIN} / {ENV_PIN_FILE}",
        "CKR_PIN_LOCKED": ": the user PIN is locked; the security officer must reset it",
        "CKR_PIN_EXPIRED": ": the user PIN has expired",
        "CKR_USER_PIN_NOT_INITIALIZED": ": the token's user PIN was never set",
    }.get(code, "")
    return KeyBackendError(f"pkcs11: {what} failed{hint} ({code})", "pkcs11", code)


@contextmanager
def open_session(env: Mapping[str, str], uri: Pkcs11URI, *, rw: bool = False) -> Iterator[Any]:
    """A logged-in session on the URI's token, held under :data:`LOCK` throughout."""
    with LOCK:
        lib = _library(_module_path(env))
        try:
            token = _token(lib, uri)
            flags = token.flags
        except pkcs11_errors.PKCS11Error as exc:
            raise fail(exc, "finding the token") from None
        if flags & TokenFlag.USER_PIN_LOCKED:
            raise KeyBackendError(
                f"pkcs11: token {uri.token!r} is locked: too many wrong PINs; the security "
                f"officer must reset the user PIN (CKR_PIN_LOCKED)",
                "pkcs11",
                "CKR_PIN_LOCKED",
            )
        if not flags & TokenFlag.USER_PIN_INITIALIZED:
            raise KeyBackendError(
                f"pkcs11: token {uri.token!r} has no user PIN yet (CKR_USER_PIN_NOT_INITIALIZED)",
                "pkcs11",
                "CKR_USER_PIN_NOT_INITIALIZED",
            )
        pin = _pin(env)
        try:
            session = token.open(rw=rw, user_pin=pin)
        except pkcs11_errors.PKCS11Error as exc:
            raise fail(exc, f"login to token {uri.token!r}") from None
        finally:
            del pin
        try:
            yield session
        finally:
            try:
                session.close()
            except pkcs11_errors.PKCS11Error:
                pass


def _version_of(obj: Any) -> int:
    try:
        raw = bytes(obj[Attribute.ID])
    except pkcs11_errors.PKCS11Error:
        return 0
    return int.from_bytes(raw, "big") if raw and len(raw) <= 8 else 0


def _version_id(version: int) -> bytes:
    return version.to_bytes(_VERSION_BYTES, "big")


class PKCS11KEK(KEKBackend):
    """A ``pkcs11:`` KEK: AES-256 on the token, versions by ``CKA_ID``, AES-GCM wrapping."""

    name = "pkcs11"
    mechanism = "aes-gcm"
    network = False

    def __init__(self, uri: str, env: Mapping[str, str]) -> None:
        super().__init__(uri, env)
        self.parsed = parse_pkcs11_uri(uri)

    # -- objects ---------------------------------------------------------------------------
    def _versions(self, session: Any) -> list[tuple[int, Any]]:
        """Every key with the URI's label (and id, when given), oldest version first."""
        template: dict[Attribute, Any] = {
            Attribute.CLASS: ObjectClass.SECRET_KEY,
            Attribute.LABEL: self.parsed.object,
        }
        if self.parsed.id is not None:
            template[Attribute.ID] = self.parsed.id
        try:
            found = [(_version_of(o), o) for o in session.get_objects(template)]
        except pkcs11_errors.PKCS11Error as exc:
            raise fail(exc, f"listing the KEK {self.parsed.object!r}") from None
        return sorted(found, key=lambda pair: pair[0])

    def _check_aes(self, obj: Any) -> None:
        try:
            key_type = obj[Attribute.KEY_TYPE]
        except pkcs11_errors.PKCS11Error as exc:
            raise fail(exc, "reading the KEK's key type") from None
        if key_type != KeyType.AES:
            kind = getattr(key_type, "name", str(key_type))
            raise KeyBackendError(
                f"pkcs11 KEK {self.uri}: not an AES key (CKK_{kind}); a KEK is an AES-256 key "
                f"made with `importobot kek create` (CKR_KEY_TYPE_INCONSISTENT)",
                "pkcs11",
                "CKR_KEY_TYPE_INCONSISTENT",
            )

    def _newest(self, session: Any) -> tuple[int, Any]:
        versions = self._versions(session)
        if not versions:
            raise KeyBackendError(
                f"pkcs11 KEK {self.uri}: no such key on token {self.parsed.token!r}; create "
                f"it with `importobot kek create` (CKR_KEY_HANDLE_INVALID)",
                "pkcs11",
                "CKR_KEY_HANDLE_INVALID",
            )
        version, obj = versions[-1]
        self._check_aes(obj)
        return version, obj

    # -- the interface -----------------------------------------------------------------------
    def wrap(self, dek: bytes) -> WrappedKey:
        with open_session(self.env, self.parsed) as session:
            version, kek = self._newest(session)
            head = header_for(self.uri, str(version), fingerprint(dek), self.mechanism)
            try:
                iv = session.generate_random(_IV_BYTES * 8)
                sealed = kek.encrypt(
                    dek,
                    mechanism=Mechanism.AES_GCM,
                    mechanism_param=GCMParams(iv, head.aad, _TAG_BITS),
                )
            except pkcs11_errors.PKCS11Error as exc:
                raise fail(exc, "wrapping the key (C_Encrypt, CKM_AES_GCM)") from None
        return WrappedKey(head.uri, head.version, head.fingerprint, head.mechanism, iv + sealed)

    def unwrap(self, wrapped: WrappedKey) -> bytes:
        self.check_wrapped(wrapped)
        if not wrapped.version.isdigit():
            raise self.auth_error(f"version {wrapped.version!r} is not a CKA_ID version")
        want = int(wrapped.version)
        payload = wrapped.payload
        if len(payload) != _IV_BYTES + 32 + _TAG_BITS // 8:
            raise self.auth_error("the wrapped payload has the wrong length (truncated?)")
        with open_session(self.env, self.parsed) as session:
            match = [obj for version, obj in self._versions(session) if version == want]
            if not match:
                if not self._versions(session):
                    raise KeyBackendError(
                        f"pkcs11 KEK {self.uri}: no such key on token {self.parsed.token!r} "
                        f"(CKR_KEY_HANDLE_INVALID)",
                        "pkcs11",
                        "CKR_KEY_HANDLE_INVALID",
                    )
                raise self.auth_error(
                    f"the KEK has no version {want}: the wrapped key was edited or made by "
                    f"another KEK"
                )
            self._check_aes(match[0])
            try:
                dek = match[0].decrypt(
                    payload[_IV_BYTES:],
                    mechanism=Mechanism.AES_GCM,
                    mechanism_param=GCMParams(payload[:_IV_BYTES], wrapped.aad, _TAG_BITS),
                )
            except (
                pkcs11_errors.GeneralError,
                pkcs11_errors.EncryptedDataInvalid,
                pkcs11_errors.EncryptedDataLenRange,
                pkcs11_errors.FunctionFailed,
            ):
                raise self.auth_error(
                    f"authentication failed under version {want} (CKM_AES_GCM): the wrapped "
                    f"key was edited or made by another KEK"
                ) from None
            except pkcs11_errors.PKCS11Error as exc:
                raise fail(exc, "unwrapping the key (C_Decrypt, CKM_AES_GCM)") from None
        return bytes(dek)

    def create(self) -> KEKStatus:
        if self.parsed.id is not None:
            raise SecurityError(
                f"pkcs11 KEK {self.uri}: leave id= out to create a KEK (versions are CKA_ID)"
            )
        with open_session(self.env, self.parsed, rw=True) as session:
            if self._versions(session):
                raise KeyBackendError(
                    f"pkcs11 KEK {self.uri}: a key labelled {self.parsed.object!r} already "
                    f"exists; use `importobot kek rotate` for a new version",
                    "pkcs11",
                    "exists",
                )
            self._generate(session, 1)
            return self._status(session)

    def rotate(self) -> KEKStatus:
        if self.parsed.id is not None:
            raise SecurityError(
                f"pkcs11 KEK {self.uri}: id= pins one version; leave it out to rotate"
            )
        with open_session(self.env, self.parsed, rw=True) as session:
            newest, _ = self._newest(session)
            self._generate(session, newest + 1)
            return self._status(session)

    def _generate(self, session: Any, version: int) -> None:
        try:
            session.generate_key(
                KeyType.AES,
                256,
                label=self.parsed.object,
                id=_version_id(version),
                store=True,
                template={
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: True,
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.ENCRYPT: True,
                    Attribute.DECRYPT: True,
                    Attribute.WRAP: False,
                    Attribute.UNWRAP: False,
                    Attribute.MODIFIABLE: False,
                },
            )
        except pkcs11_errors.PKCS11Error as exc:
            raise fail(exc, "generating the KEK on the token (C_GenerateKey)") from None

    def status(self) -> KEKStatus:
        with open_session(self.env, self.parsed) as session:
            return self._status(session)

    def _status(self, session: Any) -> KEKStatus:
        versions = self._versions(session)
        if not versions:
            raise KeyBackendError(
                f"pkcs11 KEK {self.uri}: no such key on token {self.parsed.token!r} "
                f"(CKR_KEY_HANDLE_INVALID)",
                "pkcs11",
                "CKR_KEY_HANDLE_INVALID",
            )
        newest = versions[-1][1]
        details: dict[str, Any] = {"token": self.parsed.token}
        for label, attr in (
            ("key_type", Attribute.KEY_TYPE),
            ("sensitive", Attribute.SENSITIVE),
            ("extractable", Attribute.EXTRACTABLE),
            ("never_extractable", Attribute.NEVER_EXTRACTABLE),
            ("generated_on_token", Attribute.LOCAL),
        ):
            try:
                value = newest[attr]
            except pkcs11_errors.PKCS11Error:
                continue
            details[label] = getattr(value, "name", value) if label == "key_type" else bool(value)
        return KEKStatus(
            uri=self.uri,
            backend=self.name,
            key_id=str(self.parsed.object),
            versions=tuple(str(v) for v, _ in versions),
            latest=str(versions[-1][0]),
            details=details,
        )


def backend(uri: str, env: Mapping[str, str]) -> PKCS11KEK:
    """Entry point (``importobot.kek_backends``: ``pkcs11``)."""
    return PKCS11KEK(uri, env)
