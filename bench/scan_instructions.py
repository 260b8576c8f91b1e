"""Instructions the scanner executes on the throughput tree, this checkout beside another.

Usage::

    python bench/scan_instructions.py --compare CHECKOUT [--size-mb 100] [--every 10]
        [--tree DIR]

Wall-clock throughput (``bench/scan_throughput.py``) moves by 10 % or more from run to run
on a shared 2-core machine, as much as the changes it is asked to judge. This bench counts
instructions instead, with ``valgrind --tool=callgrind``: the count is the same on every
run for the same code and input, whatever else the machine does. It builds the
throughput bench's tree (or reads ``--tree``), takes every ``--every``-th file in sorted
order, and for each checkout runs ``scan_file`` over those files in one Python process
under callgrind, once with the files and once with none (start-up and imports), and
reports the difference: the scan's own instructions. Printed with the ratio of this
checkout to the other, the date and the machine; callgrind runs some 50 times slower
than the code, so the tenth of a 100 MB tree takes about a minute per checkout.

Instructions are not seconds (a cache miss costs more than an add), so a close call is
still timed with ``scan_throughput.py`` on an idle machine.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Run in the child: scan every N-th file of the tree with the checkout's scan_file.
_CHILD = """
import os, sys
sys.path.insert(0, sys.argv[1])
from importobot.scan.rules.files import scan_file
root, every = sys.argv[2], int(sys.argv[3])
paths = []
for d, _dirs, names in sorted(os.walk(root)):
    paths.extend(os.path.join(d, n) for n in sorted(names))
for path in paths[::every] if every else []:
    with open(path, "rb") as f:
        scan_file(os.path.relpath(path, root), f.read())
"""

_COLLECTED_RE = re.compile(r"Collected : (\d+)")


def _instructions(checkout: Path, tree: Path, every: int, work: Path) -> int:
    script = work / "child.py"
    script.write_text(_CHILD)
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={work / 'callgrind.out'}",
            sys.executable,
            str(script),
            str(checkout),
            str(tree),
            str(every),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    m = _COLLECTED_RE.search(done.stderr)
    if done.returncode != 0 or m is None:
        raise SystemExit(f"callgrind failed for {checkout}:\n{done.stderr[-2000:]}")
    return int(m.group(1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--compare", type=Path, required=True, help="the other checkout")
    ap.add_argument("--size-mb", type=int, default=100)
    ap.add_argument("--every", type=int, default=10, help="scan every N-th file")
    ap.add_argument("--tree", type=Path, help="an existing tree (scan_throughput --keep)")
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="iob-instr-") as tmp:
        work = Path(tmp)
        tree = args.tree
        if tree is None:
            sys.path.insert(0, str(ROOT / "bench"))
            from scan_throughput import build_tree

            tree = work / "tree"
            build_tree(tree, args.size_mb)
        print(f"date     {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
        print(f"machine  {os.cpu_count()} cores, Python {sys.version.split()[0]}")
        print(f"tree     {tree} (every {args.every}th file)")
        counts: dict[str, int] = {}
        for label, checkout in (("this checkout", ROOT), (args.compare.name, args.compare)):
            idle = _instructions(checkout.resolve(), tree, 0, work)
            busy = _instructions(checkout.resolve(), tree, args.every, work)
            counts[label] = busy - idle
            shown = f"{counts[label] / 1e9:8.3f} G instructions (start-up {idle / 1e9:.3f} G)"
            print(f"{label:<20} {shown}")
        mine, theirs = counts["this checkout"], counts[args.compare.name]
        print(f"ratio    {mine / theirs:.3f} (this checkout / {args.compare.name}; < 1 is fewer)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
