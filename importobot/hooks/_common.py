"""What the hooks share: argv parsing, the repository root, settings, output lines."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from importobot.scan.finding import Finding

__all__ = [
    "UsageError",
    "console_script",
    "quiet_stdout",
    "emit",
    "exit_code",
    "option",
    "parse_args",
    "leave",
    "run_hook",
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
    except BrokenPipeError:
        # The reader went away (``| head -1``): findings were being printed.
        quiet_stdout()
        return 1


def leave(code: int) -> None:
    """End a hook's process with ``code``: the console scripts' last step.

    A hook is a short process run on every commit. When nothing is registered to run at
    exit (no event sink was loaded, no coverage hook) and no other thread runs, the
    standard streams are flushed and the process leaves by ``os._exit``, skipping the
    interpreter's teardown of every module (about 2 ms of a 30 ms hook). Otherwise, or
    when the flush fails, it is a normal ``sys.exit``.
    """
    import atexit

    pending = getattr(atexit, "_ncallbacks", None)
    threads = sys.modules.get("threading")
    busy = threads is not None and threads.active_count() > 1
    if pending is None or pending() != 0 or busy:
        raise SystemExit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        quiet_stdout()
        raise SystemExit(code or 1) from None
    except (OSError, ValueError):
        raise SystemExit(code) from None
    os._exit(code)


def console_script(main: Callable[[], int]) -> Callable[[], None]:
    """A hook's console script (``[project.scripts]`` names it ``module:console``):
    ``main()``, then a quick exit (:func:`leave`)."""

    def console() -> None:
        leave(main())

    console.__doc__ = "The console script: :func:`main`, then a quick exit (``_common.leave``)."
    return console


def quiet_stdout() -> None:
    """Point stdout at /dev/null after a broken pipe, so the exit flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def option(parsed: dict[str, str | bool], name: str) -> str | None:
    """The text value of option ``name``, or ``None`` when absent or empty."""
    value = parsed.get(name)
    return value if isinstance(value, str) and value else None


def emit(findings: list[Finding]) -> None:
    """One line per finding: ``RULE name [source] message``."""
    for f in findings:
        source = f" [{f.source}]" if f.source else ""
        sys.stdout.write(f"{f.rule} {f.rule_name}{source}: {f.message}\n")


def exit_code(findings: list[Finding], strict: bool = False) -> int:
    """1 on error findings (or any finding under ``strict``), else 0 (D15)."""
    return int(any(f.severity == "error" or strict for f in findings))
