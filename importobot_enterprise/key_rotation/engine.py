"""``rotate_store``: one crash-safe, resumable rotation run over a :class:`Store` (D20);
``verify_store``: the proof that a store is done.

A run re-encrypts, then *verifies*: it reads the whole store again and checks that every
token opens under the target key alone and that no value was skipped unread. "Done"
(``report.complete``, exit 0) rests on that pass, never on counts, so a value written
under an old key during the run, or one the rotation could not read, keeps the run from
being called done.

The main process is the only writer. Classification, re-encryption and verification
may run in a pool of forked workers (``workers=N``); only ciphertext crosses process
boundaries, and the managers reach the workers by fork, never by pickling (D6).
"""

from __future__ import annotations

import hashlib
import multiprocessing
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

from importobot.exceptions import DecryptionError
from importobot.security import CredentialManager
from importobot_enterprise.key_rotation.core import (
    OUTCOME_CODES,
    Outcome,
    PlanSummary,
    rotate_token,
)
from importobot_enterprise.key_rotation.errors import JournalError, JournalMismatchError
from importobot_enterprise.key_rotation.fast import FastPath
from importobot_enterprise.key_rotation.ids import decode_id, encode_id, show_id
from importobot_enterprise.key_rotation.observer import (
    CallbackObserver,
    Observers,
    RotationObserver,
)
from importobot_enterprise.key_rotation.stores.base import Cell, Change, Page, Store

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "RotationReport",
    "rotate_store",
    "source_fingerprints",
    "verify_store",
]

DEFAULT_BATCH_SIZE = 500
#: Ids kept in a journal / report per list (the counts are always exact).
MAX_LISTED_IDS = 10_000
#: Passes over cells that changed underneath (compare-and-swap misses) before giving up.
CONFLICT_PASSES = 3
#: Journal counts above this are corrupt (no store holds 2**63 values).
_MAX_COUNT = 2**63
#: Tokens this run has seen open under the target (digests, ~80 bytes each in memory):
#: the verification pass need not decrypt the same bytes again.
MAX_KNOWN_TOKENS = 1_000_000

_R = TypeVar("_R")
Progress = Callable[[int, "int | None"], None]
#: One page's results, in the page's token order: an outcome code per token
#: (``OUTCOME_CODES``), the fingerprint of the key that opened it (``None``: no key),
#: and the new tokens of the rotated ones. Columns: cheap to send between processes.
Results = tuple[bytes, list["str | None"], list[bytes]]
_COUNTS = ("total", "rotated", "already_current", "undecryptable", "failed", "skipped")


