"""Security events (D23): one record, one ``emit``; where events go is a plugin's business.

Hooks, ``check``, the ``key`` commands and rotation describe what happened as a
:class:`SecurityEvent` and call :func:`emit` (or :func:`emit_event`, which builds the event
only when someone listens). :func:`emit` hands it to the sinks registered under the
``importobot.event_sinks`` entry-point group (the SIEM forwarder of
``importobot[enterprise]``), and looks sinks up **only** when configuration names one:
an ``events`` table in the repository's configuration (``[tool.importobot.events]``) or the
TOML file ``IMPORTOBOT_EVENTS_CONFIG`` names. Both are found by a byte search first (D17),
so a hook with no sink configured imports nothing and scans no entry point.

An event never holds a key, a plaintext, a token or a connector secret:

- fields have fixed shapes (a rule code, an ``iobfp1:`` fingerprint, a hex commit, counts);
- free text (path, repository, host, user, payload values) goes through :func:`redact`:
  key-shaped values (D8: keys in every spelling, opaque random strings, PEM private keys)
  and Fernet tokens are replaced by their fingerprint (D2), weak key-sized values by
  ``[redacted]``, and values of secret-named payload keys (``token``, ``password`` …) and
  of the secret variables importobot knows (D5) by ``[redacted]``;
- a repository URL loses its ``user:password@``;
- payload keys must be RFC 5424 PARAM-NAMEs (1-32 printable US-ASCII characters, no ``=``,
  space, ``]`` or ``"``) and are refused otherwise.

A sink that fails never raises into the caller: one line on stderr, and the caller goes on.
Standard library only; no network code (sinks bring their own).
"""

from __future__ import annotations

import os
import sys

from importobot._record import Record
from importobot.config import EVENTS_CONFIG_ENV
from importobot.exceptions import ImportobotError

TYPE_CHECKING = False  # typing is not imported at run time (hook start-up, D17)
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any, Protocol

    from importobot.config import Settings
    from importobot.scan.finding import Finding

    class EventSink(Protocol):
        """What a sink factory returns: something that takes events (``close`` optional)."""

        def emit(self, event: SecurityEvent) -> None:
            """Take one event; may raise (the caller reports it and goes on)."""

    SinkFactory = Callable[["SinkConfig"], "EventSink | None"]
    PayloadValue = str | int | float | bool | None | tuple[str | int | float | bool, ...]

__all__ = [
    "CONFIG_ENV",
    "SEVERITIES",
    "VOCABULARY",
    "EventError",
    "SecurityEvent",
    "RULE_EVENTS",
    "emit_findings",
    "SinkConfig",
    "check_param_name",
    "close",
    "configured",
    "emit",
    "emit_event",
    "event_from_finding",
    "event_type",
    "redact",
    "run_id",
]

#: The environment variable naming a TOML file (outside the repository) with an ``[events]``
#: table; it also turns event forwarding on for repositories that configure none.
CONFIG_ENV = EVENTS_CONFIG_ENV

#: Event types (D23). 0.1.5's free-form types become ``custom.<type>`` (:func:`event_type`).
VOCABULARY = frozenset(
    {
        "commit.blocked",
        "push.rejected",
        "check.findings",
        "key.check_failed",
        "key.stale",
        "key.compromised",
        "key.stored",
        "key.registered",
        "key.retired",
        "key.wrapped",
        "key.rewrapped",
        "kek.created",
        "kek.rotated",
        "hsm.changed",
        "rotation.started",
        "rotation.finished",
        "rotation.failed",
        "fix.applied",
        "compliance.report",
        "org_scan.finished",
        "events.test",
        "spool.dropped",
    }
)
#: Severities, lowest first (syslog's names; findings use ``warning`` and ``error``).
SEVERITIES = ("info", "notice", "warning", "error", "critical")

