"""``rotate_store``: one crash-safe, resumable rotation run over a :class:`Store` (D20).

The main process is the only writer. Classification, re-encryption and verification
may run in a pool of forked workers (``workers=N``); only ciphertext crosses process
boundaries, and the managers reach the workers by fork, never by pickling (D6).
"""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from importobot.security import CredentialManager
from importobot_enterprise.key_rotation.core import Outcome, PlanSummary, TokenResult, rotate_token
from importobot_enterprise.key_rotation.errors import JournalMismatchError
from importobot_enterprise.key_rotation.stores.base import Cell, Change, Page, Store

__all__ = ["DEFAULT_BATCH_SIZE", "RotationReport", "rotate_store", "source_fingerprints"]

DEFAULT_BATCH_SIZE = 500
#: Ids of undecryptable values kept in a journal / report (the count is always exact).
MAX_LISTED_IDS = 10_000
#: Passes over cells that changed underneath (compare-and-swap misses) before giving up.
CONFLICT_PASSES = 3

Progress = Callable[[int, "int | None"], None]


@dataclass
class RotationReport:
    """The outcome of one run: counts, fingerprints and ids only (never a value)."""

    store: str
    target_fingerprint: str
    source_fingerprints: list[str]
    dry_run: bool = False
    resumed: bool = False
    total: int = 0
    rotated: int = 0
    already_current: int = 0
    undecryptable: int = 0
    failed: int = 0
    skipped: int = 0
    conflicts: int = 0
    by_source: dict[str, int] = field(default_factory=dict)
    undecryptable_ids: list[Any] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        """True when every value in the store is now under the target key."""
        return not (self.undecryptable or self.failed or self.conflicts)

    def plan(self) -> PlanSummary:
        """The report as a plan summary (what a dry run prints)."""
        return PlanSummary(
            target_fingerprint=self.target_fingerprint,
            total=self.total,
            to_rotate=self.rotated,
            already_current=self.already_current,
            undecryptable=self.undecryptable,
            skipped=self.skipped,
            by_source=dict(self.by_source),
            undecryptable_ids=tuple(self.undecryptable_ids),
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "store": self.store,
            "target_fingerprint": self.target_fingerprint,
            "source_fingerprints": list(self.source_fingerprints),
            "dry_run": self.dry_run,
            "resumed": self.resumed,
            "total": self.total,
            "rotated": self.rotated,
            "already_current": self.already_current,
            "undecryptable": self.undecryptable,
            "failed": self.failed,
            "skipped": self.skipped,
            "conflicts": self.conflicts,
            "by_source": dict(self.by_source),
            "undecryptable_ids": list(self.undecryptable_ids),
            "complete": self.complete,
        }


def source_fingerprints(old: CredentialManager, new: CredentialManager) -> list[str]:
    """Fingerprints of every key a value may be rotated from, in trial order."""
    out: list[str] = []
    for fp in [*new.previous_fingerprints, old.key_fingerprint, *old.previous_fingerprints]:
        if fp != new.key_fingerprint and fp not in out:
            out.append(fp)
    return out


# -- workers -------------------------------------------------------------------------
_worker_state: dict[str, Any] = {}


def _worker_init(old: CredentialManager, new: CredentialManager, now: int, dry: bool) -> None:
    _die_with_parent()
    _worker_state.update(old=old, new=new, now=now, dry=dry)


