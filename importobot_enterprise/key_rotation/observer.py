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
    from importobot_enterprise.key_rotation.engine import RotationReport

__all__ = ["PHASES", "CallbackObserver", "EventsObserver", "Observers", "RotationObserver"]

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
