"""``importobot rotate``: re-encrypt stored ciphertexts (files, SQLite, PostgreSQL).

Registered through the ``importobot.commands`` entry point; the base CLI imports this
module only when ``rotate`` is invoked. The target key comes from the usual sources
(``IMPORTOBOT_ENCRYPTION_KEY``, the keyring); the keys to rotate from are the previous
keys (``IMPORTOBOT_PREVIOUS_KEYS``, ``IMPORTOBOT_PREVIOUS_KEYS_FILE``, the keyring's
``.previous`` entry). No option takes a key or a password (D6).

Exit codes: 0 every value is under the new key; 1 some value could not be decrypted
by any given key (listed by id, left untouched); 2 usage or environment error.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from importobot_enterprise.key_rotation.engine import DEFAULT_BATCH_SIZE, RotationReport

if TYPE_CHECKING:
    from importobot_enterprise.key_rotation.stores.base import Store

__all__ = ["rotate"]


def _manager() -> Any:
    from importobot.security import CredentialManager

    return CredentialManager()


@contextmanager
def _progress(enabled: bool, label: str) -> Iterator[Callable[[int, int | None], None] | None]:
    """A rich progress bar on a terminal (stderr), nothing otherwise.

    The bar (and its refresh thread) starts at the first update, after rotate_store has
    forked its workers: no thread is running when the pool forks.
    """
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
    task = bar.add_task(label, total=None)
    started = False

    def update(done: int, total: int | None) -> None:
        nonlocal started
        if not started:
            bar.start()
            started = True
        bar.update(task, completed=done, total=total)

    try:
        yield update
    finally:
        if started:
            bar.stop()


def _common(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--dry-run", is_flag=True, help="Print the plan; change nothing."),
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


def _render(reports: Sequence[RotationReport], fmt: str) -> int:
    code = 0 if all(r.complete for r in reports) else 1
    if fmt == "json":
        click.echo(json.dumps({"version": 1, "reports": [r.to_json() for r in reports]}, indent=2))
        return code
    for r in reports:
        head = "plan for" if r.dry_run else ("resumed" if r.resumed else "rotated")
        click.echo(f"{head} {r.store}")
        if r.dry_run:
            for line in r.plan().lines():
                click.echo(f"  {line}")
            continue
        click.echo(
            f"  {r.rotated} rotated, {r.already_current} already under {r.target_fingerprint}, "
            f"{r.undecryptable} undecryptable, {r.skipped} skipped ({r.seconds:.1f} s)"
        )
        if r.undecryptable_ids:
            shown = ", ".join(str(i) for i in r.undecryptable_ids[:50])
            click.echo(
                f"  no given key opens ids: {shown}" + (" ..." if r.undecryptable > 50 else "")
            )
        if r.failed or r.conflicts:
            click.echo(f"  {r.failed} failed verification, {r.conflicts} changed underneath: rerun")
    done = [r for r in reports if not r.dry_run]
    if done and code == 0:
        sources = sorted({fp for r in done for fp in r.by_source})
        click.echo(f"every value is under {done[0].target_fingerprint}.")
        if sources:
            click.echo(
                "once every store holding values under the old key is rotated and verified, "
                "retire it:"
            )
            for fp in sources:
                click.echo(f"  importobot key retire {fp}")
    elif code == 1:
        click.echo(
            "some values could not be rotated: add their key to IMPORTOBOT_PREVIOUS_KEYS and "
            "rerun; do not retire any old key yet",
            err=True,
        )
    return code


def _finish(ctx: click.Context, code: int) -> None:
    ctx.exit(code)


@click.group("rotate")
def rotate() -> None:
    """Re-encrypt stored Fernet tokens under the active key (files, SQLite, PostgreSQL).

    The new key is the active key (IMPORTOBOT_ENCRYPTION_KEY or the keyring); the old
    keys are the previous keys (IMPORTOBOT_PREVIOUS_KEYS). Runs are journaled, locked
    and resumable: rerun the same command after an interruption. Exit 0 when every
    value is under the new key, 1 when some value no given key opens, 2 on errors.
    """


def _table_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The table, id column and token column of an SQL store."""
    func = click.option("--column", required=True, help="The column holding the tokens.")(func)
    func = click.option("--id-column", required=True, help="A unique column addressing each row.")(
        func
    )
    return click.option("--table", required=True, help="Table (or SCHEMA.TABLE).")(func)


def _rotate_table(
    ctx: click.Context,
    store: Store,
    dry_run: bool,
    batch_size: int,
    workers: int,
    new_target: bool,
    fmt: str,
    no_progress: bool,
) -> None:
    """Rotate one SQL store (opened by the caller) with a progress bar, render, exit."""
    from importobot_enterprise.key_rotation import rotate_store

    manager = _manager()
    with store, _progress(not no_progress and not dry_run, "rotating") as progress:
        report = rotate_store(
            store,
            manager,
            manager,
            batch_size=batch_size,
            progress=progress,
            dry_run=dry_run,
            new_target=new_target,
            workers=workers,
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
    batch_size: int,
    workers: int,
    new_target: bool,
    fmt: str,
    no_progress: bool,
) -> None:
    """Rotate the tokens in one column of an SQLite table."""
    from importobot_enterprise.key_rotation import SQLiteStore

    store = SQLiteStore(path, table, id_column, column, read_only=dry_run)
    _rotate_table(ctx, store, dry_run, batch_size, workers, new_target, fmt, no_progress)


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
    batch_size: int,
    workers: int,
    new_target: bool,
    fmt: str,
    no_progress: bool,
) -> None:
    """Rotate the tokens in one column of a PostgreSQL table.

    DSN must not hold a password: use PGPASSWORD, ~/.pgpass or PGSERVICE.
    """
    from importobot_enterprise.key_rotation.stores.postgres import PostgresStore, check_dsn

    check_dsn(dsn)
    store = PostgresStore(
        dsn, table, id_column, column, journal_table=journal_table, read_only=dry_run
    )
    _rotate_table(ctx, store, dry_run, batch_size, workers, new_target, fmt, no_progress)


@rotate.command("files")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_common
@click.pass_context
def rotate_files(
    ctx: click.Context,
    files: tuple[str, ...],
    dry_run: bool,
    batch_size: int,
    workers: int,
    new_target: bool,
    fmt: str,
    no_progress: bool,
) -> None:
    """Rotate the Fernet tokens in files (dotenv values, one token per line, ...).

    Every byte that is not a token is kept; symlinks are kept, mode and owner kept.
    """
    from importobot_enterprise.key_rotation import FileStore, rotate_store

    manager = _manager()
    stores = [FileStore(f) for f in files]  # every file checked before any is changed
    reports: list[RotationReport] = []
    with _progress(not no_progress and not dry_run and len(stores) > 1, "files") as progress:
        for n, store in enumerate(stores, 1):
            reports.append(
                rotate_store(
                    store,
                    manager,
                    manager,
                    batch_size=batch_size,
                    dry_run=dry_run,
                    new_target=new_target,
                    workers=workers,
                )
            )
            if progress is not None:
                progress(n, len(stores))
    _finish(ctx, _render(reports, fmt))