REDACTED = "[redacted]"
#: Words that make a payload key secret-named: its text value is never kept.
_SECRET_WORDS = frozenset(
    {
        "secret",
        "secrets",
        "password",
        "passwd",
        "passphrase",
        "token",
        "pin",
        "credential",
        "credentials",
        "apikey",
        "plaintext",
        "cookie",
        "authorization",
        "auth",
        "key",
    }
)
_HEX = frozenset("0123456789abcdef")
_MIN_KEY_TEXT = 16  # no key spelling is shorter (16 bytes: 22 base64 characters)
#: Runs of base64 (either alphabet) or hex characters long enough to be a key, with trailing
#: padding; an "=" inside splits a run (``KEY=<key>``). Compiled on first use (re caches it).
_RUN = r"[A-Za-z0-9+/_-]{16,}={0,2}"


class EventError(ImportobotError, ValueError):
    """An event was built with a field that breaks its rules (a programming error).

    The message names the field and never shows the offending value.
    """


# -- checks and redaction ------------------------------------------------------------------
def check_param_name(name: object) -> str:
    """``name`` when it is an RFC 5424 PARAM-NAME (1-32 printable US-ASCII, no ``= ]"``/space).

    Raises :class:`EventError`; a key-shaped name is refused too (and never shown).
    """
    if not isinstance(name, str) or not 1 <= len(name) <= 32:
        raise EventError("payload key: an RFC 5424 PARAM-NAME has 1 to 32 characters")
    if any(not 33 <= ord(c) <= 126 or c in '="]' for c in name):
        raise EventError(
            "payload key: an RFC 5424 PARAM-NAME is printable US-ASCII without '=', ']', "
            "'\"' or space"
        )
    if redact(name) != name:
        raise EventError("payload key: the name is key-shaped (not shown)")
    return name


def _printable(text: str) -> str:
    """One line of UTF-8, through the one escaper (:func:`importobot._text.printable`)."""
    from importobot._text import printable

    return printable(text)


def _secret_values() -> list[str]:
    """Values of the secret variables in the environment (compared as text, never shown)."""
    from importobot.git import SECRET_PREFIXES, SECRET_VARIABLES  # D5's one list

    values: list[str] = []
    for name, value in os.environ.items():
        if name in SECRET_VARIABLES or name.startswith(SECRET_PREFIXES):
            parts = value.split(",") if name == "IMPORTOBOT_PREVIOUS_KEYS" else [value]
            for part in parts:
                part = part.strip()
                if part.startswith("legacy:"):
                    part = part[len("legacy:") :]
                if part:
                    values.append(part)
    return values


def _exact_key(word: str) -> str | None:
    """The fingerprint when ``word`` is exactly a Fernet token or a decoded key (not opaque)."""
    from importobot.keys.fingerprint import fingerprint_opaque, is_fingerprint
    from importobot.keys.tokens import token_bytes
    from importobot.scan.recognizer import key_shape

    if is_fingerprint(word):
        return None
    if token_bytes(word) is not None:
        return fingerprint_opaque(word)  # a Fernet token: ciphertext, named not shown
    found = key_shape(word)
    if found is None or found.key_type == "opaque":
        return None
    return found.fingerprint


def _key_like(word: str) -> str | None:
    """The replacement for a whole word or run that is key material, else ``None``.

    An exact key or token (:func:`_exact_key`), an opaque random string (D4), or a weak
    key-sized value (D4) that does not read as a placeholder: ``[redacted]``, since a
    fingerprint must never confirm a guessable value (D2).
    """
    from importobot.keys.fingerprint import is_fingerprint
    from importobot.keys.material import KEY_SIZES, decode_key_text, is_readable_placeholder
    from importobot.scan.recognizer import key_shape

    if is_fingerprint(word):
        return None
    exact = _exact_key(word)
    if exact is not None:
        return exact
    found = key_shape(word)
    if found is not None:
        return found.fingerprint
    if not is_readable_placeholder(word):
        decoded = decode_key_text(word)
        if decoded is not None and len(decoded.key_bytes) in KEY_SIZES:
            return REDACTED
    return None


