"""importobot: keep encryption keys out of git and keep them healthy.

Importing this package is deliberately cheap: it loads neither ``cryptography``
nor ``keyring`` nor ``click`` (the pre-commit hook starts on every commit).
"""

from __future__ import annotations

from importobot._version import __version__

__all__ = ["__version__"]
