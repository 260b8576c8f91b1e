"""importobot_enterprise: rotation stores, PKCS#11 HSM, SIEM forwarding, compliance reports.

Installed with ``pip install 'importobot[enterprise]'``. It imports only the public
names of :mod:`importobot`; the base package never imports it.

Public names are resolved lazily (PEP 562): ``from importobot_enterprise import
RotationPlan`` imports the rotation package and nothing else (no CLI, no click, no other
feature's dependencies). Names of features this release does not ship yet raise an
:class:`ImportError` that says so, rather than a stand-in that would pretend to work.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from importobot_enterprise.compliance import (
        ComplianceControl,
        ComplianceReport,
        ComplianceRule,
        EnterpriseComplianceEngine,
    )
    from importobot_enterprise.hsm import HSMError, HSMKeyStore, PKCS11KeyStore, SoftwareHSM
    from importobot_enterprise.key_rotation import (
        FileStore,
        JournalMismatchError,
        PostgresStore,
        RotationError,
        RotationPlan,
        RotationReport,
        SQLiteStore,
        Store,
        StoreError,
        StoreLockedError,
        rotate_credentials,
        rotate_store,
    )
    from importobot_enterprise.siem import (
        ElasticConnector,
        JsonlFileConnector,
        SIEMManager,
        SplunkHECConnector,
        SyslogConnector,
    )

__all__ = [
    "ComplianceControl",
    "ComplianceReport",
    "ComplianceRule",
    "ElasticConnector",
    "EnterpriseComplianceEngine",
    "FileStore",
    "HSMError",
    "HSMKeyStore",
    "JournalMismatchError",
    "JsonlFileConnector",
    "PKCS11KeyStore",
    "PostgresStore",
    "RotationError",
    "RotationPlan",
    "RotationReport",
    "SIEMManager",
    "SQLiteStore",
    "SoftwareHSM",
    "SplunkHECConnector",
    "Store",
    "StoreError",
    "StoreLockedError",
    "SyslogConnector",
    "rotate_credentials",
    "rotate_store",
]

_HSM_NAMES = ("HSMError", "HSMKeyStore", "PKCS11KeyStore", "SoftwareHSM")
_COMPLIANCE = (
    "ComplianceControl",
    "ComplianceReport",
    "ComplianceRule",
    "EnterpriseComplianceEngine",
)
_SIEM_NAMES = (
    "ElasticConnector",
    "JsonlFileConnector",
    "SIEMManager",
    "SplunkHECConnector",
    "SyslogConnector",
)
#: Public name -> the module that defines it (imported on first use).
_EXPORTS = {
    **dict.fromkeys(
        (n for n in __all__ if n not in _HSM_NAMES + _COMPLIANCE + _SIEM_NAMES),
        "importobot_enterprise.key_rotation",
    ),
    **dict.fromkeys(_HSM_NAMES, "importobot_enterprise.hsm"),
    **dict.fromkeys(_COMPLIANCE, "importobot_enterprise.compliance.model"),
    **dict.fromkeys(_SIEM_NAMES, "importobot_enterprise.siem"),
}

#: importobot 0.1.5 / DESIGN names of features not shipped yet -> the feature.
_NOT_SHIPPED: dict[str, str] = {}


def __getattr__(name: str) -> object:
    module_name = _EXPORTS.get(name)
    if module_name is not None:
        import importlib

        value: object = getattr(importlib.import_module(module_name), name)
        globals()[name] = value  # later lookups skip this function
        return value
    feature = _NOT_SHIPPED.get(name)
    if feature is not None:
        from importobot import __version__

        raise ImportError(
            f"importobot_enterprise.{name} is not available in importobot {__version__}: "
            f"{feature} is not implemented in this release",
            name=__name__,
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
