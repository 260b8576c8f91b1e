"""``importobot-check-key``: fail unless a valid 32-byte key is set up (IOB201–IOB203).

``--optional``: no key at all is fine (e.g. a contributor without secrets); an invalid
key never is. Exit 0 fine, 1 no/invalid key, 2 usage or an unreachable keyring.
"""

from __future__ import annotations

import sys

from importobot.hooks._common import console_script

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

USAGE = """\
usage: importobot-check-key [--optional]

Fail unless a valid 32-byte key is set up: IMPORTOBOT_ENCRYPTION_KEY, a wrapped key
(IMPORTOBOT_WRAPPED_KEY, IMPORTOBOT_WRAPPED_KEY_FILE or .importobot-key.wrapped, which
must unwrap within the timeout), or the OS keyring entry named by
IMPORTOBOT_KEYRING_SERVICE / IMPORTOBOT_KEYRING_USERNAME.

  --optional   a missing key is fine, an unreachable KEK backend only warns;
               an invalid key still fails
Exit: 0 valid (or absent with --optional), 1 missing/malformed/weak, 2 usage, keyring or
KEK backend error.
"""


def run(*, optional: bool = False, env: Mapping[str, str] | None = None) -> int:
    """Judge the configured key and print findings; returns the exit code."""
    from importobot.exceptions import KeyBackendUnavailableError
    from importobot.hooks._common import emit
    from importobot.project import load_project
    from importobot.scan.rules.key_status import key_status

    project = load_project()
    try:
        status = key_status(project, env, optional=optional, use_registry=False)
    except KeyBackendUnavailableError as exc:
        if not optional:
            raise
        sys.stderr.write(f"importobot-check-key: warning: {exc} (--optional: not blocking)\n")
        return 0
    findings = list(status.findings)
    emit(findings)
    project.emit_findings(findings, "key.check_failed")
    if status.valid and not findings:
        sys.stdout.write(f"key ok: {status.fingerprint} from {status.source}\n")
    return status.exit_code()


def main(argv: list[str] | None = None) -> int:
    """Parse argv and run the hook."""
    from importobot.hooks._common import UsageError, run_hook

    def body(opts: dict[str, str | bool], rest: list[str]) -> int:
        if rest:
            raise UsageError("takes no file names (set pass_filenames: false)")
        return run(optional=bool(opts.get("--optional")))

    return run_hook("importobot-check-key", USAGE, argv, {"--optional"}, set(), body)


console = console_script(main)


if __name__ == "__main__":
    raise SystemExit(main())
