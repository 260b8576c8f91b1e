"""``importobot key generate | store | status | register | retire | wrap | rewrap``.

Each function takes plain values (what the user typed, already parsed) and returns an
:class:`~importobot.commands.Outcome`; ``env`` (default ``os.environ``), ``start`` (the
directory whose repository is meant; default the working directory) and ``now`` (an aware
UTC datetime) make them testable without a process. Nothing here prints a key, except
:func:`generate`, whose job it is.
"""

from __future__ import annotations

from importobot.commands import InputError, Outcome
from importobot.exceptions import ConfigError, MissingKeyError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime
    from typing import Any

    from importobot.keys.registry import Registry
    from importobot.keys.wrapped import WrappedKey
    from importobot.project import Project
    from importobot.scan.rules.key_status import KeyStatus

__all__ = [
    "DEFAULT_SERVICE",
    "choose_retiree",
    "generate",
    "register",
    "render_status",
    "retire",
    "rewrap",
    "status",
    "store",
    "wrap",
    "write_wrapped_file",
]

#: The keyring service ``key store`` writes when neither --service nor
#: IMPORTOBOT_KEYRING_SERVICE names one. importobot reads the keyring only when
#: IMPORTOBOT_KEYRING_SERVICE is set, so ``store`` says to set it to this name.
DEFAULT_SERVICE = "importobot"
#: The note recorded for a retired key whose creation date nobody registered.
UNKNOWN_CREATED_NOTE = "created date unknown: never registered while active"


def _environ(env: Mapping[str, str] | None) -> Mapping[str, str]:
    import os

    return os.environ if env is None else env


def _project(start: str | None) -> Project:
    from importobot.project import load_project

    return load_project(start)


def _now(now: datetime | None) -> datetime:
    from importobot.keys.age import utc_now

    return (now if now is not None else utc_now()).replace(microsecond=0)


def _lines(*lines: str) -> str:
    return "".join(f"{line}\n" for line in lines)


# -- generate ------------------------------------------------------------------------------
def _event(project: Project, type: str, **fields: object) -> None:
    """A key event (never key material: fingerprints only) when a sink is configured."""
    from importobot.events import configured, emit_event

    if configured(project.root, project.settings):
        repository = project.origin_url()
        if repository:
            fields["repository"] = repository
        emit_event(type, root=project.root, settings=project.settings, **fields)


def generate(fmt: str = "text") -> Outcome:
    """A new random key: ``text`` the key alone, ``env`` as ``IMPORTOBOT_ENCRYPTION_KEY=…``."""
    from importobot.security.credential_manager import generate_key

    text = generate_key()
    return Outcome(_lines(f"IMPORTOBOT_ENCRYPTION_KEY={text}" if fmt == "env" else text))


# -- store ---------------------------------------------------------------------------------
def store(
    *,
    service: str | None,
    username: str,
    value: str | None,
    overwrite: bool = False,
    env: Mapping[str, str] | None = None,
) -> Outcome:
    """Store ``value`` (or, when ``None`` or blank, a new key) in the OS keyring.

    ``service`` defaults to :data:`DEFAULT_SERVICE`. An existing entry is replaced only
    with ``overwrite``; the old key is then kept in ``<username>.previous`` (decrypt only).
    """
    from importobot.keys.fingerprint import fingerprint
    from importobot.security.credential_manager import CredentialManager
    from importobot.security.key_sources import ENV_KEYRING_SERVICE, ENV_KEYRING_USERNAME
    from importobot.security.key_sources import keyring_get as read_entry
    from importobot.security.key_validation import parse_key

    service = (service or "").strip() or DEFAULT_SERVICE
    username = username.strip() or "importobot"
    # An existing entry without --overwrite: KeyringEntryExistsError, whose CLI wording
    # says --overwrite. With it, read first only to say where the old key went.
    existing = read_entry(service, username, env) if overwrite else None
    replacing = bool(existing and existing.strip())
    stored = CredentialManager.store_key_in_keyring(
        service=service,
        username=username,
        key=value if value and value.strip() else None,
        overwrite=overwrite,
    )
    fp = fingerprint(parse_key(stored))
    _event(
        _project(None),
        "key.stored",
        fingerprint=fp,
        payload={"service": service, "username": username, "replaced": replacing},
    )
    lines = [f"stored key {fp} in keyring {service}/{username}"]
    if replacing:
        lines.append(f"the previous key stays readable in {service}/{username}.previous")
    e = _environ(env)
    wanted = [(ENV_KEYRING_SERVICE, service)]
    if username != "importobot":
        wanted.append((ENV_KEYRING_USERNAME, username))
    unset = [f"{name}={want}" for name, want in wanted if e.get(name, "").strip() != want]
    if unset:
        lines.append(f"importobot reads this entry when {' and '.join(unset)} is set")
    return Outcome(_lines(*lines))


