"""The pre-commit hook with a connector configured: a blocked commit reaches rsyslog with its
rule, path and fingerprint and never the key; a spool error never changes the exit code; a
collector that never answers costs the hook at most the delivery budget."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
from pathlib import Path

from importobot_enterprise.siem.manager import HOOK_BUDGET
from tests.enterprise.siem.servers import Rsyslog, SilentCollector
from tests.keygen import contains_key, new_raw

ROOT = Path(__file__).resolve().parents[3]


def _repo(tmp_path: Path, url: str) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "pyproject.toml").write_text(
        "[tool.importobot.events]\n[[tool.importobot.events.connector]]\n"
        f"name = 'local-syslog'\ntype = 'syslog'\nurl = '{url}'\n"
    )
    return repo


_HOOK = "import sys; from importobot.hooks.block_keys import main; sys.exit(main(sys.argv[1:]))"


def _hook(repo: Path, state: Path, *files: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    env.update(XDG_STATE_HOME=str(state), PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-c", _HOOK, *files],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_a_blocked_commit_reaches_rsyslog_without_the_key(rsyslog: Rsyslog, tmp_path: Path) -> None:
    raw = new_raw()
    repo = _repo(tmp_path, f"tcp://127.0.0.1:{rsyslog.tcp}")
    name = f"{os.urandom(6).hex()}.env"  # unique in the shared rsyslog's file
    (repo / name).write_text(f"FERNET_KEY={base64.urlsafe_b64encode(raw).decode()}\n")
    subprocess.run(["git", "add", name], cwd=repo, check=True)
    proc = _hook(repo, tmp_path / "state", name)
    assert proc.returncode == 1
    fingerprints = [w for w in proc.stdout.split() if w.startswith("iobfp1:")]
    spool = tmp_path / "state" / "importobot" / "spool"
    assert name.encode() in b"".join(p.read_bytes() for p in spool.glob("seg-*")), "not spooled"
    deadline = time.monotonic() + 10
    found: list[dict[str, str]] = []
    while time.monotonic() < deadline and not found:
        found = [
            r
            for r in rsyslog.received()
            if r.get("msgid") == "commit.blocked" and f'path="{name}"' in r.get("sd", "")
        ]
        time.sleep(0.05)
    assert found, "no commit.blocked event at rsyslog"
    sd = found[-1]["sd"]
    assert 'rule="IOB101"' in sd and fingerprints and f'fingerprint="{fingerprints[0]}"' in sd
    assert not contains_key(rsyslog.raw_bytes(), raw)


def test_a_spool_error_never_changes_the_hooks_exit_code(tmp_path: Path) -> None:
    """The state directory is a file: spooling cannot work; the hook's verdict is its own."""
    raw = new_raw()
    repo = _repo(tmp_path, "tcp://127.0.0.1:9")
    (repo / ".env").write_text(f"FERNET_KEY={base64.urlsafe_b64encode(raw).decode()}\n")
    (repo / "clean.txt").write_text("nothing here\n")
    state = tmp_path / "state-is-a-file"
    state.write_text("")
    dirty = _hook(repo, state, ".env")
    clean = _hook(repo, state, "clean.txt")
    assert dirty.returncode == 1 and clean.returncode == 0
    for proc in (dirty, clean):
        assert not contains_key(proc.stdout + proc.stderr, raw)
        assert len([x for x in proc.stderr.splitlines() if "events" in x]) <= 1


def test_a_collector_that_never_answers_costs_the_hook_at_most_the_budget(
    tmp_path: Path,
) -> None:
    """Interleaved runs, medians: the hook with a collector that accepts and never answers
    costs no more than the same hook with one that refuses at once, plus the delivery budget
    (the import and spool costs are the same for both; bench/events.py measures the whole
    difference to a hook with no connector, with compiled bytecode)."""
    silent = SilentCollector()
    try:
        raw = new_raw()
        quiet = tmp_path / "quiet"
        quiet.mkdir()
        subprocess.run(["git", "init", "-q", str(quiet)], check=True)
        stuck = _repo(tmp_path / "s", f"tcp://127.0.0.1:{silent.port}")
        refused = _repo(tmp_path / "r", "tcp://127.0.0.1:9")
        repos = (quiet, refused, stuck)
        for repo in repos:
            (repo / ".env").write_text(f"FERNET_KEY={base64.urlsafe_b64encode(raw).decode()}\n")
        times: dict[Path, list[float]] = {repo: [] for repo in repos}
        for _ in range(5):
            for repo in repos:
                started = time.monotonic()
                proc = _hook(repo, tmp_path / "state", ".env")
                times[repo].append(time.monotonic() - started)
                assert proc.returncode == 1
        median = {repo: sorted(t)[len(t) // 2] for repo, t in times.items()}
        # Margin: under coverage on a shared 2-core machine the medians of two identical
        # hooks differ by up to a quarter second (seen 0.26 s in a fresh-clone run); the
        # figure itself is bench/events.py's. A wait for the 10 s timeout stays far above.
        assert median[stuck] - median[refused] < HOOK_BUDGET + 0.4, median
        assert median[stuck] - median[quiet] < 1.0, median  # never the 10 s connector timeout
        spool = tmp_path / "state" / "importobot" / "spool"
        assert b"commit.blocked" in b"".join(p.read_bytes() for p in spool.glob("seg-*"))
    finally:
        silent.close()
