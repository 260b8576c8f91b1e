"""Score ``importobot check`` against a labeled corpus at (file, line).

Usage::

    python bench/detection.py [CORPUS_DIR] [--tools-venv DIR]
    # CORPUS_DIR default: ../shared/corpus/realworld; DIR default: ../notes/tools if present

The corpus holds ``files/`` and ``labels.jsonl`` (one object per file with
``findings: [{line, variable, key_type, bytes}]``). A finding counts as a true
positive when its (file, line) is labeled; several findings on one line count once.
Prints precision, recall and F1 overall, recall per labeled key type, recall on
32-byte keys, and any finding on a negative file. Nothing here prints a key: the
report carries fingerprints only, and this script prints file names and lines.

Beside importobot, in the same run and on the same files, it scores gitleaks (``gitleaks
dir --redact``: its report never holds a secret) and detect-secrets (``scan --all-files``,
default plugins; its report holds only hashes) from the virtual environment ``--tools-venv``
(``bin/gitleaks``, ``bin/detect-secrets``), scored the same way at (file, line). Without
that environment the peers are left out, saying so.

The labels only *measure* the detector; nothing from them is used by it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "realworld"
DEFAULT_TOOLS = Path(__file__).resolve().parents[1].parent / "notes" / "tools"


def run_check(files_dir: Path) -> list[dict[str, object]]:
    """Findings of ``importobot check --format json`` over ``files_dir`` (outside git)."""
    cmd = [
        sys.executable,
        "-c",
        "import sys; from importobot.cli import main; sys.exit(main(sys.argv[1:]))",
        "check",
        "--format",
        "json",
        "--no-key-check",
        "--exit-zero",
        "--no-gitignore",
        ".",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    proc = subprocess.run(cmd, cwd=files_dir, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"importobot check failed ({proc.returncode}): {proc.stderr.strip()}")
    findings: list[dict[str, object]] = json.loads(proc.stdout)["findings"]
    return findings


def _labels(corpus: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (corpus / "labels.jsonl").read_text().splitlines() if line]


def score(corpus: Path) -> dict[str, object]:
    """Precision/recall/F1 and breakdowns for the corpus at ``corpus``."""
    found = run_check(corpus / "files")
    got: dict[tuple[str, int], str] = {}
    for f in found:
        if f.get("line") is not None and f.get("path"):
            got[(Path(str(f["path"])).name, int(str(f["line"])))] = str(f.get("key_type"))
    return score_hits(_labels(corpus), got)


def score_hits(
    labels: list[dict[str, object]], got_types: dict[tuple[str, int], str]
) -> dict[str, object]:
    """Scores of one tool's hits, ``{(file name, line): reported type}``, against ``labels``."""
    got = set(got_types)
    reported_type = got_types
    want: dict[tuple[str, int], dict[str, object]] = {}
    negatives: set[str] = set()
    for entry in labels:
        name = Path(str(entry["file"])).name
        items: list[dict[str, object]] = entry["findings"]  # type: ignore[assignment]
        if not items:
            negatives.add(name)
        for item in items:
            want[(name, int(str(item["line"])))] = item
    tp = len(got & set(want))
    fp = sorted(got - set(want))
    fn = sorted(set(want) - got)
    precision = tp / (tp + len(fp)) if got else 1.0
    recall = tp / len(want) if want else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    by_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for key, item in want.items():
        by_type[str(item["key_type"])][1] += 1
        if key in got:
            by_type[str(item["key_type"])][0] += 1
    precision_by_type: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for key in got:
        precision_by_type[reported_type[key]][1] += 1
        if key in want:
            precision_by_type[reported_type[key]][0] += 1
    k32 = [k for k, item in want.items() if item.get("bytes") == 32]
    recall32 = sum(1 for k in k32 if k in got) / len(k32) if k32 else 1.0
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "recall_32": recall32,
        "by_type": {t: (hit, total) for t, (hit, total) in sorted(by_type.items())},
        "precision_by_type": {
            t: (hit, total) for t, (hit, total) in sorted(precision_by_type.items())
        },
        "negative_hits": sorted({name for name, _ in got if name in negatives}),
    }


# ----------------------------------------------------------------------------- peers


def _gitleaks(bin_dir: Path, files_dir: Path) -> dict[tuple[str, int], str]:
    """gitleaks' hits at (file name, line); ``--redact`` keeps secrets out of its report."""
    with tempfile.TemporaryDirectory(prefix="iob-detect-") as tmp:
        report = Path(tmp) / "gitleaks.json"
        cmd = [
            str(bin_dir / "gitleaks"),
            "dir",
            ".",
            "--no-banner",
            "--redact",
            "--report-format",
            "json",
            "--report-path",
            str(report),
            "--exit-code",
            "0",
        ]
        proc = subprocess.run(cmd, cwd=files_dir, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"gitleaks failed ({proc.returncode})")
        found = json.loads(report.read_text() or "[]")
    return {(Path(f["File"]).name, int(f["StartLine"])): str(f["RuleID"]) for f in found}


