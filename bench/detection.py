"""Score ``importobot check`` against a labeled corpus at (file, line).

Usage::

    python bench/detection.py [CORPUS_DIR]     # default: ../shared/corpus/realworld

The corpus holds ``files/`` and ``labels.jsonl`` (one object per file with
``findings: [{line, variable, key_type, bytes}]``). A finding counts as a true
positive when its (file, line) is labeled; several findings on one line count once.
Prints precision, recall and F1 overall, recall per labeled key type, recall on
32-byte keys, and any finding on a negative file. Nothing here prints a key: the
report carries fingerprints only, and this script prints file names and lines.

The labels only *measure* the detector; nothing from them is used by it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "realworld"


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


def score(corpus: Path) -> dict[str, object]:
    """Precision/recall/F1 and breakdowns for the corpus at ``corpus``."""
    labels = [
        json.loads(line) for line in (corpus / "labels.jsonl").read_text().splitlines() if line
    ]
    found = run_check(corpus / "files")
    got: set[tuple[str, int]] = set()
    reported_type: dict[tuple[str, int], str] = {}
    for f in found:
        if f.get("line") is not None and f.get("path"):
            key = (Path(str(f["path"])).name, int(str(f["line"])))
            got.add(key)
            reported_type[key] = str(f.get("key_type"))
    want: dict[tuple[str, int], dict[str, object]] = {}
    negatives: set[str] = set()
    for entry in labels:
        name = Path(entry["file"]).name
        if not entry["findings"]:
            negatives.add(name)
        for item in entry["findings"]:
            want[(name, int(item["line"]))] = item
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


def main(argv: list[str]) -> int:
    """Print the scores; exit 1 when the issue's floors are not met."""
    corpus = Path(argv[0]) if argv else DEFAULT_CORPUS
    s = score(corpus)
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
    ok = s["recall_32"] == 1.0 and s["f1"] >= 0.93 and not s["negative_hits"]  # type: ignore[operator]
    print(
        "floors   "
        + ("met" if ok else "NOT met")
        + " (recall 1.0 on 32-byte, F1 >= 0.93, negatives clean)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
