"""The state of the keys one project uses, as one typed record (:class:`KeyStatus`).

:func:`key_status` answers, once, what ``importobot key status``, ``hook key-age``,
``hook check-key``, ``check``'s key health and the compliance report each need: which
key is set up and from where, its fingerprint, whether it is valid, its registry entry,
age and due date under the policy, the previous (decrypt-only) keys with their registry
state, the migration for a refused 0.1.5 key (D3), and the findings:

- IOB201-IOB203: no, malformed or weak key (also a malformed previous key);
- IOB301/IOB302/IOB304: the active key's age by the registry;
- IOB305: a previous key the registry marks retired is still configured;
- IOB204: a configured key (primary or previous) the registry marks compromised
  (``importobot fix`` records a committed key so).

IOB204 at a committed copy and IOB303 (stale ciphertext) need a scan and stay in
``check``. Time is a parameter (``now``), so tests fix the clock. Nothing here holds or
prints a key: only fingerprints and source labels.
"""

from __future__ import annotations

from importobot._record import Record
from importobot.exceptions import ConfigError
from importobot.keys.age import format_duration, judge_age, utc_now
from importobot.keys.fingerprint import fingerprint as fingerprint_of
from importobot.scan.rules.key_age import check_key_age
from importobot.scan.rules.key_setup import (
    ROTATION_DOCS,
    check_key_setup,
    configured_source,
    key_finding,
)

TYPE_CHECKING = False  # no `typing` at run time: the key hooks start on every commit (D17)
if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime
    from typing import Any, Protocol

    from importobot.keys.age import AgePolicy, AgeVerdict
    from importobot.keys.registry import KeyRecord, Registry
    from importobot.scan.finding import Finding
    from importobot.scan.rules.key_setup import KeySetup

    class ProjectLike(Protocol):
        """What :func:`key_status` uses of :class:`importobot.project.Project`."""

        def registry_path(self, override: str | None = None) -> str: ...

        def wrapped_key_path(self) -> str: ...

        def policy(self, max_age: str | None = None, warn_age: str | None = None) -> AgePolicy: ...


__all__ = [
    "MIGRATION_STEPS",
    "KeyStatus",
    "PreviousKeyStatus",
    "key_setup_for",
    "key_status",
]

#: D3: what a user whose 0.1.5 key no longer loads does, in order.
MIGRATION_STEPS = (
    "importobot key generate --format env   # the new primary key",
    "IMPORTOBOT_PREVIOUS_KEYS=legacy:<old value>   # old key, decrypt only",
    "importobot rotate ...   # re-encrypt every store",
    "importobot key retire   # then drop the old key",
)


def _stamp(when: datetime | None) -> str | None:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if when is not None else None


class PreviousKeyStatus(Record):
    """One configured decrypt-only key: fingerprint, where it is configured, registry state.

    ``registry_state`` is ``registered`` (in the registry, not retired), ``retired``,
    ``unregistered``, or ``None`` when the registry was not read.
    """

    fingerprint: str
    #: Where it is configured: ``env:IMPORTOBOT_PREVIOUS_KEYS``, ``file:PATH``, ``keyring:…``.
    source: str
    #: Derived by importobot 0.1.5's rules (a ``legacy:`` entry, D3).
    legacy: bool
    registry_state: str | None
    #: When the registry says it was retired.
    retired: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "fingerprint": self.fingerprint,
            "source": self.source,
            "legacy": self.legacy,
            "registry": self.registry_state,
            "retired": self.registry_state == "retired",
            "retired_at": _stamp(self.retired),
        }


