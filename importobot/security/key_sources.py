"""Where keys come from, in contract order: explicit → environment → wrapped → OS keyring.

Previous keys (decrypt only) come from ``IMPORTOBOT_PREVIOUS_KEYS``,
``IMPORTOBOT_PREVIOUS_KEYS_FILE`` and the keyring entry ``<username>.previous`` (D5); any
entry may be a wrapped key. The OS keyring is touched only when
``IMPORTOBOT_KEYRING_SERVICE`` is set; every call has a timeout, and any backend error
becomes one :class:`KeyringUnavailableError` line (D7).

**Wrapped keys** (D24): ``IMPORTOBOT_WRAPPED_KEY`` (the ``iobwk1:`` text), else
``IMPORTOBOT_WRAPPED_KEY_FILE`` (a file that may be committed), else — for the CLI and the
hooks, which name it through :func:`set_project_defaults` or ``context`` — the
repository's ``.importobot-key.wrapped``. The key-encrypting-key backend is found through
the ``importobot.kek_backends`` entry-point group by URI scheme (the base never imports
``importobot_enterprise``). A wrapped key never chooses what importobot talks to: its
KEK URI must be one ``IMPORTOBOT_KEK`` (a comma-separated list) or the user's
``$XDG_CONFIG_HOME/importobot/kek.toml`` lists, ``module-path``/``pin-*`` attributes are
refused, ``vault+http://`` must name a loopback host, and the unwrapped key's
fingerprint must equal the header's. Network backends answer within 5 s.
"""

from __future__ import annotations

import os
import sys

from importobot._record import Record
from importobot.exceptions import (
    InvalidKeyError,
    KeyBackendError,
    KeyBackendUnavailableError,
    KeyringUnavailableError,
    MissingDependencyError,
    MissingKeyError,
    SecurityError,
    WrappedKeyAuthError,
)
from importobot.security.key_validation import LEGACY_PREFIX, derive_legacy_key, parse_key

TYPE_CHECKING = False  # no `typing` at run time: the key hooks start on every commit (D17)
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, TypeVar

    from importobot.keys.wrapped import WrappedKey

    T = TypeVar("T")

__all__ = [
    "ENV_KEK",
    "ENV_KEY",
    "ENV_WRAPPED_KEY",
    "ENV_WRAPPED_KEY_FILE",
    "KEK_EXTRAS",
    "RetiredKeyError",
    "check_kek_uri",
    "call_backend",
    "kek_backend",
    "load_wrapped",
    "read_wrapped_file",
    "set_project_defaults",
    "trusted_kek_uris",
    "unwrap",
    "wrapped_source",
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
ENV_WRAPPED_KEY = "IMPORTOBOT_WRAPPED_KEY"
ENV_WRAPPED_KEY_FILE = "IMPORTOBOT_WRAPPED_KEY_FILE"
ENV_KEK = "IMPORTOBOT_KEK"
ENV_KEK_TIMEOUT = "IMPORTOBOT_KEK_TIMEOUT"
DEFAULT_USERNAME = "importobot"
KEYRING_TIMEOUT = 5.0
#: D24: unwrapping through a network backend answers within this many seconds.
KEK_TIMEOUT = 5.0
#: The default wrapped-key file at a repository root (same as importobot.project's).
WRAPPED_KEY_FILE = ".importobot-key.wrapped"
#: Upper bound on a wrapped-key file.
WRAPPED_FILE_LIMIT = 64 * 1024
#: KEK URI scheme -> the extra that installs its backend (all are in ``enterprise``).
KEK_EXTRAS = {"pkcs11": "pkcs11", "vault": "vault", "vault+http": "vault", "awskms": "awskms"}
#: RFC 7512 attributes a KEK URI may never carry: the module comes only from
#: IMPORTOBOT_PKCS11_MODULE and the PIN only from IMPORTOBOT_PKCS11_PIN[_FILE].
FORBIDDEN_URI_ATTRIBUTES = ("module-path", "module-name", "pin-value", "pin-source")

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


class KeySource(Record):
    """Where a key came from: ``kind`` is explicit, env, keyring or file; ``label`` is printable."""

    kind: str
    label: str

    def __str__(self) -> str:
        return self.label


class ResolvedKey(Record):
    """A validated primary key and its source. ``repr`` never shows the bytes; not picklable.

    ``wrapped`` is the :class:`~importobot.keys.wrapped.WrappedKey` it was unwrapped from
    (KEK URI, version, mechanism), or ``None``.
    """

    raw: bytes
    source: KeySource
    wrapped: WrappedKey | None = None

    def __repr__(self) -> str:
        return f"ResolvedKey(source={self.source.label!r})"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a key cannot be pickled")


class PreviousKey(Record):
    """A decrypt-only key; ``legacy`` when derived by 0.1.5's rules (D3). ``repr`` never
    shows the bytes; not picklable."""

    raw: bytes
    source: KeySource
    legacy: bool = False
    wrapped: WrappedKey | None = None

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
    key: str | bytes | None = None,
    env: Mapping[str, str] | None = None,
    *,
    context: tuple[str | None, str | None] | None = None,
) -> ResolvedKey:
    """The primary key in contract order, validated; raises :class:`MissingKeyError` if none.

    An invalid key in a source is an error naming that source; there is no silent
    fallback to the next source. ``context`` is ``(default wrapped-key file, registry
    file)`` of the project a command works in (default: what :func:`set_project_defaults`
    installed, else none: the library reads only ``IMPORTOBOT_WRAPPED_KEY[_FILE]``).
    """
    if key is not None:
        if isinstance(key, str) and not key.strip():
            raise MissingKeyError("the explicit key= argument is empty")
        return ResolvedKey(parse_key(key, "the key= argument"), KeySource("explicit", "explicit"))
    e = _env(env)
    text = e.get(ENV_KEY)
    if text is not None and text.strip():
        return ResolvedKey(parse_key(text, ENV_KEY), KeySource("env", f"env:{ENV_KEY}"))
    found = wrapped_source(e, context)
    if found is not None:
        return _resolve_wrapped(found, e)
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


