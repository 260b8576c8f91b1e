"""``importobot rotate``, ``importobot kek``, ``importobot hsm`` and ``importobot compliance``.

``rotate`` re-encrypts stored ciphertexts (files, SQLite, PostgreSQL); ``kek`` creates,
rotates and inspects key-encrypting keys (D24); ``hsm`` is 0.1.5's HSM store on a real
PKCS#11 token; ``compliance report`` builds compliance reports from evidence (D25, at the
end of this module). What follows is about ``rotate``.

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

import dataclasses
import functools
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

__all__ = ["compliance", "rotate"]

#: ``--format text|json``: every command here but ``compliance report``.
_FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")

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


@dataclasses.dataclass(frozen=True)
class _Run:
    """The options every ``rotate`` command takes (see :func:`_common`)."""

    dry_run: bool
    verify: bool
    batch_size: int
    workers: int
    new_target: bool
    fmt: str
    no_progress: bool

    def check(self) -> None:
        if self.verify and (self.dry_run or self.new_target):
            raise click.UsageError(
                "--verify changes nothing: it takes no --dry-run or --new-target"
            )


def _common(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options every ``rotate`` command takes, handed to it as one ``run`` (:class:`_Run`)."""

    @functools.wraps(func)
    def bundled(**kwargs: Any) -> Any:
        run = _Run(**{f.name: kwargs.pop(f.name) for f in dataclasses.fields(_Run)})
        return func(run=run, **kwargs)

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
        _FORMAT,
        click.option("--no-progress", is_flag=True, help="No progress bar, even on a terminal."),
    ]
    wrapped: Callable[..., Any] = bundled
    for option in reversed(options):
        wrapped = option(wrapped)
    return wrapped


def _ids(ids: Sequence[Any], count: int) -> str:
    from importobot_enterprise.key_rotation.retire_check import shown_ids

    return shown_ids(ids, count, _SHOWN_IDS)


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
        from importobot_enterprise.key_rotation.retire_check import keys_holding

        click.echo(
            f"  NOT under {r.target_fingerprint}: {_plural(r.unverified, 'value')} "
            f"({keys_holding(r, 'no given key')}); ids: {_ids(r.unverified_ids, r.unverified)}"
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


def _run_one(store: Store, run: _Run, observer: RotationObserver | None) -> RotationReport:
    """Rotate (or only verify) one opened store; rotation events go to configured sinks."""
    from importobot_enterprise.key_rotation import rotate_store, verify_store
    from importobot_enterprise.key_rotation.observer import EventsObserver, Observers
    from importobot_enterprise.key_rotation.observer import RotationLogObserver as Log

    events = Observers([EventsObserver(), Log()])  # events, and the rotation log (D25)
    observer = Observers([observer, events]) if observer is not None else events
    if run.verify:
        return verify_store(
            store,
            _manager(target_only=True),
            batch_size=run.batch_size,
            workers=run.workers,
            observer=observer,
        )
    manager = _manager()
    return rotate_store(
        store,
        manager,
        manager,
        batch_size=run.batch_size,
        observer=observer,
        dry_run=run.dry_run,
        new_target=run.new_target,
        workers=run.workers,
    )


def _rotate_table(ctx: click.Context, store: Store, run: _Run) -> None:
    """Rotate one SQL store (opened by the caller) with a progress bar, render, exit."""
    with store, _progress(not run.no_progress and not run.dry_run) as bar:
        report = _run_one(store, run, bar)
    _finish(ctx, _render([report], run.fmt))


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
    run: _Run,
) -> None:
    """Rotate the tokens in one column of an SQLite table (tokens inside text, such as a
    JSON document, included)."""
    from importobot_enterprise.key_rotation import SQLiteStore

    run.check()
    store = SQLiteStore(path, table, id_column, column, read_only=run.dry_run or run.verify)
    _rotate_table(ctx, store, run)


