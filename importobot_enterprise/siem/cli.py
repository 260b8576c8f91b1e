"""``importobot events flush | status | test``: the spool and the connectors, for people and CI.

Registered through the ``importobot.commands`` entry point (``events``); the base CLI imports
this module only when ``events`` is invoked.

* ``flush [--timeout S] [--connector NAME ...]`` delivers the spool's backlog to every
  connector it names (each record to the connectors configured when it was emitted),
  retrying with backoff until empty or the timeout: exit 0 when nothing is left, 1 when a
  backlog remains, 2 when the spool cannot be used. For the end of a CI job.
* ``status [--format text|json]`` shows, per connector, the backlog, its oldest record's
  age, what was delivered, dropped, parked or found corrupt, and the last error.
* ``test`` sends one ``events.test`` event to each connector configured here (repository
  and outside file) and reports each result: exit 0 all delivered, 1 one failed, 2 a
  configuration problem.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import click

from importobot._text import plural
from importobot_enterprise.siem.config import ConnectorSpec, resolve
from importobot_enterprise.siem.connectors import connector_for
from importobot_enterprise.siem.delivery import DrainReport, drain
from importobot_enterprise.siem.errors import DeliveryError, SpoolError
from importobot_enterprise.siem.manager import open_spool, sink_config
from importobot_enterprise.siem.spool import Spool

__all__ = ["events"]


@click.group("events")
def events() -> None:
    """Security events: deliver the spool, show its state, test the connectors.

    Events go to the connectors configured in [tool.importobot.events] and in the file
    IMPORTOBOT_EVENTS_CONFIG names (secrets from IMPORTOBOT_EVENTS_TOKEN_<NAME>), through a
    spool under $XDG_STATE_HOME/importobot/spool. Exit codes: 0 done, 1 a backlog remains
    or a connector failed, 2 usage, configuration or spool error.
    """


def _position(state: dict[str, Any]) -> tuple[int, int]:
    pos = state.get("pos") or [0, 0]
    return int(pos[0]), int(pos[1])


def _selected(spool: Spool, names: tuple[str, ...]) -> dict[str, ConnectorSpec]:
    specs = spool.specs()
    if names:
        known = {spec.name for spec in specs.values()}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise click.UsageError(f"no connector named {unknown[0]!r} in the spool")
        specs = {cid: spec for cid, spec in specs.items() if spec.name in names}
    return specs


def _ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{int(seconds)}s"
    if seconds < 7200:
        return f"{int(seconds // 60)}m"
    if seconds < 172800:
        return f"{int(seconds // 3600)}h"
    return f"{int(seconds // 86400)}d"


@events.command("flush")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    help="Give up after this many seconds (what is left stays spooled).",
)
@click.option(
    "--connector",
    "names",
    multiple=True,
    help="Only this connector (repeatable; default: every connector with a backlog).",
)
def flush(timeout: float, names: tuple[str, ...]) -> None:
    """Deliver the spooled events; exit 1 if a backlog remains (end of a CI job)."""
    spool = open_spool()
    deadline = time.monotonic() + timeout
    todo: list[tuple[str, ConnectorSpec]] = []
    for cid, spec in _selected(spool, names).items():
        count, _ = spool.backlog(cid, _position(spool.load_state(cid)))
        if count or spool.drops(cid)[0]:
            todo.append((cid, spec))
    reports: dict[str, DrainReport] = {}

    def run(cid: str, spec: ConnectorSpec) -> None:
        connector = connector_for(spec)
        try:
            reports[cid] = drain(
                spool, cid, connector, deadline=deadline, persistent=True, respect_backoff=False
            )
        finally:
            connector.close()

    threads = [threading.Thread(target=run, args=item, daemon=True) for item in todo]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + 2.0)
    try:
        spool.compact()
    except SpoolError:
        pass
    left_total = 0
    for cid, spec in todo:
        report = reports.get(cid)
        state = spool.load_state(cid)
        left, _ = spool.backlog(cid, _position(state))
        pending = spool.drops(cid)[0]
        left_total += left + (1 if pending else 0)
        parts = []
        if report is not None:
            parts.append(f"delivered {report.delivered}")
            if report.duplicates:
                parts.append(f"{report.duplicates} already at the receiver")
            if report.resent:
                parts.append(f"{report.resent} sent again after an interruption")
            if report.corrupt:
                parts.append(f"{plural(report.corrupt, 'corrupt record')} skipped")
            if report.parked:
                parts.append(f"{report.parked} refused by the receiver (parked)")
        else:
            parts.append("did not finish in time")
        parts.append(f"{left} left")
        line = f"{spec.describe()}: " + ", ".join(parts)
        error = (report.error if report is not None else None) if left or pending else None
        if report is not None and report.busy:
            error = "another process is delivering to it"
        if error:
            line += f" (last error: {error})"
        click.echo(line)
    if not todo:
        click.echo("nothing to deliver")
    raise click.exceptions.Exit(1 if left_total else 0)


@events.command("status")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
def status(fmt: str) -> None:
    """Backlog per connector, oldest age, dropped and corrupt counts, last error."""
    spool = open_spool()
    now = time.time()
    rows: list[dict[str, Any]] = []
    for cid, spec in spool.specs().items():
        state = spool.load_state(cid)
        backlog, oldest = spool.backlog(cid, _position(state))
        pending, dropped = spool.drops(cid)
        rows.append(
            {
                "name": spec.name,
                "type": spec.type,
                "url": spec.url,
                "origin": spec.origin,
                "backlog": backlog,
                "oldest_age_seconds": None if oldest is None else round(now - oldest, 3),
                "delivered": int(state.get("delivered", 0)),
                "duplicates": int(state.get("duplicates", 0)),
                "resent": int(state.get("resent", 0)),
                "dropped": dropped,
                "dropped_unannounced": pending,
                "corrupt": int(state.get("corrupt", 0)),
                "parked": int(state.get("parked", 0)),
                "last_error": state.get("last_error"),
                "last_error_at": state.get("last_error_at"),
                "last_ok": state.get("last_ok"),
                "next_attempt": state.get("next") or None,
            }
        )
    if fmt == "json":
        body = {"spool": spool.path, "size": spool.size(), "max_size": spool.max_size}
        click.echo(json.dumps({**body, "connectors": rows}, indent=2))
        return
    click.echo(f"spool: {spool.path} ({spool.size()} bytes)")
    if not rows:
        click.echo("no connector has used the spool yet")
    for row in rows:
        line = f"{row['name']} ({row['type']} {row['url']}): backlog {row['backlog']}"
        if row["oldest_age_seconds"] is not None:
            line += f" (oldest {_ago(row['oldest_age_seconds'])} old)"
        line += f", delivered {row['delivered']}, dropped {row['dropped']}"
        if row["dropped_unannounced"]:
            line += f" ({row['dropped_unannounced']} not yet announced)"
        if row["corrupt"]:
            line += f", {plural(row['corrupt'], 'corrupt record')} skipped"
        if row["parked"]:
            line += f", parked {row['parked']}"
        if row["last_ok"]:
            line += f"; last delivery {_ago(now - float(row['last_ok']))} ago"
        if row["last_error"]:
            line += f"; last error {_ago(now - float(row['last_error_at'] or now))} ago: "
            line += str(row["last_error"])
        click.echo(line)


@events.command("test")
@click.option(
    "--config",
    "config",
    type=click.Path(dir_okay=False),
    help="The repository's configuration file (default: found from the working directory).",
)
def test(config: str | None) -> None:
    """Send one events.test event to each connector configured here; report each result."""
    from importobot.events import SecurityEvent

    resolved = resolve(sink_config(config, user_file=True))
    for problem in resolved.problems:
        click.echo(f"importobot: error: {problem}", err=True)
    if not resolved.connectors:
        if not resolved.problems:
            click.echo(
                "importobot: error: no connector is configured ([tool.importobot.events], "
                "IMPORTOBOT_EVENTS_CONFIG or ~/.config/importobot/events.toml)",
                err=True,
            )
        raise click.exceptions.Exit(2)
    results: dict[str, str] = {}

    def run(spec: ConnectorSpec) -> None:
        connector = connector_for(spec)
        event = SecurityEvent("events.test", payload={"connector": spec.name})
        try:
            connector.send_event(event)
            results[spec.name] = f"ok (event {event.id})"
        except DeliveryError as exc:
            results[spec.name] = f"failed: {connector._scrub(str(exc))}"
        except Exception as exc:  # one line, never a traceback
            results[spec.name] = f"failed: internal error ({type(exc).__name__})"
        finally:
            connector.close()

    threads = [threading.Thread(target=run, args=(s,), daemon=True) for s in resolved.connectors]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + max(s.timeout for s in resolved.connectors) + 5
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    failed = False
    for spec in resolved.connectors:
        result = results.get(spec.name, "failed: timed out")
        failed = failed or not result.startswith("ok")
        click.echo(f"{spec.describe()}: {result}")
    raise click.exceptions.Exit(2 if resolved.problems else 1 if failed else 0)