def _parse_previous(
    entries: list[str], source: KeySource, env: Mapping[str, str] | None = None
) -> list[PreviousKey]:
    from importobot.keys.wrapped import WRAPPED_PREFIX

    keys: list[PreviousKey] = []
    for index, entry in enumerate(entries, start=1):
        where = f"previous key #{index} in {source.label}"
        if entry.startswith(WRAPPED_PREFIX):
            wk = load_wrapped(entry, where)
            raw = unwrap(wk, _env(env), where)
            keys.append(PreviousKey(raw, source, wrapped=wk))
        elif entry.startswith(LEGACY_PREFIX):
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
        found += _parse_previous(
            _split(listed, ","), KeySource("env", f"env:{ENV_PREVIOUS_KEYS}"), e
        )
    path = e.get(ENV_PREVIOUS_KEYS_FILE, "").strip()
    if path:
        found += _parse_previous(
            _read_keys_file(path), KeySource("file", f"file:{_shown(path)}"), e
        )
    location = keyring_location(e)
    if location is not None:
        service, username = location
        entry = previous_entry_name(username)
        stored = keyring_get(service, entry, e)
        if stored:
            found += _parse_previous(
                _split(stored, ","), KeySource("keyring", f"keyring:{service}/{entry}"), e
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


# -- wrapped keys (D24) --------------------------------------------------------------------
class RetiredKeyError(InvalidKeyError):
    """A wrapped key the registry marks retired (or compromised) was offered as the
    primary key: replaying an old wrapped file from history must not bring it back."""

    rule = "IOB301"


#: What the CLI installed: ``() -> (default wrapped-key file, registry file)``.
_PROJECT_DEFAULTS: list[Callable[[], tuple[str | None, str | None]]] = []


def set_project_defaults(resolver: Callable[[], tuple[str | None, str | None]] | None) -> None:
    """Let the CLI name its project's default wrapped-key file and registry.

    ``resolver`` is called only when a key is actually looked for past the environment
    (so a command that needs no key never loads the project). ``None`` forgets it.
    """
    _PROJECT_DEFAULTS.clear()
    if resolver is not None:
        _PROJECT_DEFAULTS.append(resolver)


def _context(
    context: tuple[str | None, str | None] | None,
) -> tuple[str | None, str | None]:
    if context is not None:
        return context
    if _PROJECT_DEFAULTS:
        return _PROJECT_DEFAULTS[0]()
    return None, None


class WrappedSource(Record):
    """Where a wrapped key was found: its text, ``kind`` (``env`` or ``file``), a
    printable ``where`` and the registry that may retire it. ``repr`` shows no text."""

    text: str
    kind: str
    where: str
    registry: str | None

    @property
    def label(self) -> str:
        """``wrapped:<scheme>:<env|file>`` (the scheme is ``unknown`` when it does not parse)."""
        from importobot.keys.wrapped import parse_wrapped

        wk = parse_wrapped(self.text)
        return f"wrapped:{wk.scheme if wk is not None else 'unknown'}:{self.kind}"

    def __repr__(self) -> str:
        return f"WrappedSource(kind={self.kind!r}, where={self.where!r})"


def wrapped_source(
    env: Mapping[str, str] | None = None,
    context: tuple[str | None, str | None] | None = None,
) -> WrappedSource | None:
    """The configured wrapped key, unread by any backend, or ``None``.

    ``IMPORTOBOT_WRAPPED_KEY``, else ``IMPORTOBOT_WRAPPED_KEY_FILE``, else (CLI and
    hooks: ``context`` or :func:`set_project_defaults`) the default file when it exists.
    """
    e = _env(env)
    text = e.get(ENV_WRAPPED_KEY, "")
    if text.strip():
        _, registry = _context(context)
        return WrappedSource(text.strip(), "env", ENV_WRAPPED_KEY, registry)
    path = e.get(ENV_WRAPPED_KEY_FILE, "").strip()
    if path:
        _, registry = _context(context)
        return WrappedSource(
            read_wrapped_file(path, ENV_WRAPPED_KEY_FILE),
            "file",
            f"{ENV_WRAPPED_KEY_FILE} ({_shown(path)})",
            registry or _registry_near(path),
        )
    default_file, registry = _context(context)
    if default_file and os.path.lexists(default_file):
        return WrappedSource(
            read_wrapped_file(default_file, None),
            "file",
            _shown(default_file),
            registry or _registry_near(default_file),
        )
    return None


def _registry_near(path: str) -> str | None:
    """The default registry of the repository holding ``path`` (library use)."""
    here = os.path.dirname(os.path.abspath(path))
    while True:
        if os.path.lexists(os.path.join(here, ".git")):
            return os.path.join(here, ".importobot-keys.toml")
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def read_wrapped_file(path: str, variable: str | None) -> str:
    """The wrapped key in ``path``: the first line that is not blank or a ``#`` comment.

    The default file is repository content (a symbolic link is refused); a file named
    by the variable is an operator's (links followed). Either way a regular file only.
    """
    from importobot.fsio import FileRefused, read_content, read_operator_file

    try:
        if variable is None:
            data = read_content(path, WRAPPED_FILE_LIMIT)
        else:
            data = read_operator_file(path, WRAPPED_FILE_LIMIT)
    except FileRefused as exc:
        raise SecurityError(f"{variable or 'wrapped key file'}: {exc}") from None
    text = _utf8(data)
    if text is None:
        raise InvalidKeyError(f"wrapped key file {_shown(path)} is not UTF-8 text")
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return stripped
    return ""


def load_wrapped(text: str, where: str) -> WrappedKey:
    """Parse a wrapped key; :class:`InvalidKeyError` (IOB202) when it does not parse fully."""
    from importobot.keys.wrapped import WRAPPED_PREFIX, parse_wrapped

    wk = parse_wrapped(text)
    if wk is None:
        what = (
            "is truncated or malformed"
            if text.strip().startswith(WRAPPED_PREFIX)
            else f"is not a wrapped key (it must start with {WRAPPED_PREFIX})"
        )
        raise InvalidKeyError(
            f"{where} {what}; make a new one with `importobot key wrap` or restore it from git"
        )
    return wk


def trusted_kek_uris(env: Mapping[str, str] | None = None) -> list[str]:
    """The KEK URIs importobot may talk to: ``IMPORTOBOT_KEK`` (comma-separated), then the
    ``uris`` list of ``$XDG_CONFIG_HOME/importobot/kek.toml`` (outside any repository)."""
    e = _env(env)
    uris = _split(e.get(ENV_KEK, ""), ",")
    base = e.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    config = os.path.join(base, "importobot", "kek.toml")
    if os.path.isfile(config):
        uris += [u for u in _config_uris(config) if u not in uris]
    return uris


def _config_uris(path: str) -> list[str]:
    from importobot._toml import TomlError, loads
    from importobot.fsio import FileRefused, read_operator_file

    try:
        data = read_operator_file(path, 64 * 1024, secret=True)
        table = loads(data.decode("utf-8"))
    except FileRefused as exc:
        raise SecurityError(f"KEK configuration: {exc}") from None
    except (TomlError, UnicodeDecodeError) as exc:
        raise SecurityError(f"KEK configuration {_shown(path)}: {exc}") from None
    uris = table.get("uris", [])
    if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
        raise SecurityError(f"KEK configuration {_shown(path)}: uris must be a list of strings")
    return [u.strip() for u in uris if u.strip()]


def _uri_attributes(uri: str) -> list[str]:
    """The attribute names of an RFC 7512 URI (path ``;`` and query ``&`` parts)."""
    body = uri.split(":", 1)[1] if ":" in uri else ""
    path, _, query = body.partition("?")
    names = [part.split("=", 1)[0] for part in path.split(";") if part]
    names += [part.split("=", 1)[0] for part in query.split("&") if part]
    return [_pct_lower(name) for name in names]


def _pct_lower(text: str) -> str:
    from importobot.keys.wrapped import unquote_uri

    return (unquote_uri(text) or text).strip().lower()


_LOOPBACK_NAMES = ("localhost", "localhost.", "::1", "[::1]")


def _vault_host(uri: str) -> str:
    rest = uri.split("://", 1)[1] if "://" in uri else ""
    authority = rest.split("/", 1)[0]
    if "@" in authority:
        authority = authority.rsplit("@", 1)[1]
    if authority.startswith("["):
        return authority.split("]", 1)[0] + "]"
    return authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    parts = host.split(".")
    return (
        len(parts) == 4
        and parts[0] == "127"
        and all(p.isdigit() and len(p) <= 3 and int(p) < 256 for p in parts)
    )


def check_kek_uri(uri: str) -> None:
    """Refuse a KEK URI importobot must never act on, whoever wrote it (D24 "Trust").

    ``module-path``/``module-name``/``pin-*`` attributes (the module comes only from
    ``IMPORTOBOT_PKCS11_MODULE``, the PIN only from ``IMPORTOBOT_PKCS11_PIN[_FILE]``),
    ``vault+http://`` to a host that is not loopback, and unknown schemes.
    """
    scheme = uri.split(":", 1)[0].lower() if ":" in uri else ""
    shown = _shown(uri[:300])
    if scheme not in KEK_EXTRAS:
        known = ", ".join(f"{name}:" for name in KEK_EXTRAS)
        raise SecurityError(f"KEK URI {shown}: unknown scheme (known: {known})")
    if scheme == "pkcs11":
        bad = [name for name in _uri_attributes(uri) if name in FORBIDDEN_URI_ATTRIBUTES]
        if bad:
            raise SecurityError(
                f"KEK URI {shown}: the {', '.join(sorted(set(bad)))} attribute is never "
                f"read from a URI; the module comes only from IMPORTOBOT_PKCS11_MODULE and "
                f"the PIN from IMPORTOBOT_PKCS11_PIN or IMPORTOBOT_PKCS11_PIN_FILE"
            )
    if scheme == "vault+http" and not _is_loopback(_vault_host(uri)):
        raise SecurityError(
            f"KEK URI {shown}: vault+http:// (no TLS) is accepted for a loopback host "
            f"only (127.0.0.1, ::1, localhost); use vault://HOST:PORT/... (HTTPS)"
        )


def _check_trusted(wk: WrappedKey, env: Mapping[str, str], where: str) -> None:
    """The wrapped key's KEK must be one the operator listed; checked before any contact."""
    check_kek_uri(wk.uri)
    trusted = trusted_kek_uris(env)
    if wk.uri not in trusted:
        listed = "IMPORTOBOT_KEK is not set" if not trusted else "it is not in IMPORTOBOT_KEK"
        raise SecurityError(
            f"{where}: its KEK {_shown(wk.uri[:300])} is not trusted ({listed} nor in "
            f"$XDG_CONFIG_HOME/importobot/kek.toml); a wrapped key never chooses what "
            f"importobot talks to: list the KEK URI there if it is yours"
        )


def kek_backend(uri: str, env: Mapping[str, str] | None = None) -> Any:
    """The backend for ``uri``, found by scheme in the ``importobot.kek_backends`` group.

    Raises :class:`MissingDependencyError` naming the extra when it is not installed
    (never a silent fall-through to another source).
    """
    from importobot import plugins

    check_kek_uri(uri)
    scheme = uri.split(":", 1)[0].lower()
    extra = KEK_EXTRAS[scheme]
    try:
        factory = plugins.load(
            plugins.KEK_BACKENDS, scheme, feature=f"the {scheme}: key backend", extra=extra
        )
    except plugins.MissingExtraError as exc:
        raise MissingDependencyError(str(exc)) from None
    return factory(uri, _env(env))


def _kek_timeout(env: Mapping[str, str]) -> float:
    raw = env.get(ENV_KEK_TIMEOUT, "")
    try:
        value = float(raw) if raw else KEK_TIMEOUT
    except ValueError:
        value = KEK_TIMEOUT
    return value if value > 0 else KEK_TIMEOUT


def call_backend(backend: Any, action: str, call: Callable[[], T], env: Mapping[str, str]) -> T:
    """Run one backend call: a network backend in a worker with the D24 timeout; a
    PKCS#11 one in this thread (its calls are serialised; no thread is abandoned inside
    one). Errors become one line naming the backend."""
    name = getattr(backend, "name", "KEK")
    if not getattr(backend, "network", True):
        return _one_line(name, action, call)
    import threading

    result: list[T] = []
    failure: list[BaseException] = []

    def work() -> None:
        try:
            result.append(call())
        except BaseException as exc:  # noqa: BLE001 - reported below as one line
            failure.append(exc)

    timeout = _kek_timeout(env)
    worker = threading.Thread(target=work, name=f"importobot-kek-{name}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise KeyBackendUnavailableError(
            f"{name} KEK did not answer within {timeout:g} s while trying to {action} "
            f"({ENV_KEK_TIMEOUT} sets the timeout)",
            name,
            "timeout",
        )
    if failure:

        def again() -> T:
            raise failure[0]

        return _one_line(name, action, again)
    return result[0]


def _one_line(name: str, action: str, call: Callable[[], T]) -> T:
    try:
        return call()
    except SecurityError as exc:
        raise exc.with_traceback(None) from None
    except Exception as exc:  # noqa: BLE001 - a backend bug: its type only (no payload)
        raise KeyBackendError(
            f"{name} KEK failed to {action}: {type(exc).__name__}", name, type(exc).__name__
        ) from None


def unwrap(
    wk: WrappedKey, env: Mapping[str, str] | None, where: str, registry: str | None = None
) -> bytes:
    """The data key inside ``wk``, after every D24 check.

    Before any contact: the KEK URI is trusted, and (``registry`` given) the key is not
    retired or compromised. After: the key is 32 bytes whose fingerprint is the header's
    and passes the weakness checks. Authentication failures are
    :class:`WrappedKeyAuthError` (IOB202); backend failures :class:`KeyBackendError`.
    """
    from importobot.keys.fingerprint import fingerprint

    e = _env(env)
    _check_trusted(wk, e, where)
    if registry is not None:
        _check_not_retired(wk.fingerprint, registry, where)
    backend = kek_backend(wk.uri, e)
    try:
        raw = call_backend(backend, "unwrap a key", lambda: backend.unwrap(wk), e)
    finally:
        _close(backend)
    if not isinstance(raw, bytes) or len(raw) != 32 or fingerprint(raw) != wk.fingerprint:
        raise WrappedKeyAuthError(
            f"{where}: the unwrapped key is not the one the header names "
            f"({wk.fingerprint}); the wrapped key was edited or made by another KEK",
            getattr(backend, "name", wk.scheme),
        )
    return parse_key(raw, where)


def _close(backend: Any) -> None:
    closer = getattr(backend, "close", None)
    if closer is not None:
        try:
            closer()
        except Exception:  # noqa: BLE001,S110 - closing never hides the real outcome
            pass


def _check_not_retired(fp: str, registry: str, where: str) -> None:
    from importobot.keys.registry import Registry

    if not os.path.isfile(registry):
        return
    record = Registry.load(registry).get(fp)
    if record is None:
        return
    compromised = getattr(record, "compromised", None)
    if record.retired is not None or compromised is not None:
        what = "compromised" if compromised is not None else "retired"
        when = compromised if compromised is not None else record.retired
        raise RetiredKeyError(
            f"{where}: key {fp} was {what} on {when:%Y-%m-%d} ({_shown(registry)}); it is "
            f"never used as the primary key again (a wrapped file restored from history?)"
        )


def _resolve_wrapped(found: WrappedSource, env: Mapping[str, str]) -> ResolvedKey:
    if not found.text:
        raise InvalidKeyError(f"{found.where} is empty; make one with `importobot key wrap`")
    wk = load_wrapped(found.text, found.where)
    raw = unwrap(wk, env, found.where, found.registry)
    return ResolvedKey(raw, KeySource("wrapped", f"wrapped:{wk.scheme}:{found.kind}"), wk)