@rotate.command("postgresql")
@click.argument("dsn")
@_table_options
@click.option(
    "--journal-table",
    default="importobot_rotation_journal",
    show_default=True,
    help="Table (or SCHEMA.TABLE) for the run journal; created if missing.",
)
@click.option(
    "--shard",
    metavar="K/N",
    help="Rotate shard K of N (one process per shard, on any hosts): the first shard to "
    "start fixes a plan of N id ranges covering every id.",
)
@click.option(
    "--replan",
    is_flag=True,
    help="With --shard: replace a stored plan of another N (refused while its shards run).",
)
@click.option(
    "--status",
    is_flag=True,
    help="Show the shard plan and every shard's progress, holder and heartbeat; change nothing.",
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
    shard: str | None,
    replan: bool,
    status: bool,
    run: _Run,
) -> None:
    """Rotate the tokens in one column of a PostgreSQL table (text, bytea, json, jsonb).

    DSN must not hold a password or any other secret: use PGPASSWORD, ~/.pgpass or
    PGSERVICE. With --shard K/N, N processes on N hosts rotate one table together,
    coordinated through PostgreSQL itself: each owns an id range of the stored plan,
    holds its own advisory lock, keeps a heartbeat and resumes on its own; a shard whose
    host died is resumed by starting the same shard anywhere. An unsharded run and a
    sharded plan exclude each other.
    """
    from importobot_enterprise.key_rotation.shards import parse_shard
    from importobot_enterprise.key_rotation.stores.postgres import PostgresStore, check_dsn

    check_dsn(dsn)
    run.check()
    if replan and shard is None:
        raise click.UsageError("--replan needs --shard K/N")
    if status and (shard or replan or run.dry_run or run.verify or run.new_target):
        raise click.UsageError("--status only reports: it takes no other mode")
    spec = parse_shard(shard) if shard else None
    store = PostgresStore(
        dsn,
        table,
        id_column,
        column,
        journal_table=journal_table,
        read_only=run.dry_run or run.verify or status,
        shard=spec,
        replan=replan,
    )
    if status:
        with store:
            _finish(ctx, _render_status(store, run.fmt))
        return
    if spec is not None and (run.dry_run or run.verify):
        try:
            store.load_plan()
        except BaseException:
            store.close()
            raise
    _rotate_table(ctx, store, run)


def _render_status(store: Any, fmt: str) -> int:
    """``--status``: the plan and each shard (never a value)."""
    plan, shards = store.status()
    if fmt == "json":
        doc = {
            "version": 1,
            "store": store.description,
            "plan": None if plan is None else plan.to_json(),
            "shards": [s.to_json() for s in shards],
        }
        click.echo(json.dumps(doc, indent=2, default=str))
        return 0
    if plan is None:
        click.echo(f"{store.description}: no shard plan")
        return 0
    click.echo(
        f"{store.description}: plan {plan.plan_id} ({plan.shards} shards, {plan.scheme}, "
        f"made {plan.created or 'at an unknown time'})"
    )
    for st in shards:
        holder = f"held by backend pid {st.backend_pid}" if st.backend_pid else "not running"
        beat = f"heartbeat {st.heartbeat_age:.0f} s ago" if st.heartbeat_age is not None else "-"
        where = f"{st.host} pid {st.pid}" if st.host else "-"
        click.echo(
            f"  shard {st.shard}/{st.shards} {st.range}: {st.state}, {st.rotated} rotated of "
            f"{st.total} read, last id {show_id(st.last_id)!r}; {holder}; last run {where}; "
            f"{beat}"
        )
    return 0


@rotate.command("files")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_common
@click.pass_context
def rotate_files(ctx: click.Context, files: tuple[str, ...], run: _Run) -> None:
    """Rotate the Fernet tokens in files (dotenv values, one token per line, ...).

    Every byte that is not a token is kept; symlinks are kept, mode and owner kept.
    """
    from importobot_enterprise.key_rotation import FileStore

    run.check()
    stores = [FileStore(f) for f in files]  # every file checked before any is changed
    with _progress(not run.no_progress and not run.dry_run and len(stores) > 1, len(stores)) as bar:
        reports = [_run_one(store, run, bar) for store in stores]
    _finish(ctx, _render(reports, run.fmt))


# -- kek (D24) -----------------------------------------------------------------------------
def _kek_uri(uri: str | None) -> str:
    """URI, else the first of IMPORTOBOT_KEK."""
    from importobot.security.key_sources import ENV_KEK, trusted_kek_uris

    chosen = (uri or "").strip()
    if not chosen:
        listed = trusted_kek_uris()
        if not listed:
            raise click.UsageError(f"name the KEK: URI argument, or set {ENV_KEK}")
        chosen = listed[0]
    return chosen


