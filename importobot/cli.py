"""The ``importobot`` command line (click). Thin: parse, call one function, render, exit.

Exit codes (D15): 0 nothing blocking, 1 findings / a judged key is bad, 2 usage,
configuration or environment error. Any :class:`ImportobotError` becomes one line on
stderr. No option ever takes a key, a plaintext or a password (D6): values come from
stdin (a hidden prompt on a terminal).

Enterprise commands plug in through the ``importobot.commands`` entry-point group;
they are listed by name and imported only when invoked.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import click

from importobot import plugins
from importobot._version import __version__
from importobot.exceptions import ImportobotError

if TYPE_CHECKING:
    from importobot.commands import Outcome


def _fail(message: str, code: int = 2) -> click.exceptions.Exit:
    click.echo(f"importobot: error: {message}", err=True)
    return click.exceptions.Exit(code)


def _missing_extra_command(name: str, message: str) -> click.Command:
    """A stand-in for a plugin command that cannot load: it says which extra to install."""

    @click.command(
        name=name,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        help=f"({message})",
        add_help_option=False,
    )
    def command() -> None:
        raise _fail(message)

    return command


class ImportobotGroup(click.Group):
    """A group that turns ImportobotError into one line and loads plugins lazily."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        if ctx.parent is None and self.name == "importobot":
            names.update(plugins.entry_points(plugins.COMMANDS))
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None or ctx.parent is not None:
            return command
        try:
            loaded = plugins.load(plugins.COMMANDS, cmd_name, feature=f"`importobot {cmd_name}`")
        except plugins.MissingExtraError as exc:
            if not exc.installed and cmd_name not in plugins.EXTRA_COMMANDS:
                return None
            return _missing_extra_command(cmd_name, str(exc))
        if not isinstance(loaded, click.Command):
            raise _fail(f"plugin command {cmd_name!r} is not a click command")
        return loaded

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ImportobotError as exc:
            raise _fail(exc.cli_message or str(exc), exc.exit_code) from None


@click.group(cls=ImportobotGroup, name="importobot")
@click.version_option(version=__version__, prog_name="importobot")
def cli() -> None:
    """Keep encryption keys out of git and keep them healthy.

    Exit codes: 0 nothing blocking, 1 findings, 2 usage, configuration or
    environment error. Keys are never taken on the command line: commands that
    need a value read it from stdin.
    """
    from importobot.security.key_sources import set_project_defaults

    # D24: the CLI (not the library) also reads the repository's .importobot-key.wrapped;
    # the project is loaded only if a key is looked for past the environment. Forgotten
    # when the command ends, so a library caller in the same process never inherits it.
    set_project_defaults(_project_key_files)
    click.get_current_context().call_on_close(lambda: set_project_defaults(None))


def _project_key_files() -> tuple[str | None, str | None]:
    from importobot.project import load_project

    project = load_project()
    return project.wrapped_key_path(), project.registry_path()


# -- key -------------------------------------------------------------------------------
def _finish(ctx: click.Context, outcome: Outcome) -> None:
    """Print a command's outcome and exit with its code."""
    if outcome.stdout:
        click.echo(outcome.stdout, nl=False)
    if outcome.stderr:
        click.echo(outcome.stderr, nl=False, err=True)
    ctx.exit(outcome.exit_code)


@cli.group(cls=ImportobotGroup)
def key() -> None:
    """Generate, store and inspect the encryption key."""


@key.command("generate")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "env"]),
    default="text",
    show_default=True,
    help="text: the key alone; env: IMPORTOBOT_ENCRYPTION_KEY=<key>.",
)
@click.pass_context
def key_generate(ctx: click.Context, fmt: str) -> None:
    """Print a new random key (32 bytes, url-safe base64: a Fernet key).

    This is the one command whose job is to print a key. Put it straight into your
    secret store, e.g. `importobot key generate | importobot key store`.
    """
    from importobot.commands import key as commands

    _finish(ctx, commands.generate(fmt))


