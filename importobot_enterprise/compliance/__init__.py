"""Compliance reports built from evidence (D25), and importobot 0.1.5's scorer.

``build_report(path)`` gathers what importobot can see — the keys and where they come
from, the registry, the rotation log, ``check``'s findings over the tree and history,
attestations and their commits — and judges each control of the mapping table
(``controls.json``: PCI DSS v4.0.1 3.6.1-3.6.1.4 and 3.7.1-3.7.8, NIST SP 800-57 Part 1
Rev. 5 §5.3 and §8.2). The result is a :class:`ComplianceReport`, the type 0.1.5's
:class:`EnterpriseComplianceEngine` returns, extended with statuses, evidence, citations
and fixes. See docs/compliance.md.
"""

from __future__ import annotations

from importobot_enterprise.compliance import model as _model
from importobot_enterprise.compliance.model import *  # noqa: F403 - the report's types
from importobot_enterprise.compliance.report import build_report

__all__ = ["build_report"]
__all__ += _model.__all__