def _kek_call(uri: str, action: str, call: Callable[[Any], Any]) -> Any:
    """Run ``call(backend)`` for the KEK ``uri`` (network backends under the D24 timeout)."""
    import os

    from importobot.security.key_sources import call_backend, kek_backend

    backend = kek_backend(uri, os.environ)
    try:
        return call_backend(backend, action, lambda: call(backend), os.environ)
    finally:
        backend.close()


def _render_kek(status: Any, fmt: str, wrapped: Any = None) -> None:
    data = status.to_dict()
    if wrapped is not None:
        data["wrapped"] = {
            "fingerprint": wrapped.fingerprint,
            "version": wrapped.version,
            "latest": wrapped.version == status.latest,
        }
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    click.echo(f"kek          {status.uri}")
    click.echo(f"backend      {status.backend}")
    click.echo(f"key id       {status.key_id}")
    click.echo(f"versions     {', '.join(status.versions)} (newest {status.latest})")
    if status.min_decryption is not None:
        click.echo(f"min decrypt  {status.min_decryption}")
    for name, value in sorted(status.details.items()):
        click.echo(f"{name:<12} {value}")
    if wrapped is not None:
        state = "newest" if wrapped.version == status.latest else "older: run importobot key rewrap"
        click.echo(f"wrapped key  {wrapped.fingerprint} under version {wrapped.version} ({state})")


def _kek_change(
    uri: str | None, fmt: str, action: str, event: str, call: Callable[[Any], Any]
) -> None:
    """Change the KEK (``call(backend)`` returns its new status), say so as ``event``, render."""
    from importobot.events import emit_event

    chosen = _kek_uri(uri)
    status = _kek_call(chosen, action, call)
    emit_event(event, payload={"kek": chosen, "kek_version": status.latest})
    _render_kek(status, fmt)


@click.group("kek")
def kek() -> None:
    """Create, rotate and inspect key-encrypting keys (HSM, Vault/OpenBao, AWS KMS).

    URI is pkcs11:token=LABEL;object=NAME (module from IMPORTOBOT_PKCS11_MODULE, PIN
    from IMPORTOBOT_PKCS11_PIN or IMPORTOBOT_PKCS11_PIN_FILE),
    vault://HOST:PORT/MOUNT/keys/NAME (VAULT_TOKEN or BAO_TOKEN, VAULT_CACERT;
    vault+http:// for a loopback dev server) or awskms:alias/NAME / a key ARN (boto3's
    credentials). Without URI, the first of IMPORTOBOT_KEK. Never prints key material.
    """


@kek.command("create")
@click.argument("uri", required=False)
@_FORMAT
def kek_create(uri: str | None, fmt: str) -> None:
    """Create the KEK: AES-256 generated on the token (non-extractable), a transit
    aes256-gcm96 key, or a KMS key with its alias."""
    _kek_change(uri, fmt, "create the KEK", "kek.created", lambda b: b.create())


@kek.command("rotate")
@click.argument("uri", required=False)
@_FORMAT
def kek_rotate(uri: str | None, fmt: str) -> None:
    """Add a new KEK version; wrapped keys under older versions still unwrap. Then run
    `importobot key rewrap` to move the wrapped key to the new version."""
    _kek_change(uri, fmt, "rotate the KEK", "kek.rotated", lambda b: b.rotate())


@kek.command("status")
@click.argument("uri", required=False)
@click.option(
    "--wrapped",
    "wrapped_file",
    type=click.Path(dir_okay=False),
    help="Also say which KEK version wrapped the key in FILE (e.g. .importobot-key.wrapped).",
)
@_FORMAT
def kek_status(uri: str | None, wrapped_file: str | None, fmt: str) -> None:
    """The KEK's id, versions (and the newest), and which version wrapped a key."""
    from importobot.security.key_sources import load_wrapped, read_wrapped_file

    wrapped = None
    if wrapped_file:
        wrapped = load_wrapped(read_wrapped_file(wrapped_file, "--wrapped"), wrapped_file)
    chosen = _kek_uri(uri) if uri or not wrapped else wrapped.uri
    if wrapped is not None and wrapped.uri != chosen:
        raise click.UsageError(f"{wrapped_file} is wrapped under {wrapped.uri}, not {chosen}")
    if not uri and wrapped is not None:
        from importobot.security.key_sources import trusted_kek_uris

        if chosen not in trusted_kek_uris():
            raise click.UsageError(
                f"{wrapped_file} names the KEK {chosen}, which IMPORTOBOT_KEK does not list; "
                f"pass the URI to inspect it"
            )
    status = _kek_call(chosen, "read the KEK's status", lambda b: b.status())
    _render_kek(status, fmt, wrapped)


