"""SIEM forwarding (D23): security events to syslog, Splunk HEC, Elasticsearch and JSONL files,
through a durable spool, at least once, with no secret on the wire.

importobot 0.1.5's names are kept::

    from importobot_enterprise.siem import SIEMManager, SplunkHECConnector, ElasticConnector
    manager = SIEMManager(connectors=[])
    manager.add_connector(SplunkHECConnector("https://splunk:8088", token))
    manager.emit_security_event("login_failed", {"seq": 1})   # type custom.login_failed

``SIEMManager.from_config()`` builds the manager from ``[tool.importobot.events]`` and the
outside file; :func:`make_sink` is the ``importobot.event_sinks`` entry point. See
docs/siem.md.
"""

from __future__ import annotations

from importobot_enterprise.siem.config import ConnectorSpec
from importobot_enterprise.siem.connectors import (
    Connector,
    ElasticConnector,
    JsonlFileConnector,
    SplunkHECConnector,
    SyslogConnector,
    connector_for,
)
from importobot_enterprise.siem.errors import DeliveryError, SIEMError, SpoolError
from importobot_enterprise.siem.manager import SIEMManager, make_sink
from importobot_enterprise.siem.spool import Spool

__all__ = [
    "Connector",
    "ConnectorSpec",
    "DeliveryError",
    "ElasticConnector",
    "JsonlFileConnector",
    "SIEMError",
    "SIEMManager",
    "SplunkHECConnector",
    "Spool",
    "SpoolError",
    "SyslogConnector",
    "connector_for",
    "make_sink",
]
