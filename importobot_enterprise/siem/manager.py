"""``SIEMManager``: importobot 0.1.5's fan-out of security events, made durable (D23).

Every event goes to the spool first (fsynced before :meth:`SIEMManager.emit` returns), naming
the connectors configured at that moment; one worker thread per connector then delivers
the spool's records oldest first, so one slow or failing connector never holds up another.

Two ways in:

* the library, as in 0.1.5: ``SIEMManager(connectors=[...])``, ``add_connector(c)``,
  ``emit_security_event(event_type, payload)`` (which waits for the delivery attempt, each
  connector within its own timeout), ``SIEMManager.from_config()``;
* the ``importobot.event_sinks`` entry point (:func:`make_sink`): hooks, ``check``, the
  ``key`` commands and rotation hand events to it; delivery runs in daemon threads that the
  command abandons :data:`HOOK_BUDGET` seconds after the forwarder started (DNS and TLS can
  block for seconds, so no in-line deadline could be kept); what is left stays spooled for
  the next run or ``importobot events flush``.

A spool error (disk full, read-only, permissions) never reaches the caller: one stderr line,
the event counted as dropped.
"""

from __future__ import annotations

import os
import sys
import threading
import time

from importobot.events import SecurityEvent, event_type
from importobot_enterprise.siem.config import DEFAULT_SPOOL_MAX, resolve
from importobot_enterprise.siem.connectors import Connector, connector_for
from importobot_enterprise.siem.delivery import DrainReport, drain
from importobot_enterprise.siem.errors import ConfigError, SpoolError
from importobot_enterprise.siem.spool import MemorySpool, Spool, default_directory

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

    from importobot.events import SinkConfig

__all__ = ["HOOK_BUDGET", "SIEMManager", "make_sink", "open_spool", "sink_config"]

#: Seconds after the forwarder was loaded (in a long run: after delivery last started) at
#: which a command stops waiting for delivery and leaves it to the next run or ``events
#: flush``. With the entry-point scan and the spool's fsync before it, a hook with a stuck
#: collector stays within 200 ms of the same hook with no connector (bench/events.py).
HOOK_BUDGET = 0.1
_LOADED_AT = time.monotonic()
_AUTO: Any = object()
_WARNED: set[str] = set()


