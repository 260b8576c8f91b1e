"""The ``importobot`` command line (click). Thin: parse, call one function, render, exit.

Exit codes (D15): 0 nothing blocking, 1 findings / a judged key is bad, 2 usage,
configuration or environment error. Any :class:`ImportobotError` becomes one line on
stderr. No option ever takes a key, a plaintext or a password (D6): values come from
stdin (a hidden prompt on a terminal).

Enterprise commands plug in through the ``importobot.commands`` entry-point group;
they are listed by name and imported only when invoked.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from importobot.exceptions import (
    ImportobotError,
    InvalidKeyError,
    MissingKeyError,
)

PLUGIN_GROUP = "importobot.commands"
#: Commands shipped by an extra: name -> extra. Used when the plugin cannot be loaded.
EXTRA_COMMANDS = {
    "rotate": "enterprise",
    "hsm": "enterprise",
    "siem": "enterprise",
    "compliance": "enterprise",
}
RULE_NAMES = {
    "IOB201": "no-key",
    "IOB202": "malformed-key",
    "IOB203": "weak-key",
}


def _fail(message: str, code: int = 2) -> click.exceptions.Exit:
    click.echo(f"importobot: error: {message}", err=True)
    return click.exceptions.Exit(code)


def _plugin_entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=PLUGIN_GROUP)}


def _missing_extra_command(name: str, extra: str, detail: str) -> click.Command:
    @click.command(
        name=name,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        help=f"(needs the '{extra}' extra: pip install 'importobot[{extra}]')",
        add_help_option=False,
    )
    def command() -> None:
        raise _fail(
            f"`importobot {name}` needs the '{extra}' extra: "
            f"pip install 'importobot[{extra}]' ({detail})"
        )

    return command


class ImportobotGroup(click.Group):
    """A group that turns ImportobotError into one line and loads plugins lazily."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = set(super().list_commands(ctx))
        if ctx.parent is None and self.name == "importobot":
            names.update(_plugin_entry_points())
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None or ctx.parent is not None:
            return command
        entry = _plugin_entry_points().get(cmd_name)
        extra = EXTRA_COMMANDS.get(cmd_name, "enterprise")
        if entry is None:
            if cmd_name in EXTRA_COMMANDS:
                return _missing_extra_command(cmd_name, extra, "the command is not installed")
            return None
        try:
            loaded = entry.load()
        except ImportError as exc:
            missing = getattr(exc, "name", None) or "a module"
            return _missing_extra_command(cmd_name, extra, f"missing {missing}")
        if not isinstance(loaded, click.Command):
            raise _fail(f"plugin command {cmd_name!r} ({entry.value}) is not a click command")
        return loaded

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ImportobotError as exc:
            raise _fail(str(exc), exc.exit_code) from None


@click.group(cls=ImportobotGroup, name="importobot")
@click.version_option(package_name="importobot", prog_name="importobot")
def cli() -> None:
    """Keep encryption keys out of git and keep them healthy.

    Exit codes: 0 nothing blocking, 1 findings, 2 usage, configuration or
    environment error. Keys are never taken on the command line: commands that
    need a value read it from stdin.
    """


# -- key -------------------------------------------------------------------------------
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
def key_generate(fmt: str) -> None:
    """Print a new random key (32 bytes, url-safe base64: a Fernet key).

    This is the one command whose job is to print a key. Put it straight into your
    secret store, e.g. `importobot key generate | importobot key store`.
    """
    from importobot.security.credential_manager import generate_key

    text = generate_key()
    click.echo(f"IMPORTOBOT_ENCRYPTION_KEY={text}" if fmt == "env" else text)


def _read_secret(prompt: str) -> str:
    """A value from stdin: a hidden prompt on a terminal, else all of stdin minus one newline."""
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass(prompt)
    data: str = sys.stdin.read()
    if data.endswith("\r\n"):
        return data[:-2]
    return data[:-1] if data.endswith("\n") else data


