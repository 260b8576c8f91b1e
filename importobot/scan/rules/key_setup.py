"""IOB201–IOB203: is a valid key set up? Judged over the key the process would use.

Sources in contract order: ``IMPORTOBOT_ENCRYPTION_KEY``, then a wrapped key (D24:
``IMPORTOBOT_WRAPPED_KEY``, ``IMPORTOBOT_WRAPPED_KEY_FILE`` or the project's
``.importobot-key.wrapped``), then the OS keyring entry named by
``IMPORTOBOT_KEYRING_SERVICE``/``IMPORTOBOT_KEYRING_USERNAME``. Messages name the source
and never the value; rejected or weak keys carry no fingerprint (D2). A wrapped key that
fails authentication is IOB202 with source ``wrapped:<scheme>:<env|file>``.
"""

from __future__ import annotations

from importobot._record import Record, field
from importobot._version import DOCS_URL
from importobot.exceptions import InvalidKeyError, MissingKeyError
from importobot.keys.fingerprint import fingerprint
from importobot.scan.finding import Finding, rule_info
from importobot.security.key_sources import (
    ENV_KEY,
    ENV_PREVIOUS_KEYS,
    PreviousKey,
    ResolvedKey,
    keyring_location,
    resolve_previous_keys,
    resolve_primary_key,
    wrapped_source,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "DOCS_URL",
    "ROTATION_DOCS",
    "KeySetup",
    "check_key_setup",
    "configured_source",
    "key_finding",
]

#: The key rotation runbook (messages link the documentation, never a repository file).
ROTATION_DOCS = f"{DOCS_URL}/Key-Rotation.md"


def key_finding(
    rule: str,
    message: str,
    *,
    source: str | None = None,
    fp: str | None = None,
    severity: str | None = None,
    key_bytes: int | None = None,
) -> Finding:
    """A location-less key-health finding (IOB2xx/IOB3xx)."""
    return Finding(
        rule=rule,
        severity=severity or rule_info(rule).severity,
        path=None,
        line=None,
        column=None,
        variable=None,
        key_type=None,
        key_bytes=key_bytes,
        fingerprint=fp,
        message=message,
        source=source,
    )


def configured_source(
    env: Mapping[str, str] | None = None,
    context: tuple[str | None, str | None] | None = None,
) -> str | None:
    """The label of the primary source that is configured (``env:…``, ``wrapped:…``,
    ``keyring:…``). Reads a wrapped-key file, never a backend."""
    import os

    from importobot.exceptions import SecurityError

    e = os.environ if env is None else env
    if e.get(ENV_KEY, "").strip():
        return f"env:{ENV_KEY}"
    try:
        wrapped = wrapped_source(e, context)
    except SecurityError:
        wrapped = None
    if wrapped is not None:
        return wrapped.label
    location = keyring_location(e)
    if location is not None:
        return f"keyring:{location[0]}/{location[1]}"
    return None


class KeySetup(Record):
    """The outcome of the set-up check: findings, the key when it is valid, previous keys."""

    findings: list[Finding]
    key: ResolvedKey | None
    #: The refused key is one importobot 0.1.5 accepted (D3): print the migration.
    legacy_usable: bool = False
    #: The decrypt-only keys (empty when not read, or when one of them is invalid: that
    #: is a finding).
    previous: list[PreviousKey] = field(default_factory=list)

    @property
    def fingerprint(self) -> str | None:
        """Fingerprint of the valid key, else ``None``."""
        return fingerprint(self.key.raw) if self.key is not None else None


def check_key_setup(
    env: Mapping[str, str] | None = None,
    *,
    optional: bool = False,
    previous: bool = True,
    context: tuple[str | None, str | None] | None = None,
) -> KeySetup:
    """Judge the configured key; ``optional``: no key at all is fine, an invalid one is not.

    ``context`` is the project's ``(default wrapped-key file, registry)``. Raises
    :class:`~importobot.exceptions.KeyringUnavailableError` or
    :class:`~importobot.exceptions.KeyBackendError` (exit 2) when the keyring or a KEK
    backend cannot be used: those are environment errors, not findings.
    """
    findings: list[Finding] = []
    key: ResolvedKey | None = None
    legacy = False
    previous_keys: list[PreviousKey] = []
    try:
        key = resolve_primary_key(env=env, context=context)
    except MissingKeyError as exc:
        if not optional:
            source = configured_source(env, context)
            findings.append(key_finding("IOB201", str(exc), source=source))
    except InvalidKeyError as exc:
        legacy = exc.legacy_usable
        source = configured_source(env, context)
        findings.append(key_finding(exc.rule, str(exc), source=source))
    if previous:
        try:
            previous_keys = resolve_previous_keys(env)
        except InvalidKeyError as exc:
            findings.append(key_finding(exc.rule, str(exc), source=f"env:{ENV_PREVIOUS_KEYS}"))
    return KeySetup(findings, key, legacy, previous_keys)
