"""Fixtures for the SIEM tests: a throwaway PKI, a real rsyslog (session), local HTTPS
wire-format endpoints, and a private spool per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from importobot import events
from tests.conftest import require_service
from tests.enterprise.siem.servers import PKI, Rsyslog, WireEndpoint, make_pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def _rsyslog_session(tmp_path_factory: pytest.TempPathFactory, pki: PKI) -> Iterator[Rsyslog]:
    ok, why = Rsyslog.available()
    require_service("rsyslog", ok, why)
    server = Rsyslog(tmp_path_factory.mktemp("rsyslog"), pki)
    server.check_config()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def rsyslog(_rsyslog_session: Rsyslog) -> Rsyslog:
    """The session's rsyslog, running (a test that stopped it gets it started again)."""
    _rsyslog_session.start()
    return _rsyslog_session


@pytest.fixture(autouse=True)
def spool_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private XDG state and config home per test; no sink cached across tests."""
    state = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    events._reset()
    yield state / "importobot" / "spool"
    events._reset()


@pytest.fixture
def hec(pki: PKI) -> Iterator[WireEndpoint]:
    endpoint = WireEndpoint("hec", pki, "hec-" + os.urandom(12).hex())
    yield endpoint
    endpoint.close()


@pytest.fixture
def bulk(pki: PKI) -> Iterator[WireEndpoint]:
    endpoint = WireEndpoint("bulk", pki, "es-" + os.urandom(12).hex())
    yield endpoint
    endpoint.close()