@key.command("store")
@click.option(
    "--service",
    envvar="IMPORTOBOT_KEYRING_SERVICE",
    default=None,
    help="Keyring service name [env: IMPORTOBOT_KEYRING_SERVICE; default: importobot].",
)
@click.option(
    "--username",
    envvar="IMPORTOBOT_KEYRING_USERNAME",
    default="importobot",
    show_default=True,
    help="Keyring user name [env: IMPORTOBOT_KEYRING_USERNAME].",
)
@click.option("--generate", is_flag=True, help="Generate a new key instead of reading stdin.")
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace an existing entry; the old key is kept in <username>.previous (decrypt only).",
)
@click.pass_context
def key_store(
    ctx: click.Context, service: str | None, username: str, generate: bool, overwrite: bool
) -> None:
    """Store a key in the OS keyring (read from stdin, or generated).

    The key is read from stdin (a hidden prompt on a terminal; empty input
    generates one) and never printed: only its fingerprint is shown. The entry is
    SERVICE/USERNAME: IMPORTOBOT_KEYRING_SERVICE, else the service "importobot".
    importobot reads the keyring only when IMPORTOBOT_KEYRING_SERVICE is set.
    """
    from importobot.commands import key as commands
    from importobot.commands import read_secret

    value = None if generate else read_secret("Key (empty to generate): ")
    _finish(
        ctx,
        commands.store(service=service, username=username, value=value, overwrite=overwrite),
    )


@key.command("status")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--max-age", metavar="DURATION", help="Maximum key age, e.g. 90d (h, d or w).")
@click.option("--warn-age", metavar="DURATION", help="Warn from this age, e.g. 75d.")
@click.option("--registry", type=click.Path(dir_okay=False), help="Registry file.")
@click.pass_context
def key_status(
    ctx: click.Context,
    fmt: str,
    max_age: str | None,
    warn_age: str | None,
    registry: str | None,
) -> None:
    """Show the active key's source, fingerprint, age and due date (never the key).

    Exits 1 when no valid key is set up (IOB201 no key, IOB202 malformed, IOB203
    weak) or rotation is due (IOB301), with the rule code and what is wrong; 2 when
    the keyring cannot be read or the registry is invalid. Warns when a retired key
    is still configured as a previous key (IOB305).
    """
    from importobot.commands import key as commands

    _finish(ctx, commands.status(fmt=fmt, max_age=max_age, warn_age=warn_age, registry=registry))


@key.command("register")
@click.option(
    "--created",
    metavar="DATE",
    help="When the key was made: YYYY-MM-DD or an RFC 3339 timestamp (default: now).",
)
@click.option("--note", help="A short note stored beside the fingerprint (never a secret).")
@click.option("--registry", type=click.Path(dir_okay=False), help="Registry file.")
@click.pass_context
def key_register(
    ctx: click.Context, created: str | None, note: str | None, registry: str | None
) -> None:
    """Record the active key's fingerprint and creation date in the key registry.

    The registry (.importobot-keys.toml at the repository root) holds fingerprints
    and dates only, so it is safe to commit; key age checks read it.
    """
    from importobot.commands import key as commands

    _finish(ctx, commands.register(created=created, note=note, registry=registry))


@key.command("retire")
@click.argument("fingerprint", required=False)
@click.option("--at", "at", metavar="DATE", help="Retirement time (default: now).")
@click.option("--registry", type=click.Path(dir_okay=False), help="Registry file.")
@click.option(
    "--store",
    "stores",
    multiple=True,
    metavar="SPEC",
    help="Refuse while this store holds values under the key: files:PATH, "
    "sqlite:PATH:TABLE:ID_COLUMN:COLUMN or postgresql:TABLE:ID_COLUMN:COLUMN:DSN "
    "(repeatable; needs importobot[enterprise]).",
)
@click.pass_context
def key_retire(
    ctx: click.Context,
    fingerprint: str | None,
    at: str | None,
    registry: str | None,
    stores: tuple[str, ...],
) -> None:
    """Mark a previous key retired in the registry (never the active key).

    FINGERPRINT may be left out when exactly one previous key is configured. A
    configured previous key that was never registered is recorded, its creation
    date unknown. With --store, the key is retired only when no given store still
    holds a value under it. Afterwards remove that key from IMPORTOBOT_PREVIOUS_KEYS
    / the keyring.
    """
    from importobot.commands import key as commands

    _finish(ctx, commands.retire(fingerprint, at=at, registry=registry, stores=stores))


