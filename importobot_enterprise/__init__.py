"""importobot_enterprise: rotation stores, PKCS#11 HSM, SIEM forwarding, compliance reports.

Installed with ``pip install 'importobot[enterprise]'``. It imports only the public
names of :mod:`importobot`; the base package never imports it.
"""

from __future__ import annotations

__all__: list[str] = []
