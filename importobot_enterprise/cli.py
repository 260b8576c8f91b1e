"""``importobot rotate``: re-encrypt stored ciphertexts (files, SQLite, PostgreSQL).

Registered through the ``importobot.commands`` entry point; the base CLI imports this
module only when ``rotate`` is invoked. The target key comes from the usual sources
(``IMPORTOBOT_ENCRYPTION_KEY``, the keyring); the keys to rotate from are the previous
keys (``IMPORTOBOT_PREVIOUS_KEYS``, ``IMPORTOBOT_PREVIOUS_KEYS_FILE``, the keyring's
``.previous`` entry). No option takes a key or a password (D6).

Every run ends with a verification pass over the whole store; ``--verify`` runs that
pass alone, trusting the target key alone (no previous key source is read).

Exit codes: 0 the verification pass found every value under the new key; 1 some value
is not (no given key opens it, it was written under an old key meanwhile, or the store
holds a non-empty value with no token importobot can find: all listed by id, left
untouched); 2 usage or environment error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from importobot_enterprise.key_rotation.engine import DEFAULT_BATCH_SIZE, RotationReport
from importobot_enterprise.key_rotation.ids import show_id
from importobot_enterprise.key_rotation.observer import RotationObserver

if TYPE_CHECKING:
    from importobot.security import CredentialManager
    from importobot_enterprise.key_rotation.stores.base import Store

__all__ = ["rotate"]

#: Ids printed per list in the text report (the JSON report lists up to 10,000).
_SHOWN_IDS = 50


def _manager(target_only: bool = False) -> CredentialManager:
    """The active key, with the previous keys, or (``target_only``) without reading any
    previous-key source at all: not the variables, the file, nor the keyring entry."""
    from importobot.security import CredentialManager

    return CredentialManager(previous_keys=[] if target_only else None)


class _ProgressBar(RotationObserver):
    """A rich progress bar on a terminal (stderr): the values of one store, or (``files``)
    the files of a ``rotate files`` run.

    The bar (and its refresh thread) starts at the first update, after rotate_store has
    forked its workers: no thread is running when the pool forks.
    """

    def __init__(self, bar: Any, files: int | None) -> None:
        self.bar = bar
        self.files = files
        self.files_done = 0
        self.needs_total = files is None
        self.task = bar.add_task("rotating", total=None)
        self.running = False

    def _update(self, description: str, done: int, total: int | None) -> None:
        if not self.running:
            self.bar.start()
            self.running = True
        self.bar.update(self.task, description=description, completed=done, total=total)

    def progress(self, report: RotationReport, phase: str, done: int, total: int | None) -> None:
        if self.files is None:
            self._update(phase, done, total)

    def _file_done(self) -> None:
        if self.files is not None:
            self.files_done += 1
            self._update("files", self.files_done, self.files)

    def finished(self, report: RotationReport) -> None:
        self._file_done()

    def failed(self, report: RotationReport, error: BaseException) -> None:
        self._file_done()

    def stop(self) -> None:
        if self.running:
            self.bar.stop()


@contextmanager
def _progress(enabled: bool, files: int | None = None) -> Iterator[RotationObserver | None]:
    """The progress-bar observer on a terminal, ``None`` otherwise (or without rich)."""
    if not (enabled and sys.stderr.isatty()):
        yield None
        return
    try:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
    except ImportError:  # rich comes with the enterprise extra; without it, no bar
        yield None
        return
    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    observer = _ProgressBar(bar, files)
    try:
        yield observer
    finally:
        observer.stop()


def _common(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--dry-run", is_flag=True, help="Print the plan; change nothing."),
        click.option(
            "--verify",
            "--only-target",
            "verify",
            is_flag=True,
            help="Only verify: every value must open under the active key alone (no previous "
            "key is read, the keyring's .previous entry included). Changes nothing.",
        ),
        click.option(
            "--batch-size",
            type=click.IntRange(min=1),
            default=DEFAULT_BATCH_SIZE,
            show_default=True,
            help="Values per committed batch.",
        ),
        click.option(
            "--workers",
            type=click.IntRange(min=1, max=64),
            default=1,
            show_default=True,
            help="Processes that decrypt/encrypt/verify (the main process stays the only writer).",
        ),
        click.option(
            "--new-target",
            is_flag=True,
            help="Start over although an interrupted run's journal names another target key.",
        ),
        click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text"),
        click.option("--no-progress", is_flag=True, help="No progress bar, even on a terminal."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _ids(ids: Sequence[Any], count: int) -> str:
    shown = ", ".join(str(show_id(i)) for i in ids[:_SHOWN_IDS])
    return shown + (" ..." if count > min(len(ids), _SHOWN_IDS) else "")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _render_one(r: RotationReport) -> None:
    if r.dry_run:
        click.echo(f"plan for {r.store}")
        for line in r.plan().lines():
            click.echo(f"  {line}")
        if r.unreadable:
            shown = _ids(r.unreadable_ids, r.unreadable)
            click.echo(f"  unreadable   {r.unreadable} (ids {shown})")
        return
    if r.verify_only:
        click.echo(f"checked {r.store}")
        click.echo(
            f"  {_plural(r.checked, 'value')} checked, {r.checked - r.unverified} under "
            f"{r.target_fingerprint} ({r.seconds:.1f} s)"
        )
    else:
        click.echo(f"{'resumed' if r.resumed else 'rotated'} {r.store}")
        click.echo(
            f"  {r.rotated} rotated, {r.already_current} already under {r.target_fingerprint}, "
            f"{r.undecryptable} undecryptable, {r.skipped} skipped ({r.seconds:.1f} s)"
        )
        if r.undecryptable_ids:
            click.echo(f"  no given key opens ids: {_ids(r.undecryptable_ids, r.undecryptable)}")
        if r.failed:
            click.echo(f"  {_plural(r.failed, 'new token')} failed their check, not written")
        if r.conflicts:
            click.echo(f"  {_plural(r.conflicts, 'value')} kept changing while being rotated")
    if r.unverified:
        keys = ", ".join(
            f"{n} under {'no given key' if fp == 'none' else fp}"
            for fp, n in sorted(r.unverified_by_key.items())
        )
        click.echo(
            f"  NOT under {r.target_fingerprint}: {_plural(r.unverified, 'value')} ({keys}); "
            f"ids: {_ids(r.unverified_ids, r.unverified)}"
        )
    if r.unreadable:
        click.echo(
            f"  {_plural(r.unreadable, 'non-empty value')} with no Fernet token importobot can "
            f"read, skipped: ids {_ids(r.unreadable_ids, r.unreadable)}"
        )


def _advice(reports: Sequence[RotationReport]) -> list[str]:
    """What to do about each reason a store is not done; never a wrong reason."""
    bad = [r for r in reports if not r.complete]
    out: list[str] = []
    none_opens = sum(r.unverified_by_key.get("none", 0) for r in bad if r.verified is not None)
    none_opens += sum(r.undecryptable for r in bad if r.verified is None)
    if none_opens:
        out.append(
            f"{_plural(none_opens, 'value')} no given key opens: if they are under an old key, "
            f"add it to IMPORTOBOT_PREVIOUS_KEYS and rerun"
        )
    stale = sum(r.stale for r in bad)
    if stale:
        if any(r.verify_only for r in bad):
            out.append(f"{_plural(stale, 'value')} under an old key: rotate, then verify again")
        else:
            out.append(
                f"{_plural(stale, 'value')} under an old key after the run (written by a writer "
                f"still using the old key, changed while being rotated, or failing their check): "
                f"switch every writer to the new key, then rerun"
            )
    unreadable = sum(r.unreadable for r in bad)
    if unreadable:
        out.append(
            f"{_plural(unreadable, 'value')} without a Fernet token importobot can read "
            f"(listed by id): check them by hand; rotation cannot prove they are under the new key"
        )
    if bad and not out:  # dry run: failed or conflicts cannot happen without writing
        out.append("the store is not done: rerun")
    out.append("do not retire any old key yet")
    return out


def _render(reports: Sequence[RotationReport], fmt: str) -> int:
    code = 0 if all(r.complete for r in reports) else 1
    if fmt == "json":
        click.echo(json.dumps({"version": 1, "reports": [r.to_json() for r in reports]}, indent=2))
        return code
    for r in reports:
        _render_one(r)
    done = [r for r in reports if not r.dry_run]
    if code == 1:
        for line in _advice(reports):
            click.echo(line, err=True)
    elif done and all(r.verify_only for r in done):
        click.echo(f"verified: every value is under {done[0].target_fingerprint}.")
    elif done:
        sources = sorted({fp for r in done for fp in r.by_source})
        click.echo(f"verified: every value is under {done[0].target_fingerprint}.")
        if sources:
            click.echo(
                "once every store holding values under the old key is rotated and verified, "
                "retire it:"
            )
            for fp in sources:
                click.echo(f"  importobot key retire {fp}")
    return code


def _finish(ctx: click.Context, code: int) -> None:
    ctx.exit(code)


def _check_modes(verify: bool, dry_run: bool, new_target: bool) -> None:
    if verify and (dry_run or new_target):
        raise click.UsageError("--verify changes nothing: it takes no --dry-run or --new-target")


@click.group("rotate")
def rotate() -> None:
    """Re-encrypt stored Fernet tokens under the active key (files, SQLite, PostgreSQL).

    The new key is the active key (IMPORTOBOT_ENCRYPTION_KEY or the keyring); the old
    keys are the previous keys (IMPORTOBOT_PREVIOUS_KEYS). Runs are journaled, locked
    and resumable: rerun the same command after an interruption. Each run ends by
    verifying the whole store; --verify only verifies, with the active key alone.
    Exit 0 when every value is under the new key, 1 when some value is not (listed by
    id), 2 on errors.
    """


def _table_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The table, id column and token column of an SQL store."""
    func = click.option("--column", required=True, help="The column holding the tokens.")(func)
    func = click.option("--id-column", required=True, help="A unique column addressing each row.")(
        func
    )
    return click.option("--table", required=True, help="Table (or SCHEMA.TABLE).")(func)


