"""Org-scan throughput: ``importobot scan-repos`` per shard on 60 local bare repositories,
beside a git-only floor and ``gitleaks git`` on the same repositories, in the same run.

The set: 60 bare repositories of ~40 text files each (source, config, env files; a few
keys committed at the tip or only in history), built with ``git fast-import``. Measured,
each the median of ``--repeat`` interleaved runs:

  floor-tip        git alone: ``clone --bare --depth 1`` + ``ls-tree`` + ``cat-file --batch``
                   of every file, per repository (what any tip scan must pay)
  importobot-tip   ``importobot scan-repos LIST --shard 1/1`` (clone, scan, write results)
  floor-history    git alone: full bare clone + ``git log -p --all`` per repository
  importobot-hist  ``importobot scan-repos LIST --history``
  gitleaks-hist    ``gitleaks git`` on each repository (no clone: it reads them in place)

and prints repositories/minute and MB/s (bytes of files scanned at the tips / of
history patches) per shard, each beside its floor (ratio), with the date and machine.
A shard is one process; N shards run N times this on N machines. No target gate: the
figures feed docs/org-scan.md's cost estimate.

Run: ``uv run python bench/org_scan.py [--repeat 3] [--repos 60]``
"""

from __future__ import annotations

import argparse
import base64
import datetime
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1"}
WORDS = ["alpha", "beta", "gamma", "delta", "config", "value", "service", "token", "user"]


def _key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _text(rng_seed: int, size: int) -> bytes:
    out = []
    n = rng_seed
    while sum(len(x) for x in out) < size:
        n = (n * 1103515245 + 12345) & 0x7FFFFFFF
        w = WORDS[n % len(WORDS)]
        out.append(f"{w}_{n % 997} = '{w}-{n % 10007}'  # {w} setting\n")
    return "".join(out).encode()


def make_repo(path: Path, i: int) -> None:
    """One bare repository: 3 commits over ~40 files (some keys, tip or history)."""
    subprocess.run(["git", "init", "-q", "--bare", str(path)], check=True, env=ENV)
    commits: list[dict[str, bytes | None]] = []
    files: dict[str, bytes | None] = {}
    for f in range(40):
        files[f"src/mod{f:02d}.py"] = _text(i * 1000 + f, 2_000 + (f * 97) % 6_000)
    files["config/app.yaml"] = _text(i, 3_000)
    files[".env.example"] = b"APP_SECRET_KEY=changeme\nDB_URL=postgres://db/app\n"
    commits.append(files)
    second: dict[str, bytes | None] = {"src/mod00.py": _text(i + 7, 4_000)}
    if i % 5 == 0:
        second[".env"] = f"APP_ENCRYPTION_KEY={_key()}\n".encode()
    commits.append(second)
    third: dict[str, bytes | None] = {"src/mod01.py": _text(i + 9, 4_000)}
    if i % 5 == 0 and i % 2 == 0:
        third[".env"] = None  # removed again: only history finds it
    commits.append(third)
    stream = bytearray()
    for n, change in enumerate(commits, 1):
        stream += b"commit refs/heads/main\ncommitter b <b@x.invalid> %d +0000\n" % (1.7e9 + n)
        stream += b"data 1\nc\n"
        for name, data in change.items():
            if data is None:
                stream += b"D %s\n" % name.encode()
            else:
                stream += b"M 100644 inline %s\ndata %d\n%s\n" % (name.encode(), len(data), data)
        stream += b"\n"
    subprocess.run(["git", "fast-import", "--quiet"], cwd=path, input=bytes(stream), check=True)
    subprocess.run(["git", "symbolic-ref", "HEAD", "refs/heads/main"], cwd=path, check=True)


def floor_tip(repos: list[Path], work: Path) -> int:
    """git alone: the shallow clone and every file's bytes. Returns bytes read."""
    total = 0
    for repo in repos:
        dest = work / "floor-tip"
        shutil.rmtree(dest, ignore_errors=True)
        subprocess.run(
            ["git", "clone", "-q", "--bare", "--depth", "1", f"file://{repo}", str(dest)],
            check=True,
            env=ENV,
        )
        tree = subprocess.run(
            ["git", "ls-tree", "-r", "--object-only", "HEAD"],
            cwd=dest,
            capture_output=True,
            check=True,
        ).stdout
        out = subprocess.run(
            ["git", "cat-file", "--batch"], cwd=dest, input=tree, capture_output=True, check=True
        ).stdout
        total += len(out)
    return total


