"""D5, proved with strace: no child importobot starts ever receives a secret variable.

The environment of every ``execve`` (``posix_spawn`` and ``subprocess`` alike) is read from
the kernel's side, so no Python-level spy can miss a path. A marker variable proves the
trace really shows the children's environments (the test can fail).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import require_service
from tests.gitrepo import GIT_ENV, commit, git, init_repo, new_key
from tests.keygen import contains_key

BIN = Path(sys.executable).parent


def _trace(cwd: Path, env: dict[str, str], argv: list[str], out: Path) -> tuple[int, str]:
    strace = shutil.which("strace")
    require_service("strace", strace is not None, "apt-get install strace (scripts/test)")
    assert strace is not None
    proc = subprocess.run(
        [strace, "-f", "-v", "-s", "4096", "-e", "trace=execve", "-o", str(out), *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    return proc.returncode, out.read_text(errors="replace")


def _children(trace: str) -> list[str]:
    """execve lines of every process but the first (importobot itself)."""
    lines = [ln for ln in trace.splitlines() if "execve(" in ln]
    first = lines[0].split()[0]
    return [ln for ln in lines if ln.split()[0] != first]


@pytest.mark.parametrize(
    "argv",
    [
        ["importobot", "check", "--staged"],
        ["importobot", "check", "--history"],
        ["importobot", "check"],
        ["importobot-block-keys", ".env", "crypt.env"],
        ["importobot", "hook", "block-keys", ".env"],
    ],
    ids=["check-staged", "check-history", "check", "hook", "hook-cli"],
)
def test_no_git_child_receives_a_secret(argv, tmp_path):
    repo = init_repo(tmp_path / "repo")
    raw, key = new_key()
    _other_raw, other = new_key()
    (repo / ".env").write_text(f"APP_KEY={other}\n")
    (repo / "crypt.env").write_text("X=1\n")
    (repo / ".gitattributes").write_text("crypt.env filter=crypt\n")
    git(repo, "add", "-A")
    commit(repo, "one")
    (repo / ".env").write_text(f"APP_KEY={other}\nMORE=2\n")
    git(repo, "add", ".env")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    env.update(GIT_ENV)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    secrets = {
        "IMPORTOBOT_ENCRYPTION_KEY": key,
        "IMPORTOBOT_PREVIOUS_KEYS": new_key()[1],
        "IMPORTOBOT_WRAPPED_KEY": "iobwk1:marker-wrapped",
        "IMPORTOBOT_PKCS11_PIN": "pin-marker-8472",
        "IMPORTOBOT_EVENTS_TOKEN_SPLUNK": "hec-marker-5513",
        "VAULT_TOKEN": "vault-marker-3391",
        "BAO_TOKEN": "bao-marker-2290",
    }
    env.update(secrets)
    env["IMPORTOBOT_LEAK_MARKER"] = "visible-marker-1177"
    code, trace = _trace(repo, env, argv, tmp_path / "trace")
    assert code in (0, 1), trace[-2000:]
    children = _children(trace)
    git_children = [ln for ln in children if re.search(r'execve\("[^"]*/git"', ln)]
    assert git_children, "no git child was traced"
    for line in children:
        assert "visible-marker-1177" in line, "the trace does not show the environment"
        assert not contains_key(line, raw)
        for name, value in secrets.items():
            assert f"{name}=" not in line, name
            assert value not in line, name
