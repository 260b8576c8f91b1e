"""Connector configuration (D23): what a repository may define, what only an operator may.

Two tables reach the forwarder (:class:`importobot.events.SinkConfig`):

* the repository's ``[tool.importobot.events]`` (or ``[events]`` of ``.importobot.toml``) —
  repository content, so it may define only connectors that carry **no secret**: ``syslog``
  (without a client certificate) and ``jsonl`` (a file inside the repository); it may also
  name outside-defined connectors to use (``use = ["corp-splunk"]``);
* the ``[events]`` table of the operator's file (``IMPORTOBOT_EVENTS_CONFIG``, else
  ``$XDG_CONFIG_HOME/importobot/events.toml``) — any connector, ``splunk-hec`` and ``elastic``
  included, with its secret read only from the environment variable
  ``IMPORTOBOT_EVENTS_TOKEN_<NAME>`` (never from a file). An outside connector applies to
  every repository unless it says ``default = false``; then only where a repository names it.

A secret in any configuration file (``token = …``) is refused without being shown, and so is
a committed connector that would carry one: a committed file must never be able to send a
token or a key to a host of its choosing.
"""

from __future__ import annotations

import os

from importobot._record import Record
from importobot.config import describe_value, parse_size
from importobot.exceptions import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from importobot.events import SinkConfig

__all__ = [
    "CONNECTOR_TYPES",
    "DEFAULT_PEN",
    "DEFAULT_SPOOL_MAX",
    "SECRET_TYPES",
    "TOKEN_PREFIX",
    "ConnectorSpec",
    "Resolved",
    "resolve",
    "token_variable",
]

CONNECTOR_TYPES = ("syslog", "splunk-hec", "elastic", "jsonl")
#: Connector types whose requests carry a secret (HEC token, Elastic API key).
SECRET_TYPES = frozenset({"splunk-hec", "elastic"})
TOKEN_PREFIX = "IMPORTOBOT_EVENTS_TOKEN_"  # noqa: S105 - a variable name, not a secret
#: RFC 5612's documentation private enterprise number (the SD-ID ``importobot@32473``).
DEFAULT_PEN = 32473
DEFAULT_SPOOL_MAX = 50 * 1024 * 1024
DEFAULT_TIMEOUT = 10.0
DEFAULT_BATCH = 100
UDP_MAX = 2048
TCP_MAX_DEFAULT = 8192

FACILITIES = {
    "kern": 0,
    "user": 1,
    "mail": 2,
    "daemon": 3,
    "auth": 4,
    "syslog": 5,
    "lpr": 6,
    "news": 7,
    "uucp": 8,
    "cron": 9,
    "authpriv": 10,
    "ftp": 11,
    "ntp": 12,
    "security": 13,
    "console": 14,
    **{f"local{i}": 16 + i for i in range(8)},
}

#: Keys that name a secret: refused in every configuration file (the value is not shown).
_SECRET_KEYS = frozenset(
    {"token", "api-key", "api_key", "apikey", "password", "secret", "authorization", "key"}
)
_COMMON = frozenset({"name", "type", "url", "timeout", "batch"})
_ALLOWED = {
    "syslog": _COMMON
    | {"format", "ca-file", "cert-file", "key-file", "pen", "facility", "max-message"},
    "splunk-hec": _COMMON
    | {"ca-file", "cert-file", "key-file", "index", "source", "sourcetype", "ack"},
    "elastic": _COMMON | {"ca-file", "cert-file", "key-file", "index"},
    "jsonl": _COMMON,
}
_OUTSIDE_ONLY = frozenset({"default"})
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def token_variable(name: str) -> str:
    """``IMPORTOBOT_EVENTS_TOKEN_<NAME>``: the name upper-cased, ``-`` and ``.`` as ``_``."""
    return TOKEN_PREFIX + "".join(c if c.isalnum() else "_" for c in name.upper())