def _detect_secrets(bin_dir: Path, files_dir: Path) -> dict[tuple[str, int], str]:
    """detect-secrets' hits at (file name, line) (its report holds hashes, not secrets)."""
    cmd = [str(bin_dir / "detect-secrets"), "scan", "--all-files", "."]
    proc = subprocess.run(cmd, cwd=files_dir, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"detect-secrets failed ({proc.returncode})")
    results: dict[str, list[dict[str, object]]] = json.loads(proc.stdout)["results"]
    return {
        (Path(name).name, int(str(hit["line_number"]))): str(hit["type"])
        for name, hits in results.items()
        for hit in hits
    }


def peers(corpus: Path, tools: Path) -> dict[str, tuple[dict[str, object], float]]:
    """Scores and seconds of gitleaks and detect-secrets on the corpus's files."""
    bin_dir = tools / "bin"
    labels = _labels(corpus)
    out: dict[str, tuple[dict[str, object], float]] = {}
    for name, run in (("gitleaks", _gitleaks), ("detect-secrets", _detect_secrets)):
        start = time.perf_counter()
        hits = run(bin_dir, corpus / "files")
        out[name] = (score_hits(labels, hits), time.perf_counter() - start)
    return out


def _row(name: str, s: dict[str, object], seconds: float) -> str:
    fp, fn = s["fp"], s["fn"]
    assert isinstance(fp, list) and isinstance(fn, list)  # noqa: S101 - shapes of score_hits
    return (
        f"{name:<16}{s['precision']:>10.3f}{s['recall']:>8.3f}{s['f1']:>7.3f}"
        f"{s['recall_32']:>11.3f}{s['tp']:>6}{len(fp):>5}{len(fn):>5}{seconds:>8.1f}"
    )


def main(argv: list[str]) -> int:
    """Print the scores (and the peers'); exit 1 when the issue's floors are not met."""
    args = list(argv)
    usage = "usage: detection.py [CORPUS_DIR] [--tools-venv DIR]"
    if "-h" in args or "--help" in args:
        print(usage + "\n\n" + (__doc__ or "").split("\n\n", 1)[0])
        return 0
    tools: Path | None = DEFAULT_TOOLS if (DEFAULT_TOOLS / "bin" / "gitleaks").exists() else None
    if "--tools-venv" in args:
        at = args.index("--tools-venv")
        if at + 1 >= len(args):
            print(usage, file=sys.stderr)
            return 2
        tools = Path(args[at + 1])
        del args[at : at + 2]
    if len(args) > 1 or any(a.startswith("-") for a in args):
        print(usage, file=sys.stderr)
        return 2
    corpus = Path(args[0]) if args else DEFAULT_CORPUS
    if not (corpus / "files").is_dir() or not (corpus / "labels.jsonl").is_file():
        print(f"detection.py: {corpus} holds no files/ and labels.jsonl", file=sys.stderr)
        return 2
    start = time.perf_counter()
    s = score(corpus)
    own = time.perf_counter() - start
    print(f"corpus   {corpus}")
    print(
        f"overall  precision {s['precision']:.3f}  recall {s['recall']:.3f}  F1 {s['f1']:.3f}"
        f"  (tp {s['tp']}, fp {len(s['fp'])}, fn {len(s['fn'])})"  # type: ignore[arg-type]
    )
    print(f"32-byte  recall {s['recall_32']:.3f}")
    for key_type, (hit, total) in s["by_type"].items():  # type: ignore[attr-defined]
        print(f"  {key_type:<18} recall {hit / total:.3f}  ({hit}/{total})")
    for key_type, (hit, total) in s["precision_by_type"].items():  # type: ignore[attr-defined]
        print(f"  reported {key_type:<15} precision {hit / total:.3f}  ({hit}/{total})")
    for name, line in s["fp"]:  # type: ignore[attr-defined]
        print(f"  false positive  {name}:{line}")
    for name, line in s["fn"]:  # type: ignore[attr-defined]
        print(f"  missed          {name}:{line}")
    for name in s["negative_hits"]:  # type: ignore[attr-defined]
        print(f"  finding on negative file {name}")
    print(
        f"\n{'tool':<16}{'precision':>10}{'recall':>8}{'F1':>7}{'32-byte R':>11}"
        f"{'tp':>6}{'fp':>5}{'fn':>5}{'s':>8}"
    )
    print(_row("importobot", s, own))
    if tools is None or not (tools / "bin" / "gitleaks").exists():
        print(
            "(gitleaks and detect-secrets not run: give --tools-venv DIR holding bin/gitleaks "
            "and bin/detect-secrets)"
        )
    else:
        for name, (peer, seconds) in peers(corpus, tools).items():
            print(_row(name, peer, seconds))
        print(f"(peers from {tools}; same files, scored at (file, line) like importobot)")
    ok = s["recall_32"] == 1.0 and s["f1"] >= 0.93 and not s["negative_hits"]  # type: ignore[operator]
    print(
        "floors   "
        + ("met" if ok else "NOT met")
        + " (recall 1.0 on 32-byte, F1 >= 0.93, negatives clean)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
