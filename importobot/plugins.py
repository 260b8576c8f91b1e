"""Plugins: the one place importobot looks up entry points, and the one missing-extra message.

The base package never imports ``importobot_enterprise``; what an extra adds is found through
entry-point groups (DESIGN "Layout"):

- ``importobot.commands``: CLI commands (``rotate``, ``kek``, ``hsm``, ``events``,
  ``compliance``), listed by name and imported only when invoked (D18);
- ``importobot.retire_checks``: ``key retire --store`` asks whether a store still holds
  values under a key;
- ``importobot.event_sinks``: where :func:`importobot.events.emit` hands events, looked up
  only when configuration names a sink;
- ``importobot.kek_backends``: key-encrypting-key backends by URI scheme (D24).

Nothing here runs at import time: :mod:`importlib.metadata` is imported on the first lookup,
so ``importobot --version`` and a hook with no plugin configured never scan entry points.
"""

from __future__ import annotations

from importobot.exceptions import ImportobotError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from importlib.metadata import EntryPoint
    from typing import Any

__all__ = [
    "COMMANDS",
    "EVENT_SINKS",
    "EXTRA_COMMANDS",
    "GROUPS",
    "KEK_BACKENDS",
    "RETIRE_CHECKS",
    "MissingExtraError",
    "entry_points",
    "load",
    "missing_extra_message",
]

COMMANDS = "importobot.commands"
RETIRE_CHECKS = "importobot.retire_checks"
EVENT_SINKS = "importobot.event_sinks"
KEK_BACKENDS = "importobot.kek_backends"
#: Every group importobot reads.
GROUPS = (COMMANDS, RETIRE_CHECKS, EVENT_SINKS, KEK_BACKENDS)

#: Commands an extra ships (name -> extra): without the extra they still exist, and say
#: which extra to install.
EXTRA_COMMANDS = {
    "rotate": "enterprise",
    "kek": "enterprise",
    "hsm": "enterprise",
    "events": "enterprise",
    "compliance": "enterprise",
}


def missing_extra_message(
    feature: str, extra: str = "enterprise", detail: str | None = None
) -> str:
    """The one wording: ``"`importobot rotate` needs the 'enterprise' extra: pip install …"``.

    ``feature`` is what the user asked for, as they would recognise it (a command in
    backticks, or e.g. "the pkcs11: key backend"); ``detail`` says what is missing.
    """
    message = f"{feature} needs the '{extra}' extra: pip install 'importobot[{extra}]'"
    return f"{message} ({detail})" if detail else message


class MissingExtraError(ImportobotError):
    """A plugin is not installed, or its extra's dependencies are missing (exit 2).

    ``installed`` is false when no entry point of that name exists at all (so a caller can
    tell "not a command" from "a command whose dependencies are missing").
    """

    def __init__(
        self, feature: str, extra: str = "enterprise", detail: str | None = None, *, installed: bool
    ) -> None:
        super().__init__(missing_extra_message(feature, extra, detail))
        self.feature = feature
        self.extra = extra
        self.installed = installed


def entry_points(group: str) -> dict[str, EntryPoint]:
    """The entry points of ``group`` by name (a scan of the installed distributions)."""
    from importlib.metadata import entry_points as scan

    return {ep.name: ep for ep in scan(group=group)}


def load(group: str, name: str, *, feature: str, extra: str = "enterprise") -> Any:
    """Import and return entry point ``name`` of ``group``.

    Raises :class:`MissingExtraError` (the one message, naming ``feature`` and ``extra``)
    when the entry point does not exist or its module cannot be imported.
    """
    entry = entry_points(group).get(name)
    if entry is None:
        raise MissingExtraError(feature, extra, "it is not installed", installed=False)
    try:
        return entry.load()
    except ImportError as exc:
        missing = getattr(exc, "name", None) or "a module"
        raise MissingExtraError(feature, extra, f"missing {missing}", installed=True) from None
