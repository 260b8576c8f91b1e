"""Delivery from the spool: per connector, oldest first, with backoff and jitter (D23).

:func:`drain` sends one connector's records in batches. Before a batch goes out its end is
saved as "in flight", so after a crash the records sent again are counted as possible
duplicates (receivers drop them by the event id); after the connector acknowledges, the
cursor moves past them. A ``spool.dropped`` event announcing records the spool had to drop
is the first thing of the next batch. A failure saves the error and the time of the next
attempt (exponential backoff, jitter) in the connector's state, which every process shares.
"""

from __future__ import annotations

import random
import time

from importobot.events import EventError, SecurityEvent
from importobot_enterprise.siem.errors import DeliveryError, SpoolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from importobot_enterprise.siem.connectors import Connector
    from importobot_enterprise.siem.spool import MemorySpool, Spool

__all__ = ["BACKOFF_BASE", "BACKOFF_CAP", "DrainReport", "backoff", "drain", "dropped_event"]

BACKOFF_BASE = 0.5
BACKOFF_CAP = 300.0
#: Batches sent again at once (an "again" answer) before it counts as a failure.
_AGAIN_MAX = 32


def backoff(failures: int) -> float:
    """Seconds to wait after ``failures`` failures in a row: exponential, capped, jittered
    (half fixed, half random, so many hooks do not retry in step)."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * float(2 ** min(max(failures, 1) - 1, 20)))
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not crypto


class DrainReport:
    """What one :func:`drain` did for one connector."""

    __slots__ = (
        "busy",
        "corrupt",
        "deferred",
        "delivered",
        "duplicates",
        "error",
        "name",
        "parked",
        "resent",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.delivered = 0
        self.duplicates = 0
        self.parked = 0
        self.corrupt = 0
        self.resent = 0
        self.error: str | None = None
        self.busy = False
        self.deferred = False


def dropped_event(count: int, connector: str) -> SecurityEvent:
    """The ``spool.dropped`` event: how many records this connector lost (spool full or
    unwritable)."""
    return SecurityEvent(
        "spool.dropped",
        severity="warning",
        counts={"dropped": count},
        payload={"connector": connector},
    )


def _fail(state: dict[str, Any], error: str) -> None:
    state["failures"] = int(state.get("failures", 0)) + 1
    state["next"] = time.time() + backoff(state["failures"])
    state["last_error"] = error[:300]
    state["last_error_at"] = time.time()


def drain(
    spool: Spool | MemorySpool,
    cid: str,
    connector: Connector,
    *,
    deadline: float | None = None,
    persistent: bool = False,
    respect_backoff: bool = True,
    lock_timeout: float = 2.0,
) -> DrainReport:
    """Deliver ``cid``'s records through ``connector`` until none is left, or ``deadline``
    (``time.monotonic()``) passes, or (unless ``persistent``) a failure."""
    report = DrainReport(connector.name)
    wait = lock_timeout if deadline is None else max(0.0, deadline - time.monotonic())
    try:
        lock = spool.delivery_lock(cid, wait)
    except SpoolError as exc:
        report.error = str(exc)
        return report
    if lock is None:
        report.busy = True
        return report
    try:
        _drain_locked(spool, cid, connector, report, deadline, persistent, respect_backoff)
    except SpoolError as exc:
        report.error = str(exc)
    finally:
        spool.release(cid, lock)
    return report


def _drain_locked(
    spool: Spool | MemorySpool,
    cid: str,
    connector: Connector,
    report: DrainReport,
    deadline: float | None,
    persistent: bool,
    respect_backoff: bool,
) -> None:
    state = spool.load_state(cid)
    if respect_backoff and float(state.get("next") or 0) > time.time():
        report.deferred = True
        report.error = state.get("last_error")
        return
    inflight = state.get("inflight")
    resend_until = (int(inflight[0]), int(inflight[1])) if inflight else None
    again = 0
    while deadline is None or time.monotonic() < deadline:
        pos = (int(state["pos"][0]), int(state["pos"][1]))
        skip_entries = [s for s in state.get("skip", []) if (s[1], s[2]) > pos]
        state["skip"] = skip_entries
        pending, _ = spool.drops(cid)
        batch = spool.read(
            cid, pos, limit=connector.batch_limit, skip=frozenset(s[0] for s in skip_entries)
        )
        corrupt = batch.corrupt  # counted once the cursor passes them
        events: list[SecurityEvent] = []
        ends: list[tuple[int, int] | None] = []
        if pending:
            events.append(dropped_event(pending, connector.name))
            ends.append(None)
        for end, data in batch.records:
            try:
                events.append(SecurityEvent.from_dict(data))
            except (EventError, TypeError, ValueError):
                corrupt += 1
                continue
            ends.append(end)
        if not events:
            state["pos"] = list(batch.end)
            state["inflight"] = None
            state["corrupt"] = int(state.get("corrupt", 0)) + corrupt
            report.corrupt += corrupt
            spool.save_state(cid, state)
            return
        if resend_until is not None:
            resent = sum(1 for end in ends if end is not None and end <= resend_until)
            report.resent += resent
            state["resent"] = int(state.get("resent", 0)) + resent
        state["inflight"] = list(batch.end)
        spool.save_state(cid, state)
        batch_deadline = time.monotonic() + connector.spec.timeout * 3
        if deadline is not None:
            batch_deadline = min(batch_deadline, deadline)
        error: str | None = None
        try:
            statuses = connector.deliver(events, batch_deadline)
        except DeliveryError as exc:
            error = connector._scrub(str(exc))
            if exc.sent:  # some may have arrived: what is sent again may be a duplicate
                resend_until = (int(batch.end[0]), int(batch.end[1]))
            else:  # nothing reached the receiver: a resend duplicates nothing
                state["inflight"] = None
        except Exception as exc:  # a connector's bug must not stop the others
            error = f"internal error ({type(exc).__name__})"
        if error is None:
            hold = _apply(spool, cid, state, report, events, ends, statuses, pending)
            if hold is None:
                state["pos"] = list(batch.end)
                state["inflight"] = None
                state["corrupt"] = int(state.get("corrupt", 0)) + corrupt
                report.corrupt += corrupt
                state["failures"] = 0
                state["next"] = 0.0
                state["last_ok"] = time.time()
                again = 0
            elif hold == "again" and again < _AGAIN_MAX:
                again += 1
            else:
                error = "the receiver asked for events to be sent again later"
        if error is None:
            spool.save_state(cid, state)
            continue
        # The batch failed: back off (and, when persistent, wait and try again).
        report.error = error
        _fail(state, error)
        spool.save_state(cid, state)
        if not persistent or deadline is None:
            return
        pause = float(state["next"]) - time.time()
        if time.monotonic() + pause >= deadline:
            return
        time.sleep(max(0.0, pause))


def _apply(
    spool: Spool | MemorySpool,
    cid: str,
    state: dict[str, Any],
    report: DrainReport,
    events: list[SecurityEvent],
    ends: list[tuple[int, int] | None],
    statuses: list[str],
    pending: int,
) -> str | None:
    """Count what the connector said; move the cursor past the acknowledged prefix. Returns
    the first status that holds the rest back (``again``/``retry``), or ``None``."""
    if len(statuses) != len(events):
        return "retry"
    hold: str | None = None
    for event, end, status in zip(events, ends, statuses, strict=True):
        if status.startswith("park:"):
            spool.park(cid, event.to_dict(), status[5:])
            report.parked += 1
            state["parked"] = int(state.get("parked", 0)) + 1
            if hold is None:
                if end is not None:
                    state["pos"] = list(end)
            elif end is not None:
                state["skip"] = [*state.get("skip", []), [event.id, end[0], end[1]]][-64:]
            continue
        if hold is not None:
            continue
        if status in ("ok", "dup"):
            if end is None:
                spool.announced(cid, pending)
            else:
                state["pos"] = list(end)
                if status == "dup":
                    report.duplicates += 1
                    state["duplicates"] = int(state.get("duplicates", 0)) + 1
                report.delivered += 1
                state["delivered"] = int(state.get("delivered", 0)) + 1
            continue
        hold = "again" if status == "again" else "retry"
    return hold