class ConnectorSpec(Record):
    """One connector, checked and normalised; holds no secret (its secret comes from the
    environment when it is used). ``origin`` is ``repository``, ``outside`` or ``library``;
    ``root`` is the repository a ``jsonl`` file must stay inside (repository origin)."""

    name: str
    type: str
    url: str
    origin: str = "library"
    root: str | None = None
    format: str = "rfc5424"
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    pen: int = DEFAULT_PEN
    facility: int = FACILITIES["auth"]
    index: str | None = None
    source: str = "importobot"
    sourcetype: str = "importobot:event"
    ack: bool = False
    timeout: float = DEFAULT_TIMEOUT
    batch: int = DEFAULT_BATCH
    max_message: int | None = None

    @property
    def needs_secret(self) -> bool:
        return self.type in SECRET_TYPES

    @property
    def token_variable(self) -> str:
        return token_variable(self.name)

    @property
    def scheme(self) -> str:
        return self.url.partition("://")[0] if "://" in self.url else "file"

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._fields}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConnectorSpec:
        """A spec stored in the spool, checked again (origin rules included)."""
        if not isinstance(data, dict) or set(data) - set(cls._fields):
            raise ConfigError("stored connector: unknown fields")
        spec = cls(**data)
        _check_spec(spec, "stored connector")
        return spec

    def cid(self) -> str:
        """A stable id for this destination (hash of every field; no secret in it)."""
        import hashlib
        import json

        canonical = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:24]

    def describe(self) -> str:
        """``name (type url)`` for people: no secret, URL without user info."""
        return f"{self.name} ({self.type} {self.url})"


class Resolved(Record):
    """What configuration asks for: the connectors in force, the spool size, problems found.

    ``problems`` are one-line messages (a refused connector, an unknown ``use`` name); the
    connectors without problems still apply.
    """

    connectors: tuple[ConnectorSpec, ...]
    spool_max: int
    problems: tuple[str, ...]


# -- checks ---------------------------------------------------------------------------------
def _where(source: str | None, name: str | None) -> str:
    place = source or "configuration"
    return f"{place}: connector {name!r}" if name else f"{place}: events"


def _check_name(value: object, source: str | None) -> str:
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= 63
        or not set(value) <= _NAME_CHARS
        or not value[0].isalnum()
    ):
        raise ConfigError(
            f"{_where(source, None)}: a connector name is 1-63 letters, digits, '.', '_' or "
            f"'-' (got {describe_value(value)})"
        )
    return value


def _string(where: str, key: str, value: object, limit: int = 1024) -> str:
    if not isinstance(value, str) or not value or len(value) > limit or not value.isprintable():
        raise ConfigError(f"{where}: {key} must be text (got {describe_value(value)})")
    return value


def _parse_host_url(where: str, url: str, schemes: tuple[str, ...]) -> str:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ConfigError(f"{where}: url is not a valid URL") from None
    if parts.scheme not in schemes:
        raise ConfigError(f"{where}: url must start with {' or '.join(s + '://' for s in schemes)}")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            f"{where}: a URL carries no user or password (secrets come only from "
            f"{TOKEN_PREFIX}<NAME>)"
        )
    if not parts.hostname:
        raise ConfigError(f"{where}: url has no host")
    if parts.query or parts.fragment:
        raise ConfigError(f"{where}: url takes no query or fragment")
    if parts.scheme in ("udp", "tcp", "tls") and parts.path not in ("", "/"):
        raise ConfigError(f"{where}: a syslog url has no path")
    del port
    return url


def _inside(root: str, path: str) -> bool:
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def _file_path(where: str, key: str, value: object, base: str, *, repository: bool) -> str:
    text = _string(where, key, value, 4096)
    if repository:
        if os.path.isabs(text) or ".." in text.replace("\\", "/").split("/"):
            raise ConfigError(f"{where}: {key} must be a path inside the repository")
        full = os.path.join(base, text)
        if not _inside(base, os.path.dirname(full) or base):
            raise ConfigError(f"{where}: {key} must be a path inside the repository")
        return os.path.abspath(full)
    return os.path.abspath(os.path.join(base, os.path.expanduser(text)))


def _check_spec(spec: ConnectorSpec, where: str) -> None:
    """Rules that hold for every spec, however it was made (a stored one too)."""
    if spec.type not in CONNECTOR_TYPES:
        raise ConfigError(f"{where}: type must be one of {', '.join(CONNECTOR_TYPES)}")
    if spec.origin not in ("repository", "outside", "library"):
        raise ConfigError(f"{where}: unknown origin")
    if spec.origin == "repository" and (
        spec.type in SECRET_TYPES or spec.cert_file or spec.key_file
    ):
        raise ConfigError(f"{where}: a repository may not define a connector that carries a secret")


