"""What the hooks share: argv parsing, the repository root, settings, output lines."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from importobot.config import Settings
    from importobot.keys.age import AgePolicy
    from importobot.scan.finding import Finding

__all__ = [
    "UsageError",
    "emit",
    "exit_code",
    "load_policy",
    "option",
    "parse_args",
    "registry_path",
    "run_hook",
    "repo_root",
    "settings_for",
]


class UsageError(Exception):
    """Bad hook arguments (exit 2)."""


def parse_args(
    argv: list[str], flags: set[str], options: set[str], usage: str
) -> tuple[dict[str, str | bool], list[str]]:
    """A tiny argv parser (argparse costs start-up time on every commit).

    Returns ``({name: value}, positional)``; ``--opt=value`` and ``--opt value`` both work.
    ``-h``/``--help`` print ``usage`` and raise ``SystemExit(0)``.
    """
    parsed: dict[str, str | bool] = {}
    positional: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            positional.extend(args[i + 1 :])
            break
        if arg in ("-h", "--help"):
            sys.stdout.write(usage)
            raise SystemExit(0)
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            if name in flags and not eq:
                parsed[name] = True
            elif name in options:
                if not eq:
                    i += 1
                    if i >= len(args):
                        raise UsageError(f"{name} needs a value")
                    value = args[i]
                parsed[name] = value
            else:
                raise UsageError(f"unknown option {name}")
        else:
            positional.append(arg)
        i += 1
    return parsed, positional


def run_hook(
    prog: str,
    usage: str,
    argv: Sequence[str] | None,
    flags: set[str],
    options: set[str],
    body: Callable[[dict[str, str | bool], list[str]], int],
) -> int:
    """Parse ``argv`` and call ``body(options, positional)``; errors become one line.

    Bad arguments exit 2 with the usage; an :class:`ImportobotError` (config, keyring,
    git) exits with its code. Shared by every hook's ``main``.
    """
    from importobot.exceptions import ImportobotError

    try:
        opts, positional = parse_args(
            list(sys.argv[1:] if argv is None else argv), flags, options, usage
        )
        return body(opts, positional)
    except UsageError as exc:
        sys.stderr.write(f"{prog}: error: {exc}\n{usage}")
        return 2
    except ImportobotError as exc:
        sys.stderr.write(f"{prog}: error: {exc}\n")
        return exc.exit_code


def option(parsed: dict[str, str | bool], name: str) -> str | None:
    """The text value of option ``name``, or ``None`` when absent or empty."""
    value = parsed.get(name)
    return value if isinstance(value, str) and value else None


def repo_root(start: str | None = None) -> str:
    """The nearest directory at or above ``start`` holding ``.git``; else ``start`` itself."""
    here = os.path.abspath(start or os.getcwd())
    probe = here
    while True:
        if os.path.exists(os.path.join(probe, ".git")):
            return probe
        parent = os.path.dirname(probe)
        if parent == probe:
            return here
        probe = parent


def settings_for(root: str) -> Settings | None:
    """Settings when the repository has any (a byte search first: D17), else ``None``."""
    has_config = os.path.exists(os.path.join(root, ".importobot.toml"))
    if not has_config:
        try:
            with open(os.path.join(root, "pyproject.toml"), "rb") as handle:
                has_config = b"[tool.importobot]" in handle.read()
        except OSError:
            has_config = False
    if not has_config:
        return None
    from pathlib import Path

    from importobot.config import load_settings

    return load_settings(Path(root))


def registry_path(root: str, settings: Settings | None, override: str | None = None) -> str:
    """The registry file: ``override``, else config ``registry``, else the default name."""
    from importobot.keys.registry import REGISTRY_FILE

    if override:
        return override
    name = settings.registry if settings is not None else REGISTRY_FILE
    return name if os.path.isabs(name) else os.path.join(root, name)


def load_policy(
    settings: Settings | None, max_age: str | None = None, warn_age: str | None = None
) -> AgePolicy:
    """The age policy: options, else config, else 90 days (warn 15 days before)."""
    from importobot.keys.age import DEFAULT_MAX_AGE, AgePolicy, parse_duration

    max_td = parse_duration(max_age) if max_age else None
    warn_td = parse_duration(warn_age) if warn_age else None
    if settings is not None:
        max_td = max_td or settings.max_key_age
        warn_td = warn_td or settings.warn_key_age
    return AgePolicy(max_td or DEFAULT_MAX_AGE, warn_td)


def emit(findings: list[Finding]) -> None:
    """One line per finding: ``RULE name [source] message``."""
    for f in findings:
        source = f" [{f.source}]" if f.source else ""
        sys.stdout.write(f"{f.rule} {f.rule_name}{source}: {f.message}\n")


def exit_code(findings: list[Finding], strict: bool = False) -> int:
    """1 on error findings (or any finding under ``strict``), else 0 (D15)."""
    return int(any(f.severity == "error" or strict for f in findings))
