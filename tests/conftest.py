"""Shared test fixtures: a clean importobot environment and real-service gates."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _clean_importobot_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """No test sees the developer's IMPORTOBOT_* settings (test-service variables stay), and
    the SIEM spool of a test that configures events is never the developer's."""
    for name in list(os.environ):
        if name.startswith("IMPORTOBOT_") and not name.startswith("IMPORTOBOT_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-state"))
    yield


def require_service(name: str, available: bool, why: str) -> None:
    """Skip when a real service is missing; fail instead under the test command.

    ``scripts/test`` sets IMPORTOBOT_TEST_REQUIRE_SERVICES=1 after starting every
    service, so a service test can never pass by skipping there.
    """
    if available:
        return
    message = f"{name} not available: {why}"
    if os.environ.get("IMPORTOBOT_TEST_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


#: Session fixtures for the real key services (SoftHSM2, OpenBao, moto's KMS): D24 tests.
pytest_plugins = ["tests.kek_services"]