def _run_one(
    store: Store,
    *,
    verify: bool,
    dry_run: bool,
    batch_size: int,
    workers: int,
    new_target: bool,
    observer: RotationObserver | None,
) -> RotationReport:
    """Rotate (or only verify) one opened store; rotation events go to configured sinks."""
    from importobot_enterprise.key_rotation import rotate_store, verify_store
    from importobot_enterprise.key_rotation.observer import EventsObserver, Observers

    events = EventsObserver()
    observer = Observers([observer, events]) if observer is not None else events
    if verify:
        return verify_store(
            store,
            _manager(target_only=True),
            batch_size=batch_size,
            workers=workers,
            observer=observer,
        )
    manager = _manager()
    return rotate_store(
        store,
        manager,
        manager,
        batch_size=batch_size,
        observer=observer,
        dry_run=dry_run,
        new_target=new_target,
        workers=workers,
    )


def _rotate_table(
    ctx: click.Context,
    store: Store,
    verify: bool,
    dry_run: bool,
    batch_size: int,
    workers: int,
    new_target: bool,
    fmt: str,
    no_progress: bool,
) -> None:
    """Rotate one SQL store (opened by the caller) with a progress bar, render, exit."""
    with store, _progress(not no_progress and not dry_run) as bar:
        report = _run_one(
            store,
            verify=verify,
            dry_run=dry_run,
            batch_size=batch_size,
            workers=workers,
            new_target=new_target,
            observer=bar,
        )
    _finish(ctx, _render([report], fmt))


