"""``importobot-key-age``: fail when the active key is older than the policy (IOB301).

Warns (exit 0) inside the warning window (IOB302) and when the key is not in the
registry (IOB304). The key's age comes from the committed registry
(``.importobot-keys.toml``), so it is the same on every machine.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime

USAGE = """\
usage: importobot-key-age [--max-age 90d] [--warn-age 75d] [--strict] [--registry FILE]

Fail when the active key is older than the maximum age (IOB301); warn inside the warning
window (IOB302) or when the key is not registered (IOB304). Durations: h, d or w.
Defaults: [tool.importobot] max-key-age / warn-key-age, else 90d and 15 days before.

  --strict     warnings fail too
Exit: 0 fine or warnings, 1 rotation due (or no valid key), 2 usage/config/keyring error.
"""


def run(
    *,
    max_age: str | None = None,
    warn_age: str | None = None,
    strict: bool = False,
    registry: str | None = None,
    now: datetime | None = None,
) -> int:
    """Judge the active key's age; ``now`` (an aware datetime) fixes the clock in tests."""
    from importobot.hooks._common import (
        emit,
        exit_code,
        load_policy,
        registry_path,
        repo_root,
        settings_for,
    )
    from importobot.keys.age import utc_now
    from importobot.keys.registry import Registry
    from importobot.scan.rules.key_age import check_key_age
    from importobot.scan.rules.key_setup import check_key_setup, configured_source

    root = repo_root()
    settings = settings_for(root)
    try:
        policy = load_policy(settings, max_age, warn_age)
    except ValueError as exc:
        from importobot.exceptions import ConfigError

        raise ConfigError(str(exc)) from None
    moment = now if now is not None else utc_now()
    setup = check_key_setup(previous=False)
    findings = list(setup.findings)
    if setup.key is not None and setup.fingerprint is not None:
        reg = Registry.load(registry_path(root, settings, registry), now=moment)
        findings += check_key_age(
            setup.fingerprint,
            configured_source(),
            reg,
            policy,
            moment,
        )
    emit(findings)
    if not findings and setup.fingerprint is not None:
        sys.stdout.write(f"key age ok: {setup.fingerprint} ({policy.describe()})\n")
    return exit_code(findings, strict)


def main(argv: list[str] | None = None) -> int:
    """Parse argv and run the hook."""
    from importobot.hooks._common import UsageError, option, run_hook

    def body(opts: dict[str, str | bool], rest: list[str]) -> int:
        if rest:
            raise UsageError("takes no file names (set pass_filenames: false)")
        return run(
            max_age=option(opts, "--max-age"),
            warn_age=option(opts, "--warn-age"),
            strict=bool(opts.get("--strict")),
            registry=option(opts, "--registry"),
        )

    return run_hook(
        "importobot-key-age",
        USAGE,
        argv,
        {"--strict"},
        {"--max-age", "--warn-age", "--registry"},
        body,
    )


if __name__ == "__main__":
    raise SystemExit(main())