#: Lengths of the base64 spellings of 32, 48 and 64-byte keys (± padding), longest first.
_B64_LENGTHS = (88, 86, 64, 44, 43)
_HEX_RUN = r"[0-9a-fA-F]{32,}"


def _spelled_key(window: str) -> str | None:
    """The fingerprint when ``window`` spells a 32-byte-or-larger key exactly (not opaque).

    Windows cut from a longer run are judged strictly: any random text holds short
    "keys" and long "opaque strings", so only a decoded key of a real key size counts.
    """
    from importobot.scan.recognizer import key_shape

    found = key_shape(window)
    if found is None or found.key_type == "opaque" or found.key_bytes < 32:
        return None
    return found.fingerprint


def _key_in_run(run: str) -> str:
    """``run`` (base64/hex characters) with a key in it replaced.

    The run itself when it is exactly a key or token; else its hex sub-runs (``k<64 hex>``
    as a variable name); else the whole run when it is an opaque random string; else a
    base64 key spelled among readable characters (``thename<key>``), looked for at every
    offset of a run of up to 128 characters (at both ends of a longer one).
    """
    import re

    found = _exact_key(run)
    if found is not None:
        return found
    replaced = re.sub(_HEX_RUN, lambda m: _exact_key(m.group(0)) or m.group(0), run)
    if replaced != run:
        return replaced
    # A random run is replaced whole (cutting it at a "key" inside would leave pieces of a
    # secret); windows are for runs that read as text around a key.
    found = _key_like(run)
    if found is not None:
        return found
    for size in _B64_LENGTHS:
        last = len(run) - size
        if last < 0:
            continue
        starts = range(last + 1) if len(run) <= 128 else (0, last)
        for start in starts:
            found = _spelled_key(run[start : start + size])
            if found is not None:
                return run[:start] + found + _key_in_run(run[start + size :])
    return run


def redact(text: str) -> str:
    """``text`` with every key-shaped part replaced (see the module docstring).

    Each run of base64/hex characters inside a word is judged (``KEY=<key>``,
    ``base64:<key>``, ``https://x/?k=<key>``, a Fernet token); a word with no such run is
    judged whole (an opaque random secret, a bytes literal). A PEM private key block makes
    the whole text its fingerprint.
    """
    for secret in _secret_values():
        if len(secret) >= 8 and secret in text:
            text = text.replace(secret, REDACTED)
        elif text.strip() == secret:
            return REDACTED
    if len(text) < _MIN_KEY_TEXT:
        return text
    if "PRIVATE KEY" in text:
        from importobot.scan.recognizer import key_shape

        found = key_shape(text)
        return found.fingerprint if found is not None else REDACTED
    import re

    words = text.split(" ")
    for index, word in enumerate(words):
        if len(word) < _MIN_KEY_TEXT:
            continue
        replaced = re.sub(_RUN, lambda m: _key_in_run(m.group(0)), word)
        if replaced == word:  # no key inside: is the word itself one (opaque, bytes literal)?
            replaced = _key_like(word) or word
        words[index] = replaced
    return " ".join(words)


def _text(field: str, value: object, *, redacted: bool = True) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise EventError(f"{field}: expected text")
    # Redact first: escaping control characters would hide a PEM block's line structure.
    return _printable(redact(value) if redacted else value)


def _without_userinfo(url: str) -> str:
    """``https://user:pass@host/x`` → ``https://host/x`` (D6); ``git@host:x`` is kept."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        authority = authority.rsplit("@", 1)[1]
    return f"{scheme}{sep}{authority}{slash}{tail}"


def _hex_id(field: str, value: object) -> str:
    if not isinstance(value, str) or len(value) != 32 or not set(value) <= _HEX:
        raise EventError(f"{field}: expected 32 lower-case hex digits")
    return value


def _secret_named(name: str) -> bool:
    words = "".join(c if c.isalnum() else " " for c in name.lower()).split()
    return bool(words) and (words[-1] == "key" or any(w in _SECRET_WORDS - {"key"} for w in words))


def _payload_value(name: str, value: object) -> PayloadValue:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple):
        items: list[str | int | float | bool] = []
        for item in value:
            scalar = _payload_value(name, item)
            if isinstance(scalar, tuple) or scalar is None:
                scalar = _printable(redact(str(scalar)))
            items.append(scalar)
        return tuple(items)
    text = value if isinstance(value, str) else str(value)
    if _secret_named(name):
        from importobot.keys.fingerprint import is_fingerprint

        return text if is_fingerprint(text) else REDACTED
    return _printable(redact(text))


_RUN_ID: list[str] = []


def run_id() -> str:
    """This process's run id (128-bit random hex): every event of one run shares it."""
    if not _RUN_ID:
        _RUN_ID.append(os.urandom(16).hex())
    return _RUN_ID[0]


