"""importobot: keep encryption keys out of git and keep them healthy.

Importing this package is deliberately cheap: it loads neither ``cryptography``
nor ``keyring`` nor ``click`` (the pre-commit hook starts on every commit).
``__version__`` is read from the installed package metadata on first access.
"""

from __future__ import annotations

__all__ = ["__version__"]


def __getattr__(name: str) -> str:
    # Lazy: importlib.metadata costs a few milliseconds the hook path never pays.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("importobot")
        except PackageNotFoundError:  # running from a source tree that is not installed
            value = "0+unknown"
        globals()["__version__"] = value
        return value
    raise AttributeError(f"module 'importobot' has no attribute {name!r}")