@key.command("wrap")
@click.option(
    "--kek",
    metavar="URI",
    help="Key-encrypting key: pkcs11:token=…;object=…, vault://HOST:PORT/MOUNT/keys/NAME, "
    "awskms:alias/NAME [default: the first of IMPORTOBOT_KEK].",
)
@click.option("--generate", is_flag=True, help="Wrap a new key instead of one read from stdin.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False),
    help="Write the wrapped key to FILE (mode 0644), e.g. .importobot-key.wrapped.",
)
@click.option("--overwrite", is_flag=True, help="Replace an existing --output file.")
@click.pass_context
def key_wrap(
    ctx: click.Context, kek: str | None, generate: bool, output: str | None, overwrite: bool
) -> None:
    """Wrap a key under a key-encrypting key (HSM, Vault/OpenBao transit, AWS KMS).

    The key is read from stdin (a hidden prompt on a terminal), or a new one is
    made with --generate; it is never printed. The wrapped key (iobwk1:…) is
    ciphertext: safe to print and to commit. importobot unwraps it only with a KEK
    that IMPORTOBOT_KEK lists. Needs importobot[enterprise] (or the pkcs11, vault or
    awskms extra).
    """
    from importobot.commands import key as commands
    from importobot.commands import read_secret

    value = None if generate else read_secret("Key to wrap: ")
    _finish(
        ctx,
        commands.wrap(kek=kek, value=value, generate=generate, output=output, overwrite=overwrite),
    )


@key.command("rewrap")
@click.argument("file", required=False, type=click.Path(dir_okay=False, allow_dash=True))
@click.pass_context
def key_rewrap(ctx: click.Context, file: str | None) -> None:
    """Move a wrapped key to its KEK's newest version (after `importobot kek rotate`).

    FILE defaults to IMPORTOBOT_WRAPPED_KEY_FILE, else .importobot-key.wrapped at
    the repository root; it is rewritten crash-safely, and only once the new
    wrapped key unwraps to the same key. With FILE "-", the wrapped key is read
    from stdin and the new one printed.
    """
    from importobot.commands import key as commands
    from importobot.commands import read_secret

    if file == "-":
        _finish(ctx, commands.rewrap(text=read_secret("Wrapped key: ")))
    _finish(ctx, commands.rewrap(file))


# -- hook -------------------------------------------------------------------------------
@cli.group(cls=ImportobotGroup)
def hook() -> None:
    """pre-commit hook entry points (also installed as importobot-<hook> scripts)."""


@hook.command("check-key")
@click.option("--optional", is_flag=True, help="A missing key is fine; an invalid one fails.")
@click.pass_context
def hook_check_key(ctx: click.Context, optional: bool) -> None:
    """Fail unless a valid 32-byte key is set up (IOB201-IOB203)."""
    from importobot.hooks.check_key import main as hook_main

    ctx.exit(hook_main(["--optional"] if optional else []))


@hook.command("key-age")
@click.option(
    "--optional", is_flag=True, help="No key set up is fine (an invalid or old one still fails)."
)
@click.option("--max-age", metavar="DURATION", help="Maximum key age, e.g. 90d (h, d or w).")
@click.option("--warn-age", metavar="DURATION", help="Warn from this age, e.g. 75d.")
@click.option("--strict", is_flag=True, help="Warnings fail too.")
@click.option("--registry", type=click.Path(dir_okay=False), help="Registry file.")
@click.pass_context
def hook_key_age(
    ctx: click.Context,
    optional: bool,
    max_age: str | None,
    warn_age: str | None,
    strict: bool,
    registry: str | None,
) -> None:
    """Fail when the active key is older than the policy (IOB301; IOB302/IOB304 warn).

    In a repository that has not opted in to key checks (no registry, no key-check
    setting, no key configured) it says "key checks skipped (not configured)" and exits 0.
    """
    from importobot.hooks.key_age import main as hook_main

    argv: list[str] = ["--optional"] if optional else []
    for name, value in (("--max-age", max_age), ("--warn-age", warn_age), ("--registry", registry)):
        if value:
            argv += [name, value]
    if strict:
        argv.append("--strict")
    ctx.exit(hook_main(argv))