def _warn(message: str, *, once: bool = False) -> None:
    if once:
        if message in _WARNED:
            return
        _WARNED.add(message)
    try:
        sys.stderr.write(f"importobot: events: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def open_spool(max_size: int = DEFAULT_SPOOL_MAX) -> Spool:
    """The user's spool. Raises :class:`SpoolError` when there is no state directory or the
    directory is unsafe (nothing falls back to ``/tmp``)."""
    path = default_directory()
    if path is None:
        raise SpoolError("no state directory (XDG_STATE_HOME and HOME are unset): spooling is off")
    spool = Spool(path, max_size=max_size)
    os.close(spool._dir())  # created and checked now, so a problem shows once, here
    return spool


def _legacy_dict(event: SecurityEvent) -> dict[str, Any]:
    """What a 0.1.5-style connector's ``send_event`` gets: the payload's fields at the top
    (as 0.1.5 sent them), every event field, ``event_type`` and ``timestamp``."""
    data = event.to_dict()
    return {**data["payload"], **data, "event_type": event.type, "timestamp": event.time_text}


class _Worker:
    """One connector's delivery thread: started on demand, drains, exits."""

    def __init__(self, manager: SIEMManager, cid: str, connector: Connector) -> None:
        self.manager = manager
        self.cid = cid
        self.connector = connector
        self.more = threading.Event()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.last: DrainReport | None = None

    def kick(self) -> None:
        with self.lock:
            self.more.set()
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(
                    target=self._run, name=f"importobot-siem-{self.connector.name}", daemon=True
                )
                self.thread.start()

    def _run(self) -> None:
        while True:
            with self.lock:
                if not self.more.is_set():
                    return
                self.more.clear()
            try:
                self.last = drain(self.manager.spool, self.cid, self.connector)
            except Exception as exc:  # never a traceback from a daemon thread
                self.last = DrainReport(self.connector.name)
                self.last.error = f"internal error ({type(exc).__name__})"
                return

    def join(self, deadline: float) -> bool:
        thread = self.thread
        if thread is None:
            return True
        thread.join(max(0.0, deadline - time.monotonic()))
        return not thread.is_alive()


class SIEMManager:
    """Fans security events out to connectors, through the durable spool.

    ``connectors``: importobot's connectors (:class:`SyslogConnector`,
    :class:`SplunkHECConnector`, :class:`ElasticConnector`, :class:`JsonlFileConnector`), or
    any object with 0.1.5's ``send_event(event_dict)`` (called directly, not spooled).
    ``spool``: a :class:`Spool`, ``None`` for no durability, or by default the user's spool
    (``$XDG_STATE_HOME/importobot/spool``).
    """

    def __init__(
        self,
        connectors: Iterable[Any] | None = None,
        *,
        spool: Spool | MemorySpool | None = _AUTO,
        spool_max: int = DEFAULT_SPOOL_MAX,
        wait: bool = True,
    ) -> None:
        self.connectors: list[Any] = list(connectors) if connectors is not None else []
        self._spool_arg = spool
        self._spool: Spool | MemorySpool | None = None
        self._spool_max = spool_max
        self._wait = wait
        self._workers: dict[str, _Worker] = {}
        self._lock = threading.Lock()
        self._burst: float | None = None  # when delivery last started from idle
        self.dropped = 0

    def __repr__(self) -> str:
        return f"SIEMManager(connectors={self.connectors!r})"

    # -- 0.1.5 ---------------------------------------------------------------------------
    def add_connector(self, connector: Any) -> None:
        """Register a connector that receives the events emitted from now on."""
        self.connectors.append(connector)

    def emit_security_event(
        self, event_type_name: str, payload: Mapping[str, Any] | None = None, **fields: Any
    ) -> SecurityEvent:
        """Build an event (type ``custom.<event_type>`` unless in the vocabulary; ``payload``
        as its payload: PARAM-NAME keys, key-shaped values replaced by fingerprints), spool
        it and deliver it. Returns the event (its ``id`` is the receivers' dedupe key).

        Raises :class:`importobot.events.EventError` (a ``ValueError``) for a payload key
        that is not an RFC 5424 PARAM-NAME; a delivery or spool problem is never raised.
        """
        event = SecurityEvent(event_type(event_type_name), payload=payload, **fields)
        self.emit(event)
        if self._wait:
            self.wait()
        return event

    # -- the sink interface ----------------------------------------------------------------
    @property
    def spool(self) -> Spool | MemorySpool:
        if self._spool is None:
            with self._lock:
                if self._spool is None:
                    self._spool = self._open_spool()
        return self._spool

    def _open_spool(self) -> Spool | MemorySpool:
        if self._spool_arg is None:
            return MemorySpool(self._spool_max)
        if self._spool_arg is not _AUTO:
            spool: Spool | MemorySpool = self._spool_arg
            return spool
        try:
            return open_spool(self._spool_max)
        except SpoolError as exc:
            _warn(f"{exc}; events are sent once, best effort", once=True)
            return MemorySpool(self._spool_max)

    def _ours(self) -> list[Connector]:
        return [c for c in self.connectors if isinstance(c, Connector)]

    def emit(self, event: SecurityEvent) -> None:
        """Spool ``event`` for every connector and start delivering it. Never raises: a spool
        error is one stderr line and the event counted as dropped."""
        ours = self._ours()
        if ours:
            spool = self.spool
            cids: list[str] = []
            try:
                cids = [self._register(c) for c in ours]
                spool.append(event.to_dict(), cids)
            except SpoolError as exc:
                self.dropped += 1
                _warn(f"{exc} (event {event.id})")
                try:
                    if cids:
                        spool.add_drops(cids)
                except (SpoolError, OSError):
                    pass
            else:
                if not self._busy():
                    self._burst = time.monotonic()
                for connector, cid in zip(ours, cids, strict=True):
                    self._worker(cid, connector).kick()
        for other in self.connectors:
            if isinstance(other, Connector):
                continue
            try:
                other.send_event(_legacy_dict(event))
            except Exception as exc:  # isolated: one connector never stops another
                _warn(f"connector {type(other).__name__} failed: {type(exc).__name__}")

    def _register(self, connector: Connector) -> str:
        cid = connector.spec.cid()
        if cid not in self._workers:
            cid = self.spool.register(connector.spec)
        return cid

    def _worker(self, cid: str, connector: Connector) -> _Worker:
        with self._lock:
            worker = self._workers.get(cid)
            if worker is None:
                worker = self._workers[cid] = _Worker(self, cid, connector)
            return worker

    def _busy(self) -> bool:
        return any(
            w.thread is not None and w.thread.is_alive() for w in list(self._workers.values())
        )

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the delivery threads (at most ``timeout``; default: the longest connector
        timeout, times three). True when all finished."""
        if timeout is None:
            longest = max((c.spec.timeout for c in self._ours()), default=1.0)
            timeout = longest * 3
        deadline = time.monotonic() + timeout
        return all(worker.join(deadline) for worker in list(self._workers.values()))

    def close(self) -> None:
        """At exit: wait for delivery until :data:`HOOK_BUDGET` after the forwarder loaded (in a
        long run, half of it after delivery last started), then leave the daemon threads —
        their records stay spooled for the next run or ``events flush``; close connectors."""
        burst = self._burst or _LOADED_AT
        deadline = max(_LOADED_AT + HOOK_BUDGET, burst + HOOK_BUDGET / 2)
        self.wait(max(0.0, deadline - time.monotonic()))
        for connector in self._ours():
            worker = self._workers.get(connector.spec.cid())
            if worker is None or worker.thread is None or not worker.thread.is_alive():
                try:
                    connector.close()
                except Exception:  # noqa: S110 - closing is best effort
                    pass

    def flush(self, timeout: float = 60.0) -> list[DrainReport]:
        """Deliver this manager's connectors' backlog, retrying with backoff until empty or
        ``timeout``; one report per connector."""
        deadline = time.monotonic() + timeout
        results: list[DrainReport] = []
        threads = []
        for connector in self._ours():
            cid = self._register(connector)

            def run(c: Connector = connector, k: str = cid) -> None:
                results.append(
                    drain(
                        self.spool, k, c, deadline=deadline, persistent=True, respect_backoff=False
                    )
                )

            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()) + 1.0)
        return results

    # -- configuration ---------------------------------------------------------------------
    @classmethod
    def from_config(cls, path: str | os.PathLike[str] | None = None) -> SIEMManager:
        """The manager for the configuration in force: the repository's (found from ``path``,
        a directory or a configuration file, as ``check`` finds it; default: the working
        directory) plus the outside file. Raises :class:`ConfigError` for a refused
        connector (the message says which and why, never a secret)."""
        resolved = resolve(sink_config(path))
        if resolved.problems:
            more = len(resolved.problems) - 1
            tail = f" (and {more} more)" if more else ""
            raise ConfigError(resolved.problems[0] + tail)
        return cls(
            [connector_for(spec) for spec in resolved.connectors], spool_max=resolved.spool_max
        )


def sink_config(
    path: str | os.PathLike[str] | None = None, *, user_file: bool = False
) -> SinkConfig:
    """The :class:`SinkConfig` in force at ``path`` (as :mod:`importobot.events` builds it).

    ``user_file``: read ``$XDG_CONFIG_HOME/importobot/events.toml`` even when neither the
    repository nor ``IMPORTOBOT_EVENTS_CONFIG`` turns events on (``events test``)."""
    from importobot.config import load_toml_file
    from importobot.events import CONFIG_ENV, SinkConfig
    from importobot.project import load_project

    start = os.fspath(path) if path is not None else None
    config_file = None
    if start is not None and os.path.isfile(start):
        config_file = start
        start = os.path.dirname(os.path.abspath(start))
    project = load_project(start, config_file)
    table = project.settings.plugin("events") if project.settings is not None else None
    source = project.settings.source if project.settings is not None else None
    outside = os.environ.get(CONFIG_ENV) or None
    outside_table = None
    if outside is None and (table is not None or user_file):
        base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
        candidate = os.path.join(base, "importobot", "events.toml")
        outside = candidate if os.path.isfile(candidate) else None
    if outside is not None:
        outside_table = load_toml_file(outside).get("events")
    return SinkConfig(
        project.root,
        repository_source=source,
        repository_table=table,
        outside_source=outside,
        outside_table=outside_table,
    )


def make_sink(config: SinkConfig) -> SIEMManager | None:
    """The ``importobot.event_sinks`` factory: a manager for the connectors ``config`` puts
    in force, or ``None`` when it names none. Refused connectors are one stderr line each."""
    resolved = resolve(config)
    for problem in resolved.problems:
        _warn(problem)
    if not resolved.connectors:
        return None
    connectors: list[Connector] = []
    for spec in resolved.connectors:
        connector = connector_for(spec)
        if spec.needs_secret and spec.origin != "repository":
            if not os.environ.get(spec.token_variable):
                _warn(
                    f"connector {spec.name!r}: {spec.token_variable} is not set; its events "
                    "are spooled until it is",
                    once=True,
                )
        connectors.append(connector)
    return SIEMManager(connectors, spool_max=resolved.spool_max, wait=False)
