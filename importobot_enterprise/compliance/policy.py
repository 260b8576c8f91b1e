"""The compliance policy: the user's cryptoperiods and storage minimum, validated.

Where it comes from, first match wins per setting:

1. ``--policy FILE`` (a TOML file, keys below at the top level);
2. the ``compliance`` sub-table of the configuration (``[tool.importobot.compliance]``):
   ``required-storage``, ``attestations``, and ``policy`` — either a table of the keys
   below or the path of a policy file (relative to the repository root);
3. the base configuration's ``max-key-age`` / ``warn-key-age`` (the originator-usage
   period of the primary key);
4. importobot's defaults, which the report marks as *not defined by the user* (PCI DSS
   v4.0.1 3.7.4 asks for a defined cryptoperiod for each key type and names no number of
   days, so importobot never presents its default as the requirement).

Policy keys: ``name``, ``originator-usage`` (duration; the primary key's maximum age),
``warn`` (duration), ``recipient-usage`` (duration; how long after its creation a previous
key may still decrypt), ``kek`` (duration; the key-encrypting key's cryptoperiod),
``required-storage`` (``env``, ``keyring``, ``wrapped`` or ``hsm``) and
``service-provider`` (bool; PCI DSS 3.6.1.1 applies only to service providers).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from importobot.config import load_toml_file, parse_duration
from importobot.exceptions import ConfigError
from importobot.keys.age import AgePolicy, format_duration

TYPE_CHECKING = False
if TYPE_CHECKING:
    from importobot.project import Project

__all__ = [
    "ATTESTATIONS_FILE",
    "STORAGE_LEVELS",
    "CompliancePolicy",
    "load_policy",
    "storage_of",
]

ATTESTATIONS_FILE = ".importobot-attestations.toml"

#: Storage classes, weakest first. ``env`` and ``file`` hold the key in clear; ``keyring``
#: is the OS keyring; ``wrapped`` is a key wrapped by a KEK in Vault/OpenBao or a KMS;
#: ``hsm`` a key wrapped by a KEK inside a PKCS#11 token.
STORAGE_LEVELS = {"env": 0, "file": 0, "keyring": 1, "wrapped": 2, "hsm": 3}
_REQUIRABLE = ("env", "keyring", "wrapped", "hsm")
_DEFAULT_STORAGE = "wrapped"
_CONFIG_KEYS = ("required-storage", "policy", "attestations")
_POLICY_KEYS = (
    "name",
    "originator-usage",
    "warn",
    "recipient-usage",
    "kek",
    "required-storage",
    "service-provider",
)


def storage_of(label: str | None) -> str | None:
    """The storage class of a key source label (``env:…``, ``keyring:…``,
    ``wrapped:<scheme>:<env|file>``, ``file:…``); ``None`` when unknown."""
    if not label:
        return None
    kind = label.split(":", 1)[0]
    if kind == "wrapped":
        scheme = label.split(":", 2)[1] if label.count(":") >= 1 else ""
        return "hsm" if scheme == "pkcs11" else "wrapped"
    if kind in ("env", "keyring", "file"):
        return kind
    if kind == "explicit":
        return "env"
    return None


@dataclass(frozen=True)
class CompliancePolicy:
    """The policy a report judges against, and where each part came from."""

    name: str | None
    #: Where the policy came from: ``--policy PATH``, ``config``, or ``default``.
    source: str
    #: The primary key's originator-usage period (max and warn age).
    originator: AgePolicy
    #: False when importobot's default 90 days applies (nothing defined it).
    originator_defined: bool
    recipient_usage: timedelta | None
    kek: timedelta | None
    required_storage: str
    required_storage_defined: bool
    #: ``None``: not said (PCI DSS 3.6.1.1 is then left to a person).
    service_provider: bool | None
    #: The attestation file (absolute path).
    attestations: str

    def to_dict(self) -> dict[str, Any]:
        def dur(value: timedelta | None) -> str | None:
            return format_duration(value) if value is not None else None

        return {
            "name": self.name,
            "source": self.source,
            "originator_usage": dur(self.originator.max_age),
            "warn": dur(self.originator.warn_age),
            "originator_usage_defined": self.originator_defined,
            "recipient_usage": dur(self.recipient_usage),
            "kek": dur(self.kek),
            "required_storage": self.required_storage,
            "required_storage_defined": self.required_storage_defined,
            "service_provider": self.service_provider,
        }


def _duration(where: str, name: str, value: object) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: `{name}`: {exc}") from None


def _check_table(where: str, table: dict[str, Any]) -> dict[str, Any]:
    for name in table:
        if name not in _POLICY_KEYS:
            raise ConfigError(
                f"{where}: unknown policy key {name!r} (allowed: {', '.join(_POLICY_KEYS)})"
            )
    out: dict[str, Any] = {}
    for name in ("originator-usage", "warn", "recipient-usage", "kek"):
        if name in table:
            out[name] = _duration(where, name, table[name])
    if "required-storage" in table:
        out["required-storage"] = _storage(where, table["required-storage"])
    if "service-provider" in table:
        value = table["service-provider"]
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: `service-provider` must be true or false")
        out["service-provider"] = value
    if "name" in table:
        value = table["name"]
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            raise ConfigError(f"{where}: `name` must be text (at most 200 characters)")
        out["name"] = value.strip()
    return out


def _storage(where: str, value: object) -> str:
    if not isinstance(value, str) or value not in _REQUIRABLE:
        raise ConfigError(f"{where}: `required-storage` must be one of {', '.join(_REQUIRABLE)}")
    return value


def _policy_file(path: str, *, operator: bool) -> dict[str, Any]:
    table = load_toml_file(path, follow_symlinks=operator)
    return _check_table(path, table)


def load_policy(project: Project, policy_file: str | None = None) -> CompliancePolicy:
    """The policy for ``project``: ``policy_file`` (``--policy``), then the configuration.

    Raises :class:`ConfigError` (exit 2) for anything invalid, naming the file and key.
    """
    settings = project.settings
    raw = settings.plugin("compliance") if settings is not None else None
    where = f"{settings.source or 'configuration'}: compliance" if settings else "compliance"
    config: dict[str, Any] = {}
    attestations = ATTESTATIONS_FILE
    if raw is not None:
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: must be a table ([tool.importobot.compliance])")
        for name in raw:
            if name not in _CONFIG_KEYS:
                raise ConfigError(
                    f"{where}: unknown key {name!r} (allowed: {', '.join(_CONFIG_KEYS)})"
                )
        if "required-storage" in raw:
            config["required-storage"] = _storage(where, raw["required-storage"])
        if "attestations" in raw:
            value = raw["attestations"]
            if not isinstance(value, str) or not value or "\0" in value:
                raise ConfigError(f"{where}: `attestations` must be a file path")
            attestations = value
        inline = raw.get("policy")
        if isinstance(inline, dict):
            config = {**_check_table(f"{where}.policy", inline), **config}
        elif isinstance(inline, str) and inline and "\0" not in inline:
            # the table's own required-storage wins over the file's
            config = {**_policy_file(project.resolve(inline), operator=False), **config}
        elif inline is not None:
            raise ConfigError(f"{where}: `policy` must be a table or the path of a policy file")
    source = "config" if config else "default"
    if policy_file is not None:
        config.update(_policy_file(policy_file, operator=True))
        source = f"--policy {os.path.basename(policy_file)}"

    base_max = settings.max_key_age if settings is not None else None
    base_warn = settings.warn_key_age if settings is not None else None
    max_age = config.get("originator-usage") or base_max
    warn_age = config.get("warn") or (base_warn if "originator-usage" not in config else None)
    defined = max_age is not None
    if max_age is None:
        from importobot.keys.age import DEFAULT_MAX_AGE

        max_age = DEFAULT_MAX_AGE
    if warn_age is not None and warn_age > max_age:
        raise ConfigError(
            f"{where}: warn ({format_duration(warn_age)}) is longer than the originator-usage "
            f"period ({format_duration(max_age)})"
        )
    if source == "default" and defined:
        source = "config"
    return CompliancePolicy(
        name=config.get("name"),
        source=source,
        originator=AgePolicy(max_age, warn_age),
        originator_defined=defined,
        recipient_usage=config.get("recipient-usage"),
        kek=config.get("kek"),
        required_storage=config.get("required-storage", _DEFAULT_STORAGE),
        required_storage_defined="required-storage" in config,
        service_provider=config.get("service-provider"),
        attestations=project.resolve(attestations),
    )
