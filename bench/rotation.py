"""Rotation throughput: ``rotate_store`` beside raw loops over the same tokens.

Measures, in one run, values per second of:
  raw-rotate    a single-process ``MultiFernet.rotate`` loop (no store, no verification)
  raw-sqlite    the same loop with batched ``synchronous=FULL`` SQLite updates
  sqlite-w1     ``rotate_store(SQLiteStore)`` single process (trial order, fresh timestamps,
                verification, compare-and-swap, journal per batch)
  sqlite-wN     the same with a pool of N workers (the main process the only writer)
  files-w1      ``rotate_store(FileStore)`` over F files (write, fsync, rename, fsync(dir))
Each is the median of ``--repeat`` runs (≥ 3) on a fresh copy. Ratios are against raw-rotate.
Target: sqlite-wN ≥ 0.8 × raw-rotate. Exits 1 when missed.

Run: ``uv run python bench/rotation.py [--values 100000] [--repeat 3] [--workers 2]``
"""

from __future__ import annotations

import argparse
import base64
import datetime
import os
import platform
import secrets
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet, MultiFernet

from importobot.security import CredentialManager
from importobot_enterprise.key_rotation import FileStore, SQLiteStore, rotate_store

TARGET = 0.8


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _key() -> bytes:
    return secrets.token_bytes(32)


def _text(raw: bytes) -> bytes:
    return base64.urlsafe_b64encode(raw)


def _tokens(raw: bytes, n: int) -> list[bytes]:
    f = Fernet(_text(raw))
    return [f.encrypt(f"credential-{i:08d}-value".encode()) for i in range(n)]


def _make_db(path: Path, tokens: list[bytes]) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE creds(id INTEGER PRIMARY KEY, secret TEXT)")
    conn.executemany(
        "INSERT INTO creds VALUES (?, ?)", ((i, t.decode()) for i, t in enumerate(tokens, 1))
    )
    conn.commit()
    conn.close()


def _make_files(directory: Path, tokens: list[bytes], files: int) -> list[Path]:
    per = len(tokens) // files
    paths = []
    for f in range(files):
        p = directory / f"f{f:03d}.env"
        p.write_bytes(
            b"".join(b"V%d=%s\n" % (j, t) for j, t in enumerate(tokens[f * per : (f + 1) * per]))
        )
        paths.append(p)
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--values", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--batch-size", type=int, default=5000)
    ap.add_argument("--files", type=int, default=50)
    ap.add_argument("--file-values", type=int, default=20_000)
    args = ap.parse_args(argv)
    if args.repeat < 3:
        ap.error("--repeat must be at least 3 (the median of three or more runs)")
    n = args.values
    load_before = os.getloadavg()[0]
    k_old, k_new = _key(), _key()
    old = CredentialManager(k_old)
    new = CredentialManager(k_new, previous_keys=[k_old])
    tokens = _tokens(k_old, n)
    work = Path(tempfile.mkdtemp(prefix="importobot-bench-"))
    try:
        template = work / "template.db"
        _make_db(template, tokens)
        multi = MultiFernet([Fernet(_text(k_new)), Fernet(_text(k_old))])
        timings: dict[str, list[float]] = {}
        counts: dict[str, int] = {}

        def raw_rotate(_: int) -> None:
            for t in tokens:
                multi.rotate(t)

        def raw_sqlite(r: int) -> None:
            db = work / f"raw{r}.db"
            shutil.copy(template, db)
            conn = sqlite3.connect(db, isolation_level=None)
            conn.execute("PRAGMA synchronous=FULL")
            last = 0
            while True:
                rows = conn.execute(
                    "SELECT id, secret FROM creds WHERE id > ? ORDER BY id LIMIT ?",
                    (last, args.batch_size),
                ).fetchall()
                if not rows:
                    break
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(
                    "UPDATE creds SET secret = ? WHERE id = ?",
                    [(multi.rotate(v.encode()).decode(), i) for i, v in rows],
                )
                conn.execute("COMMIT")
                last = rows[-1][0]
            conn.close()

        def store_run(workers: int) -> Callable[[int], None]:
            def run(r: int) -> None:
                db = work / f"s{workers}-{r}.db"
                shutil.copy(template, db)
                with SQLiteStore(db, "creds", "id", "secret") as store:
                    report = rotate_store(
                        store, old, new, batch_size=args.batch_size, workers=workers
                    )
                assert report.complete and report.rotated == n

            return run

        fv = args.file_values
        file_tokens = tokens[:fv]
        file_sets = {}
        for r in range(args.repeat):
            d = work / f"files{r}"
            d.mkdir()
            file_sets[r] = _make_files(d, file_tokens, args.files)

        def files_run(r: int) -> None:
            for p in file_sets[r]:
                assert rotate_store(FileStore(p), old, new).complete

        variants: list[tuple[str, int, Callable[[int], None]]] = [
            ("raw-rotate", n, raw_rotate),
            ("raw-sqlite", n, raw_sqlite),
            ("sqlite-w1", n, store_run(1)),
            (f"sqlite-w{args.workers}", n, store_run(args.workers)),
            ("files-w1", fv, files_run),
        ]
        # Interleaved (round-robin) so that load from other processes hits every variant alike.
        cpu: dict[str, list[float]] = {}
        for r in range(args.repeat):
            for name, count, run in variants:
                before, start = _cpu(), time.perf_counter()
                run(r)
                timings.setdefault(name, []).append(time.perf_counter() - start)
                cpu.setdefault(name, []).append(_cpu() - before)
                counts[name] = count
        rates = {name: counts[name] / statistics.median(ts) for name, ts in timings.items()}
        cpu_rates = {name: counts[name] / statistics.median(ts) for name, ts in cpu.items()}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    raw = rates["raw-rotate"]
    print(f"# bench/rotation.py  {datetime.date.today()}  {platform.node() or 'host'}")
    print(
        f"# {os.cpu_count()} CPUs, Python {platform.python_version()}, {n} values "
        f"(files: {args.file_values} values in {args.files} files), median of {args.repeat}"
    )
    # values per CPU-second (this process and its reaped workers) shows the cost of the work
    # itself, whatever else the machine was running: wall-clock ratios move with the load.
    print(f"# 1-min load average: {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    print(f"{'run':<14}{'values/s':>12}{'× raw-rotate':>14}{'values/CPU-s':>16}")
    for name, rate in rates.items():
        print(f"{name:<14}{rate:>12,.0f}{rate / raw:>14.2f}{cpu_rates[name]:>16,.0f}")
    pooled = rates[f"sqlite-w{args.workers}"] / raw
    ok = pooled >= TARGET
    print(
        f"target: sqlite-w{args.workers} ≥ {TARGET} × raw-rotate: "
        f"{'met' if ok else 'MISSED'} ({pooled:.2f})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