_run_id = run_id  # SecurityEvent's ``run_id`` parameter shadows the function's name


def event_type(name: str) -> str:
    """A type of the vocabulary as is; any other (0.1.5's free-form types) as ``custom.<name>``."""
    if name in VOCABULARY or name.startswith("custom."):
        return name
    return f"custom.{name}"


def _user() -> str | None:
    for var in ("LOGNAME", "USER", "USERNAME"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError, OSError):
        return None


class SecurityEvent(Record):
    """One security event (D23). Built checked and redacted; see docs/events.md.

    Only ``type`` is required. ``id``, ``run_id``, ``time`` (Unix seconds, UTC), ``host``,
    ``user`` and ``tool_version`` are filled in when not given. Every free-text field and
    payload value is redacted; fixed-shape fields that do not fit raise :class:`EventError`.
    """

    #: 32 hex digits, random; a receiver drops a duplicate delivery by it.
    id: str
    run_id: str
    #: Unix time in seconds (UTC); :attr:`time_text` is the RFC 3339 form.
    time: float
    type: str
    severity: str
    #: A rule code (``IOB101``) or several, comma-separated.
    rule: str | None
    #: The repository's URL without ``user:password@`` (or its path).
    repository: str | None
    path: str | None
    line: int | None
    commit: str | None
    #: The key's ``iobfp1:`` fingerprint (D2).
    fingerprint: str | None
    #: Named counts (``findings``, ``rotated``, ``IOB101`` …).
    counts: dict[str, int]
    #: Extra fields: PARAM-NAME keys, redacted values.
    payload: dict[str, PayloadValue]
    host: str | None
    user: str | None
    tool_version: str

    def __init__(
        self,
        type: str,
        *,
        severity: str = "info",
        rule: str | None = None,
        repository: str | None = None,
        path: str | None = None,
        line: int | None = None,
        commit: str | None = None,
        fingerprint: str | None = None,
        counts: Mapping[str, int] | None = None,
        payload: Mapping[str, object] | None = None,
        host: str | None = None,
        user: str | None = None,
        tool_version: str | None = None,
        id: str | None = None,
        run_id: str | None = None,
        time: float | None = None,
    ) -> None:
        values: dict[str, object] = {}
        if not isinstance(type, str):
            raise EventError("type: expected text")
        if type not in VOCABULARY:
            suffix = type[len("custom.") :] if type.startswith("custom.") else ""
            if not suffix:
                raise EventError(
                    "type: not in the event vocabulary (free-form types are custom.<name>)"
                )
            try:
                check_param_name(suffix)
            except EventError:
                raise EventError(
                    "type: a custom type is custom.<name>, name as an RFC 5424 PARAM-NAME"
                ) from None
        values["type"] = type
        if severity not in SEVERITIES:
            raise EventError(f"severity: one of {', '.join(SEVERITIES)}")
        values["severity"] = severity
        if rule is not None:
            codes = rule.split(",") if isinstance(rule, str) else [""]
            if not all(len(c) == 6 and c[:3] == "IOB" and c[3:].isdigit() for c in codes):
                raise EventError("rule: expected rule codes such as IOB101 (comma-separated)")
        values["rule"] = rule
        values["repository"] = _text(
            "repository", None if repository is None else _without_userinfo(str(repository))
        )
        values["path"] = _text("path", path)
        if line is not None and (isinstance(line, bool) or not isinstance(line, int) or line < 1):
            raise EventError("line: expected a line number (1 or more)")
        values["line"] = line
        if commit is not None and (
            not isinstance(commit, str) or not 4 <= len(commit) <= 64 or not set(commit) <= _HEX
        ):
            raise EventError("commit: expected a lower-case hex commit id")
        values["commit"] = commit
        if fingerprint is not None:
            from importobot.keys.fingerprint import is_fingerprint

            if not isinstance(fingerprint, str) or not is_fingerprint(fingerprint):
                raise EventError("fingerprint: expected an iobfp1: fingerprint (not shown)")
        values["fingerprint"] = fingerprint
        checked_counts: dict[str, int] = {}
        for name, count in (counts or {}).items():
            check_param_name(name)
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise EventError(f"counts: {name} must be a whole number, 0 or more")
            checked_counts[name] = count
        values["counts"] = checked_counts
        values["payload"] = {
            check_param_name(name): _payload_value(name, value)
            for name, value in (payload or {}).items()
        }
        values["host"] = _text("host", host if host is not None else os.uname().nodename)
        values["user"] = _text("user", user if user is not None else _user())
        if tool_version is None:
            from importobot._version import __version__

            tool_version = __version__
        values["tool_version"] = _text("tool_version", tool_version)
        values["id"] = _hex_id("id", id) if id is not None else os.urandom(16).hex()
        values["run_id"] = _hex_id("run_id", run_id) if run_id is not None else _run_id()
        if time is None:
            import time as clock

            time = clock.time()
        if isinstance(time, bool) or not isinstance(time, int | float) or time < 0:
            raise EventError("time: expected Unix seconds")
        values["time"] = float(time)
        for name in self.__slots__:
            object.__setattr__(self, name, values[name])

    def __hash__(self) -> int:
        return hash(self.id)

    @property
    def time_text(self) -> str:
        """The time as RFC 3339 UTC with milliseconds: ``2026-11-25T10:00:00.123Z``."""
        import time as clock

        whole = int(self.time)
        millis = int(round((self.time - whole) * 1000))
        if millis == 1000:
            whole, millis = whole + 1, 0
        return clock.strftime("%Y-%m-%dT%H:%M:%S", clock.gmtime(whole)) + f".{millis:03d}Z"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: every field (``None`` where unset), ``time`` as RFC 3339."""
        data: dict[str, Any] = {name: getattr(self, name) for name in self.__slots__}
        data["time"] = self.time_text
        data["counts"] = dict(self.counts)
        data["payload"] = {
            k: list(v) if isinstance(v, tuple) else v for k, v in self.payload.items()
        }
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SecurityEvent:
        """The event :meth:`to_dict` made (a spool reads events back); checked again."""
        from datetime import datetime

        fields = dict(data)
        stamp = fields.pop("time", None)
        if not isinstance(stamp, str):
            raise EventError("time: expected RFC 3339 text")
        try:
            when = datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
        except ValueError:
            raise EventError("time: expected RFC 3339 text") from None
        unknown = set(fields) - set(cls.__slots__)
        if unknown:
            raise EventError("unknown fields in a stored event")
        event_type_ = fields.pop("type", None)
        return cls(event_type_, time=when, **fields)


def event_from_finding(
    finding: Finding, type: str = "commit.blocked", **fields: Any
) -> SecurityEvent:
    """An event about one finding: its rule, severity, place, commit and fingerprint.

    ``fields`` adds or overrides event fields (``repository=…``, ``counts=…``).
    """
    payload: dict[str, object] = {"rule_name": finding.rule_name, "message": finding.message}
    for name in ("variable", "key_type", "source", "note"):
        value = getattr(finding, name)
        if value is not None:
            payload[name] = value
    values: dict[str, Any] = {
        "severity": finding.severity if finding.severity in SEVERITIES else "error",
        "rule": finding.rule,
        "path": finding.path,
        "line": finding.line,
        "commit": finding.commit,
        "fingerprint": finding.fingerprint,
        "payload": payload,
    }
    values.update(fields)
    return SecurityEvent(type, **values)


# -- sinks --------------------------------------------------------------------------------
class SinkConfig(Record):
    """What a sink factory is given: the configuration in force, raw (the sink validates it).

    ``repository_table`` is the repository's ``events`` table (``[tool.importobot.events]``)
    from ``repository_source``: repository content, so never trusted with secrets (D23).
    ``outside_table`` is the ``[events]`` table of the file ``IMPORTOBOT_EVENTS_CONFIG``
    names, else of ``$XDG_CONFIG_HOME/importobot/events.toml``, from ``outside_source``.
    """

    root: str
    repository_source: str | None = None
    repository_table: Any = None
    outside_source: str | None = None
    outside_table: Any = None


#: (root, config source, IMPORTOBOT_EVENTS_CONFIG) -> the sinks loaded for it.
_SINKS: dict[tuple[str, str | None, str | None], list[tuple[str, EventSink]]] = {}
_CLOSE_REGISTERED: list[bool] = []


def _warn(message: str) -> None:
    try:
        sys.stderr.write(f"importobot: events: {message}\n")
    except (OSError, ValueError):
        pass


def _reason(exc: BaseException) -> str:
    """What went wrong, without a message that could carry a secret from a sink's internals."""
    if isinstance(exc, ImportobotError):
        return redact(_printable(str(exc)))
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return type(exc).__name__