# -- hsm (D24: 0.1.5's HSM store) -------------------------------------------------------------
def _store(uri: str | None) -> Any:
    from importobot_enterprise.hsm import HSMKeyStore

    return HSMKeyStore(uri)


def _hsm_changed(action: str, alias: str, fp: str | None = None) -> None:
    from importobot.events import emit_event

    emit_event("hsm.changed", fingerprint=fp, payload={"action": action, "alias": alias})


def _value_from_stdin(prompt: str) -> str:
    from importobot.commands import InputError, read_secret

    value = read_secret(prompt)
    if not value:
        raise InputError("no value on stdin: pipe the value in (never on the command line)")
    return value


def _hsm_put(action: str, alias: str, prompt: str, put: Callable[[str], int]) -> tuple[int, str]:
    """Read a value from stdin, ``put`` it on the token (the version it became), say so as
    ``action``; the version and the value's fingerprint (never the value)."""
    from importobot_enterprise.hsm import _fingerprint

    value = _value_from_stdin(prompt)
    version = put(value)
    fp = _fingerprint(value.encode("utf-8"))
    _hsm_changed(action, alias, fp)
    return version, fp


_URI_OPTION = click.option(
    "--uri",
    metavar="URI",
    help="The token: pkcs11:token=LABEL [env: IMPORTOBOT_HSM].",
)


@click.group("hsm")
def hsm() -> None:
    """importobot 0.1.5's HSM store, on a real PKCS#11 token (versions, never values shown).

    The token is IMPORTOBOT_HSM (pkcs11:token=LABEL) or --uri; the module
    IMPORTOBOT_PKCS11_MODULE; the PIN IMPORTOBOT_PKCS11_PIN or
    IMPORTOBOT_PKCS11_PIN_FILE. Values are read from stdin, never from argv. Stored
    values are extractable by necessity: for the encryption key itself, prefer a KEK
    on the token (`importobot kek create` + `importobot key wrap`).
    """


@hsm.command("status")
@_URI_OPTION
@_FORMAT
def hsm_status(uri: str | None, fmt: str) -> None:
    """The token's label, maker, model, serial and flags, and how many values it holds."""
    info = _store(uri).token_info()
    if fmt == "json":
        click.echo(json.dumps(info, indent=2, sort_keys=True))
        return
    for name in ("label", "manufacturer", "model", "serial"):
        click.echo(f"{name:<13}{info[name]}")
    click.echo(f"{'flags':<13}{', '.join(info['flags'])}")
    click.echo(f"{'values':<13}{info['objects']}")


@hsm.command("list")
@_URI_OPTION
@_FORMAT
def hsm_list(uri: str | None, fmt: str) -> None:
    """Every stored version: alias, version, fingerprint, date (never a value)."""
    keys = _store(uri).list_keys()
    if fmt == "json":
        click.echo(json.dumps([k.to_dict() for k in keys], indent=2, sort_keys=True))
        return
    if not keys:
        click.echo("no values stored")
    for k in keys:
        created = k.created.strftime("%Y-%m-%dT%H:%M:%SZ") if k.created else "-"
        click.echo(f"{k.alias}  v{k.version}  {k.fingerprint}  {created}  {k.length} bytes")


@hsm.command("store")
@click.argument("alias")
@_URI_OPTION
def hsm_store(alias: str, uri: str | None) -> None:
    """Store the value on stdin under ALIAS (version 1; an existing ALIAS is refused)."""

    def store(value: str) -> int:
        _store(uri).store_key(alias, value)
        return 1

    version, fp = _hsm_put("store", alias, f"Value for {alias}: ", store)
    click.echo(f"stored {alias} version {version} ({fp})")


@hsm.command("rotate")
@click.argument("alias")
@_URI_OPTION
def hsm_rotate(alias: str, uri: str | None) -> None:
    """Store the value on stdin as ALIAS's next version (older versions are kept)."""
    version, fp = _hsm_put(
        "rotate",
        alias,
        f"New value for {alias}: ",
        lambda value: _store(uri).rotate_key(alias, value),
    )
    click.echo(f"stored {alias} version {version} ({fp}); retire old versions with hsm retire")


