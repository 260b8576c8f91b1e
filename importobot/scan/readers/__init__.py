"""Readers: pure functions from text to :class:`Candidate` values. None of them raises.

``dotenv``  ``.env`` files and shell ``export`` files (multi-line values included);
``lines``   any text: ``name = value`` / ``name: value`` / ``"name": "value"`` /
            ``ENV NAME value`` / ``--flag value`` assignments, line by line;
``yaml``    YAML context (compose ``environment:``, Actions ``env:``, block scalars,
            list items) and Kubernetes ``Secret``/``ConfigMap`` data.
"""

from __future__ import annotations

from importobot.scan.readers.base import Candidate

__all__ = ["Candidate"]
