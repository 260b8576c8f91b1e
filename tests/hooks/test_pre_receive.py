"""The server-side gate: real bare repositories, real ``git push`` over ``file://``.

Each test installs ``importobot-pre-receive`` (the console script of this checkout's venv)
as the bare repository's ``hooks/pre-receive`` behind a small shell wrapper that records
the hook's own wall time and the names of the variables git gave it, then pushes from a
clone. Keys are generated at run time.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from importobot.cli import cli
from importobot.hooks.pre_receive import main as hook_main
from importobot.hooks.pre_receive import parse_updates
from importobot.keys.fingerprint import fingerprint
from tests.gitrepo import GIT_ENV, git, new_key
from tests.keygen import contains_key

SCRIPT = Path(sys.executable).parent / "importobot-pre-receive"
ZERO = "0" * 40


class Server:
    """A bare repository with the hook, and a clone to push from."""

    def __init__(self, root: Path) -> None:
        self.bare = root / "server.git"
        self.clone = root / "clone"
        self.timings = root / "hook-ns.txt"
        self.envfile = root / "hook-env.txt"
        git(root, "init", "-q", "--bare", str(self.bare))
        git(root, "clone", "-q", f"file://{self.bare}", str(self.clone))
        git(self.clone, "checkout", "-q", "-b", "main")

    def install(self, *args: str) -> None:
        hook = self.bare / "hooks" / "pre-receive"
        quoted = " ".join(f"'{a}'" for a in args)
        hook.write_text(
            "#!/bin/sh\n"
            f"env | cut -d= -f1 > '{self.envfile}'\n"
            "start=$(date +%s%N)\n"
            f"'{SCRIPT}' {quoted}\n"
            "rc=$?\n"
            "end=$(date +%s%N)\n"
            f"echo $((end - start)) >> '{self.timings}'\n"
            "exit $rc\n"
        )
        hook.chmod(hook.stat().st_mode | stat.S_IXUSR)

    def uninstall(self) -> None:
        (self.bare / "hooks" / "pre-receive").unlink()

    def write(self, rel: str, text: str) -> None:
        path = self.clone / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        git(self.clone, "add", rel)

    def commit(self, message: str = "change") -> str:
        git(self.clone, "commit", "-q", "--no-verify", "-m", message)
        return git(self.clone, "rev-parse", "HEAD").strip()

    def push(self, *refspecs: str, env: dict[str, str] | None = None) -> tuple[int, str]:
        proc = subprocess.run(
            ["git", "push", "--porcelain", "origin", *refspecs],
            cwd=self.clone,
            capture_output=True,
            text=True,
            env={**os.environ, **GIT_ENV, **(env or {})},
            check=False,
        )
        return proc.returncode, proc.stdout + proc.stderr

    def server_has(self, ref: str) -> str | None:
        out = git(self.bare, "rev-parse", "--verify", "-q", ref, check=False).strip()
        return out or None


@pytest.fixture
def server(tmp_path: Path) -> Server:
    assert SCRIPT.exists(), "the venv has no importobot-pre-receive script (uv sync)"
    s = Server(tmp_path)
    s.write("README.md", "# demo\n")
    s.commit("init")
    code, out = s.push("main")
    assert code == 0, out
    s.install()
    return s


def _env_with_key(key: str) -> str:
    return f"DEBUG=1\nAPP_ENCRYPTION_KEY={key}\n"


# -- the acceptance cases -----------------------------------------------------------------


def test_a_pushed_key_is_rejected_without_the_key_in_the_output(server: Server) -> None:
    raw, key = new_key()
    git(server.clone, "checkout", "-q", "-b", "feature")
    server.write("app/.env", _env_with_key(key))
    added = server.commit("add env")
    code, out = server.push("feature")
    assert code != 0
    assert "[remote rejected]" in out and "pre-receive hook declined" in out
    assert "app/.env:2:" in out and "IOB101" in out and fingerprint(raw) in out
    assert added[:12] in out  # the commit that added it
    assert "push rejected: 1 plaintext key" in out
    assert not contains_key(out, raw)
    assert server.server_has("refs/heads/feature") is None
    # Nothing of the push reached the server's object store (quarantine discarded).
    assert subprocess.run(["git", "cat-file", "-e", added], cwd=server.bare).returncode != 0


def test_a_clean_push_is_accepted_and_git_quarantine_reaches_the_hook(server: Server) -> None:
    server.write("src/app.py", "import os\nKEY = os.environ['APP_KEY']\n")
    tip = server.commit("clean")
    code, out = server.push("main")
    assert code == 0, out
    assert server.server_has("refs/heads/main") == tip
    names = server.envfile.read_text().split()
    # git gave the hook its quarantine, and the hook read the new objects through it.
    assert "GIT_QUARANTINE_PATH" in names and "GIT_OBJECT_DIRECTORY" in names


def test_an_exclude_everything_config_pushed_with_the_key_is_ignored(server: Server) -> None:
    raw, key = new_key()
    server.write(".importobot.toml", 'exclude = ["**"]\n')
    server.write(".env", _env_with_key(key))
    server.commit("exclude everything, add key")
    code, out = server.push("main")
    assert code != 0
    assert fingerprint(raw) in out and "push rejected" in out
    assert "this push changes .importobot.toml" in out
    assert not contains_key(out, raw)


def test_an_inline_ignore_pragma_is_not_honoured(server: Server) -> None:
    raw, key = new_key()
    server.write(
        "settings.py", f'ENCRYPTION_KEY = "{key}"  # importobot: ignore  pragma: allowlist secret\n'
    )
    server.commit("pragma")
    code, out = server.push("main")
    assert code != 0 and fingerprint(raw) in out and "IOB102" in out
    assert not contains_key(out, raw)


def test_the_default_branch_configuration_before_the_push_applies(server: Server) -> None:
    # The server's main says fixtures/ are test data; a key there is accepted.
    server.write(".importobot.toml", 'exclude = ["fixtures/**"]\n')
    server.commit("config")
    assert server.push("main")[0] == 0
    _raw, key = new_key()
    server.write("fixtures/.env", _env_with_key(key))
    server.commit("fixture key")
    code, out = server.push("main")
    assert code == 0, out
    # A push that narrows the configuration and adds a key elsewhere is judged by the old one.
    raw2, key2 = new_key()
    server.write(".importobot.toml", 'exclude = ["fixtures/**", "deploy/**"]\n')
    server.write("deploy/.env", _env_with_key(key2))
    server.commit("exclude deploy too")
    code, out = server.push("main")
    assert code != 0 and fingerprint(raw2) in out
    assert "the gate used main:.importobot.toml before this push" in out


def test_the_baseline_comes_from_the_default_branch_too(server: Server) -> None:
    raw, key = new_key()
    server.write("pyproject.toml", '[tool.importobot]\nbaseline = "baseline.json"\n')
    entry = f'{{"rule": "IOB101", "path": "demo/.env", "fingerprint": "{fingerprint(raw)}"}}'
    server.write("baseline.json", f'{{"version": 1, "findings": [{entry}]}}\n')
    server.commit("accept a published demo key")
    assert server.push("main")[0] == 0
    server.write("demo/.env", _env_with_key(key))
    server.commit("demo key")
    code, out = server.push("main")
    assert code == 0, out
    # A push that adds its own key to the baseline is still rejected, and told so.
    raw2, key2 = new_key()
    entry2 = f'{{"rule": "IOB101", "path": "prod/.env", "fingerprint": "{fingerprint(raw2)}"}}'
    server.write("baseline.json", f'{{"version": 1, "findings": [{entry}, {entry2}]}}\n')
    server.write("prod/.env", _env_with_key(key2))
    server.commit("baseline my key")
    code, out = server.push("main")
    assert code != 0 and fingerprint(raw2) in out
    assert "this push changes baseline.json" in out


def test_only_commits_no_existing_ref_reaches_are_judged(server: Server) -> None:
    # A key already on the server (pushed before the gate existed) ...
    server.uninstall()
    raw, key = new_key()
    server.write("old/.env", _env_with_key(key))
    server.commit("old key")
    assert server.push("main")[0] == 0
    server.install()
    # ... is not judged again when a new branch starting there is pushed.
    git(server.clone, "checkout", "-q", "-b", "topic")
    server.write("notes.txt", "hello\n")
    server.commit("notes")
    code, out = server.push("topic")
    assert code == 0, out
    assert fingerprint(raw) not in out
    # Tags and branches at existing commits add nothing to judge; deletions are skipped.
    git(server.clone, "tag", "v1")
    assert server.push("v1")[0] == 0
    code, out = server.push(":topic")
    assert code == 0, out
    assert server.server_has("refs/heads/topic") is None


def test_a_merge_is_judged_on_what_the_pushed_commits_add(server: Server) -> None:
    raw, key = new_key()
    git(server.clone, "checkout", "-q", "-b", "side")
    server.write("side/.env", _env_with_key(key))
    server.commit("side key")
    git(server.clone, "checkout", "-q", "main")
    server.write("main.txt", "x\n")
    server.commit("main work")
    git(server.clone, "merge", "-q", "--no-edit", "side")
    code, out = server.push("main")
    assert code != 0
    assert out.count(fingerprint(raw)) == 1  # reported once, at the side commit


def test_max_commits_fail_closed_and_fail_open(server: Server) -> None:
    for n in range(3):
        server.write(f"f{n}.txt", f"{n}\n")
        server.commit(f"c{n}")
    server.install("--max-commits", "2")
    code, out = server.push("main")
    assert code != 0 and "over this server's limit of 2" in out
    server.install("--max-commits", "2", "--fail-open")
    code, out = server.push("main")
    assert code == 0, out
    assert "only the newest 2 of 3 new commits were judged" in out and "fails open" in out


def test_max_commits_fail_open_still_rejects_a_key_it_sees(server: Server) -> None:
    server.write("a.txt", "a\n")
    server.commit("old")
    raw, key = new_key()
    server.write(".env", _env_with_key(key))
    server.commit("newest has the key")
    server.install("--max-commits", "1", "--fail-open")
    code, out = server.push("main")
    assert code != 0 and fingerprint(raw) in out


def test_time_budget_fail_closed_and_fail_open(server: Server) -> None:
    server.write("a.txt", "a\n")
    server.commit("work")
    server.install("--time-budget", "1ms")
    code, out = server.push("main")
    assert code != 0 and "time budget of 0.001 s ran out" in out and "fails closed" in out
    server.install("--time-budget", "1ms", "--fail-open")
    code, out = server.push("main")
    assert code == 0, out
    assert "fails open" in out


def test_a_server_config_file_wins(server: Server, tmp_path: Path) -> None:
    config = tmp_path / "server.toml"
    config.write_text('exclude = ["vendor/**"]\n')
    server.install("--config", str(config))
    _raw, key = new_key()
    server.write("vendor/.env", _env_with_key(key))
    server.commit("vendored")
    code, out = server.push("main")
    assert code == 0, out
    config.write_text("exclude = 3\n")  # a broken server configuration rejects, exit 2
    server.write("x.txt", "x\n")
    server.commit("x")
    code, out = server.push("main")
    assert code != 0 and "exclude must be a list of strings" in out


def test_a_broken_configuration_on_the_default_branch_names_it(server: Server) -> None:
    server.uninstall()
    server.write(".importobot.toml", "exclude = [\n")
    server.commit("broken")
    assert server.push("main")[0] == 0
    server.install()
    server.write("x.txt", "x\n")
    server.commit("x")
    code, out = server.push("main")
    assert code != 0 and "main:.importobot.toml: invalid TOML" in out
    assert "importobot-pre-receive-" not in out  # not the temp file's name


# -- a long push (its cost is measured by bench/pre_receive.py, not by a timed test) ---------


def _fast_import(clone: Path, commits: int, files: int, parent: str) -> str:
    """Build ``commits`` commits of ``files`` changed files each with git fast-import."""
    lines: list[str] = []
    mark = 0
    for c in range(commits):
        mark += 1
        lines.append("commit refs/heads/main")
        lines.append(f"mark :{mark}")
        lines.append("committer bench <bench@importobot.invalid> 1700000000 +0000")
        msg = f"commit {c}"
        lines.append(f"data {len(msg)}")
        lines.append(msg)
        if c == 0:
            lines.append(f"from {parent}")
        for f in range(files):
            body = (
                f"# module {f} revision {c}\n"
                f"import os\n"
                f"SETTING_{f} = os.environ.get('SETTING_{f}', 'default-{c}')\n"
                f"API_URL = 'https://example.invalid/v{c}/items/{f}'\n"
                f"CACHE_KEY_PREFIX = 'cache:{f}:{c}'\n"
                f"def handler_{f}(request):\n"
                f"    return {{'status': 'ok', 'revision': {c}, 'file': {f}}}\n"
            )
            data = body.encode()
            lines.append(f"M 100644 inline pkg/module_{f}.py")
            lines.append(f"data {len(data)}")
            lines.append(body)
    stream = ("\n".join(lines) + "\n").encode()
    subprocess.run(["git", "fast-import", "--quiet"], cwd=clone, input=stream, check=True)
    git(clone, "reset", "-q", "--hard", "main")
    return git(clone, "rev-parse", "HEAD").strip()


def test_fifty_commits_of_twenty_files_are_judged(server: Server) -> None:
    """The bench's push (50 commits x 20 files) goes through, and its hook time is recorded.

    Wall-clock limits belong in bench/pre_receive.py, where a floor is measured in the same
    run: on a loaded CI machine a timed unit test fails for the machine, not the code.
    """
    parent = git(server.clone, "rev-parse", "HEAD").strip()
    _fast_import(server.clone, 50, 20, parent)
    code, out = server.push("main")
    assert code == 0, out
    assert int(server.timings.read_text().split()[-1]) > 0


# -- the entry points ---------------------------------------------------------------------


def test_parse_updates_refuses_what_git_never_sends() -> None:
    from importobot.hooks._common import UsageError

    good = f"{ZERO} {'a' * 40} refs/heads/x\n".encode()
    assert parse_updates(good) == [(ZERO, "a" * 40, "refs/heads/x")]
    for bad in (b"not a line\n", f"{ZERO} --all refs/heads/x\n".encode(), b"a b\n"):
        with pytest.raises(UsageError):
            parse_updates(bad)


def test_main_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert hook_main(["--max-commits", "many"], stdin=b"") == 2
    assert "--max-commits needs a number" in capsys.readouterr().err
    assert hook_main(["extra"], stdin=b"") == 2
    assert hook_main([], stdin=b"garbage\n") == 2
    assert hook_main([], stdin=b"") == 0  # nothing pushed


def test_the_click_command_runs_the_same_hook(server: Server, monkeypatch) -> None:
    raw, key = new_key()
    server.write(".env", _env_with_key(key))
    tip = server.commit("key")
    # Give the server the objects without a ref (as the quarantine would), then ask.
    server.uninstall()
    git(server.clone, "push", "-q", "origin", f"{tip}:refs/tmp/x")
    git(server.bare, "update-ref", "-d", "refs/tmp/x")
    monkeypatch.chdir(server.bare)
    old = server.server_has("refs/heads/main")
    result = CliRunner().invoke(
        cli, ["hook", "pre-receive"], input=f"{old} {tip} refs/heads/main\n"
    )
    assert result.exit_code == 1, result.output
    assert fingerprint(raw) in result.output and not contains_key(result.output, raw)


def test_a_rejected_push_is_a_push_rejected_event(server: Server, tmp_path: Path) -> None:
    from tests.eventsink import install, recorded

    env = install(tmp_path)
    outside = tmp_path / "events.toml"
    outside.write_text("[events]\n")
    env["IMPORTOBOT_EVENTS_CONFIG"] = str(outside)
    raw, key = new_key()
    server.write(".env", _env_with_key(key))
    tip = server.commit("key")
    code, out = server.push("main", env=env)
    assert code != 0, out
    [record] = recorded(env)
    event = record["event"]
    assert event["type"] == "push.rejected" and event["rule"] == "IOB101"
    assert event["fingerprint"] == fingerprint(raw) and event["commit"] == tip
    assert event["path"] == ".env"
    assert not contains_key(Path(env["IMPORTOBOT_TEST_SINK_FILE"]).read_text(), raw)
    # The pushed repository's own configuration never names the server's sinks.
    assert record["config"]["repository_table"] is None


def test_the_hook_path_stays_light(server: Server) -> None:
    """A clean push judged without click, argparse, json, cryptography or keyring (D17)."""
    server.write("a.txt", "hello\n")
    tip = server.commit("a")
    server.uninstall()
    git(server.clone, "push", "-q", "origin", f"{tip}:refs/tmp/x")
    git(server.bare, "update-ref", "-d", "refs/tmp/x")
    old = server.server_has("refs/heads/main")
    probe = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "from importobot.hooks.pre_receive import main\n"
        f"code = main([], stdin=b'{old} {tip} refs/heads/main\\n')\n"
        "print(code)\n"
        "print(' '.join(sorted(set(sys.modules) - before)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=server.bare, capture_output=True, text=True, check=False
    )
    code, added = proc.stdout.splitlines()
    assert code == "0", proc.stderr
    heavy = ("click", "argparse", "json", "cryptography", "keyring", "typing", "tomllib")
    loaded = set(added.split())
    assert not sorted(m for m in loaded if m.split(".")[0] in heavy)
