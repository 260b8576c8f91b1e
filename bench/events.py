"""SIEM forwarding: events/s through ``SIEMManager`` to a real rsyslog over TCP and to the local
HEC endpoint, and the pre-commit hook's latency with a connector configured beside the same
hook with none (same run, interleaved, medians).

Usage::

    uv run python bench/events.py                 # 2000 events per target, 15 hook runs each
    uv run python bench/events.py --events 500 --runs 9

Needs ``rsyslogd`` (``apt-get install rsyslog rsyslog-gnutls``); starts it on loopback ports
and the HEC endpoint of the tests (tests/enterprise/siem/servers.py), all under a temporary
directory. Bytecode is compiled first (an installed wheel has it; without it every start-up
compiles the sources again). Throughput is split in two: ``emit`` (each event appended to the
spool and fsynced before ``emit`` returns — bound by the disk's fsync) and ``delivery``
(``flush`` of the backlog: batches, acknowledgements). Hook latency is measured for the hook
with no connector, with a TCP syslog connector to the running rsyslog, and with one to a
collector that accepts connections and never answers; the "emit_event process" rows time a
bare process that looks up the configuration, loads the forwarder and emits one event (what
a hook adds once it emits, without the modules a hook has already loaded for its scan).
Exits 1 when a hook's median with a connector is 200 ms or more above the median without.
"""

from __future__ import annotations

import argparse
import base64
import compileall
import datetime
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from importobot_enterprise.siem import (  # noqa: E402
    SIEMManager,
    SplunkHECConnector,
    SyslogConnector,
)
from importobot_enterprise.siem.config import ConnectorSpec  # noqa: E402
from tests.enterprise.siem.servers import (  # noqa: E402
    Rsyslog,
    SilentCollector,
    WireEndpoint,
    event_ids_in,
    make_pki,
)

HOOK = "import sys; from importobot.hooks.block_keys import main; sys.exit(main(sys.argv[1:]))"
#: What a hook adds once it emits: the configuration lookup, the sink, one event, exit.
EMIT = (
    "from importobot.events import emit_event\n"
    "emit_event('commit.blocked', rule='IOB101', path='.env', line=1)\n"
)


def throughput(
    connector: SyslogConnector | SplunkHECConnector, count: int, received: object
) -> tuple[float, float, float]:
    """(emit, end-to-end, delivery-only) events per second for ``count`` events each.

    emit: ``emit_security_event`` calls (spool append + fsync, delivery running beside);
    end-to-end: from the first emit until the receiver holds them all; delivery-only: a
    backlog of ``count`` spooled records drained by ``flush``."""
    manager = SIEMManager([connector], wait=False)
    before = received()  # type: ignore[operator]
    started = time.perf_counter()
    for i in range(count):
        manager.emit_security_event("bench", {"seq": i})
    emitted = time.perf_counter()
    manager.wait(60)
    manager.flush(timeout=120)
    deadline = time.monotonic() + 60
    while received() - before < count and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.005)
    finished = time.perf_counter()
    from importobot.events import SecurityEvent

    spool = manager.spool
    cid = connector.spec.cid()
    for i in range(count):
        spool.append(SecurityEvent("custom.bench", payload={"seq": i}).to_dict(), [cid])
    before = received()  # type: ignore[operator]
    flushed = time.perf_counter()
    manager.flush(timeout=120)
    deadline = time.monotonic() + 60
    while received() - before < count and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.005)
    drained = time.perf_counter()
    return count / (emitted - started), count / (finished - started), count / (drained - flushed)