@hook.command("block-keys")
@click.argument("files", nargs=-1, type=click.Path())
@click.option("--baseline", type=click.Path(dir_okay=False), help="Baseline of accepted findings.")
@click.option("--no-inline-ignores", is_flag=True, help="Ignore inline suppression pragmas.")
@click.pass_context
def hook_block_keys(
    ctx: click.Context, files: tuple[str, ...], baseline: str | None, no_inline_ignores: bool
) -> None:
    """Fail if a passed file holds a plaintext key.

    Judges the staged content, and the work-tree copy where it differs.
    """
    from importobot.hooks.block_keys import main as hook_main

    argv: list[str] = ["--baseline", baseline] if baseline else []
    if no_inline_ignores:
        argv.append("--no-inline-ignores")
    ctx.exit(hook_main([*argv, "--", *files]))


@hook.command("pre-receive")
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    help="The server's configuration (default: the default branch's, before the push).",
)
@click.option(
    "--baseline", type=click.Path(dir_okay=False), help="The server's baseline of accepted keys."
)
@click.option("--max-commits", metavar="N", help="Judge at most N new commits per push.")
@click.option(
    "--time-budget", metavar="SECONDS", help="Stop after this long (default 4; 0: no limit)."
)
@click.option(
    "--fail-open",
    is_flag=True,
    help="When a limit is hit and nothing was found, accept (default: reject).",
)
@click.pass_context
def hook_pre_receive(
    ctx: click.Context,
    config: str | None,
    baseline: str | None,
    max_commits: str | None,
    time_budget: str | None,
    fail_open: bool,
) -> None:
    """Server-side git pre-receive hook: reject pushed commits that add a plaintext key.

    Reads git's "OLD NEW REF" lines on stdin and judges the lines added by the pushed
    commits no existing ref reaches. Configuration and baseline come from --config, else
    from the default branch as it was before the push (never from the pushed commits);
    inline ignore pragmas are not honoured and no key checks run. Exit 0 accepts, 1
    rejects, 2 is a usage or configuration error (which rejects too).
    """
    from importobot.hooks.pre_receive import main as hook_main

    argv: list[str] = []
    for name, value in (
        ("--config", config),
        ("--baseline", baseline),
        ("--max-commits", max_commits),
        ("--time-budget", time_budget),
    ):
        if value is not None:
            argv += [name, value]
    if fail_open:
        argv.append("--fail-open")
    ctx.exit(hook_main(argv))


# -- encrypt / decrypt ----------------------------------------------------------------
@cli.command("encrypt")
@click.pass_context
def encrypt(ctx: click.Context) -> None:
    """Encrypt one value from stdin with the active key; print the Fernet token.

    The value is read from stdin (a hidden prompt on a terminal), never from argv;
    it must be UTF-8 text. Exits 2 when no valid key is set up.
    """
    from importobot.commands import crypt, read_secret

    _finish(ctx, crypt.encrypt(read_secret("Value to encrypt: ")))


@cli.command("decrypt")
@click.pass_context
def decrypt(ctx: click.Context) -> None:
    """Decrypt one Fernet token from stdin and print the plaintext.

    Tries the active key, then previous keys. Exits 2 when no valid key is set up or
    the token does not decrypt.
    """
    from importobot.commands import crypt, read_secret

    _finish(ctx, crypt.decrypt(read_secret("Token: ")))