def floor_history(repos: list[Path], work: Path) -> int:
    total = 0
    for repo in repos:
        dest = work / "floor-hist"
        shutil.rmtree(dest, ignore_errors=True)
        subprocess.run(
            ["git", "clone", "-q", "--bare", f"file://{repo}", str(dest)], check=True, env=ENV
        )
        out = subprocess.run(
            ["git", "log", "-p", "-U0", "--all", "--no-color"],
            cwd=dest,
            capture_output=True,
            check=True,
        ).stdout
        total += len(out)
    return total


def importobot(listing: Path, out: Path, history: bool) -> int:
    shutil.rmtree(out, ignore_errors=True)
    argv = [sys.executable, "-m", "importobot.cli", "scan-repos", str(listing)]
    argv += ["--output", str(out), "--exit-zero"] + (["--history"] if history else [])
    proc = subprocess.run(argv, capture_output=True, text=True, env=ENV)
    if proc.returncode != 0:
        raise SystemExit(f"importobot scan-repos failed: {proc.stderr[-500:]}")
    import json

    scanned = 0
    for p in out.glob("*.json"):
        if not p.name.endswith(".state.json"):
            scanned += json.loads(p.read_text())["summary"]["bytes_scanned"]
    return scanned


def gitleaks(tool: Path, repos: list[Path]) -> int:
    for repo in repos:
        proc = subprocess.run(
            [str(tool), "git", "--no-banner", "-l", "error", "--exit-code", "0", str(repo)],
            capture_output=True,
            env=ENV,
        )
        if proc.returncode != 0:
            raise SystemExit(f"gitleaks failed on {repo}: {proc.stderr[-300:]!r}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--repos", type=int, default=60)
    ap.add_argument("--no-gitleaks", action="store_true")
    args = ap.parse_args(argv)
    if args.repeat < 3:
        ap.error("--repeat must be at least 3 (the median of three or more runs)")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    work = Path(tempfile.mkdtemp(prefix="importobot-orgbench-"))
    load_before = os.getloadavg()[0]
    try:
        repos = []
        for i in range(args.repos):
            make_repo(work / f"r{i:03d}.git", i)
            repos.append(work / f"r{i:03d}.git")
        listing = work / "repos.txt"
        listing.write_text("".join(f"{r}\n" for r in repos))
        tool = None
        if not args.no_gitleaks:
            from hook_latency import tools_venv  # the same throwaway venv as that bench

            tool = tools_venv(ROOT / "bench" / "_work" / "tools", work) / "gitleaks"
        variants = {
            "floor-tip": lambda: floor_tip(repos, work),
            "importobot-tip": lambda: importobot(listing, work / "out-tip", False),
            "floor-history": lambda: floor_history(repos, work),
            "importobot-hist": lambda: importobot(listing, work / "out-hist", True),
        }
        if tool is not None:
            variants["gitleaks-hist"] = lambda: gitleaks(tool, repos)
        times: dict[str, list[float]] = {k: [] for k in variants}
        sizes: dict[str, int] = {}
        for _ in range(args.repeat):
            for name, run in variants.items():
                start = time.perf_counter()
                size = run()
                times[name].append(time.perf_counter() - start)
                sizes[name] = size
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"# bench/org_scan.py  {datetime.date.today()}  {platform.node() or 'host'}")
    print(
        f"# {os.cpu_count()} CPUs, Python {platform.python_version()}, {args.repos} local bare "
        f"repositories, one shard (one process), median of {args.repeat} interleaved runs"
    )
    print(f"# 1-min load average: {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    tip_mb = sizes["importobot-tip"] / 1e6
    hist_mb = sizes["floor-history"] / 1e6
    print(f"{'run':<18}{'seconds':>9}{'repos/min':>11}{'MB/s':>8}{'× floor':>9}")
    for name, secs in med.items():
        mb = tip_mb if "tip" in name else hist_mb
        floor = med["floor-tip" if "tip" in name else "floor-history"]
        print(
            f"{name:<18}{secs:>9.2f}{args.repos / secs * 60:>11.0f}{mb / secs:>8.2f}"
            f"{floor / secs:>9.2f}"
        )
    print(
        f"# MB: tip files scanned {tip_mb:.1f} MB; history patches {hist_mb:.1f} MB "
        f"(gitleaks reads the repositories in place: no clone in its figure)"
    )
    rate = args.repos / med["importobot-tip"] * 60
    for shards in (1, 16, 64):
        minutes = 2000 / (rate * shards)
        print(f"# 2,000 repositories, tips, {shards:>2} shards: {minutes:6.1f} min per shard")
    return 0


if __name__ == "__main__":
    sys.exit(main())
