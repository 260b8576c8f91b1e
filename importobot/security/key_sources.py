"""Where keys come from, in contract order: explicit → environment → OS keyring (D5, D7).

Previous keys (decrypt only) come from ``IMPORTOBOT_PREVIOUS_KEYS``,
``IMPORTOBOT_PREVIOUS_KEYS_FILE`` and the keyring entry ``<username>.previous``.
The OS keyring is touched only when ``IMPORTOBOT_KEYRING_SERVICE`` is set; every call
has a timeout, and any backend error becomes one :class:`KeyringUnavailableError` line.
"""

from __future__ import annotations

import os
import sys

from importobot.exceptions import (
    InvalidKeyError,
    KeyringUnavailableError,
    MissingDependencyError,
    MissingKeyError,
    SecurityError,
)
from importobot.security.key_validation import LEGACY_PREFIX, derive_legacy_key, parse_key

TYPE_CHECKING = False  # no `typing` at run time: the key hooks start on every commit (D17)
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import TypeVar

    T = TypeVar("T")

__all__ = [
    "ENV_KEY",
    "ENV_KEYRING_SERVICE",
    "ENV_KEYRING_USERNAME",
    "ENV_PREVIOUS_KEYS",
    "ENV_PREVIOUS_KEYS_FILE",
    "KeySource",
    "PreviousKey",
    "ResolvedKey",
    "keyring_delete",
    "keyring_get",
    "keyring_location",
    "keyring_set",
    "previous_entry_name",
    "resolve_previous_keys",
    "resolve_primary_key",
]

ENV_KEY = "IMPORTOBOT_ENCRYPTION_KEY"
ENV_KEYRING_SERVICE = "IMPORTOBOT_KEYRING_SERVICE"
ENV_KEYRING_USERNAME = "IMPORTOBOT_KEYRING_USERNAME"
ENV_PREVIOUS_KEYS = "IMPORTOBOT_PREVIOUS_KEYS"
ENV_PREVIOUS_KEYS_FILE = "IMPORTOBOT_PREVIOUS_KEYS_FILE"
ENV_KEYRING_TIMEOUT = "IMPORTOBOT_KEYRING_TIMEOUT"
DEFAULT_USERNAME = "importobot"
KEYRING_TIMEOUT = 5.0

KEYRING_HINT = (
    "System keyring integration requires the 'security' extra: pip install 'importobot[security]'"
)
#: Appended to every keyring failure: what to do instead of fixing the keyring.
KEYRING_ALTERNATIVES = (
    f"without a keyring, set {ENV_KEY} (from your CI's secret store) or use a wrapped key "
    "(IMPORTOBOT_WRAPPED_KEY or IMPORTOBOT_WRAPPED_KEY_FILE, "
    "pip install 'importobot[enterprise]')"
)
#: Upper bound on an ``IMPORTOBOT_PREVIOUS_KEYS_FILE`` (thousands of keys).
PREVIOUS_KEYS_FILE_LIMIT = 256 * 1024

# -- 0.1.5 patch points --------------------------------------------------------------
# Code written for importobot 0.1.5 patches ``importobot.security.credential_manager``'s
# module attributes ``Fernet``, ``MultiFernet``, ``InvalidToken`` and ``keyring``
# (``unittest.mock.patch``, ``monkeypatch.setattr``). That module resolves them lazily
# (PEP 562 ``__getattr__``) and records here what it handed out; a value found in its
# namespace that is not what it handed out is a patch, and wins at call time.
COMPAT_MODULE = "importobot.security.credential_manager"
_NOT_SET = object()
_handed_out: dict[str, object] = {}


def compat_handed_out(name: str, value: object) -> object:
    """Record ``value`` as the genuine ``credential_manager.<name>`` and return it."""
    _handed_out[name] = value
    return value


def compat_override(name: str) -> tuple[bool, object]:
    """``(True, value)`` when ``credential_manager.<name>`` is patched, else ``(False, None)``.

    A patch's undo puts back what ``__getattr__`` handed out (``monkeypatch`` restores by
    ``setattr``): that is not a patch, so a library blocked later is still seen missing.
    """
    module = sys.modules.get(COMPAT_MODULE)
    if module is None:
        return False, None
    value = vars(module).get(name, _NOT_SET)
    if value is _NOT_SET or (name in _handed_out and value is _handed_out[name]):
        return False, None
    return True, value