def hook_repo(base: Path, name: str, url: str | None, raw: bytes) -> Path:
    repo = base / name
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    if url is not None:
        (repo / "pyproject.toml").write_text(
            "[tool.importobot.events]\n[[tool.importobot.events.connector]]\n"
            f"name = '{name}'\ntype = 'syslog'\nurl = '{url}'\n"
        )
    (repo / ".env").write_text(f"FERNET_KEY={base64.urlsafe_b64encode(raw).decode()}\n")
    return repo


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    ok, why = Rsyslog.available()
    if not ok:
        print(f"bench/events.py: {why}", file=sys.stderr)
        return 2
    compileall.compile_dir(str(ROOT / "importobot"), quiet=1)
    compileall.compile_dir(str(ROOT / "importobot_enterprise"), quiet=1)
    print(f"bench/events.py  {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(
        f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    code = 0
    with tempfile.TemporaryDirectory(prefix="importobot-bench-events-") as temp:
        work = Path(temp)
        os.environ["XDG_STATE_HOME"] = str(work / "state")
        pki = make_pki(work / "pki")
        rsyslog = Rsyslog(work / "rsyslog", pki)
        rsyslog.start()
        hec = WireEndpoint("hec", pki, "hec-" + secrets.token_hex(12))
        silent = SilentCollector()
        try:
            # -- throughput ------------------------------------------------------------
            tcp = SyslogConnector(
                ConnectorSpec(name="bench-tcp", type="syslog", url=f"tcp://127.0.0.1:{rsyslog.tcp}")
            )
            rates = throughput(tcp, args.events, lambda: len(set(event_ids_in(rsyslog.received()))))
            got = len(set(event_ids_in(rsyslog.received())))
            print(
                f"rsyslog TCP: emit {rates[0]:,.0f} events/s (each spooled and fsynced), "
                f"end to end {rates[1]:,.0f} events/s, delivery of a backlog "
                f"{rates[2]:,.0f} events/s ({got}/{2 * args.events} ids at rsyslog)"
            )
            splunk = SplunkHECConnector(
                hec.url, hec.state.secret, ca_file=str(pki.ca), name="bench-hec"
            )
            rates = throughput(splunk, args.events, lambda: len(hec.state.ids))
            print(
                f"HEC (local HTTPS endpoint): emit {rates[0]:,.0f} events/s, end to end "
                f"{rates[1]:,.0f} events/s, delivery of a backlog {rates[2]:,.0f} events/s "
                f"({len(hec.state.ids)}/{2 * args.events} ids, {len(hec.state.requests)} "
                f"requests, {len(hec.state.violations)} wire errors)"
            )
            # -- hook latency ------------------------------------------------------------
            raw = secrets.token_bytes(32)
            repos = {
                "no connector": hook_repo(work / "hooks", "none", None, raw),
                "rsyslog TCP": hook_repo(
                    work / "hooks", "rsyslog", f"tcp://127.0.0.1:{rsyslog.tcp}", raw
                ),
                "never answers": hook_repo(
                    work / "hooks", "stuck", f"tcp://127.0.0.1:{silent.port}", raw
                ),
            }
            env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
            env["PYTHONPATH"] = str(ROOT)
            for label, argv, expected in (
                ("hook", [sys.executable, "-c", HOOK, ".env"], 1),
                ("emit_event process", [sys.executable, "-c", EMIT], 0),
            ):
                times: dict[str, list[float]] = {name: [] for name in repos}
                for _ in range(args.runs):
                    for name, repo in repos.items():
                        started = time.perf_counter()
                        proc = subprocess.run(
                            argv, cwd=repo, env=env, capture_output=True, check=False
                        )
                        times[name].append(time.perf_counter() - started)
                        if proc.returncode != expected:
                            print(f"{label} in {name}: exit {proc.returncode}", file=sys.stderr)
                            return 2
                base = statistics.median(times["no connector"])
                for name, values in times.items():
                    median = statistics.median(values)
                    extra = (
                        "" if name == "no connector" else f"  (+{(median - base) * 1000:.0f} ms)"
                    )
                    print(
                        f"{label}, {name}: median {median * 1000:.0f} ms "
                        f"over {len(values)} runs{extra}"
                    )
                    if label == "hook" and median - base >= 0.2:
                        code = 1
            if code:
                print("FAILED: a connector costs the hook 200 ms or more", file=sys.stderr)
        finally:
            silent.close()
            hec.close()
            rsyslog.stop()
    return code


if __name__ == "__main__":
    sys.exit(main())
