"""Observers of a rotation run: the progress bar, and the seam for security events.

:func:`~importobot_enterprise.key_rotation.rotate_store` and
:func:`~importobot_enterprise.key_rotation.verify_store` call an observer when a run
starts, as it progresses, and when it finishes or fails. Every argument is a
:class:`~importobot_enterprise.key_rotation.RotationReport` (store label, key
fingerprints, counts and ids) or an exception whose message names stores, ids and
fingerprints only: never a key, a token or a plaintext (D6). An events observer maps
``started`` / ``finished`` / ``failed`` to the ``rotation.started`` /
``rotation.finished`` / ``rotation.failed`` security events (D23); the CLI's progress
bar is another observer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from datetime import datetime

    from importobot_enterprise.key_rotation.engine import RotationReport

__all__ = [
    "PHASES",
    "CallbackObserver",
    "EventsObserver",
    "Observers",
    "RotationLogObserver",
    "RotationObserver",
]

#: The phases ``progress`` reports: re-encrypting, then proving every value is done.
PHASES = ("rotating", "verifying")


class RotationObserver:
    """Hooks on one run over one store. Override what you need; each default does nothing.

    ``needs_total``: set it when ``progress`` wants the store's size (one extra
    ``COUNT(*)`` or file read per phase); otherwise ``total`` is ``None``.
    """

    needs_total: bool = False

    def started(self, report: RotationReport) -> None:
        """The run begins (the report holds the store, fingerprints, dry_run, verify_only)."""

    def progress(self, report: RotationReport, phase: str, done: int, total: int | None) -> None:
        """``done`` values of ``total`` (``None``: unknown) went through ``phase``."""

    def finished(self, report: RotationReport) -> None:
        """The run ended; ``report.complete`` says whether every value is under the target."""

    def failed(self, report: RotationReport, error: BaseException) -> None:
        """The run stopped on ``error`` (the report holds the counts so far); nothing lost.

        An :class:`importobot.exceptions.ImportobotError`'s message names stores, ids
        and fingerprints only; of any other exception, report its type name.
        """


class Observers(RotationObserver):
    """Several observers, called in order."""

    def __init__(self, observers: Iterable[RotationObserver]) -> None:
        self.observers = list(observers)
        self.needs_total = any(o.needs_total for o in self.observers)

    def started(self, report: RotationReport) -> None:
        for o in self.observers:
            o.started(report)

    def progress(self, report: RotationReport, phase: str, done: int, total: int | None) -> None:
        for o in self.observers:
            o.progress(report, phase, done, total)

    def finished(self, report: RotationReport) -> None:
        for o in self.observers:
            o.finished(report)

    def failed(self, report: RotationReport, error: BaseException) -> None:
        for o in self.observers:
            o.failed(report, error)


class CallbackObserver(RotationObserver):
    """The ``progress=callback(done, total)`` argument of earlier releases, as an observer
    (rotation phase only)."""

    needs_total = True

    def __init__(self, callback: Callable[[int, int | None], None]) -> None:
        self.callback = callback

    def progress(self, report: RotationReport, phase: str, done: int, total: int | None) -> None:
        if phase == "rotating":
            self.callback(done, total)


class EventsObserver(RotationObserver):
    """``rotation.started`` / ``rotation.finished`` / ``rotation.failed`` security events
    (D23) through :mod:`importobot.events`, when a sink is configured for the project at
    ``root``. Fingerprints, the store label and counts only; never a value."""

    def __init__(self, root: str | None = None) -> None:
        self.root = root

    def _emit(self, type: str, report: RotationReport, **extra: object) -> None:
        from importobot.events import configured, emit_event

        if not configured(self.root):
            return
        counts = {
            name: getattr(report, name)
            for name in ("total", "rotated", "already_current", "undecryptable", "skipped")
        }
        payload: dict[str, object] = {
            "store": report.store,
            "target": report.target_fingerprint,
            "sources": ",".join(report.source_fingerprints),
            "dry_run": report.dry_run,
            "verify_only": report.verify_only,
        }
        payload.update(extra)
        emit_event(
            type,
            root=self.root,
            severity="error" if type == "rotation.failed" else "info",
            fingerprint=report.target_fingerprint,
            counts=counts,
            payload=payload,
        )

    def started(self, report: RotationReport) -> None:
        self._emit("rotation.started", report)

    def finished(self, report: RotationReport) -> None:
        self._emit("rotation.finished", report, verified=bool(report.verified))

    def failed(self, report: RotationReport, error: BaseException) -> None:
        from importobot.exceptions import ImportobotError

        reason = str(error) if isinstance(error, ImportobotError) else type(error).__name__
        self._emit("rotation.failed", report, error=reason)


class RotationLogObserver(RotationObserver):
    """Appends one record per finished run to the project's rotation log (D25).

    The project is the one holding ``root`` (default: the working directory). A record is
    written only where the project keeps key records: the ``rotation-log`` key is set,
    the log or the key registry or a wrapped-key file exists, or a ``compliance`` table is
    configured; elsewhere (a scratch directory, importobot's own checkout) nothing is
    written. Dry runs and ``--verify`` runs change nothing, so they are not recorded. The
    record holds the store label (paths relative to the project, DSNs without secrets),
    fingerprints, counts, start, finish and whether the verification pass proved the
    store: never a value.

    A log that cannot be written never changes the run's outcome: one line on stderr.
    """

    def __init__(self, root: str | None = None) -> None:
        self.root = root
        self.path: str | None = None
        self._project: object | None = None
        self._started: datetime | None = None

    def _target(self) -> str | None:
        """The log path, or ``None`` when this project keeps no key records."""
        import os

        from importobot.exceptions import ConfigError
        from importobot.project import load_project
        from importobot_enterprise.compliance.rotation_log import log_path

        try:
            project = load_project(self.root)
            path = log_path(project)
        except ConfigError as exc:
            _warn(f"rotation log not written: {exc}")
            return None
        self._project = project
        settings = project.settings
        configured = settings is not None and (
            settings.plugin("rotation-log") is not None or settings.plugin("compliance") is not None
        )
        if configured or any(
            os.path.lexists(p) for p in (path, project.registry_path(), project.wrapped_key_path())
        ):
            return path
        return None

    def started(self, report: RotationReport) -> None:
        from importobot.keys.age import utc_now

        self._started = utc_now()

    def finished(self, report: RotationReport) -> None:
        if report.dry_run or report.verify_only:
            return  # both change nothing (``rotate --verify`` promises it); a rotation's
            # own verification pass is the record's ``verified``
        from importobot.keys.age import utc_now
        from importobot_enterprise.compliance.rotation_log import (
            COUNTS,
            RotationRecord,
            append_record,
        )

        finished = utc_now()
        path = self._target()
        if path is None:
            return
        counts = {name: getattr(report, name) for name in COUNTS}
        record = RotationRecord(
            store=self._label(report.store),
            mode="verify" if report.verify_only else "rotate",
            sources=tuple(report.source_fingerprints),
            target=report.target_fingerprint,
            started=self._started or finished,
            finished=finished,
            verified=report.verified,
            complete=report.complete,
            resumed=report.resumed,
            counts=counts,
            tool=_tool(),
        )
        try:
            append_record(path, record)
        except OSError as exc:
            _warn(f"rotation log {path} not written: {exc.strerror or exc}")
        self.path = path

    def _label(self, store: str) -> str:
        """The store label without secrets; a path inside the project relative to it."""
        import os

        from importobot._text import printable
        from importobot.events import redact

        project = self._project
        rel = getattr(project, "rel", None)
        if rel is not None and os.path.isabs(store):
            inside = rel(store)
            if inside is not None:
                store = inside
        for kind in ("sqlite:",):
            if store.startswith(kind) and os.path.isabs(store[len(kind) :].split(":", 1)[0]):
                path, _, rest = store[len(kind) :].partition(":")
                inside = rel(path) if rel is not None else None
                if inside is not None:
                    store = f"{kind}{inside}:{rest}"
        return printable(redact(store))


def _tool() -> str:
    from importobot import __version__

    return f"importobot {__version__}"


def _warn(message: str) -> None:
    import sys

    print(f"importobot: {message}", file=sys.stderr)