class KeyStatus(Record):
    """The keys of one project at one moment (see the module docstring)."""

    #: The primary key's source label (``env:…``, ``keyring:SERVICE/USER``), also when it
    #: is invalid; ``None`` when no source is configured.
    source: str | None
    #: D2 fingerprint of a valid primary key; ``None`` when absent, malformed or weak.
    fingerprint: str | None
    valid: bool
    policy: AgePolicy
    #: The loaded registry; ``None`` when not read (``use_registry=False``).
    registry: Registry | None
    #: The active key's registry record, if registered.
    entry: KeyRecord | None
    #: Age, due date and state (ok, warn, due) when the registry knows its creation date.
    age: AgeVerdict | None
    previous: tuple[PreviousKeyStatus, ...]
    #: D3 migration steps when the refused primary key is one 0.1.5 accepted; else empty.
    migration: tuple[str, ...]
    findings: tuple[Finding, ...]
    #: For a wrapped primary key (D24): ``{"kek": URI, "version": …, "mechanism": …}``.
    wrapped: dict[str, str] | None = None

    @property
    def created(self) -> datetime | None:
        return self.age.created if self.age is not None else None

    @property
    def due(self) -> datetime | None:
        return self.age.due if self.age is not None else None

    @property
    def state(self) -> str | None:
        """``ok``, ``warn`` or ``due``; ``None`` when the age is unknown."""
        return self.age.state if self.age is not None else None

    def exit_code(self, strict: bool = False) -> int:
        """1 on error findings (or any finding under ``strict``), else 0 (D15)."""
        return int(any(f.severity == "error" or strict for f in self.findings))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``importobot key status --format json``)."""
        age = self.age
        return {
            "source": self.source,
            "fingerprint": self.fingerprint,
            "valid": self.valid,
            "policy": {
                "max_age": format_duration(self.policy.max_age),
                "warn_age": format_duration(self.policy.warn_age),
            },
            "registry": self.registry.path if self.registry is not None else None,
            "entry": self.entry.to_dict() if self.entry is not None else None,
            "age": None
            if age is None
            else {
                "created": _stamp(age.created),
                "age": format_duration(age.age),
                "due": age.due.strftime("%Y-%m-%d"),
                "state": age.state,
            },
            "previous": [p.to_dict() for p in self.previous],
            "migration": list(self.migration) or None,
            "findings": [f.to_dict() for f in self.findings],
            "wrapped": self.wrapped,
        }


def _previous_status(
    fp: str, source: str, legacy: bool, registry: Registry | None
) -> PreviousKeyStatus:
    record = registry.get(fp) if registry is not None else None
    if registry is None:
        state = None
    elif record is None:
        state = "unregistered"
    else:
        state = "retired" if record.retired is not None else "registered"
    return PreviousKeyStatus(fp, source, legacy, state, record.retired if record else None)


def _compromised(
    fp: str, what: str, source: str | None, when: datetime, registry: Registry | None
) -> Finding:
    where = registry.path if registry is not None else "the key registry"
    return key_finding(
        "IOB204",
        f"{what} {fp} is marked compromised since {when:%Y-%m-%d} in {where} but is still "
        f"configured{f' in {source}' if source else ''}: rotate it and retire it "
        f"(`importobot fix` prints the runbook; {ROTATION_DOCS})",
        source=source,
        fp=fp,
    )


def _context(project: ProjectLike, registry: str | None) -> tuple[str | None, str | None]:
    wrapped_file = getattr(project, "wrapped_key_path", None)
    return (
        wrapped_file() if wrapped_file is not None else None,
        project.registry_path(registry),  # a retired wrapped key is refused as primary
    )


def key_setup_for(project: ProjectLike, env: Mapping[str, str] | None = None) -> KeySetup:
    """The set-up check :func:`key_status` makes by default (primary and previous keys)."""
    return check_key_setup(env, previous=True, context=_context(project, None))


def key_status(
    project: ProjectLike,
    env: Mapping[str, str] | None = None,
    now: datetime | None = None,
    *,
    max_age: str | None = None,
    warn_age: str | None = None,
    policy: AgePolicy | None = None,
    registry: str | None = None,
    optional: bool = False,
    previous: bool = True,
    use_registry: bool = True,
    setup: KeySetup | None = None,
) -> KeyStatus:
    """Judge the keys ``project`` uses, from ``env`` (default ``os.environ``) at ``now``.

    ``max_age``/``warn_age`` (durations such as ``90d``) override the configuration;
    ``policy`` overrides both. ``registry`` names the registry file instead of the
    project's. ``optional``: no key at all is not a finding. ``previous=False`` reads no
    previous key (``hook key-age`` judges the active key only). ``use_registry=False``
    reads no registry: no age, no IOB3xx (``hook check-key``). ``setup`` is the outcome of
    :func:`key_setup_for` when the caller already has it (``check`` needs the keys before it
    scans, to search for them: :mod:`importobot.scan.keysearch`), so no key is read twice.

    Raises :class:`~importobot.exceptions.ConfigError` for a bad duration or registry
    and :class:`~importobot.exceptions.KeyringUnavailableError` when the keyring cannot
    be read (both exit 2): those are environment errors, not findings.
    """
    from importobot.keys.registry import Registry

    moment = now if now is not None else utc_now()
    if policy is None:
        try:
            policy = project.policy(max_age, warn_age)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    context = _context(project, registry)
    if setup is None:
        setup = check_key_setup(env, optional=optional, previous=previous, context=context)
    findings = list(setup.findings)
    source = setup.key.source.label if setup.key is not None else configured_source(env, context)
    wrapped = setup.key.wrapped if setup.key is not None else None
    fp = setup.fingerprint
    reg = Registry.load(project.registry_path(registry), now=moment) if use_registry else None
    entry = reg.get(fp) if reg is not None and fp is not None else None
    age = None
    if entry is not None and entry.created is not None:
        age = judge_age(entry.created, policy, moment)
    if reg is not None and fp is not None:
        findings += check_key_age(fp, source, reg, policy, moment)
    if entry is not None and entry.compromised is not None:
        findings.append(_compromised(fp or "", "the set-up key", source, entry.compromised, reg))
    previous_status: list[PreviousKeyStatus] = []
    for key in setup.previous:
        pfp = fingerprint_of(key.raw)
        if pfp == fp or any(p.fingerprint == pfp for p in previous_status):
            continue  # the primary key listed again: it is used as the primary
        item = _previous_status(pfp, key.source.label, key.legacy, reg)
        previous_status.append(item)
        record = reg.get(pfp) if reg is not None else None
        if record is not None and record.compromised is not None and record.retired is None:
            what = "previous key"
            findings.append(_compromised(pfp, what, item.source, record.compromised, reg))
        if item.registry_state == "retired" and item.retired is not None:
            findings.append(
                key_finding(
                    "IOB305",
                    f"previous key {pfp} was retired on {item.retired:%Y-%m-%d} but is still "
                    f"configured in {item.source}; remove it there",
                    source=item.source,
                    fp=pfp,
                )
            )
    return KeyStatus(
        source=source,
        fingerprint=fp,
        valid=setup.key is not None,
        policy=policy,
        registry=reg,
        entry=entry,
        age=age,
        previous=tuple(previous_status),
        migration=MIGRATION_STEPS if setup.legacy_usable else (),
        findings=tuple(findings),
        wrapped=None
        if wrapped is None
        else {"kek": wrapped.uri, "version": wrapped.version, "mechanism": wrapped.mechanism},
    )
