"""A recording event sink, installed for real: a ``*.dist-info`` with an ``entry_points.txt``
in a directory put on ``sys.path`` (``PYTHONPATH`` for a subprocess), so events reach it
through ``importobot.event_sinks`` exactly as they reach the enterprise SIEM sink.

    env = install(tmp_path)        # PYTHONPATH, IMPORTOBOT_TEST_SINK_FILE, ..._SITE
    subprocess.run([...hook...], env={**os.environ, **env})
    events = recorded(env)         # [{"event": {...}, "config": {...}}, ...]

In-process: ``monkeypatch.syspath_prepend(site)`` then ``importobot.events._reset()``; the
sink module keeps what it got in ``importobot_test_sink.RECORDED`` too.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

SINK_MODULE = "importobot_test_sink"

_SOURCE = '''
"""Test sinks for importobot.event_sinks (written by tests/eventsink.py)."""
import json
import os

RECORDED = []


def _config(config):
    return {
        "root": config.root,
        "repository_source": config.repository_source,
        "repository_table": config.repository_table,
        "outside_source": config.outside_source,
        "outside_table": config.outside_table,
    }


class Recorder:
    def __init__(self, config):
        self.config = _config(config)

    def emit(self, event):
        record = {"event": event.to_dict(), "repr": repr(event), "config": self.config}
        RECORDED.append(record)
        path = os.environ.get("IMPORTOBOT_TEST_SINK_FILE")
        if path:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\\n")

    def close(self):
        path = os.environ.get("IMPORTOBOT_TEST_SINK_FILE")
        if path:
            with open(path + ".closed", "a", encoding="utf-8") as handle:
                handle.write("closed\\n")


def record(config):
    return Recorder(config)


def decline(config):
    return None


class _Failing:
    def emit(self, event):
        raise RuntimeError("connector said: " + os.environ.get("IMPORTOBOT_TEST_SINK_SECRET", "x"))


def fail_on_emit(config):
    return _Failing()


def fail_on_start(config):
    raise ValueError("cannot start: " + os.environ.get("IMPORTOBOT_TEST_SINK_SECRET", "x"))
'''


def only_test_sinks(monkeypatch: Any) -> None:
    """In this process, ``importobot.event_sinks`` lists only this test distribution's sinks
    (the installed SIEM forwarder of ``importobot_enterprise`` is left out)."""
    from importobot import plugins

    real = plugins.entry_points

    def filtered(group: str) -> dict[str, Any]:
        found = real(group)
        if group != plugins.EVENT_SINKS:
            return found
        return {n: ep for n, ep in found.items() if ep.value.startswith(SINK_MODULE + ":")}

    monkeypatch.setattr(plugins, "entry_points", filtered)


def install(
    directory: Path,
    sinks: dict[str, str] | None = None,
    record_file: Path | None = None,
) -> dict[str, str]:
    """Write the sink distribution under ``directory``; return the environment to use it.

    ``sinks`` maps entry-point names to factories in the module: ``record``, ``decline``,
    ``fail_on_emit``, ``fail_on_start`` (default: one recording sink named ``record``).
    """
    site = directory / "sink-site"
    dist = site / "importobot_test_sink-1.0.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: importobot-test-sink\nVersion: 1.0\n"
    )
    lines = [
        f"{name} = {SINK_MODULE}:{factory}"
        for name, factory in (sinks or {"record": "record"}).items()
    ]
    (dist / "entry_points.txt").write_text("[importobot.event_sinks]\n" + "\n".join(lines) + "\n")
    (site / f"{SINK_MODULE}.py").write_text(_SOURCE)
    record = record_file or directory / "sink-events.jsonl"
    return {
        "PYTHONPATH": os.pathsep.join([str(site), *sys.path]),
        "IMPORTOBOT_TEST_SINK_FILE": str(record),
        "IMPORTOBOT_TEST_SINK_SITE": str(site),
    }


def recorded(env: dict[str, str]) -> list[dict[str, object]]:
    """What the recording sink got, in order."""
    path = Path(env["IMPORTOBOT_TEST_SINK_FILE"])
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
