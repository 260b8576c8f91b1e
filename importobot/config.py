"""Configuration: ``[tool.importobot]`` in ``pyproject.toml`` or ``.importobot.toml`` → Settings.

Keys (kebab-case; snake_case accepted too), one table, :data:`CONFIG_KEYS` (docs/configuration.md)::

    [tool.importobot]
    exclude = ["tests/fixtures/**", "*.min.js"]   # globs of paths never scanned
    extra-env-globs = ["config/*.conf"]           # extra env-style globs (IOB101)
    baseline = ".importobot-baseline.json"        # accepted findings (D13)
    max-file-size = "10MB"                        # larger files are skipped, counted
    include-vendored = false                      # also scan node_modules/, vendor/ ...
    key-check = true                              # opt in to IOB2xx/IOB3xx (D16)
    max-key-age = "90d"                           # IOB301
    warn-key-age = "75d"                          # IOB302
    registry = ".importobot-keys.toml"            # the key registry (D19)

The base validates its own keys and refuses unknown ones; keys a plugin owns (``events``,
``compliance``, ``rotation-log``) are left to that plugin, raw (:meth:`Settings.plugin`),
so a repository that adopts a newer plugin's key does not break an older hook.

``.importobot.toml`` may hold the keys at top level or under ``[tool.importobot]``.
:func:`find_config` finds the file with a byte search (D17), and TOML is parsed by
:mod:`importobot._toml`, whose fast path imports no :mod:`tomllib`. An invalid file is a
:class:`~importobot.exceptions.ConfigError` naming the file, the key and what is wrong, and
never echoing a value that could be a key (:func:`describe_value`).
"""

from __future__ import annotations

import os

from importobot._record import Record, field, replace
from importobot.exceptions import ConfigError

TYPE_CHECKING = False  # typing/datetime are not imported at run time (hook start-up, D17)
if TYPE_CHECKING:
    from datetime import timedelta
    from typing import Any

__all__ = [
    "CONFIG_KEYS",
    "DEFAULT_MAX_FILE_SIZE",
    "MAX_CONFIG_BYTES",
    "PLUGIN_KEYS",
    "ConfigKey",
    "Settings",
    "describe_value",
    "find_config",
    "line_of",
    "load_settings",
    "load_toml_file",
    "parse_duration",
    "parse_size",
    "read_settings",
]

#: Files larger than this are skipped (and counted) unless configured otherwise.
DEFAULT_MAX_FILE_SIZE = 10 * 1024 * 1024
#: A configuration file larger than this is refused (bounded work on hostile input).
MAX_CONFIG_BYTES = 1024 * 1024
#: Where the table sits in a ``pyproject.toml``.
TABLE_PATH = ("tool", "importobot")


class ConfigKey(Record):
    """One configuration key: its name, value type, owner, accepted aliases and meaning."""

    #: Kebab-case name as written in the file.
    name: str
    #: ``globs``, ``path``, ``size``, ``bool``, ``duration`` or ``table``.
    kind: str
    #: ``base (scan)``, ``base (keys)`` or the plugin that validates it.
    owner: str
    #: Other accepted spellings (snake_case is always accepted too).
    aliases: tuple[str, ...]
    summary: str

    @property
    def plugin_owned(self) -> bool:
        """True when a plugin, not the base, validates this key."""
        return not self.owner.startswith("base")


#: Every configuration key (DESIGN "Configuration keys"); docs/configuration.md mirrors it.
CONFIG_KEYS: tuple[ConfigKey, ...] = (
    ConfigKey("exclude", "globs", "base (scan)", (), "globs of paths never scanned"),
    ConfigKey(
        "extra-env-globs",
        "globs",
        "base (scan)",
        ("env-files", "extra-env-files"),
        "more file globs read as env-style files (IOB101)",
    ),
    ConfigKey("baseline", "path", "base (scan)", (), "the baseline of accepted findings"),
    ConfigKey("max-file-size", "size", "base (scan)", (), "larger files are skipped, counted"),
    ConfigKey(
        "include-vendored",
        "bool",
        "base (scan)",
        (),
        "also scan package-manager trees and minified bundles",
    ),
    ConfigKey("key-check", "bool", "base (keys)", (), "opt in to the key checks (IOB2xx/3xx)"),
    ConfigKey("max-key-age", "duration", "base (keys)", (), "rotation is due after this"),
    ConfigKey("warn-key-age", "duration", "base (keys)", (), "warn from this age on"),
    ConfigKey("registry", "path", "base (keys)", (), "the key registry file"),
    ConfigKey("events", "table", "enterprise (SIEM)", (), "event connectors"),
    ConfigKey("compliance", "table", "enterprise (compliance)", (), "compliance policy"),
    ConfigKey("rotation-log", "path", "enterprise (rotation)", (), "the rotation log file"),
)

