"""``importobot-key-age``: fail when the active key is older than the policy (IOB301).

Warns (exit 0) inside the warning window (IOB302) and when the key is not in the
registry (IOB304). The key's age comes from the committed registry
(``.importobot-keys.toml``), so it is the same on every machine. Key checks are opt-in
(D16): in a repository that has not opted in, the hook says so and passes, so
contributors without a key can commit.
"""

from __future__ import annotations

import sys

from importobot.hooks._common import console_script

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

USAGE = """\
usage: importobot-key-age [--optional] [--max-age 90d] [--warn-age 75d] [--strict]
                          [--registry FILE]

Fail when the active key is older than the maximum age (IOB301); warn inside the warning
window (IOB302) or when the key is not registered (IOB304). Durations: h, d or w.
Defaults: [tool.importobot] max-key-age / warn-key-age, else 90d and 15 days before.
Runs only where the repository opts in to key checks (a key registry, key-check = true,
a wrapped-key file, or a key configured); elsewhere it says so and exits 0.

  --optional   no key set up is fine; an invalid or old key still fails
  --strict     warnings fail too
Exit: 0 fine or warnings, 1 rotation due (or no valid key), 2 usage/config/keyring error.
"""

SKIPPED = "key checks skipped (not configured)"


def run(
    *,
    max_age: str | None = None,
    warn_age: str | None = None,
    strict: bool = False,
    registry: str | None = None,
    optional: bool = False,
    now: datetime | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    """Judge the active key's age; ``now`` (an aware datetime) fixes the clock in tests."""
    import os

    from importobot.exceptions import ConfigError
    from importobot.project import load_project

    project = load_project()
    try:
        policy = project.policy(max_age, warn_age)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    named = registry is not None and os.path.isfile(project.registry_path(registry))
    if not (named or project.key_checks_on(env)):
        sys.stdout.write(f"{SKIPPED}\n")
        return 0

    from importobot.hooks._common import emit
    from importobot.scan.rules.key_status import key_status

    status = key_status(
        project, env, now, policy=policy, registry=registry, optional=optional, previous=False
    )
    findings = list(status.findings)
    emit(findings)
    project.emit_findings(findings, "key.stale")
    if not findings:
        if status.fingerprint is not None:
            sys.stdout.write(f"key age ok: {status.fingerprint} ({policy.describe()})\n")
        else:
            sys.stdout.write("no key set up (--optional): key age not checked\n")
    return status.exit_code(strict)


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
            optional=bool(opts.get("--optional")),
        )

    return run_hook(
        "importobot-key-age",
        USAGE,
        argv,
        {"--strict", "--optional"},
        {"--max-age", "--warn-age", "--registry"},
        body,
    )


console = console_script(main)


if __name__ == "__main__":
    raise SystemExit(main())