# -- fix / run --------------------------------------------------------------------------
@cli.command("fix")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--apply", "apply_", is_flag=True, help="Do it (default: print the plan only).")
@click.option(
    "--to",
    "to",
    type=click.Choice(["keyring", "wrapped", "encrypted", "env-example"]),
    default="keyring",
    show_default=True,
    help="Where the values go: the OS keyring; a wrapped key (not available yet); "
    "importobot encrypt tokens under the active key; or nowhere (${VAR} references).",
)
@click.option("--config", type=click.Path(dir_okay=False), help="Configuration file.")
@click.option("--no-history", is_flag=True, help="Do not look for keys that are only in history.")
@click.pass_context
def fix(
    ctx: click.Context,
    paths: tuple[str, ...],
    apply_: bool,
    to: str,
    config: str | None,
    no_history: bool,
) -> None:
    """Move plaintext keys out of files and out of git, and say what to rotate.

    A dry run by default: prints the plan and changes nothing (exit 1 when there is
    something to fix, 0 when not). --apply moves each value of an env file or a compose
    environment: block to the OS keyring (or an encrypted token, or a ${VAR} reference),
    keeping every other byte; untracks and ignores env files and writes .env.example;
    marks committed keys compromised in the key registry and prints the rotation. It
    checks everything first: exit 2 with nothing changed when it cannot be done safely.
    Other forms (GitHub Actions env:, Dockerfile ENV, Kubernetes data:, source files) get
    a plan to follow by hand. History is never rewritten.
    """
    from importobot.commands.fix import FixRequest, run_fix

    request = FixRequest(paths=paths, apply=apply_, to=to, config=config, history=not no_history)
    _finish(ctx, run_fix(request))