@rotate.command("sqlite")
@click.argument("path", type=click.Path(dir_okay=False))
@_table_options
@_common
@click.pass_context
def rotate_sqlite(
    ctx: click.Context,
    path: str,
    table: str,
    id_column: str,
    column: str,
    dry_run: bool,
    verify: bool,
    batch_size: int,
    workers: int,
    new_target: bool,
    fmt: str,
    no_progress: bool,
) -> None:
    """Rotate the tokens in one column of an SQLite table (tokens inside text, such as a
    JSON document, included)."""
    from importobot_enterprise.key_rotation import SQLiteStore

    _check_modes(verify, dry_run, new_target)
    store = SQLiteStore(path, table, id_column, column, read_only=dry_run or verify)
    _rotate_table(ctx, store, verify, dry_run, batch_size, workers, new_target, fmt, no_progress)


@rotate.command("postgresql")
@click.argument("dsn")
@_table_options
@click.option(
    "--journal-table",
    default="importobot_rotation_journal",
    show_default=True,
    help="Table (or SCHEMA.TABLE) for the run journal; created if missing.",
)
@_common
@click.pass_context
def rotate_postgresql(
    ctx: click.Context,
    dsn: str,
    table: str,
    id_column: str,
    column: str,
    journal_table: str,
    dry_run: bool,
    verify: bool,
    batch_size: int,
    workers: int,
    new_target: bool,
    fmt: str,
    no_progress: bool,
) -> None:
    """Rotate the tokens in one column of a PostgreSQL table (text, bytea, json, jsonb).

    DSN must not hold a password or any other secret: use PGPASSWORD, ~/.pgpass or
    PGSERVICE.
    """
    from importobot_enterprise.key_rotation.stores.postgres import PostgresStore, check_dsn

    check_dsn(dsn)
    _check_modes(verify, dry_run, new_target)
    store = PostgresStore(
        dsn, table, id_column, column, journal_table=journal_table, read_only=dry_run or verify
    )
    _rotate_table(ctx, store, verify, dry_run, batch_size, workers, new_target, fmt, no_progress)


@rotate.command("files")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_common
@click.pass_context
def rotate_files(
    ctx: click.Context,
    files: tuple[str, ...],
    dry_run: bool,
    verify: bool,
    batch_size: int,
    workers: int,
    new_target: bool,
    fmt: str,
    no_progress: bool,
) -> None:
    """Rotate the Fernet tokens in files (dotenv values, one token per line, ...).

    Every byte that is not a token is kept; symlinks are kept, mode and owner kept.
    """
    from importobot_enterprise.key_rotation import FileStore

    _check_modes(verify, dry_run, new_target)
    stores = [FileStore(f) for f in files]  # every file checked before any is changed
    reports: list[RotationReport] = []
    with _progress(not no_progress and not dry_run and len(stores) > 1, len(stores)) as bar:
        for store in stores:
            reports.append(
                _run_one(
                    store,
                    verify=verify,
                    dry_run=dry_run,
                    batch_size=batch_size,
                    workers=workers,
                    new_target=new_target,
                    observer=bar,
                )
            )
    _finish(ctx, _render(reports, fmt))