def _die_with_parent() -> None:
    """Linux: SIGKILL this worker when the main process dies, so a killed run leaves no
    orphan holding inherited descriptors (a lock file, a database socket)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG = 1, SIGKILL = 9
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


_OUTCOMES = list(Outcome)


def _worker_rotate(tokens: list[bytes]) -> list[tuple[int, bytes | None, str | None, int]]:
    # Plain tuples: cheaper to pickle back than dataclasses holding an Enum.
    s = _worker_state
    out = []
    for t in tokens:
        r = rotate_token(t, s["old"], s["new"], now=s["now"], rotate=not s["dry"])
        out.append((_OUTCOMES.index(r.outcome), r.token, r.source, r.length))
    return out


def _unpack(rows: list[tuple[int, bytes | None, str | None, int]]) -> list[TokenResult]:
    return [TokenResult(_OUTCOMES[o], tok, src, n) for o, tok, src, n in rows]


class _Rotator:
    """Rotates pages inline, or in a forked pool with up to ``depth`` pages in flight."""

    def __init__(
        self, old: CredentialManager, new: CredentialManager, now: int, dry: bool, workers: int
    ) -> None:
        self.old, self.new, self.now, self.dry = old, new, now, dry
        self.workers = workers
        #: Pages in flight beyond the one being written (keeps the workers busy meanwhile).
        self.depth = 1 if workers <= 1 else 2
        self.pool: Any = None
        if workers > 1:
            ctx = multiprocessing.get_context("fork")
            self.pool = ctx.Pool(workers, _worker_init, (old, new, now, dry))

    def submit(self, tokens: list[bytes]) -> Callable[[], list[TokenResult]]:
        if self.pool is None:
            done = [
                rotate_token(t, self.old, self.new, now=self.now, rotate=not self.dry)
                for t in tokens
            ]
            return lambda: done
        size = max(1, -(-len(tokens) // self.workers))
        parts = [
            self.pool.apply_async(_worker_rotate, (tokens[i : i + size],))
            for i in range(0, len(tokens), size)
        ]
        return lambda: [r for part in parts for r in _unpack(part.get())]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()


# -- the run -------------------------------------------------------------------------
def rotate_store(
    store: Store,
    old_manager: CredentialManager,
    new_manager: CredentialManager,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    dry_run: bool = False,
    new_target: bool = False,
    workers: int = 1,
    now: int | None = None,
) -> RotationReport:
    """Rotate every token in ``store`` to ``new_manager``'s key; resumable, crash-safe.

    Values under the target are left alone; values a source key opens are re-encrypted
    with a fresh timestamp, verified, and swapped in per batch by compare-and-swap;
    values no key opens are counted and listed by id, untouched. ``dry_run`` computes
    the plan and writes nothing (no journal, no lock file). A journal left by a killed
    run is resumed; one naming another target key stops the run unless ``new_target``.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    started = time.monotonic()
    target_fp = new_manager.key_fingerprint
    report = RotationReport(
        store=store.description,
        target_fingerprint=target_fp,
        source_fingerprints=source_fingerprints(old_manager, new_manager),
        dry_run=dry_run,
    )
    when = int(time.time()) if now is None else int(now)
    if dry_run:
        rotator = _Rotator(old_manager, new_manager, when, True, 1)
        _run(store, rotator, report, batch_size, progress, None)
        report.seconds = time.monotonic() - started
        return report
    # The pool is forked before the lock is taken: workers never inherit the lock.
    rotator = _Rotator(old_manager, new_manager, when, False, workers)
    try:
        _locked_run(store, rotator, report, batch_size, progress, new_target)
    finally:
        rotator.close()
    report.seconds = time.monotonic() - started
    return report


def _locked_run(
    store: Store,
    rotator: _Rotator,
    report: RotationReport,
    batch_size: int,
    progress: Progress | None,
    new_target: bool,
) -> None:
    target_fp = report.target_fingerprint
    with store.lock():
        store.prepare()
        journal = store.read_journal()
        after: Any = None
        if journal is not None:
            if journal.get("target_fingerprint") != target_fp and not new_target:
                raise JournalMismatchError(
                    f"{store.description}: an unfinished rotation to "
                    f"{journal.get('target_fingerprint')} was interrupted, but the target key "
                    f"is now {target_fp}; finish it with that key, or pass --new-target "
                    f"(new_target=True) to start over towards {target_fp}"
                )
            if journal.get("target_fingerprint") == target_fp:
                after = journal.get("last_id")
                report.resumed = True
                _restore_counts(report, journal)
        state = {
            "store": store.description,
            "source_fingerprints": report.source_fingerprints,
            "target_fingerprint": target_fp,
            "started": (journal or {}).get("started") if report.resumed else _utc_now(),
            "last_id": after,
        }
        if not report.resumed:
            state["started"] = _utc_now()
        store.write_journal(_journal(state, report))
        _run(store, rotator, report, batch_size, progress, state)
        store.clear_journal()