def _sniffed_table(path: str, *, repository: bool) -> Any:
    """The ``events`` table of a file, read only when its bytes mention ``events`` (D17).

    ``repository``: the project's configuration (``[tool.importobot]``'s ``events``, symlinks
    refused); else an operator's file (its top-level ``[events]``).
    """
    from importobot import config, fsio

    try:
        data = (
            fsio.read_content(path, config.MAX_CONFIG_BYTES)
            if repository
            else fsio.read_operator_file(path, config.MAX_CONFIG_BYTES)
        )
        if b"events" not in data:
            return None
        if repository:
            return config.read_settings(path).plugin("events")
        document = config.load_toml_file(path)
    except ImportobotError as exc:
        _warn(_reason(exc))
        return None
    return document.get("events")


def _sink_config(root: str, settings: Settings | None) -> SinkConfig | None:
    """The configuration in force, or ``None`` when nothing names a sink (the common case)."""
    repository_source: str | None = None
    repository_table: Any = None
    if settings is not None:
        repository_source = settings.source
        repository_table = settings.plugin("events")
    else:
        from importobot.config import find_config

        try:
            repository_source = find_config(root)
        except ImportobotError as exc:
            _warn(_reason(exc))
        if repository_source is not None:
            repository_table = _sniffed_table(repository_source, repository=True)
    outside = os.environ.get(CONFIG_ENV) or None
    if repository_table is None and outside is None:
        return None
    if outside is None:
        base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
        candidate = os.path.join(base, "importobot", "events.toml")
        outside = candidate if os.path.isfile(candidate) else None
    outside_table = _sniffed_table(outside, repository=False) if outside is not None else None
    if repository_table is None and outside_table is None:
        return None
    return SinkConfig(
        root,
        repository_source=repository_source,
        repository_table=repository_table,
        outside_source=outside,
        outside_table=outside_table,
    )