def _number(where: str, key: str, value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ConfigError(f"{where}: {key} must be a number from {low:g} to {high:g}")
    return float(value)


def _integer(where: str, key: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{where}: {key} must be a whole number from {low} to {high}")
    return value


def _connector(
    table: object, *, source: str | None, base: str, repository: bool
) -> tuple[ConnectorSpec, bool]:
    """One ``[[...connector]]`` table → (spec, used by default). Raises :class:`ConfigError`."""
    if not isinstance(table, dict):
        raise ConfigError(f"{_where(source, None)}: each connector is a table")
    name = _check_name(table.get("name"), source)
    where = _where(source, name)
    for key in table:
        if not isinstance(key, str) or key.lower() in _SECRET_KEYS or "token" in key.lower():
            raise ConfigError(
                f"{where}: secrets are never read from a configuration file "
                f"(value not shown): set {token_variable(name)} in the environment"
            )
    kind = table.get("type")
    if not isinstance(kind, str) or kind not in CONNECTOR_TYPES:
        raise ConfigError(f"{where}: type must be one of {', '.join(CONNECTOR_TYPES)}")
    if repository and (kind in SECRET_TYPES or "cert-file" in table or "key-file" in table):
        what = "a client certificate" if kind not in SECRET_TYPES else f"a secret ({kind})"
        raise ConfigError(
            f"{where}: a connector that carries {what} may not be defined in the repository; "
            "define it in the file IMPORTOBOT_EVENTS_CONFIG names (or "
            "~/.config/importobot/events.toml) and name it here with use = [...]"
        )
    allowed = _ALLOWED[kind] | (frozenset() if repository else _OUTSIDE_ONLY)
    unknown = sorted(str(k) for k in table if k not in allowed)
    if unknown:
        shown = describe_value(unknown[0])
        raise ConfigError(f"{where}: unknown key {shown} for a {kind} connector")
    if "url" not in table:
        raise ConfigError(f"{where}: url is required")
    values: dict[str, Any] = {
        "name": name,
        "type": kind,
        "origin": "repository" if repository else "outside",
    }
    url = _string(where, "url", table["url"], 4096)
    if kind == "syslog":
        values["url"] = _parse_host_url(where, url, ("udp", "tcp", "tls"))
        fmt = table.get("format", "rfc5424")
        if fmt not in ("rfc5424", "cef"):
            raise ConfigError(f"{where}: format must be rfc5424 or cef")
        values["format"] = fmt
        if "pen" in table:
            values["pen"] = _integer(where, "pen", table["pen"], 1, 2**32 - 1)
        if "facility" in table:
            facility = table["facility"]
            if isinstance(facility, str) and facility in FACILITIES:
                values["facility"] = FACILITIES[facility]
            else:
                values["facility"] = _integer(where, "facility", facility, 0, 23)
        scheme = url.partition("://")[0]
        if "max-message" in table:
            high = UDP_MAX if scheme == "udp" else 65535
            values["max_message"] = _integer(where, "max-message", table["max-message"], 480, high)
        if scheme != "tls" and any(k in table for k in ("ca-file", "cert-file", "key-file")):
            raise ConfigError(f"{where}: ca-file, cert-file and key-file need a tls:// url")
    elif kind in ("splunk-hec", "elastic"):
        values["url"] = _parse_host_url(where, url, ("https",))
        if "index" in table:
            index = _string(where, "index", table["index"], 255)
            if kind == "elastic" and (
                index != index.lower()
                or index[0] in "-_+"
                or any(c in index for c in '\\/*?"<>| ,#:')
                or index in (".", "..")
            ):
                raise ConfigError(f"{where}: index is not a valid Elasticsearch index name")
            if kind == "splunk-hec" and not all(c.isalnum() or c in "_-" for c in index):
                raise ConfigError(f"{where}: index is letters, digits, '_' or '-'")
            values["index"] = index
        elif kind == "elastic":
            values["index"] = "importobot-events"
        for key in ("source", "sourcetype"):
            if key in table:
                values[key] = _string(where, key, table[key], 256)
        if "ack" in table:
            if not isinstance(table["ack"], bool):
                raise ConfigError(f"{where}: ack must be true or false")
            values["ack"] = table["ack"]
    else:  # jsonl
        values["url"] = _file_path(where, "url", url, base, repository=repository)
        if repository:
            values["root"] = os.path.abspath(base)
    for key, slot in (("ca-file", "ca_file"), ("cert-file", "cert_file"), ("key-file", "key_file")):
        if key in table:
            values[slot] = _file_path(where, key, table[key], base, repository=repository)
    if ("cert-file" in table) != ("key-file" in table):
        raise ConfigError(f"{where}: cert-file and key-file go together")
    if "timeout" in table:
        values["timeout"] = _number(where, "timeout", table["timeout"], 0.05, 300)
    if "batch" in table:
        values["batch"] = _integer(where, "batch", table["batch"], 1, 10000)
    default = table.get("default", True)
    if not isinstance(default, bool):
        raise ConfigError(f"{where}: default must be true or false")
    spec = ConnectorSpec(**values)
    _check_spec(spec, where)
    return spec, default


def _table_keys(table: dict[str, Any], allowed: set[str], source: str | None) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(f"{_where(source, None)}: unknown key {describe_value(key)}")


def _events_table(
    table: object, source: str | None, label: str, allowed: set[str], problems: list[str]
) -> tuple[dict[str, Any] | None, bool]:
    """``table`` when it is a table (``None`` when absent, or not a table: that problem
    listed), and whether every key in it is ``allowed`` (the unknown one listed)."""
    if table is None:
        return None, False
    if not isinstance(table, dict):
        problems.append(f"{_where(source, None)}: {label} must be a table")
        return None, False
    try:
        _table_keys(table, allowed, source)
    except ConfigError as exc:
        problems.append(str(exc))
        return table, False
    return table, True


def _connectors(
    table: dict[str, Any], *, source: str | None, base: str, repository: bool, problems: list[str]
) -> list[tuple[ConnectorSpec, bool]]:
    raw = table.get("connector", [])
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        problems.append(f"{_where(source, None)}: connector must be an array of tables")
        return []
    found: list[tuple[ConnectorSpec, bool]] = []
    for item in raw:
        try:
            found.append(_connector(item, source=source, base=base, repository=repository))
        except ConfigError as exc:
            problems.append(str(exc))
    return found


def resolve(config: SinkConfig) -> Resolved:
    """The connectors in force for ``config`` (see the module docstring).

    Never raises for a bad connector: it is left out and its problem listed.
    """
    problems: list[str] = []
    spool_max = DEFAULT_SPOOL_MAX
    outside: list[tuple[ConnectorSpec, bool]] = []
    source = config.outside_source
    outside_table, known = _events_table(
        config.outside_table, source, "[events]", {"connector", "spool-max-size"}, problems
    )
    if outside_table is not None:
        if known and "spool-max-size" in outside_table:
            try:
                spool_max = parse_size(outside_table["spool-max-size"])
            except ValueError as exc:
                problems.append(f"{_where(source, None)}: spool-max-size: {exc}")
            else:
                if spool_max < 16 * 1024:
                    problems.append(f"{_where(source, None)}: spool-max-size is at least 16k")
        base = os.path.dirname(os.path.abspath(source)) if source else os.getcwd()
        outside = _connectors(
            outside_table, source=source, base=base, repository=False, problems=problems
        )
    chosen: list[ConnectorSpec] = []
    names: set[str] = set()

    def take(spec: ConnectorSpec) -> None:
        if spec.name in names:
            return
        variable = spec.token_variable
        if any(c.token_variable == variable for c in chosen):
            problems.append(
                f"connector {spec.name!r}: its token variable {variable} is another's too"
            )
            return
        names.add(spec.name)
        chosen.append(spec)

    for spec, default in outside:
        if default:
            take(spec)
    source = config.repository_source
    repo_table, _ = _events_table(
        config.repository_table, source, "events", {"connector", "use"}, problems
    )
    if repo_table is not None:
        outside_names = {spec.name for spec, _ in outside}
        for spec, _ in _connectors(
            repo_table, source=source, base=config.root, repository=True, problems=problems
        ):
            if spec.name in outside_names:
                problems.append(
                    f"{_where(source, spec.name)}: the name is defined outside the "
                    "repository too; use it with use = [...] or rename this one"
                )
                continue
            take(spec)
        use = repo_table.get("use", [])
        if not isinstance(use, list) or not all(isinstance(u, str) for u in use):
            problems.append(f"{_where(source, None)}: use must be a list of connector names")
            use = []
        by_name = {spec.name: spec for spec, _ in outside}
        for wanted in use:
            if wanted in by_name:
                take(by_name[wanted])
            else:
                problems.append(
                    f"{_where(source, None)}: use names {describe_value(wanted)}, which no "
                    "configuration outside the repository defines"
                )
    return Resolved(tuple(chosen), spool_max, tuple(problems))