@dataclass
class RotationReport:
    """The outcome of one run: counts, fingerprints and ids only (never a value).

    ``verified`` is ``None`` for a dry run; otherwise whether the verification pass found
    every token in the store under the target key alone and no unreadable value.
    """

    store: str
    target_fingerprint: str
    source_fingerprints: list[str]
    dry_run: bool = False
    verify_only: bool = False
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
    #: Non-empty values holding no Fernet token the rotation could find (skipped).
    unreadable: int = 0
    unreadable_ids: list[Any] = field(default_factory=list)
    verified: bool | None = None
    #: Tokens the verification pass read, and those not under the target key alone.
    checked: int = 0
    unverified: int = 0
    #: Unverified tokens by the key that opens them (``"none"``: no given key).
    unverified_by_key: dict[str, int] = field(default_factory=dict)
    unverified_ids: list[Any] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        """True when every value in the store is under the target key.

        After a run: proved by the verification pass. For a dry run: the plan leaves
        nothing behind (no value that no key opens, none unreadable).
        """
        if self.verified is not None:
            return self.verified
        return not (self.undecryptable or self.failed or self.conflicts or self.unreadable)

    @property
    def stale(self) -> int:
        """Tokens the verification pass found under a *known* key other than the target
        (written under an old key during the run, or changed underneath)."""
        return sum(n for fp, n in self.unverified_by_key.items() if fp != "none")

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
            undecryptable_ids=tuple(show_id(i) for i in self.undecryptable_ids),
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (ids of any type shown as JSON values)."""
        return {
            "store": self.store,
            "target_fingerprint": self.target_fingerprint,
            "source_fingerprints": list(self.source_fingerprints),
            "dry_run": self.dry_run,
            "verify_only": self.verify_only,
            "resumed": self.resumed,
            "total": self.total,
            "rotated": self.rotated,
            "already_current": self.already_current,
            "undecryptable": self.undecryptable,
            "failed": self.failed,
            "skipped": self.skipped,
            "conflicts": self.conflicts,
            "by_source": dict(self.by_source),
            "undecryptable_ids": [show_id(i) for i in self.undecryptable_ids],
            "unreadable": self.unreadable,
            "unreadable_ids": [show_id(i) for i in self.unreadable_ids],
            "verified": self.verified,
            "checked": self.checked,
            "unverified": self.unverified,
            "unverified_by_key": dict(self.unverified_by_key),
            "unverified_ids": [show_id(i) for i in self.unverified_ids],
            "complete": self.complete,
        }


def source_fingerprints(old: CredentialManager, new: CredentialManager) -> list[str]:
    """Fingerprints of every key a value may be rotated from, in trial order."""
    out: list[str] = []
    for fp in [*new.previous_fingerprints, old.key_fingerprint, *old.previous_fingerprints]:
        if fp != new.key_fingerprint and fp not in out:
            out.append(fp)
    return out


def _add_id(ids: list[Any], value: Any) -> None:
    """Append an id once (a value's tokens come together) and up to the listing cap."""
    if len(ids) < MAX_LISTED_IDS and (not ids or ids[-1] != value):
        ids.append(value)


class _Known:
    """Digests of tokens this run proved to open under the target key: the new tokens it
    made (each checked before use) and the tokens it found already under the target.

    The same bytes decrypt the same way, so the verification pass, which still reads
    every value of the store, decrypts only tokens it has not seen proved: values written
    or changed by anyone else during the run are always decrypted. BLAKE2b-128 digests:
    no one can make another token with a known token's digest.
    """

    def __init__(self, limit: int = MAX_KNOWN_TOKENS) -> None:
        self.limit = limit
        self.digests: set[bytes] = set()

    @staticmethod
    def _digest(token: bytes) -> bytes:
        return hashlib.blake2b(token, digest_size=16).digest()

    def add(self, token: bytes) -> None:
        if len(self.digests) < self.limit:
            self.digests.add(self._digest(token))

    def update(self, tokens: list[bytes]) -> None:
        room = self.limit - len(self.digests)
        if room > 0:
            digest = self._digest
            self.digests.update(digest(t) for t in tokens[:room])

    def __contains__(self, token: bytes) -> bool:
        return bool(self.digests) and self._digest(token) in self.digests


# -- workers -------------------------------------------------------------------------
_worker_state: dict[str, Any] = {}


def _worker_init(old: CredentialManager, new: CredentialManager, now: int, dry: bool) -> None:
    _die_with_parent()
    fast, verifier = FastPath(old, new), FastPath(new, new)  # this process's own openers
    _worker_state.update(
        old=old,
        new=new,
        now=now,
        dry=dry,
        fast=fast if fast.usable else None,
        verifier=verifier if verifier.usable else None,
    )


def _die_with_parent() -> None:
    """Linux: SIGKILL this worker when the main process dies, so a killed run leaves no
    orphan holding inherited descriptors (a lock file, a database socket)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG = 1, SIGKILL = 9
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def _rotate_page(tokens: list[bytes], state: dict[str, Any]) -> Results:
    """One page through the fast path, or the managers' own ``rotate_token`` per token."""
    fast: FastPath | None = state["fast"]
    rotate = not state["dry"]
    if fast is not None:
        return fast.rotate_many(tokens, state["now"], rotate)
    codes = bytearray()
    sources: list[str | None] = []
    made: list[bytes] = []
    for t in tokens:
        r = rotate_token(t, state["old"], state["new"], now=state["now"], rotate=rotate)
        codes.append(OUTCOME_CODES[r.outcome])
        sources.append(r.source)
        if r.token is not None:
            made.append(r.token)
    return bytes(codes), sources, made


def _worker_rotate(tokens: list[bytes]) -> Results:
    return _rotate_page(tokens, _worker_state)


def _opener(token: bytes, manager: CredentialManager) -> str | None:
    """Fingerprint of the key that opens ``token`` (primary first), ``None`` if none does."""
    try:
        return manager.open_token(token)[1]
    except DecryptionError:
        return None


def _worker_verify(tokens: list[bytes]) -> list[str | None]:
    verifier: FastPath | None = _worker_state["verifier"]
    if verifier is not None:
        return [verifier.opener_of(t) for t in tokens]
    target = _worker_state["new"]
    return [_opener(t, target) for t in tokens]


class _Rotator:
    """Rotates or verifies pages inline, or in a forked pool with pages in flight."""

    def __init__(
        self, old: CredentialManager, new: CredentialManager, now: int, dry: bool, workers: int
    ) -> None:
        self.old, self.new, self.now, self.dry = old, new, now, dry
        self.workers = workers
        self.pool: Any = None
        fast, verifier = FastPath(old, new), FastPath(new, new)
        self.state: dict[str, Any] = {
            "old": old,
            "new": new,
            "now": now,
            "dry": dry,
            "fast": fast if fast.usable else None,
        }
        self.verifier = verifier if verifier.usable else None
        if workers > 1:
            ctx = multiprocessing.get_context("fork")
            self.pool = ctx.Pool(workers, _worker_init, (old, new, now, dry))

    def _split(self, tokens: list[bytes], func: Callable[[list[bytes]], Any]) -> list[Any]:
        size = max(1, -(-len(tokens) // self.workers))
        return [
            self.pool.apply_async(func, (tokens[i : i + size],))
            for i in range(0, len(tokens), size)
        ]

    def submit(self, tokens: list[bytes]) -> Callable[[], Results]:
        if self.pool is None:
            done = _rotate_page(tokens, self.state)
            return lambda: done
        parts = self._split(tokens, _worker_rotate)

        def joined() -> Results:
            codes, sources, made = bytearray(), [], []
            for part in parts:
                c, s, m = part.get()
                codes += c
                sources += s
                made += m
            return bytes(codes), sources, made

        return joined

    def verify(self, tokens: list[bytes]) -> Callable[[], list[str | None]]:
        if self.pool is None:
            verifier = self.verifier
            if verifier is not None:
                found = [verifier.opener_of(t) for t in tokens]
            else:
                found = [_opener(t, self.new) for t in tokens]
            return lambda: found
        parts = self._split(tokens, _worker_verify)
        return lambda: [r for part in parts for r in part.get()]

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()


def _observer(observer: RotationObserver | None, progress: Progress | None) -> RotationObserver:
    chosen = [o for o in (observer,) if o is not None]
    if progress is not None:
        chosen.append(CallbackObserver(progress))
    return chosen[0] if len(chosen) == 1 else Observers(chosen)


# -- the run -------------------------------------------------------------------------
def rotate_store(
    store: Store,
    old_manager: CredentialManager,
    new_manager: CredentialManager,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    observer: RotationObserver | None = None,
    dry_run: bool = False,
    new_target: bool = False,
    workers: int = 1,
    now: int | None = None,
) -> RotationReport:
    """Rotate every token in ``store`` to ``new_manager``'s key; resumable, crash-safe.

    Values under the target are left alone; tokens a source key opens are re-encrypted
    with a fresh timestamp, verified, and swapped in per batch by compare-and-swap on
    the whole value; tokens no key opens are counted and listed by id, untouched. Then a
    verification pass reads the store again: ``report.complete`` is true only when every
    token opens under the target key alone and no non-empty value was skipped unread.
    ``dry_run`` computes the plan and writes nothing (no journal, no lock file). A
    journal left by a killed run is resumed; one naming another target key stops the
    run unless ``new_target``. ``observer`` is told of the start, progress and end.
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

    def body(rotator: _Rotator, obs: RotationObserver) -> None:
        if dry_run:
            _run(store, rotator, report, batch_size, obs, None)
        else:
            _locked_run(store, rotator, report, batch_size, obs, new_target)

    # The pool is forked before the lock is taken (workers never inherit the lock).
    return _observed(
        report,
        _observer(observer, progress),
        lambda: _Rotator(old_manager, new_manager, when, dry_run, 1 if dry_run else workers),
        body,
        started,
    )


def verify_store(
    store: Store,
    manager: CredentialManager,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    observer: RotationObserver | None = None,
    workers: int = 1,
) -> RotationReport:
    """Prove a store is done: every token opens under ``manager``'s primary key alone and
    no non-empty value lacks a token. Reads only (no lock, no journal).

    The decision trusts the primary key alone; ``manager``'s previous keys (if any) only
    name the key a stale token is under. ``report.complete`` is the verdict; the ids of
    the values that fail it are listed.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    started = time.monotonic()
    report = RotationReport(
        store=store.description,
        target_fingerprint=manager.key_fingerprint,
        source_fingerprints=list(manager.previous_fingerprints),
        verify_only=True,
    )

    def body(rotator: _Rotator, obs: RotationObserver) -> None:
        _verify(store, rotator, report, batch_size, obs)
        report.total = report.checked

    return _observed(
        report,
        _observer(observer, None),
        lambda: _Rotator(manager, manager, 0, True, workers),
        body,
        started,
    )


def _observed(
    report: RotationReport,
    obs: RotationObserver,
    start: Callable[[], _Rotator],
    body: Callable[[_Rotator, RotationObserver], None],
    started: float,
) -> RotationReport:
    """Run ``body`` with the rotator ``start`` makes, telling ``obs`` of the start and of
    the end (finished or failed); the rotator is made (its pool forked) before any
    observer runs, since an observer may start threads."""
    try:
        rotator = start()
    except BaseException as exc:
        obs.started(report)
        obs.failed(report, exc)
        raise
    obs.started(report)
    try:
        try:
            body(rotator, obs)
        finally:
            rotator.close()
    except BaseException as exc:
        report.seconds = time.monotonic() - started
        obs.failed(report, exc)
        raise
    report.seconds = time.monotonic() - started
    obs.finished(report)
    return report


def _locked_run(
    store: Store,
    rotator: _Rotator,
    report: RotationReport,
    batch_size: int,
    obs: RotationObserver,
    new_target: bool,
) -> None:
    target_fp = report.target_fingerprint
    with store.lock():
        store.prepare()
        journal = store.read_journal()
        after: Any = None
        started: str | None = None
        if journal is not None:
            where = store.journal_label
            journal_target = journal.get("target_fingerprint")
            if not isinstance(journal_target, str):
                raise JournalError(f"{where}: corrupt rotation journal (no target key)")
            if journal_target != target_fp and not new_target:
                raise JournalMismatchError(
                    f"{store.description}: an unfinished rotation to {journal_target} was "
                    f"interrupted, but the target key is now {target_fp}; finish it with that "
                    f"key, or pass --new-target (new_target=True) to start over towards "
                    f"{target_fp}"
                )
            if journal_target == target_fp:
                after = _restore(report, journal, where)
                report.resumed = True
                value = journal.get("started")
                started = value if isinstance(value, str) and len(value) < 64 else None
        state = {
            "store": store.description,
            "source_fingerprints": report.source_fingerprints,
            "target_fingerprint": target_fp,
            "started": started or _utc_now(),
            "last_id": after,
        }
        store.write_journal(_journal(state, report))
        known = _Known()
        _run(store, rotator, report, batch_size, obs, state, known)
        # The pass is over: a rerun starts a fresh pass, whatever verification finds.
        store.clear_journal()
        _verify(store, rotator, report, batch_size, obs, known, store.heartbeat)
        store.finish(report)


def _utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _journal(state: dict[str, Any], report: RotationReport) -> dict[str, Any]:
    data = dict(state)
    data["last_id"] = encode_id(state["last_id"])
    data["counts"] = {
        "total": report.total,
        "rotated": report.rotated,
        "already_current": report.already_current,
        "undecryptable": report.undecryptable,
        "failed": report.failed,
        "skipped": report.skipped,
        "unreadable": report.unreadable,
        "by_source": dict(report.by_source),
    }
    data["undecryptable_ids"] = [encode_id(i) for i in report.undecryptable_ids]
    data["unreadable_ids"] = [encode_id(i) for i in report.unreadable_ids]
    return data


def _count(value: Any, what: str, where: str) -> int:
    if type(value) is not int or not 0 <= value < _MAX_COUNT:
        raise JournalError(f"{where}: corrupt rotation journal ({what} is not a count)")
    return value


def _id_list(value: Any, what: str, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise JournalError(f"{where}: corrupt rotation journal ({what} is not a list)")
    return [decode_id(v, where) for v in value[:MAX_LISTED_IDS]]


def _restore(report: RotationReport, journal: dict[str, Any], where: str) -> Any:
    """Counts and ids of the interrupted run, checked; returns its last id."""
    counts = journal.get("counts")
    if counts is None:
        counts = {}
    if not isinstance(counts, dict):
        raise JournalError(f"{where}: corrupt rotation journal (counts is not an object)")
    for name in (*_COUNTS, "unreadable"):
        setattr(report, name, _count(counts.get(name, 0), name, where))
    by_source = counts.get("by_source") or {}
    if not isinstance(by_source, dict):
        raise JournalError(f"{where}: corrupt rotation journal (by_source is not an object)")
    report.by_source = {
        str(fp)[:64]: _count(n, "by_source", where) for fp, n in list(by_source.items())[:1000]
    }
    report.undecryptable_ids = _id_list(journal.get("undecryptable_ids"), "ids", where)
    report.unreadable_ids = _id_list(journal.get("unreadable_ids"), "ids", where)
    return decode_id(journal.get("last_id"), where)


_DONE, _ROTATED = OUTCOME_CODES[Outcome.DONE], OUTCOME_CODES[Outcome.ROTATED]
_UNDECRYPTABLE = OUTCOME_CODES[Outcome.UNDECRYPTABLE]


def _tally(
    report: RotationReport,
    cells: list[Cell],
    results: Results,
    by_source: Counter[str],
    missed: set[Any],
) -> None:
    """Count a page's outcomes (cells whose value changed underneath are counted when
    re-read, not here)."""
    codes, sources, _ = results
    if missed:
        kept = [n for n, cell in enumerate(cells) if cell.id not in missed]
        cells = [cells[n] for n in kept]
        codes = bytes(codes[n] for n in kept)
        sources = [sources[n] for n in kept]
    report.total += len(codes)
    report.already_current += codes.count(_DONE)
    rotated = codes.count(_ROTATED)
    report.rotated += rotated
    if rotated:
        by_source.update(s for c, s in zip(codes, sources, strict=True) if c == _ROTATED and s)
    undecryptable = codes.count(_UNDECRYPTABLE)
    report.undecryptable += undecryptable
    if undecryptable:
        for cell, code in zip(cells, codes, strict=True):
            if code == _UNDECRYPTABLE:
                _add_id(report.undecryptable_ids, cell.id)
    report.failed += len(codes) - rotated - undecryptable - codes.count(_DONE)


def _run(
    store: Store,
    rotator: _Rotator,
    report: RotationReport,
    batch_size: int,
    obs: RotationObserver,
    state: dict[str, Any] | None,
    known: _Known | None = None,
) -> None:
    dry = state is None
    after = None if state is None else state["last_id"]
    total = store.count() if obs.needs_total else None
    by_source: Counter[str] = Counter(report.by_source)
    conflicts: list[Any] = []
    seen = 0

    def finish(page: Page, results: Results) -> None:
        nonlocal seen
        if state is not None:
            encode_id(page.last_id)  # an id the journal cannot keep stops the run here
        codes, _, made = results
        changes: list[Change] = []
        if not dry:
            # made: the new tokens of the ROTATED codes, in order (each checked under
            # the target by rotate_token or its fast path).
            fresh = iter(made)
            for cell, code in zip(page.cells, codes, strict=True):
                if code == _ROTATED:
                    changes.append(Change(cell, next(fresh)))
                elif code == _DONE and known is not None:
                    known.add(cell.token)
            if known is not None:
                known.update(made)
        missed = store.replace(changes) if changes else []
        _tally(report, page.cells, results, by_source, set(missed))
        report.skipped += page.skipped
        report.unreadable += len(page.unreadable_ids)
        for row_id in page.unreadable_ids:
            _add_id(report.unreadable_ids, row_id)
        conflicts.extend(missed)
        report.by_source = dict(by_source)
        if state is not None:
            state["last_id"] = page.last_id
            store.write_journal(_journal(state, report))
        seen += len(page.cells) + page.skipped
        obs.progress(report, "rotating", seen, total)

    _pipelined(
        store.pages(batch_size, after),
        lambda page: rotator.submit([c.token for c in page.cells]),
        finish,
    )
    passes = 0
    while conflicts and passes < CONFLICT_PASSES:
        passes += 1
        ids, conflicts = conflicts, []
        cells = store.fetch(ids)
        page = Page(cells, 0, state["last_id"] if state else None)
        finish(page, rotator.submit([c.token for c in cells])())
    report.conflicts = len(set(conflicts))


def _verify(
    store: Store,
    rotator: _Rotator,
    report: RotationReport,
    batch_size: int,
    obs: RotationObserver,
    known: _Known | None = None,
    beat: Callable[[], None] | None = None,
) -> None:
    """Read the whole store again; every token must open under the target key alone
    (``known``: tokens this run already proved, not decrypted twice)."""
    target = report.target_fingerprint
    total = store.count() if obs.needs_total else None
    by_key: Counter[str] = Counter()
    report.checked = report.unverified = report.unreadable = 0
    report.unverified_ids, report.unreadable_ids = [], []
    seen = 0

    def check(page: Page) -> Callable[[], list[str | None]]:
        if known is None:
            return rotator.verify([c.token for c in page.cells])
        fresh = [i for i, c in enumerate(page.cells) if c.token not in known]
        get = rotator.verify([page.cells[i].token for i in fresh])

        def merged() -> list[str | None]:
            out: list[str | None] = [target] * len(page.cells)
            for i, fp in zip(fresh, get(), strict=True):
                out[i] = fp
            return out

        return merged

    def finish(page: Page, openers: list[str | None]) -> None:
        nonlocal seen
        for cell, fp in zip(page.cells, openers, strict=True):
            report.checked += 1
            if fp != target:
                report.unverified += 1
                by_key[fp or "none"] += 1
                _add_id(report.unverified_ids, cell.id)
        report.unreadable += len(page.unreadable_ids)
        for row_id in page.unreadable_ids:
            _add_id(report.unreadable_ids, row_id)
        seen += len(page.cells) + page.skipped
        if beat is not None:
            beat()
        obs.progress(report, "verifying", seen, total)

    _pipelined(store.pages(batch_size, None), check, finish)
    report.unverified_by_key = dict(by_key)
    report.verified = report.unverified == 0 and report.unreadable == 0


def _pipelined(
    pages: Iterator[Page],
    submit: Callable[[Page], Callable[[], _R]],
    finish: Callable[[Page, _R], None],
) -> None:
    """Submit each page, and finish the one before it meanwhile: the main process reads
    and writes one page while the pool works on the next."""
    pending: deque[tuple[Page, Callable[[], _R]]] = deque()
    for page in pages:
        pending.append((page, submit(page)))
        if len(pending) > 1:
            done_page, get = pending.popleft()
            finish(done_page, get())
    while pending:
        done_page, get = pending.popleft()
        finish(done_page, get())