def _utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _journal(state: dict[str, Any], report: RotationReport) -> dict[str, Any]:
    data = dict(state)
    data["counts"] = {
        "total": report.total,
        "rotated": report.rotated,
        "already_current": report.already_current,
        "undecryptable": report.undecryptable,
        "failed": report.failed,
        "skipped": report.skipped,
        "by_source": dict(report.by_source),
    }
    data["undecryptable_ids"] = list(report.undecryptable_ids)
    return data


def _restore_counts(report: RotationReport, journal: dict[str, Any]) -> None:
    counts = journal.get("counts") or {}
    for name in ("total", "rotated", "already_current", "undecryptable", "failed", "skipped"):
        value = counts.get(name)
        if isinstance(value, int):
            setattr(report, name, value)
    by_source = counts.get("by_source")
    if isinstance(by_source, dict):
        report.by_source = {str(k): int(v) for k, v in by_source.items()}
    ids = journal.get("undecryptable_ids")
    if isinstance(ids, list):
        report.undecryptable_ids = ids[:MAX_LISTED_IDS]


def _tally(report: RotationReport, cell: Cell, res: TokenResult, by_source: Counter[str]) -> None:
    report.total += 1
    if res.outcome is Outcome.DONE:
        report.already_current += 1
    elif res.outcome is Outcome.ROTATED:
        report.rotated += 1
        if res.source:
            by_source[res.source] += 1
    elif res.outcome is Outcome.UNDECRYPTABLE:
        report.undecryptable += 1
        if len(report.undecryptable_ids) < MAX_LISTED_IDS:
            report.undecryptable_ids.append(cell.id)
    else:
        report.failed += 1


def _run(
    store: Store,
    rotator: _Rotator,
    report: RotationReport,
    batch_size: int,
    progress: Progress | None,
    state: dict[str, Any] | None,
) -> None:
    dry = state is None
    after = None if state is None else state["last_id"]
    total = store.count() if progress is not None else None
    by_source: Counter[str] = Counter(report.by_source)
    conflicts: list[Any] = []
    seen = 0
    pending: deque[tuple[Page, Callable[[], list[TokenResult]]]] = deque()

    def finish(page: Page, results: list[TokenResult]) -> None:
        nonlocal seen
        changes: list[Change] = []
        for cell, res in zip(page.cells, results, strict=True):
            if res.outcome is Outcome.ROTATED and res.token is not None:
                changes.append(Change(cell, res.token))
        missed = store.replace(changes) if changes and not dry else []
        missed_set = set(missed)
        for cell, res in zip(page.cells, results, strict=True):
            if cell.id in missed_set:
                continue  # counted when re-read
            _tally(report, cell, res, by_source)
        report.skipped += page.skipped
        conflicts.extend(missed)
        report.by_source = dict(by_source)
        if state is not None:
            state["last_id"] = page.last_id
            store.write_journal(_journal(state, report))
        seen += len(page.cells) + page.skipped
        if progress is not None:
            progress(seen, total)

    for page in _pages(store, batch_size, after):
        pending.append((page, rotator.submit([c.token for c in page.cells])))
        if len(pending) > 1:
            done_page, get = pending.popleft()
            finish(done_page, get())
    while pending:
        done_page, get = pending.popleft()
        finish(done_page, get())
    passes = 0
    while conflicts and passes < CONFLICT_PASSES:
        passes += 1
        ids, conflicts = conflicts, []
        cells = store.fetch(ids)
        page = Page(cells, 0, state["last_id"] if state else None)
        finish(page, rotator.submit([c.token for c in cells])())
    report.conflicts = len(conflicts)


def _pages(store: Store, batch_size: int, after: Any) -> Iterator[Page]:
    yield from store.pages(batch_size, after)
