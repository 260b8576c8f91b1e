"""``importobot key generate | store | status | register | retire``.

Each function takes plain values (what the user typed, already parsed) and returns an
:class:`~importobot.commands.Outcome`; ``env`` (default ``os.environ``), ``start`` (the
directory whose repository is meant; default the working directory) and ``now`` (an aware
UTC datetime) make them testable without a process. Nothing here prints a key, except
:func:`generate`, whose job it is.
"""

from __future__ import annotations

from importobot.commands import Outcome
from importobot.exceptions import ConfigError, MissingKeyError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from importobot.keys.registry import Registry
    from importobot.project import Project
    from importobot.scan.rules.key_status import KeyStatus

__all__ = [
    "DEFAULT_SERVICE",
    "choose_retiree",
    "generate",
    "register",
    "render_status",
    "retire",
    "status",
    "store",
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