def _sinks(root: str | None, settings: Settings | None) -> list[tuple[str, EventSink]]:
    base = os.path.abspath(root if root is not None else os.getcwd())
    source = settings.source if settings is not None else None
    cache_key = (base, source, os.environ.get(CONFIG_ENV))
    if cache_key in _SINKS:
        return _SINKS[cache_key]
    config = _sink_config(base, settings)
    loaded: list[tuple[str, EventSink]] = []
    _SINKS[cache_key] = loaded
    if config is None:
        return loaded
    from importobot import plugins

    found = plugins.entry_points(plugins.EVENT_SINKS)
    if not found:
        _warn(
            "events are configured but no event sink is installed: "
            + plugins.missing_extra_message("event forwarding")
        )
    for name, entry in sorted(found.items()):
        try:
            factory: SinkFactory = entry.load()
            sink = factory(config)
        except Exception as exc:  # a plugin's bug must not break the caller
            _warn(f"sink {name!r} could not start: {_reason(exc)}")
            continue
        if sink is not None:
            loaded.append((name, sink))
    if loaded and not _CLOSE_REGISTERED:
        import atexit

        atexit.register(close)
        _CLOSE_REGISTERED.append(True)
    return loaded


def configured(root: str | None = None, settings: Settings | None = None) -> bool:
    """True when at least one sink takes events for the project at ``root``.

    ``settings``: the project's settings when the caller has loaded them (saves a read).
    Costs a byte search when nothing is configured; loads sinks (once) when something is.
    """
    return bool(_sinks(root, settings))


