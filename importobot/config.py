"""Configuration: ``[tool.importobot]`` in ``pyproject.toml`` or ``.importobot.toml`` → Settings.

Keys (kebab-case; snake_case accepted too)::

    [tool.importobot]
    exclude = ["tests/fixtures/**", "*.min.js"]   # globs of paths never scanned
    env-files = ["config/*.conf"]                 # extra env-style globs (IOB101)
    baseline = ".importobot-baseline.json"        # accepted findings (D13)
    max-file-size = "10MB"                        # larger files are skipped, counted
    max-key-age = "90d"                           # IOB301
    warn-key-age = "75d"                          # IOB302
    key-check = true                              # opt in to IOB2xx/IOB3xx (D16)
    registry = ".importobot-keys.toml"            # the key registry (D19)

``.importobot.toml`` may hold the keys at top level or under ``[tool.importobot]``.
TOML is parsed with :mod:`tomllib` (``tomli`` on Python 3.10), imported only when a
file is actually read. An invalid file is a :class:`~importobot.exceptions.ConfigError`
naming the file, the key and what is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

from importobot.exceptions import ConfigError

TYPE_CHECKING = False  # typing is not imported at run time (hook start-up, D17)
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "DEFAULT_MAX_FILE_SIZE",
    "Settings",
    "find_config",
    "load_settings",
    "parse_duration",
    "parse_size",
]

#: Files larger than this are skipped (and counted) unless configured otherwise.
DEFAULT_MAX_FILE_SIZE = 10 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """Validated configuration. Durations are timedeltas; sizes in bytes."""

    exclude: tuple[str, ...] = ()
    env_files: tuple[str, ...] = ()
    baseline: str | None = None
    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    max_key_age: timedelta | None = None
    warn_key_age: timedelta | None = None
    key_check: bool | None = None
    registry: str = ".importobot-keys.toml"
    #: The file these settings came from (``None``: defaults).
    source: str | None = None
    #: Keys the file set explicitly (so command-line options can tell defaults apart).
    explicit: frozenset[str] = field(default_factory=frozenset)

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with some fields replaced (command-line options win over the file)."""
        return replace(self, **changes)  # type: ignore[arg-type]


_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)


def parse_duration(text: object) -> timedelta:
    """``"90d"``, ``"12w"``, ``"36h"`` → a timedelta; ``ValueError`` naming what is wrong.

    The same rules as the command line (:func:`importobot.keys.age.parse_duration`):
    ambiguous units (``m``, ``mo``, ``y``) and bare numbers are refused.
    """
    from importobot.keys.age import parse_duration as parse

    if isinstance(text, bool) or not isinstance(text, str):
        raise ValueError(f'expected a duration string such as "90d", got {text!r}')
    return parse(text)


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
    m = _SIZE_RE.match(str(text))
    if m is None:
        raise ValueError(f"expected a size such as 10MB or 512k, got {text!r}")
    number = float(m.group(1))
    unit = (m.group(2) or "b").lower()[:1]
    value = int(number * {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit])
    if value <= 0:
        raise ValueError("a size must be positive")
    return value


def _load_toml(path: Path) -> dict[str, Any]:
    import importlib
    import sys

    # tomllib on 3.11+, the tomli backport on 3.10 (a base dependency there).
    tomllib = importlib.import_module("tomllib" if sys.version_info >= (3, 11) else "tomli")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration file ({exc.strerror})") from None
    try:
        parsed: dict[str, Any] = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    return parsed


def find_config(root: Path) -> Path | None:
    """``.importobot.toml`` in ``root``, else a ``pyproject.toml`` with ``[tool.importobot]``."""
    candidate = root / ".importobot.toml"
    if candidate.is_file():
        return candidate
    pyproject = root / "pyproject.toml"
    try:
        # A byte search first: most pyproject files have no section of ours (D17).
        if pyproject.is_file() and b"tool.importobot" in pyproject.read_bytes():
            return pyproject
    except OSError:
        return None
    return None


def _table(path: Path, document: dict[str, Any]) -> dict[str, Any] | None:
    tool = document.get("tool")
    if isinstance(tool, dict) and "importobot" in tool:
        table = tool["importobot"]
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [tool.importobot] must be a table")
        return table
    if path.name == "pyproject.toml":
        return None
    return {k: v for k, v in document.items() if k != "tool"}


def _strings(path: Path, key: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"{path}: {key} must be a list of strings")


def load_settings(root: Path | None = None, config_file: Path | None = None) -> Settings:
    """Settings from ``config_file`` or the one found in ``root``; defaults when there is none."""
    path = config_file if config_file is not None else find_config(root or Path.cwd())
    if path is None:
        return Settings()
    if config_file is not None and not path.is_file():
        raise ConfigError(f"{path}: configuration file not found")
    table = _table(path, _load_toml(path))
    if table is None:
        return Settings(source=str(path))
    values: dict[str, Any] = {}
    for raw_key, value in table.items():
        key = raw_key.replace("_", "-")
        where = f"{path}: {raw_key}"
        try:
            if key == "exclude":
                values["exclude"] = _strings(path, raw_key, value)
            elif key in ("env-files", "extra-env-files"):
                values["env_files"] = _strings(path, raw_key, value)
            elif key in ("baseline", "registry"):
                if not isinstance(value, str) or not value:
                    raise ConfigError(f"{where} must be a non-empty path string")
                values[key] = value
            elif key == "max-file-size":
                values["max_file_size"] = parse_size(value)
            elif key in ("max-key-age", "warn-key-age"):
                values[key.replace("-", "_")] = parse_duration(value)
            elif key == "key-check":
                if not isinstance(value, bool):
                    raise ConfigError(f"{where} must be true or false")
                values["key_check"] = value
            else:
                raise ConfigError(f"{where}: unknown setting")
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    max_age = values.get("max_key_age")
    warn_age = values.get("warn_key_age")
    if max_age is not None and warn_age is not None and warn_age > max_age:
        raise ConfigError(f"{path}: warn-key-age must not exceed max-key-age")
    return Settings(source=str(path), explicit=frozenset(values), **values)