# -- status --------------------------------------------------------------------------------
def render_status(report: KeyStatus) -> str:
    """The text form of ``importobot key status``."""
    out: list[str] = []
    if report.valid:
        out.append(f"source       {report.source}")
        if report.wrapped is not None:
            kek = report.wrapped
            out.append(f"kek          {kek['kek']} (version {kek['version']}, {kek['mechanism']})")
        out.append(f"fingerprint  {report.fingerprint}")
        out.append("status       valid")
        age = report.age
        if age is not None:
            from importobot.keys.age import format_duration

            since = format_duration(age.age)
            out.append(f"created      {age.created:%Y-%m-%dT%H:%M:%SZ} ({since} ago)")
            out.append(f"rotation due {age.due:%Y-%m-%d} ({age.state})")
        out.append(f"policy       {report.policy.describe()}")
    for item in report.previous:
        notes = " (legacy 0.1.5 derivation)" if item.legacy else ""
        if item.registry_state == "retired":
            notes += " (retired)"
        elif item.registry_state == "unregistered":
            notes += " (not in the registry)"
        out.append(f"previous     {item.fingerprint} from {item.source}{notes}")
    for f in report.findings:
        out.append(f"{f.rule} {f.rule_name}: {f.message}")
    for step in report.migration:
        out.append(f"  migrate: {step}")
    return _lines(*out)


