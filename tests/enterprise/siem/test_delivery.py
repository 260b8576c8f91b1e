"""The deliverer's bookkeeping with scripted connectors: what each answer does to the cursor,
the counters and the backoff (the real connectors are tested against real endpoints)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from importobot.events import SecurityEvent
from importobot_enterprise.siem import DeliveryError, SIEMManager, Spool
from importobot_enterprise.siem.config import ConnectorSpec
from importobot_enterprise.siem.connectors import Connector
from importobot_enterprise.siem.delivery import BACKOFF_CAP, backoff, drain


class Scripted(Connector):
    """Answers each batch from a script: a list of statuses, an exception, or "ok"."""

    def __init__(self, script: list[object], name: str = "scripted") -> None:
        super().__init__(ConnectorSpec(name=name, type="jsonl", url=f"/nonexistent/{name}"))
        self.script = list(script)
        self.batches: list[list[str]] = []

    def deliver(self, events: Sequence[SecurityEvent], deadline: float) -> list[str]:
        self.batches.append([e.id for e in events])
        answer = self.script.pop(0) if self.script else "ok"
        if isinstance(answer, BaseException):
            raise answer
        if answer == "ok":
            return ["ok"] * len(events)
        assert isinstance(answer, list)
        return answer


def _setup(spool_home: Path, connector: Connector, n: int) -> tuple[Spool, str, list[str]]:
    spool = Spool(str(spool_home))
    cid = spool.register(connector.spec)
    events = [SecurityEvent("custom.e", payload={"n": i}) for i in range(n)]
    for event in events:
        spool.append(event.to_dict(), [cid])
    return spool, cid, [e.id for e in events]


def test_backoff_grows_with_jitter_and_a_cap() -> None:
    assert 0.25 <= backoff(1) <= 0.5
    assert 2.0 <= backoff(4) <= 4.0
    assert BACKOFF_CAP / 2 <= backoff(100) <= BACKOFF_CAP
    assert len({round(backoff(8), 6) for _ in range(20)}) > 1  # jittered


def test_a_connector_bug_is_an_error_line_not_a_crash(spool_home: Path) -> None:
    connector = Scripted([RuntimeError("boom")])
    spool, cid, _ = _setup(spool_home, connector, 2)
    report = drain(spool, cid, connector)
    assert report.error == "internal error (RuntimeError)" and report.delivered == 0
    state = spool.load_state(cid)
    assert state["failures"] == 1 and state["next"] > time.time()
    assert drain(spool, cid, connector).deferred  # backoff is respected by the next run


def test_a_wrong_number_of_statuses_is_a_retry(spool_home: Path) -> None:
    connector = Scripted([["ok"]])
    spool, cid, _ = _setup(spool_home, connector, 2)
    report = drain(spool, cid, connector)
    assert report.delivered == 0 and report.error


def test_endless_again_becomes_a_failure(spool_home: Path) -> None:
    connector = Scripted([["again"]] * 40)
    spool, cid, _ = _setup(spool_home, connector, 1)
    report = drain(spool, cid, connector)
    assert report.error and "sent again later" in report.error
    assert len(connector.batches) == 33


def test_a_persistent_flush_waits_out_the_backoff(spool_home: Path) -> None:
    connector = Scripted([DeliveryError("down"), ["retry"]])
    spool, cid, ids = _setup(spool_home, connector, 3)
    report = drain(
        spool,
        cid,
        connector,
        deadline=time.monotonic() + 10,
        persistent=True,
        respect_backoff=False,
    )
    assert report.delivered == 3 and connector.batches[-1] == ids


def test_resent_after_a_possibly_delivered_failure_is_counted(spool_home: Path) -> None:
    connector = Scripted([DeliveryError("reset mid-batch", sent=True)])
    spool, cid, ids = _setup(spool_home, connector, 2)
    drain(spool, cid, connector)
    report = drain(spool, cid, connector, respect_backoff=False)
    assert report.delivered == 2 and report.resent == 2
    assert spool.load_state(cid)["resent"] == 2


def test_a_failure_before_sending_counts_no_resend(spool_home: Path) -> None:
    connector = Scripted([DeliveryError("refused")])
    spool, cid, _ = _setup(spool_home, connector, 2)
    drain(spool, cid, connector)
    report = drain(spool, cid, connector, respect_backoff=False)
    assert report.delivered == 2 and report.resent == 0


def test_an_unsafe_spool_is_a_report_not_an_exception(spool_home: Path, tmp_path: Path) -> None:
    connector = Scripted([])
    spool, cid, _ = _setup(spool_home, connector, 1)
    moved = tmp_path / "moved"
    spool_home.rename(moved)
    spool_home.symlink_to(moved)
    report = drain(spool, cid, connector)
    assert report.error and "symbolic link" in report.error


def test_a_spool_error_after_registration_is_one_line_and_counted(
    spool_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    connector = Scripted([])
    manager = SIEMManager([connector], wait=False)
    manager.emit_security_event("first", {"n": 1})
    manager.wait(5)
    moved = tmp_path / "moved"
    spool_home.rename(moved)
    spool_home.symlink_to(moved)
    event = manager.emit_security_event("second", {"n": 2})
    assert manager.dropped == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"importobot: events: spool: {spool_home} is a symbolic link; refused "
        f"(spooling is off) (event {event.id})"
    ]


def test_an_explicit_or_absent_spool(tmp_path: Path) -> None:
    memory = SIEMManager([Scripted([])], spool=None)
    memory.emit_security_event("x", {"n": 1})
    assert not memory.spool.durable
    mine = Spool(str(tmp_path / "own-spool"))
    explicit = SIEMManager([Scripted([])], spool=mine)
    explicit.emit_security_event("x", {"n": 1})
    assert explicit.spool is mine and (tmp_path / "own-spool" / "seg-0000000000000001").exists()