@hsm.command("retire")
@click.argument("alias")
@click.option("--version", "version", type=click.IntRange(min=1), help="Only this version.")
@_URI_OPTION
def hsm_retire(alias: str, version: int | None, uri: str | None) -> None:
    """Destroy ALIAS's old versions (or --version N); the newest is kept."""
    gone = _store(uri).retire_key(alias, version)
    _hsm_changed("retire", alias)
    shown = ", ".join(str(v) for v in gone) or "none"
    click.echo(f"retired {alias} versions: {shown}")


@hsm.command("delete")
@click.argument("alias")
@_URI_OPTION
def hsm_delete(alias: str, uri: str | None) -> None:
    """Destroy every version of ALIAS."""
    count = _store(uri).delete_key(alias)
    _hsm_changed("delete", alias)
    click.echo(f"deleted {alias} ({count} version{'s' if count != 1 else ''})")


@hsm.command("mirror")
@click.option("--alias", default="importobot", show_default=True, help="Alias on the token.")
@_URI_OPTION
def hsm_mirror(alias: str, uri: str | None) -> None:
    """Store the active importobot key on the token (a new version when it changed).

    The key comes from the usual sources (never argv); only its fingerprint is shown.
    The mirrored copy is extractable by necessity: prefer a wrapped key under a KEK.
    """
    from importobot.keys.fingerprint import fingerprint
    from importobot.security.key_sources import resolve_primary_key
    from importobot.security.key_validation import encode_key

    key = resolve_primary_key()
    fp = fingerprint(key.raw)
    store = _store(uri)
    current = [k for k in store.list_keys() if k.alias == alias]
    if current and current[-1].fingerprint == fp:
        click.echo(f"{alias} already holds {fp} (version {current[-1].version})")
        return
    if current:
        version = store.rotate_key(alias, encode_key(key.raw))
    else:
        store.store_key(alias, encode_key(key.raw))
        version = 1
    _hsm_changed("mirror", alias, fp)
    click.echo(f"mirrored {fp} from {key.source.label} to {alias} version {version}")


# -- compliance ----------------------------------------------------------------------------
@click.group("compliance")
def compliance() -> None:
    """Compliance reports built from evidence: key controls mapped to PCI DSS v4.0.1 and
    NIST SP 800-57 Part 1 Rev. 5."""


@compliance.command("report")
@click.argument("path", required=False, type=click.Path())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "markdown", "html"]),
    default="markdown",
    show_default=True,
    help="json (schema: importobot_enterprise/compliance/report.schema.json), markdown for "
    "a pull request, html: one self-contained page.",
)
@click.option("--output", type=click.Path(dir_okay=False), help="Write here, not to stdout.")
@click.option(
    "--policy",
    "policy_file",
    type=click.Path(dir_okay=False),
    help="A policy TOML file (cryptoperiods, required-storage); overrides the configuration.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["fail", "warn", "manual"]),
    default="fail",
    show_default=True,
    help="Exit 1 when a control is at or above this status (fail > warn > manual).",
)
@click.option(
    "--previous",
    type=click.Path(dir_okay=False),
    help="An earlier JSON report: show new failures and fixed controls.",
)
@click.option("--config", type=click.Path(dir_okay=False), help="Configuration file to use.")
@click.option("--no-history", is_flag=True, help="Do not scan the git history for keys.")
@click.pass_context
def compliance_report(
    ctx: click.Context,
    path: str | None,
    fmt: str,
    output: str | None,
    policy_file: str | None,
    fail_on: str,
    previous: str | None,
    config: str | None,
    no_history: bool,
) -> None:
    """Report the key-management controls of the repository at PATH (default: here).

    Evidence, not assertions: the keys and where they come from, the registry, the rotation
    log, plaintext keys in the tree and history, attestations and their signed commits.
    Exit 0 when no control is at or above --fail-on, 1 otherwise, 2 on errors.
    """
    from importobot_enterprise.compliance.command import ReportRequest, run_report

    request = ReportRequest(
        path=path,
        fmt=fmt,
        output=output,
        policy=policy_file,
        fail_on=fail_on,
        previous=previous,
        config=config,
        history=not no_history,
    )
    ctx.exit(run_report(request))