@key.command("store")
@click.option(
    "--service",
    envvar="IMPORTOBOT_KEYRING_SERVICE",
    required=True,
    help="Keyring service name [env: IMPORTOBOT_KEYRING_SERVICE].",
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
def key_store(service: str, username: str, generate: bool, overwrite: bool) -> None:
    """Store a key in the OS keyring (read from stdin, or generated).

    The key is read from stdin (a hidden prompt on a terminal; empty input
    generates one) and never printed: only its fingerprint is shown.
    """
    from importobot.keys.fingerprint import fingerprint
    from importobot.security.credential_manager import CredentialManager
    from importobot.security.key_validation import parse_key

    value: str | None = None if generate else _read_secret("Key (empty to generate): ")
    stored = CredentialManager.store_key_in_keyring(
        service=service,
        username=username,
        key=value if value and value.strip() else None,
        overwrite=overwrite,
    )
    fp = fingerprint(parse_key(stored))
    click.echo(f"stored key {fp} in keyring {service}/{username}")
    if overwrite:
        click.echo(f"the previous key stays readable in {service}/{username}.previous")


def _status_report() -> tuple[dict[str, Any], int]:
    from importobot.keys.fingerprint import fingerprint
    from importobot.security.key_sources import resolve_previous_keys, resolve_primary_key

    report: dict[str, Any] = {
        "source": None,
        "fingerprint": None,
        "valid": False,
        "rule": None,
        "message": None,
        "previous": [],
        "migration": None,
    }
    code = 0
    try:
        resolved = resolve_primary_key()
    except MissingKeyError as exc:
        report.update(rule="IOB201", message=str(exc))
        code = 1
    except InvalidKeyError as exc:
        report.update(rule=exc.rule, message=str(exc))
        if exc.legacy_usable:
            report["migration"] = [
                "importobot key generate --format env   # the new primary key",
                "IMPORTOBOT_PREVIOUS_KEYS=legacy:<old value>   # old key, decrypt only",
                "importobot rotate ...   # re-encrypt every store",
                "importobot key retire   # then drop the old key",
            ]
        code = 1
    else:
        report.update(
            source=resolved.source.label, fingerprint=fingerprint(resolved.raw), valid=True
        )
    try:
        previous = resolve_previous_keys()
    except InvalidKeyError as exc:
        report["previous_error"] = {"rule": exc.rule, "message": str(exc)}
        code = 1
    else:
        report["previous"] = [
            {"fingerprint": fingerprint(p.raw), "source": p.source.label, "legacy": p.legacy}
            for p in previous
        ]
    return report, code


@key.command("status")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
def key_status(ctx: click.Context, fmt: str) -> None:
    """Show the active key's source, fingerprint and validity (never the key).

    Exits 1 when no valid key is set up (IOB201 no key, IOB202 malformed, IOB203
    weak), with the rule code and what is wrong; 2 when the keyring cannot be read.
    """
    report, code = _status_report()
    if fmt == "json":
        click.echo(json.dumps(report, indent=2, sort_keys=True))
        ctx.exit(code)
    if report["valid"]:
        click.echo(f"source       {report['source']}")
        click.echo(f"fingerprint  {report['fingerprint']}")
        click.echo("status       valid")
    else:
        rule = report["rule"]
        click.echo(f"{rule} {RULE_NAMES[rule]}: {report['message']}")
        for step in report["migration"] or []:
            click.echo(f"  migrate: {step}")
    for item in report["previous"]:
        legacy = " (legacy 0.1.5 derivation)" if item["legacy"] else ""
        click.echo(f"previous     {item['fingerprint']} from {item['source']}{legacy}")
    if "previous_error" in report:
        err = report["previous_error"]
        click.echo(f"{err['rule']} {RULE_NAMES[err['rule']]}: {err['message']}")
    ctx.exit(code)


# -- encrypt / decrypt ----------------------------------------------------------------
def _manager() -> Any:
    from importobot.security.credential_manager import CredentialManager

    return CredentialManager()


@cli.command("encrypt")
def encrypt() -> None:
    """Encrypt one value from stdin with the active key; print the Fernet token.

    The value is read from stdin (a hidden prompt on a terminal), never from argv.
    Exits 2 when no valid key is set up.
    """
    value = _read_secret("Value to encrypt: ")
    if not value:
        raise _fail("nothing to encrypt: stdin was empty")
    click.echo(_manager().encrypt_credential(value).token)


@cli.command("decrypt")
def decrypt() -> None:
    """Decrypt one Fernet token from stdin and print the plaintext.

    Tries the active key, then previous keys. Exits 2 when no valid key is set up or
    the token does not decrypt.
    """
    token = _read_secret("Token: ").strip()
    if not token:
        raise _fail("nothing to decrypt: stdin was empty")
    click.echo(_manager().decrypt_credential(token))


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point."""
    try:
        rv = cli.main(args=argv, prog_name="importobot", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except ImportobotError as exc:
        click.echo(f"importobot: error: {exc}", err=True)
        return exc.exit_code
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