def emit(event: SecurityEvent, *, root: str | None = None, settings: Settings | None = None) -> int:
    """Hand ``event`` to every sink configured for the project at ``root`` (default: cwd).

    Returns how many sinks took it. Never raises: a failing sink is one stderr line.
    """
    delivered = 0
    for name, sink in _sinks(root, settings):
        try:
            sink.emit(event)
        except Exception as exc:  # never into the caller (a hook's exit code stays its own)
            _warn(f"sink {name!r} failed: {_reason(exc)}")
        else:
            delivered += 1
    return delivered


#: The event type of a finding's rule (D23); other rules report as ``default``.
RULE_EVENTS = {
    "IOB201": "key.check_failed",
    "IOB202": "key.check_failed",
    "IOB203": "key.check_failed",
    "IOB204": "key.compromised",
    "IOB301": "key.stale",
    "IOB302": "key.stale",
}


def emit_findings(
    findings: list[Finding],
    default: str,
    *,
    root: str | None = None,
    settings: Settings | None = None,
    repository: str | None = None,
) -> int:
    """One event per finding that counts (not suppressed), typed by its rule.

    Key findings become ``key.check_failed``/``key.stale``/``key.compromised``; the others
    ``default`` (``commit.blocked``, ``check.findings``, ``push.rejected``). Costs a byte
    search when no sink is configured. Returns how many events were handed over.
    """
    active = [f for f in findings if f.suppressed is None]
    if not active or not _sinks(root, settings):
        return 0
    sent = 0
    for finding in active:
        fields: dict[str, Any] = {"repository": repository} if repository else {}
        try:
            event = event_from_finding(finding, RULE_EVENTS.get(finding.rule, default), **fields)
        except EventError as exc:
            _warn(f"event for {finding.rule} not sent: {exc}")
            continue
        emit(event, root=root, settings=settings)
        sent += 1
    return sent


def emit_event(
    type: str, *, root: str | None = None, settings: Settings | None = None, **fields: Any
) -> SecurityEvent | None:
    """Build and :func:`emit` an event, only when a sink is configured (else ``None``).

    ``fields`` are :class:`SecurityEvent`'s keyword arguments. With no sink configured this
    costs a byte search and builds nothing. A field that breaks the event's rules is a
    programming error: :class:`EventError`, reported here as one stderr line, not raised.
    """
    if not _sinks(root, settings):
        return None
    try:
        event = SecurityEvent(type, **fields)
    except EventError as exc:
        _warn(f"event {type!r} not sent: {exc}")
        return None
    emit(event, root=root, settings=settings)
    return event


def close() -> None:
    """Close every loaded sink that has ``close()`` (also run at exit). Never raises."""
    for sinks in _SINKS.values():
        for name, sink in sinks:
            closer: Callable[[], object] | None = getattr(sink, "close", None)
            if closer is None:
                continue
            try:
                closer()
            except Exception as exc:
                _warn(f"sink {name!r} failed to close: {_reason(exc)}")
    _SINKS.clear()


def _reset() -> None:
    """Forget loaded sinks and the run id (tests)."""
    _SINKS.clear()
    _RUN_ID.clear()