class KeySource:
    """Where a key came from: ``kind`` is explicit, env, keyring or file; ``label`` is printable."""

    __slots__ = ("kind", "label")

    def __init__(self, kind: str, label: str) -> None:
        self.kind = kind
        self.label = label

    def __str__(self) -> str:
        return self.label

    def __repr__(self) -> str:
        return f"KeySource(kind={self.kind!r}, label={self.label!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KeySource) and (self.kind, self.label) == (other.kind, other.label)

    def __hash__(self) -> int:
        return hash((self.kind, self.label))


class ResolvedKey:
    """A validated primary key and its source. ``repr`` never shows the bytes."""

    __slots__ = ("raw", "source")

    def __init__(self, raw: bytes, source: KeySource) -> None:
        self.raw = raw
        self.source = source

    def __repr__(self) -> str:
        return f"ResolvedKey(source={self.source.label!r})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a key cannot be pickled")


class PreviousKey:
    """A decrypt-only key; ``legacy`` when derived by 0.1.5's rules (D3)."""

    __slots__ = ("legacy", "raw", "source")

    def __init__(self, raw: bytes, source: KeySource, legacy: bool = False) -> None:
        self.raw = raw
        self.source = source
        self.legacy = legacy

    def __repr__(self) -> str:
        return f"PreviousKey(source={self.source.label!r}, legacy={self.legacy})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a key cannot be pickled")