_BY_NAME: dict[str, ConfigKey] = {
    spelling: key for key in CONFIG_KEYS for spelling in (key.name, *key.aliases)
}
#: Keys whose values are handed to their plugin unvalidated.
PLUGIN_KEYS = frozenset(k.name for k in CONFIG_KEYS if k.plugin_owned)

#: The environment variable naming an events file outside the repository (D23).
EVENTS_CONFIG_ENV = "IMPORTOBOT_EVENTS_CONFIG"
#: Config key -> Settings field, for the base's own keys.
_FIELDS = {
    "exclude": "exclude",
    "extra-env-globs": "env_files",
    "baseline": "baseline",
    "max-file-size": "max_file_size",
    "include-vendored": "include_vendored",
    "key-check": "key_check",
    "max-key-age": "max_key_age",
    "warn-key-age": "warn_key_age",
    "registry": "registry",
}


class Settings(Record):
    """Validated configuration. Durations are timedeltas; sizes in bytes.

    A slot-based record, not a dataclass: the hook reads configuration on every commit and
    must not import :mod:`dataclasses` (and with it :mod:`inspect`) for it (D17).
    """

    exclude: tuple[str, ...] = ()
    #: Config ``extra-env-globs`` (also spelled ``env-files``).
    env_files: tuple[str, ...] = ()
    baseline: str | None = None
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    #: Also scan vendored trees and minified bundles (:mod:`importobot.scan.vendored`).
    include_vendored: bool = False
    max_key_age: timedelta | None = None
    warn_key_age: timedelta | None = None
    key_check: bool | None = None
    registry: str = ".importobot-keys.toml"
    #: The file these settings came from (``None``: defaults).
    source: str | None = None
    #: Fields the file set explicitly (so command-line options can tell defaults apart).
    explicit: frozenset[str] = frozenset()
    #: Raw values of plugin-owned keys (``events``, ``compliance``, ``rotation-log``).
    plugins: dict[str, Any] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in self.__slots__ if n != "plugins"))

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields replaced (command-line options win over the file)."""
        return replace(self, **changes)

    def plugin(self, key: str) -> Any:
        """The raw value of a plugin-owned key (``None`` when not set), for its owner to check.

        ``settings.plugin("events")`` is the ``[tool.importobot.events]`` table as parsed.
        """
        if key not in PLUGIN_KEYS:
            raise KeyError(f"{key!r} is not a plugin-owned configuration key")
        return self.plugins.get(key)


# -- showing values in errors without showing keys ------------------------------------------
_B64ISH = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_=-")


def _readable(text: str) -> bool:
    """Words, not a key: every letter run is short and cased like a word, and no digits."""
    run = ""
    for c in text + " ":
        if c.isalpha():
            run += c
            continue
        if c.isdigit():
            return False
        if run and (len(run) > 12 or not (run.islower() or run.isupper() or run.istitle())):
            return False
        run = ""
    return len(text) <= 64


def _key_shaped(text: str) -> bool:
    """Could ``text`` be key material (D8)? A superset: no key spelling escapes it."""
    body = text.strip()
    if body.startswith("base64:"):
        body = body[len("base64:") :]
    if "PRIVATE KEY" in body:
        return True
    if len(body) >= 16 and all(c in _B64ISH for c in body):
        return True
    return len(body) >= 32 and not any(c.isspace() for c in body)


def describe_value(value: object) -> str:
    """A value as an error message may show it: never a key (issue 17, D6).

    Short text (no key spelling is shorter than 16 characters) and text that reads as words
    is shown quoted; anything that could be key material is "a key-shaped value (not shown)".
    """
    if isinstance(value, bool) or isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return repr(value) if abs(value) < 10**15 else "a large integer (not shown)"
    if isinstance(value, str):
        if value.isascii() and value.isprintable() and (len(value) < 16 or _readable(value)):
            return repr(value)
        if _key_shaped(value):
            return "a key-shaped value (not shown)"
        return f"a value of {len(value)} characters (not shown)"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return f"a {type(value).__name__}"


def _name(key: str) -> str:
    """A key name as an error may show it (a key-shaped *name* is not shown either)."""
    shown = describe_value(key)
    return key if shown == repr(key) else "a key-shaped name (not shown)"


# -- durations and sizes --------------------------------------------------------------------
_UNITS = {"h": 3600, "d": 86400, "w": 7 * 86400}
_AMBIGUOUS = {
    "m": "`m` is ambiguous (minutes or months); use d or w",
    "mo": "months vary in length; use d (e.g. 90d)",
    "y": "years vary in length; use d (e.g. 365d)",
    "": "a bare number has no unit; write e.g. 90d",
    "s": "seconds are too fine for key age; use h or d",
}


def parse_duration(text: object) -> timedelta:
    """``"90d"``, ``"12w"``, ``"36h"`` → a timedelta; ``ValueError`` naming what is wrong.

    A whole number and one unit: ``h``, ``d`` or ``w``. Ambiguous units (``m``, ``mo``,
    ``y``) and bare numbers are refused. The message never shows a key-shaped value.
    """
    if isinstance(text, bool) or not isinstance(text, str):
        raise ValueError(f'expected a duration string such as "90d", got {describe_value(text)}')
    body = text.strip()
    number, unit = body[:-1].rstrip(), body[-1:]
    if unit not in _UNITS or not number.isascii() or not number.isdigit():
        unit = "".join(c for c in text if not (c.isdigit() or c.isspace() or c == ".")).lower()
        hint = _AMBIGUOUS.get(unit, "use a whole number and h, d or w (e.g. 90d, 12w, 36h)")
        raise ValueError(f"invalid duration {describe_value(text)}: {hint}")
    seconds = int(number) * _UNITS[unit]
    if seconds == 0:
        raise ValueError(f"invalid duration {describe_value(text)}: must be more than zero")
    from datetime import timedelta

    return timedelta(seconds=seconds)


_SIZE_UNITS = {"": 1, "b": 1} | {
    prefix + tail: 1024**power
    for power, prefix in ((1, "k"), (2, "m"), (3, "g"))
    for tail in ("", "b", "i", "ib")
}


def parse_size(text: str | int) -> int:
    """``"10MB"``, ``"512k"``, ``"1GiB"`` or a number of bytes → bytes.

    Raises ``ValueError`` when malformed.
    """
    if isinstance(text, bool):
        raise ValueError("expected a size such as 10MB")
    if isinstance(text, int):
        if text <= 0:
            raise ValueError("a size must be positive")
        return text
    body = str(text).strip()
    end = 0
    while end < len(body) and (body[end].isdigit() or body[end] == ".") and body[end].isascii():
        end += 1
    number, unit = body[:end], body[end:].strip().lower()
    if (
        not number
        or number.count(".") > 1
        or number.startswith(".")
        or number.endswith(".")
        or unit not in _SIZE_UNITS
    ):
        raise ValueError(f"expected a size such as 10MB or 512k, got {describe_value(text)}")
    value = int(float(number) * _SIZE_UNITS[unit])
    if value <= 0:
        raise ValueError("a size must be positive")
    return value


# -- reading files ------------------------------------------------------------------------
def _read(path: str, *, follow_symlinks: bool) -> bytes:
    """A configuration file's bytes through :mod:`importobot.fsio`; one ConfigError otherwise.

    Found in a repository (``follow_symlinks=False``) it is repository content: a symlink is
    refused. Named by the operator (``--config``, ``IMPORTOBOT_EVENTS_CONFIG``) it may be a
    symlink. Never a FIFO, device or directory, never more than :data:`MAX_CONFIG_BYTES`.
    """
    from importobot import fsio

    try:
        if follow_symlinks:
            return fsio.read_operator_file(path, MAX_CONFIG_BYTES)
        return fsio.read_content(path, MAX_CONFIG_BYTES)
    except fsio.FileRefused as exc:
        if exc.reason == "missing":
            raise ConfigError(f"{exc.path}: configuration file not found") from None
        if exc.reason == "too-large":
            raise ConfigError(f"{exc.path}: larger than {MAX_CONFIG_BYTES // 1024} KiB") from None
        raise ConfigError(str(exc)) from None


def _text(path: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None


def load_toml_file(path: str, *, follow_symlinks: bool = True) -> dict[str, Any]:
    """A whole TOML file (for example the one ``IMPORTOBOT_EVENTS_CONFIG`` names).

    Errors are one :class:`ConfigError` naming the file.
    """
    from importobot._toml import TomlError, loads

    text = _text(path, _read(path, follow_symlinks=follow_symlinks))
    try:
        return loads(text)
    except TomlError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def line_of(lines: list[str], name: str, start: int, end: int) -> int:
    """The 1-based number of the line assigning ``name`` (``name = ...``) among ``lines``
    ``start`` to ``end`` (one ``[[table]]`` of a TOML file), else ``start``: where an error
    message points."""
    import re

    pattern = re.compile(rf"\s*{re.escape(name)}\s*=")
    for number in range(start, min(end, len(lines)) + 1):
        if pattern.match(lines[number - 1]):
            return number
    return start


def find_config(root: str | os.PathLike[str]) -> str | None:
    """The configuration file of the project at ``root``, or ``None``; parses nothing.

    ``.importobot.toml`` when it exists (read later; a symlink there is refused then), else
    ``pyproject.toml`` when a byte search says it may hold ``[tool.importobot]`` (D17). A
    ``pyproject.toml`` that is a symlink, special or unreadable is not ours to judge: skipped.
    """
    base = os.fspath(root)
    dot = os.path.join(base, ".importobot.toml")
    if os.path.lexists(dot):
        return dot
    pyproject = os.path.join(base, "pyproject.toml")
    try:
        data = _read(pyproject, follow_symlinks=False)
    except ConfigError:
        return None
    from importobot._toml import declares_table

    return pyproject if declares_table(data, TABLE_PATH) else None


def read_settings(path: str | os.PathLike[str], *, follow_symlinks: bool = False) -> Settings:
    """Settings from one file: ``pyproject.toml``'s ``[tool.importobot]``, or a dot file.

    ``follow_symlinks``: the file was named by the operator (``--config FILE``) rather than
    found in the repository.
    """
    from importobot._toml import TomlError, loads, loads_table

    name = os.fspath(path)
    text = _text(name, _read(name, follow_symlinks=follow_symlinks))
    try:
        if os.path.basename(name) == "pyproject.toml":
            table = loads_table(text, TABLE_PATH)  # only our sections are parsed
        else:
            document = loads(text)
            tool = document.get("tool")
            if isinstance(tool, dict) and "importobot" in tool:
                table = tool["importobot"]
                if not isinstance(table, dict):
                    raise TomlError("[tool.importobot] must be a table")
            else:  # a dot file holds the keys at top level
                table = {k: v for k, v in document.items() if k != "tool"}
    except TomlError as exc:
        raise ConfigError(f"{name}: invalid TOML: {exc}") from None
    if table is None:
        return Settings(source=name)
    return _validate(name, table)


def load_settings(
    root: str | os.PathLike[str] | None = None,
    config_file: str | os.PathLike[str] | None = None,
) -> Settings:
    """Settings from ``config_file`` or the one found in ``root``; defaults when there is none."""
    if config_file is not None:
        return read_settings(config_file, follow_symlinks=True)
    path = find_config(os.getcwd() if root is None else root)
    return Settings() if path is None else read_settings(path)


def _globs(where: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"{where} must be a list of strings")


def _validate(path: str, table: dict[str, Any]) -> Settings:
    values: dict[str, Any] = {}
    plugins: dict[str, Any] = {}
    for raw_key, value in table.items():
        spec = _BY_NAME.get(raw_key.replace("_", "-"))
        if spec is None:
            raise ConfigError(f"{path}: {_name(raw_key)}: unknown setting")
        if spec.plugin_owned:
            plugins[spec.name] = value  # its owner validates it
            continue
        where = f"{path}: {raw_key}"
        field = _FIELDS[spec.name]
        if field in values:
            raise ConfigError(f"{where}: set twice (under another spelling)")
        try:
            if spec.kind == "globs":
                values[field] = _globs(where, value)
            elif spec.kind == "path":
                if not isinstance(value, str) or not value:
                    raise ConfigError(f"{where} must be a non-empty path string")
                values[field] = value
            elif spec.kind == "size":
                values[field] = parse_size(value)
            elif spec.kind == "duration":
                values[field] = parse_duration(value)
            elif not isinstance(value, bool):
                raise ConfigError(f"{where} must be true or false")
            else:
                values[field] = value
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    max_age = values.get("max_key_age")
    warn_age = values.get("warn_key_age")
    if max_age is not None and warn_age is not None and warn_age > max_age:
        raise ConfigError(f"{path}: warn-key-age must not exceed max-key-age")
    return Settings(source=path, explicit=frozenset(values), plugins=plugins, **values)