@cli.command(
    "run",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def run_command(ctx: click.Context, command: tuple[str, ...]) -> None:
    """Start CMD with the values `importobot fix` moved to the OS keyring: run -- CMD [ARG...]

    The variables .env.example marks as coming from the keyring are looked up (service
    importobot:<origin URL>, user = the variable) and put in CMD's environment, never on
    its command line; a keyring value replaces an inherited one. Exit 2 when a value is
    missing; otherwise CMD replaces this process and its exit code is the result.
    """
    from importobot.commands.run import prepare

    argv, env, notes = prepare(command)
    for note in notes:
        click.echo(f"importobot run: {note}", err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(argv[0], argv, env)  # noqa: S606 - the user's own command, no shell
    except OSError as exc:
        raise _fail(f"cannot start {argv[0]!r}: {exc.strerror or exc}") from None


# -- check ------------------------------------------------------------------------------
class _CheckCommand(click.Command):
    """``check``, with ``--history=A..B`` moved to ``--rev-range`` before parsing."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, _history_argv(args))


@cli.command("check", cls=_CheckCommand)
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif", "github"]),
    default="text",
    show_default=True,
    help="Report format (github: workflow annotations).",
)
@click.option("--output", type=click.Path(dir_okay=False), help="Write the report to FILE.")
@click.option("--baseline", type=click.Path(dir_okay=False), help="Baseline of accepted findings.")
@click.option("--update-baseline", is_flag=True, help="Write current findings to the baseline.")
@click.option("--config", type=click.Path(dir_okay=False), help="Configuration file.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning", "never"]),
    default=None,
    help="Exit 1 on errors (default), on warnings too, or never.",
)
@click.option(
    "--no-key-check", is_flag=True, help="Only scan files; skip key set-up, age and IOB204 checks."
)
@click.option(
    "--max-key-age",
    metavar="DURATION",
    help="Key and ciphertext age limit for IOB301/IOB303, e.g. 90d (h, d or w).",
)
@click.option("--strict", is_flag=True, help="Warnings (IOB103, IOB302-IOB304) fail too.")
@click.option("--no-gitignore", is_flag=True, help="Also scan files git ignores.")
@click.option("--no-inline-ignores", is_flag=True, help="Ignore inline suppression pragmas.")
@click.option(
    "--include-vendored",
    is_flag=True,
    help="Also scan package-manager trees (node_modules/, vendor/ ...) and minified bundles.",
)
@click.option("--show-suppressed", is_flag=True, help="Also list suppressed findings.")
@click.option("--max-file-size", metavar="SIZE", help="Skip larger files (default 10MB).")
@click.option("--staged", is_flag=True, help="Scan the git index: what the next commit holds.")
@click.option(
    "--history",
    is_flag=True,
    help="Scan the lines every commit added (PATHs limit it, as in git log -- PATH).",
)
@click.option(
    "--rev-range",
    metavar="A..B",
    help="The commits --history scans (default: all refs). --history=A..B also works.",
)
@click.pass_context
def check(
    ctx: click.Context,
    paths: tuple[str, ...],
    fmt: str,
    output: str | None,
    baseline: str | None,
    update_baseline: bool,
    config: str | None,
    exit_zero: bool,
    fail_on: str | None,
    no_key_check: bool,
    max_key_age: str | None,
    strict: bool,
    no_gitignore: bool,
    no_inline_ignores: bool,
    include_vendored: bool,
    show_suppressed: bool,
    max_file_size: str | None,
    staged: bool,
    history: bool,
    rev_range: str | None,
) -> None:
    """Scan files for committed plaintext keys (default: git's tracked + untracked files).

    The configuration, baseline and registry are those of the repository holding the
    first PATH, wherever the command runs from.

    When the repository opts in (a key registry, [tool.importobot] key-check = true, a
    wrapped-key file, or a key-source variable such as IMPORTOBOT_ENCRYPTION_KEY or
    IMPORTOBOT_KEYRING_SERVICE), also judges the set-up key (IOB201-IOB203), its age
    (IOB301/IOB302/IOB304), committed copies of it (IOB204) and stale Fernet
    ciphertext (IOB303).

    Exit codes: 0 clean (or warnings only), 1 error findings, 2 usage/configuration
    error, an unreachable keyring, or nothing scanned.
    """
    from importobot.commands.check import CheckRequest, run_check

    if fail_on is not None and (exit_zero or strict):
        raise click.UsageError("--fail-on replaces --exit-zero and --strict: give one of them")
    if fail_on == "never":
        exit_zero = True
    elif fail_on == "warning":
        strict = True
    request = CheckRequest(
        paths=paths,
        fmt=fmt,
        output=output,
        baseline=baseline,
        update_baseline=update_baseline,
        config=config,
        exit_zero=exit_zero,
        key_check=not no_key_check,
        max_key_age=max_key_age,
        strict=strict,
        gitignore=not no_gitignore,
        inline_ignores=not no_inline_ignores,
        include_vendored=include_vendored,
        show_suppressed=show_suppressed,
        max_file_size=max_file_size,
        staged=staged,
        history=history,
        rev_range=rev_range,
    )
    ctx.exit(run_check(request))


# -- org scans (D27) ---------------------------------------------------------------------
@cli.command("scan-repos")
@click.argument("list_file", metavar="LIST", type=click.Path(dir_okay=False))
@click.option("--shard", metavar="K/N", help="Scan shard K of N (K counts from 1).")
@click.option(
    "--shard-index",
    type=click.IntRange(min=0),
    metavar="I",
    help="Shard as a 0-based index (Kubernetes JOB_COMPLETION_INDEX); needs --shards.",
)
@click.option("--shards", type=click.IntRange(min=1), metavar="N", help="Number of shards.")
@click.option(
    "--jobs", type=click.IntRange(1, 64), default=1, show_default=True, help="Parallel clones."
)
@click.option("--history", is_flag=True, help="Scan every commit (a full bare clone).")
@click.option(
    "--state",
    type=click.Path(file_okay=False),
    help="Directory for the resume state (default: the output directory).",
)
@click.option(
    "--output",
    type=click.Path(file_okay=False),
    default="importobot-results",
    show_default=True,
    help="Directory for the per-repository results.",
)
@click.option(
    "--honor-repo-config",
    is_flag=True,
    help="Apply each repository's own excludes, baseline and inline pragmas.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=900.0,
    show_default=True,
    help="Seconds a clone may take.",
)
@click.option(
    "--max-repo-size", default="2GB", show_default=True, help="Clones larger than this fail."
)
@click.option("--max-file-size", metavar="SIZE", help="Skip larger files (default 10MB).")
@click.option("--retry-failed", is_flag=True, help="Retry repositories recorded as failed.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
def scan_repos(
    list_file: str,
    shard: str | None,
    shard_index: int | None,
    shards: int | None,
    jobs: int,
    history: bool,
    state: str | None,
    output: str,
    honor_repo_config: bool,
    timeout: float,
    max_repo_size: str,
    max_file_size: str | None,
    retry_failed: bool,
    exit_zero: bool,
) -> None:
    """Scan the repositories of LIST that belong to this shard (an org-wide scan).

    LIST holds repository URLs or paths, one per line (https, ssh, file; credentials
    come from git's own helpers, never the URL). Each repository is in exactly one shard
    (a stable hash of its normalised URL). Each result is written to OUTPUT as
    <sha256 of the URL>.json; rerunning a killed shard resumes where it stopped. Merge
    the shards with `importobot report merge`.

    Exit codes: 0 no findings, 1 findings, 2 usage or configuration error. A repository
    that cannot be cloned or scanned is recorded as failed, not fatal.
    """
    from importobot.commands.scan_repos import ScanReposRequest, run_scan_repos

    request = ScanReposRequest(
        list_file=list_file,
        shard=shard,
        shard_index=shard_index,
        shards=shards,
        jobs=jobs,
        history=history,
        state=state,
        output=output,
        honor_repo_config=honor_repo_config,
        timeout=timeout,
        max_repo_size=max_repo_size,
        max_file_size=max_file_size,
        retry_failed=retry_failed,
        exit_zero=exit_zero,
    )
    raise click.exceptions.Exit(run_scan_repos(request))


@cli.group(cls=ImportobotGroup)
def report() -> None:
    """Work with scan results (merge the shards of an org scan)."""


@report.command("merge")
@click.argument("dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "sarif", "html", "markdown"]),
    default="json",
    show_default=True,
)
@click.option("--output", type=click.Path(dir_okay=False), help="Write the report to FILE.")
@click.option(
    "--list",
    "list_file",
    type=click.Path(dir_okay=False),
    metavar="LIST",
    help="The scanned list: exit 2 when a listed repository has no result.",
)
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when there are findings.")
def report_merge(
    dirs: tuple[str, ...], fmt: str, output: str | None, list_file: str | None, exit_zero: bool
) -> None:
    """Merge scan-repos results (DIR...) into one report.

    One key found in many places is one incident listing every place (keyed on the
    key's fingerprint, else on repository, path, line and rule); totals per repository.
    Exit codes: 0 clean, 1 error incidents, 2 a listed repository has neither a result
    nor a recorded failure (a lost shard), or a usage error.
    """
    from importobot.commands.report_merge import MergeRequest, run_report_merge

    request = MergeRequest(
        dirs=dirs, fmt=fmt, output=output, list_file=list_file, exit_zero=exit_zero
    )
    raise click.exceptions.Exit(run_report_merge(request))


def _history_argv(argv: list[str]) -> list[str]:
    """Keep the old ``--history=A..B`` / ``--history A..B`` spellings of ``check``.

    click cannot give an option an optional value and also take a path after it, so the
    value moves to ``--rev-range`` before click sees it. A bare word after ``--history``
    is a revision range only when it looks like one (``..``) and is no existing path.
    """
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            out.extend(argv[i:])
            break
        if arg.startswith("--history="):
            out += ["--history", "--rev-range", arg.split("=", 1)[1]]
        elif (
            arg == "--history"
            and i + 1 < len(argv)
            and ".." in argv[i + 1]
            and not argv[i + 1].startswith("-")
            and not os.path.lexists(argv[i + 1])
        ):
            out += ["--history", "--rev-range", argv[i + 1]]
            i += 1
        else:
            out.append(arg)
        i += 1
    return out


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: every error is one line (plus the usage for bad usage)."""
    try:
        rv = cli.main(args=argv, prog_name="importobot", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.UsageError as exc:
        path = exc.ctx.command_path if exc.ctx is not None else "importobot"
        usage = exc.ctx.get_usage() if exc.ctx is not None else "Usage: importobot ..."
        click.echo(f"importobot: error: {exc.format_message()}", err=True)
        click.echo(f"{usage.splitlines()[0]}  (see '{path} --help')", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        click.echo(f"importobot: error: {exc.format_message()}", err=True)
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except ImportobotError as exc:
        click.echo(f"importobot: error: {exc.cli_message or exc}", err=True)
        return exc.exit_code
    except BrokenPipeError:
        from importobot.hooks._common import quiet_stdout

        quiet_stdout()
        return 1
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