def _env(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def keyring_location(env: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """``(service, username)`` when the keyring source is configured, else ``None``."""
    e = _env(env)
    service = e.get(ENV_KEYRING_SERVICE, "").strip()
    if not service:
        return None
    username = e.get(ENV_KEYRING_USERNAME, "").strip() or DEFAULT_USERNAME
    return service, username


def previous_entry_name(username: str) -> str:
    """The keyring username holding the previous keys for ``username`` (D5 contract)."""
    return f"{username}.previous"


def import_keyring() -> object:
    """The ``keyring`` module, or ``None`` when it is not installed."""
    try:
        import keyring
    except ImportError:
        return None
    return keyring


def _keyring_module() -> object:
    patched, value = compat_override("keyring")
    kr = value if patched else import_keyring()
    if kr is None:
        raise MissingDependencyError(KEYRING_HINT)
    return kr


def _backend_name(kr_module: object) -> str:
    """The class keyring chose (may talk to D-Bus: call it in the timed worker only)."""
    backend = kr_module.get_keyring()  # type: ignore[attr-defined]
    return f"{type(backend).__module__}.{type(backend).__qualname__}"


# What keyring tries on each platform before its "fail" backend, with a readable name.
_PLATFORM_BACKENDS = {
    "darwin": ("macOS Keychain", "keyring.backends.macOS", "Keyring"),
    "win32": ("Windows Credential Manager", "keyring.backends.Windows", "WinVaultKeyring"),
}
_DEFAULT_BACKEND = ("Secret Service over D-Bus", "keyring.backends.SecretService", "Keyring")


def _first_line(exc: BaseException) -> str:
    line = (str(exc).strip().splitlines() or [""])[0][:200]
    return f"{type(exc).__name__}: {line}" if line else type(exc).__name__


def _no_backend_message(fallback: str, env: Mapping[str, str] | None) -> str:
    """Why keyring fell back to its fail backend: what it tried and what it found.

    Runs inside the timed worker: asking a backend why it is not viable may talk to D-Bus.
    """
    label, module_name, class_name = _PLATFORM_BACKENDS.get(sys.platform, _DEFAULT_BACKEND)
    try:
        import importlib

        candidate = getattr(importlib.import_module(module_name), class_name)
        priority = candidate.priority
    except Exception as exc:  # noqa: BLE001 - the reason it is not viable is what we report
        why = (str(exc).strip().splitlines() or [""])[0][:200] or type(exc).__name__
    else:
        why = f"viable (priority {priority}) but not chosen"
    notes = [why]
    e = _env(env)
    if label == _DEFAULT_BACKEND[0] and "DBUS_SESSION_BUS_ADDRESS" not in why:
        bus = e.get("DBUS_SESSION_BUS_ADDRESS", "").strip()[:100]
        if not bus:
            notes.append("DBUS_SESSION_BUS_ADDRESS is unset")
        else:
            shown = bus if bus.isprintable() else ascii(bus)
            notes.append(f"DBUS_SESSION_BUS_ADDRESS={shown}")
    forced = e.get("PYTHON_KEYRING_BACKEND", "").strip()
    if forced:
        notes.append(f"PYTHON_KEYRING_BACKEND={forced[:100]}")
    fix = (
        "start and unlock a Secret Service in the session (gnome-keyring-daemon --unlock), or "
        if label == _DEFAULT_BACKEND[0]
        else ""
    )
    return (
        f"no usable OS keyring backend: keyring fell back to {fallback} after "
        f"trying {label} ({'; '.join(notes)}); {fix}{KEYRING_ALTERNATIVES}"
    )


def _timeout(env: Mapping[str, str] | None) -> float:
    raw = _env(env).get(ENV_KEYRING_TIMEOUT, "")
    try:
        value = float(raw) if raw else KEYRING_TIMEOUT
    except ValueError:
        value = KEYRING_TIMEOUT
    return value if value > 0 else KEYRING_TIMEOUT


def _with_keyring(
    action: str, call: Callable[[object], T], env: Mapping[str, str] | None = None
) -> T:
    """Run ``call(keyring)`` in a worker thread with a timeout; errors become one line."""
    import threading

    kr = _keyring_module()
    result: list[T] = []
    failure: list[BaseException] = []
    # Named by the worker: choosing a backend may itself hang (D-Bus), so the timeout
    # path must not ask again.
    chosen: list[str] = []

    def work() -> None:
        try:
            # A 0.1.5-style stand-in (an object with get_password...) has no backends.
            if getattr(kr, "get_keyring", None) is not None:
                chosen.append(_backend_name(kr))
                if chosen[0].startswith("keyring.backends.fail."):
                    raise KeyringUnavailableError(_no_backend_message(chosen[0], env))
            else:
                chosen.append(type(kr).__qualname__)
            result.append(call(kr))
        except BaseException as exc:  # noqa: BLE001 - reported below as one line
            failure.append(exc)

    timeout = _timeout(env)
    worker = threading.Thread(target=work, name="importobot-keyring", daemon=True)
    worker.start()
    worker.join(timeout)
    backend = chosen[0] if chosen else "no backend chosen yet"
    if worker.is_alive():
        raise KeyringUnavailableError(
            f"OS keyring ({backend}) did not answer within {timeout:g} s while "
            f"trying to {action}; is the Secret Service running and unlocked? "
            f"({ENV_KEYRING_TIMEOUT} sets the timeout); {KEYRING_ALTERNATIVES}"
        )
    if failure:
        exc = failure[0]
        if isinstance(exc, SecurityError):
            raise type(exc)(*exc.args) from None  # our own line, without the worker's frames
        raise KeyringUnavailableError(
            f"OS keyring ({backend}) failed to {action}: {_first_line(exc)}; {KEYRING_ALTERNATIVES}"
        ) from None
    return result[0]


def keyring_get(service: str, username: str, env: Mapping[str, str] | None = None) -> str | None:
    """Read one keyring entry (D7 timeout and error handling)."""
    value = _with_keyring(
        f"read {service}/{username}",
        lambda kr: kr.get_password(service, username),  # type: ignore[attr-defined]
        env,
    )
    return value if isinstance(value, str) else None


def keyring_set(
    service: str, username: str, value: str, env: Mapping[str, str] | None = None
) -> None:
    """Write one keyring entry (D7 timeout and error handling)."""
    _with_keyring(
        f"write {service}/{username}",
        lambda kr: kr.set_password(service, username, value),  # type: ignore[attr-defined]
        env,
    )


def keyring_delete(service: str, username: str, env: Mapping[str, str] | None = None) -> None:
    """Delete one keyring entry if it exists."""

    def delete(kr: object) -> None:
        if kr.get_password(service, username) is not None:  # type: ignore[attr-defined]
            kr.delete_password(service, username)  # type: ignore[attr-defined]

    _with_keyring(f"delete {service}/{username}", delete, env)


def resolve_primary_key(
    key: str | bytes | None = None, env: Mapping[str, str] | None = None
) -> ResolvedKey:
    """The primary key in contract order, validated; raises :class:`MissingKeyError` if none.

    An invalid key in a source is an error naming that source; there is no silent
    fallback to the next source.
    """
    if key is not None:
        if isinstance(key, str) and not key.strip():
            raise MissingKeyError("the explicit key= argument is empty")
        return ResolvedKey(parse_key(key, "the key= argument"), KeySource("explicit", "explicit"))
    e = _env(env)
    text = e.get(ENV_KEY)
    if text is not None and text.strip():
        return ResolvedKey(parse_key(text, ENV_KEY), KeySource("env", f"env:{ENV_KEY}"))
    location = keyring_location(e)
    if location is not None:
        service, username = location
        label = f"keyring:{service}/{username}"
        stored = keyring_get(service, username, e)
        if stored is not None and stored.strip():
            return ResolvedKey(
                parse_key(stored, f"keyring entry {service}/{username}"),
                KeySource("keyring", label),
            )
        raise MissingKeyError(
            f"no key in {ENV_KEY} and the keyring entry {service}/{username} is empty; "
            f"store one with `importobot key store`"
        )
    raise MissingKeyError(
        f"no encryption key: set {ENV_KEY} (generate one "
        f"with `importobot key generate` or `openssl rand -base64 32`) or store one in "
        f"the OS keyring with "
        f"`importobot key store` and set {ENV_KEYRING_SERVICE}"
    )


def _parse_previous(entries: list[str], source: KeySource) -> list[PreviousKey]:
    keys: list[PreviousKey] = []
    for index, entry in enumerate(entries, start=1):
        where = f"previous key #{index} in {source.label}"
        if entry.startswith(LEGACY_PREFIX):
            try:
                raw = derive_legacy_key(entry[len(LEGACY_PREFIX) :])
            except InvalidKeyError as exc:
                exc.args = (f"{where}: {exc}",)  # the same error (no chain), with its source
                raise
            keys.append(PreviousKey(raw, source, legacy=True))
        else:
            keys.append(PreviousKey(parse_key(entry, where), source))
    return keys


def _split(text: str, sep: str) -> list[str]:
    return [part.strip() for part in text.split(sep) if part.strip()]


def resolve_previous_keys(env: Mapping[str, str] | None = None) -> list[PreviousKey]:
    """Every configured decrypt-only key, in order: env, file, keyring (duplicates dropped)."""
    e = _env(env)
    found: list[PreviousKey] = []
    listed = e.get(ENV_PREVIOUS_KEYS, "")
    if listed.strip():
        found += _parse_previous(_split(listed, ","), KeySource("env", f"env:{ENV_PREVIOUS_KEYS}"))
    path = e.get(ENV_PREVIOUS_KEYS_FILE, "").strip()
    if path:
        found += _parse_previous(_read_keys_file(path), KeySource("file", f"file:{_shown(path)}"))
    location = keyring_location(e)
    if location is not None:
        service, username = location
        entry = previous_entry_name(username)
        stored = keyring_get(service, entry, e)
        if stored:
            found += _parse_previous(
                _split(stored, ","), KeySource("keyring", f"keyring:{service}/{entry}")
            )
    unique: list[PreviousKey] = []
    seen: set[bytes] = set()
    for item in found:
        if item.raw not in seen:
            seen.add(item.raw)
            unique.append(item)
    return unique


def _shown(path: str) -> str:
    """A path for a message or a source label: control characters escaped."""
    from importobot._text import printable

    return printable(path)


def _read_keys_file(path: str) -> list[str]:
    """The keys in an operator-named file, one a line (``#`` comments), via :mod:`fsio`.

    Links are followed (Kubernetes mounts secrets as ``..data`` links), then the target
    must be a regular file of the user's (or root's), not group/world-writable (fsio)
    and, for keys, not readable by them either; a FIFO, a device, a directory or a file
    over the limit is one line, never a hang or a traceback.
    """
    from importobot.fsio import FileRefused, read_operator_file

    try:
        data = read_operator_file(path, PREVIOUS_KEYS_FILE_LIMIT, private=True)
    except FileRefused as exc:
        raise SecurityError(f"{ENV_PREVIOUS_KEYS_FILE}: {exc}") from None
    text = _utf8(data)
    if text is None:
        raise SecurityError(
            f"{ENV_PREVIOUS_KEYS_FILE}: {_shown(path)} is not UTF-8 text (a binary file?); "
            f"it holds one key per line"
        )
    lines = text.splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _utf8(data: bytes) -> str | None:
    """``data`` as text, or ``None``; no ``UnicodeDecodeError`` (it holds all the bytes)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
