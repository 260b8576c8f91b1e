"""Start-up cost of the ``importobot`` console script beside a bare interpreter.

Times whole processes: ``importobot --version`` (the venv's console script) and
``python -c pass`` by the same interpreter, interleaved so that machine noise hits both alike,
and prints both medians and their ratio. Target: ratio <= 6.

Run: ``uv run python bench/startup.py [--runs N]``
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

TARGET_RATIO = 6.0


# An installed package runs from cached bytecode (pip compiles at install time). Let the warm-up
# runs write that cache even where PYTHONDONTWRITEBYTECODE is set, so compiling is not timed.
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _time_once(argv: Sequence[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_ENV, check=True)
    return time.perf_counter() - start


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the report; exit 1 if the ratio misses the target."""
    parser = argparse.ArgumentParser(description="Start-up cost of importobot --version.")
    parser.add_argument("--runs", type=int, default=30, help="runs of each command (>= 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs of each first")
    args = parser.parse_args(argv)
    if args.runs < 20:
        parser.error("--runs must be at least 20")

    python = sys.executable
    script = Path(python).parent / "importobot"
    if not script.exists():
        print(f"no console script at {script}: run `uv sync` first", file=sys.stderr)
        return 2
    check = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=False)
    if check.returncode != 0:
        print(f"`importobot --version` failed ({check.returncode}):", file=sys.stderr)
        print(check.stderr.strip()[-2000:], file=sys.stderr)
        return 2
    commands = {
        "python -c pass": [python, "-c", "pass"],
        "importobot --version": [str(script), "--version"],
    }
    for command in commands.values():
        for _ in range(args.warmup):
            _time_once(command)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, command in commands.items():
            samples[name].append(_time_once(command))

    medians = {name: statistics.median(values) for name, values in samples.items()}
    ratio = medians["importobot --version"] / medians["python -c pass"]
    print(f"date:    {datetime.date.today().isoformat()}")
    print(
        f"machine: {os.cpu_count()} cpus (nproc), {platform.system()} {platform.machine()}, "
        f"Python {platform.python_version()} ({python})"
    )
    print(f"runs:    {args.runs} each, interleaved, after {args.warmup} warm-up runs")
    for name, median in medians.items():
        print(f"{name:<22} median {median * 1000:7.1f} ms")
    verdict = "ok" if ratio <= TARGET_RATIO else "OVER TARGET"
    print(f"ratio:   {ratio:.2f}x (target <= {TARGET_RATIO:g}x: {verdict})")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
