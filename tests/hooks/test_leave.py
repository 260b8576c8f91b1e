"""The hooks' console scripts leave quickly (``_common.leave``) without losing output,
exit codes, at-exit work or running threads."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from importobot.hooks._common import leave
from tests.gitrepo import git, init_repo, new_key
from tests.keygen import contains_key
from tests.scan.worktime import child_env

BIN = Path(sys.executable).parent


def _env() -> dict[str, str]:
    """No coverage hook (it registers at-exit work, which takes the normal exit path: the
    quick one is what this file checks) and buffered streams, as a hook normally has."""
    return {k: v for k, v in child_env().items() if k != "PYTHONUNBUFFERED"}


def _child(body: str, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    """Run ``body`` in a child (:func:`_env`)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(body)],
        env=_env(),
        capture_output=True,
        check=False,
        timeout=60,
        **kwargs,  # type: ignore[arg-type]
    )


def test_the_quick_exit_keeps_the_code_and_every_buffered_byte() -> None:
    proc = _child(
        """
        import sys
        from importobot.hooks._common import leave
        sys.stdout.write("x" * 300_000)  # more than a pipe holds: the flush must finish
        sys.stderr.write("note\\n")
        leave(5)
        print("never")
        """
    )
    assert proc.returncode == 5
    assert proc.stdout == b"x" * 300_000
    assert proc.stderr == b"note\n"


def test_at_exit_work_still_runs() -> None:
    proc = _child(
        """
        import atexit, sys
        from importobot.hooks._common import leave
        atexit.register(lambda: sys.stdout.write("closed the spool\\n"))
        leave(3)
        """
    )
    assert (proc.returncode, proc.stdout) == (3, b"closed the spool\n")


def test_a_running_thread_is_waited_for() -> None:
    proc = _child(
        """
        import sys, threading, time
        from importobot.hooks._common import leave
        def late():
            time.sleep(0.3)
            sys.stdout.write("thread done\\n")
        threading.Thread(target=late).start()
        leave(0)
        """
    )
    assert (proc.returncode, proc.stdout) == (0, b"thread done\n")


def test_a_closed_reader_is_exit_1_without_a_traceback() -> None:
    body = """
        import sys
        from importobot.hooks._common import leave
        sys.stdout.write("finding\\n" * 100)  # buffered: the flush in leave meets the closed pipe
        sys.stdin.readline()  # wait until the reader has gone
        leave(0)
        """
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(body)],
        env=_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdout.close()  # the reader goes away (`| head -1`) before anything was read
    _, err = proc.communicate(b"go\n", timeout=60)
    assert proc.returncode == 1
    assert b"Traceback" not in err and b"Exception ignored" not in err


def test_in_process_with_at_exit_work_it_is_a_normal_exit() -> None:
    import atexit

    atexit.register(lambda: None)  # pytest's process: never os._exit here
    with pytest.raises(SystemExit) as raised:
        leave(4)
    assert raised.value.code == 4


@pytest.mark.parametrize("with_key", [False, True], ids=["clean", "key"])
def test_the_console_script_reports_as_main_does(tmp_path: Path, with_key: bool) -> None:
    repo = init_repo(tmp_path / "repo")
    raw, text = new_key()
    lines = [f"VALUE_{i}=placeholder" for i in range(3000)]  # a long report when keyed
    if with_key:
        lines += [f"SECRET_KEY_{i}={new_key()[1]}" for i in range(400)]
    (repo / ".env").write_text("\n".join(lines) + "\n")
    git(repo, "add", ".env")
    proc = subprocess.run(
        [str(BIN / "importobot-block-keys"), ".env"],
        cwd=repo,
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == (1 if with_key else 0), proc.stderr
    found = [ln for ln in proc.stdout.splitlines() if " IOB101 " in ln]
    assert len(found) == (400 if with_key else 0)
    assert not contains_key(proc.stdout + proc.stderr, raw)