def status(
    *,
    fmt: str = "text",
    max_age: str | None = None,
    warn_age: str | None = None,
    registry: str | None = None,
    start: str | None = None,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> Outcome:
    """The active key's source, fingerprint, age and due date; previous keys; findings.

    Exit 1 on error findings (no valid key, rotation due), else 0 (D15).
    """
    from importobot.scan.rules.key_status import key_status

    project = _project(start)
    report = key_status(project, env, now, max_age=max_age, warn_age=warn_age, registry=registry)
    project.emit_findings(list(report.findings), "key.check_failed")
    if fmt == "json":
        import json

        text = json.dumps(report.to_dict(), indent=2, sort_keys=True) + "\n"
    else:
        text = render_status(report)
    return Outcome(text, report.exit_code())


# -- register ------------------------------------------------------------------------------
def _registry(project: Project, override: str | None, now: datetime) -> Registry:
    from importobot.keys.registry import Registry

    return Registry.load(project.registry_path(override), now=now)


def parse_when(text: str | None, now: datetime, option: str) -> datetime:
    """``--created``/``--at``: a date or RFC 3339 timestamp, not in the future; default now."""
    from importobot.keys.age import parse_timestamp

    if not text:
        return now
    try:
        when = parse_timestamp(text)
    except ValueError as exc:
        raise ConfigError(f"{option}: {exc}") from None
    if when > now:
        raise ConfigError(f"{option}: the date is in the future")
    return when


def register(
    *,
    created: str | None = None,
    note: str | None = None,
    registry: str | None = None,
    start: str | None = None,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Record the active key's fingerprint and creation date (default now) in the registry."""
    from importobot.keys.fingerprint import fingerprint
    from importobot.security.key_sources import resolve_primary_key

    moment = _now(now)
    fp = fingerprint(resolve_primary_key(env=env).raw)
    project = _project(start)
    reg = _registry(project, registry, moment)
    when = parse_when(created, moment, "--created")
    if reg.register(fp, when, note):
        reg.save()
        _event(project, "key.registered", fingerprint=fp)
        return Outcome(_lines(f"registered {fp} (created {when:%Y-%m-%dT%H:%M:%SZ}) in {reg.path}"))
    return Outcome(_lines(f"{fp} is already registered in {reg.path}"))


# -- retire --------------------------------------------------------------------------------
def choose_retiree(fingerprint: str | None, previous: Sequence[str], active: str | None) -> str:
    """D19: the key to retire. A FINGERPRINT is needed unless exactly one previous key is
    configured; the active (primary) key is never retired."""
    from importobot.keys.fingerprint import is_fingerprint

    if fingerprint is None:
        if len(previous) != 1:
            count = "no previous key is" if not previous else f"{len(previous)} previous keys are"
            raise ConfigError(f"{count} configured: name the FINGERPRINT to retire")
        fingerprint = previous[0]
    if not is_fingerprint(fingerprint):
        raise ConfigError(
            "FINGERPRINT must be an importobot fingerprint (iobfp1: and 16 hex digits); "
            "`importobot key status` lists them"
        )
    if fingerprint == active:
        raise ConfigError(f"{fingerprint} is the active key; it cannot be retired")
    return fingerprint


def _stores_still_holding(specs: list[str], fingerprint: str) -> list[str]:
    """The enterprise store check, found by entry point (the base never imports it)."""
    from importobot import plugins

    check = plugins.load(plugins.RETIRE_CHECKS, "stores", feature="`importobot key retire --store`")
    result: list[str] = check(specs, fingerprint)
    return result


def retire(
    fingerprint: str | None = None,
    *,
    at: str | None = None,
    registry: str | None = None,
    stores: Sequence[str] = (),
    start: str | None = None,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> Outcome:
    """Mark a previous key retired in the registry (D19; never the active key).

    With ``stores``, refuse while any of them still holds a value under the key. A
    configured previous key that was never registered is recorded as retired with its
    creation date unknown (noted in the registry); an unknown fingerprint that is neither
    registered nor configured is refused.
    """
    from importobot.keys.fingerprint import fingerprint as fingerprint_of
    from importobot.security.key_sources import resolve_previous_keys, resolve_primary_key

    moment = _now(now)
    previous = list(dict.fromkeys(fingerprint_of(p.raw) for p in resolve_previous_keys(env)))
    try:
        active: str | None = fingerprint_of(resolve_primary_key(env=env).raw)
    except MissingKeyError:
        active = None
    target = choose_retiree(fingerprint, [p for p in previous if p != active], active)
    if stores:
        holding = _stores_still_holding(list(stores), target)
        if holding:
            raise ConfigError(
                f"{target} still encrypts values in {', '.join(holding)}: rotate them "
                f"first (`importobot rotate …`), then retire the key"
            )
    project = _project(start)
    reg = _registry(project, registry, moment)
    when = parse_when(at, moment, "--at")
    record = reg.get(target)
    lines: list[str] = []
    already = record is not None and record.retired is not None
    if already and record is not None and record.retired is not None:
        lines.append(f"{target} was already retired on {record.retired:%Y-%m-%d} in {reg.path}")
    elif record is not None:
        reg.retire(target, when)
        reg.save()
        lines.append(f"retired {target} in {reg.path}")
    elif target in previous:
        reg.add_retired(target, when, UNKNOWN_CREATED_NOTE)
        reg.save()
        lines.append(
            f"retired {target} in {reg.path}: it was not registered, so it is recorded now "
            f"with its creation date unknown"
        )
    else:
        raise ConfigError(
            f"{target} is not in {reg.path} and is not a configured previous key; "
            f"check the fingerprint (`importobot key status` lists the configured keys)"
        )
    if not already:
        _event(project, "key.retired", fingerprint=target)
    if target in previous:
        lines.append("now remove it from IMPORTOBOT_PREVIOUS_KEYS / the keyring's previous entry")
    return Outcome(_lines(*lines))


# -- wrap / rewrap (D24) -----------------------------------------------------------------
def _kek_uri(kek: str | None, env: Mapping[str, str] | None) -> tuple[str, bool]:
    """The KEK to wrap under: ``--kek``, else the first of IMPORTOBOT_KEK; and whether it
    is trusted (listed), so unwrapping will accept it."""
    from importobot.security.key_sources import ENV_KEK, check_kek_uri, trusted_kek_uris

    trusted = trusted_kek_uris(env)
    uri = (kek or "").strip() or (trusted[0] if trusted else "")
    if not uri:
        raise ConfigError(f"name the key-encrypting key: --kek URI, or set {ENV_KEK}")
    check_kek_uri(uri)
    return uri, uri in trusted


def _backend(uri: str, env: Mapping[str, str] | None) -> Any:
    from importobot.security.key_sources import kek_backend

    return kek_backend(uri, _environ(env))


def _checked_roundtrip(
    backend: Any, wrapped: WrappedKey, raw: bytes, env: Mapping[str, str]
) -> None:
    """The new wrapped key unwraps to ``raw`` before anything is printed or written."""
    from importobot.exceptions import WrappedKeyAuthError
    from importobot.security.key_sources import call_backend

    back = call_backend(backend, "check the wrapped key", lambda: backend.unwrap(wrapped), env)
    if back != raw:
        raise WrappedKeyAuthError(
            f"{backend.name} KEK {wrapped.uri}: the new wrapped key does not unwrap to the same "
            f"key; nothing was written",
            backend.name,
        )


def write_wrapped_file(path: str, text: str, *, overwrite: bool) -> None:
    """Write ``text`` + newline to ``path`` crash-safely (D22, :func:`importobot.fsio.
    replace_file_durably`), mode 0644 for a new file; an existing one only with
    ``overwrite`` (a symbolic link, hard-linked or special file is refused)."""
    import os

    from importobot.fsio import replace_file_durably

    if not overwrite and os.path.lexists(path):
        raise ConfigError(f"{path} exists; pass --overwrite to replace it")
    replace_file_durably(path, (text + "\n").encode("ascii"), new_mode=0o644)


def wrap(
    *,
    kek: str | None,
    value: str | None,
    generate: bool = False,
    output: str | None = None,
    overwrite: bool = False,
    env: Mapping[str, str] | None = None,
) -> Outcome:
    """Wrap a data key (``value`` from stdin, or a new one) under a KEK.

    Prints the wrapped text (safe: ciphertext) or writes it to ``output`` (mode 0644,
    trailing newline, crash-safely). The wrapped key is unwrapped once before it is shown,
    so a key that would not come back is never handed out.
    """
    from importobot.keys.fingerprint import fingerprint
    from importobot.security.credential_manager import generate_key
    from importobot.security.key_sources import call_backend
    from importobot.security.key_validation import parse_key

    e = _environ(env)
    uri, trusted = _kek_uri(kek, e)
    if generate:
        raw = parse_key(generate_key())
    else:
        if not value or not value.strip():
            raise InputError("no key on stdin: pipe one in, or pass --generate for a new key")
        raw = parse_key(value.strip(), "the key on stdin")
    backend = _backend(uri, e)
    try:
        wrapped = call_backend(backend, "wrap a key", lambda: backend.wrap(raw), e)
        _checked_roundtrip(backend, wrapped, raw, e)
    finally:
        backend.close()
    fp = fingerprint(raw)
    notes: list[str] = []
    if not trusted:
        notes.append(
            f"note: importobot unwraps it only when IMPORTOBOT_KEK lists {uri} "
            f"(or ~/.config/importobot/kek.toml does)"
        )
    if output:
        write_wrapped_file(output, wrapped.text, overwrite=overwrite)
        out = _lines(f"wrapped {fp} under {uri} (version {wrapped.version}) into {output}")
    else:
        out = _lines(wrapped.text)
        notes.append(f"wrapped {fp} under {uri} (version {wrapped.version})")
    _event(
        _project(None),
        "key.wrapped",
        fingerprint=fp,
        payload={"kek": uri, "kek_version": wrapped.version, "mechanism": wrapped.mechanism},
    )
    return Outcome(out, 0, _lines(*notes))


def rewrap(
    path: str | None = None,
    *,
    text: str | None = None,
    start: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Outcome:
    """Move a wrapped key to its KEK's newest version (same data key).

    ``text`` (from stdin with ``-``) prints the new wrapped key; otherwise the file
    ``path`` (default IMPORTOBOT_WRAPPED_KEY_FILE, else the repository's
    ``.importobot-key.wrapped``) is rewritten crash-safely (D22). Nothing is written
    unless the new wrapped key unwraps to the same key.
    """
    from importobot.security.key_sources import (
        ENV_WRAPPED_KEY_FILE,
        call_backend,
        load_wrapped,
        read_wrapped_file,
        unwrap,
    )

    e = _environ(env)
    if text is None:
        named = path or e.get(ENV_WRAPPED_KEY_FILE, "").strip()
        path = named or _project(start).wrapped_key_path()
        text = read_wrapped_file(path, ENV_WRAPPED_KEY_FILE if named else None)
        where = path
    else:
        where = "stdin"
    old = load_wrapped(text, where)
    raw = unwrap(old, e, where)
    backend = _backend(old.uri, e)
    try:
        new = call_backend(backend, "rewrap a key", lambda: backend.rewrap(old), e)
        if new.fingerprint != old.fingerprint:
            from importobot.exceptions import WrappedKeyAuthError

            raise WrappedKeyAuthError(
                f"{backend.name} KEK {old.uri}: rewrap changed the key; nothing was written",
                backend.name,
            )
        _checked_roundtrip(backend, new, raw, e)
    finally:
        backend.close()
    if new.version == old.version and path is not None:
        return Outcome(
            _lines(f"{where} is already under the newest version {new.version} of {old.uri}")
        )
    _event(
        _project(start),
        "key.rewrapped",
        fingerprint=old.fingerprint,
        payload={"kek": old.uri, "from_version": old.version, "kek_version": new.version},
    )
    if path is None:
        return Outcome(
            _lines(new.text),
            0,
            _lines(f"rewrapped {old.fingerprint}: version {old.version} -> {new.version}"),
        )
    write_wrapped_file(path, new.text, overwrite=True)
    return Outcome(
        _lines(f"rewrapped {old.fingerprint} in {where}: version {old.version} -> {new.version}")
    )
