"""``importobot fix`` and ``importobot run`` end to end: real git, the real Secret Service.

The OS-keyring tests need the D-Bus session with an unlocked gnome-keyring that
``scripts/test`` starts (they fail under it when the service is missing, and skip
elsewhere). Every key is generated at run time; outputs are checked for leaks.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from importobot.commands.run import keyring_service, normalise_remote, read_markers
from importobot.keys.fingerprint import fingerprint
from importobot.keys.registry import Registry
from tests.conftest import require_service
from tests.gitrepo import GIT_ENV, commit, git, init_repo, new_key
from tests.keygen import contains_key, new_raw
from tests.security.test_keyring import _secret_service_ready

BIN = Path(sys.executable).parent


@pytest.fixture
def keyring_ready() -> None:
    ok, why = _secret_service_ready()
    require_service("Secret Service", ok, why)


class Repo:
    """A fresh repository, its keyring service, and the entries a test created."""

    def __init__(self, path: Path) -> None:
        self.path = init_repo(path)
        self.service = keyring_service(str(self.path))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
        self.env.update(GIT_ENV)
        self.env["PATH"] = f"{BIN}{os.pathsep}{self.env.get('PATH', '')}"
        self.users: set[str] = set()

    def run(self, *args: str, env: dict[str, str] | None = None, stdin: str | None = None):
        return subprocess.run(
            list(args),
            cwd=self.path,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            input=stdin,
            timeout=300,
            check=False,
        )

    def importobot(self, *args: str, env: dict[str, str] | None = None):
        return self.run(str(BIN / "importobot"), *args, env=env)

    def keyring(self, user: str) -> str | None:
        from importobot.security.key_sources import keyring_get

        self.users.add(user)
        return keyring_get(self.service, user)

    def cleanup(self) -> None:
        from importobot.security.key_sources import keyring_delete

        for user in self.users | {"IMPORTOBOT_ENCRYPTION_KEY.previous"}:
            keyring_delete(self.service, user)


@pytest.fixture
def repo(tmp_path: Path, keyring_ready):
    r = Repo(tmp_path / "app")
    yield r
    r.cleanup()


def _index(repo: Repo) -> str:
    return git(repo.path, "ls-files", "-s", "--debug")


# -- the acceptance scenario ---------------------------------------------------------------


def test_fix_moves_a_committed_env_file_to_the_keyring_and_calls_for_rotation(repo: Repo):
    raw1, key1 = new_key()  # also the active key
    raw2 = new_raw()
    secret2 = base64.b64encode(raw2).decode()  # a second key-shaped secret, another spelling
    env_file = repo.path / ".env"
    env_file.write_bytes(
        (
            "# settings\n"
            "DEBUG=1\n"
            f"IMPORTOBOT_ENCRYPTION_KEY={key1}\n"
            f'API_SIGNING_SECRET="{secret2}"  # signs webhooks\n'
            "DATABASE_URL=postgres://db/app\n"
        ).encode()
    )
    git(repo.path, "add", ".env")
    commit(repo.path, "add env")
    active = {"IMPORTOBOT_ENCRYPTION_KEY": key1}
    repo.users |= {"IMPORTOBOT_ENCRYPTION_KEY", "API_SIGNING_SECRET"}

    # 1. The dry run prints the plan and changes nothing (same bytes, same index).
    before_bytes, before_index = env_file.read_bytes(), _index(repo)
    dry = repo.importobot("fix", env=active)
    out = dry.stdout + dry.stderr
    assert dry.returncode == 1, out
    assert "a dry run: nothing changed" in out
    assert fingerprint(raw1) in out and fingerprint(raw2) in out
    assert "git rm --cached .env" in out and ".env*  !.env.example" in out
    assert not contains_key(out, raw1) and not contains_key(out, raw2)
    assert env_file.read_bytes() == before_bytes and _index(repo) == before_index
    assert repo.keyring("IMPORTOBOT_ENCRYPTION_KEY") is None
    assert not (repo.path / ".env.example").exists()

    # 2. --apply --to keyring.
    done = repo.importobot("fix", "--apply", "--to", "keyring", env=active)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert not contains_key(out, raw1) and not contains_key(out, raw2)
    assert git(repo.path, "ls-files", ".env") == ""  # out of the index
    assert repo.run("git", "check-ignore", "-q", ".env").returncode == 0  # and ignored
    assert repo.run("git", "check-ignore", "-q", ".env.example").returncode == 1
    example = (repo.path / ".env.example").read_text()
    assert set(read_markers(example)) == {"IMPORTOBOT_ENCRYPTION_KEY", "API_SIGNING_SECRET"}
    assert "DEBUG=\n" in example and "DATABASE_URL=\n" in example
    # Every other byte of .env is kept; the values became references.
    assert env_file.read_text() == (
        "# settings\n"
        "DEBUG=1\n"
        "IMPORTOBOT_ENCRYPTION_KEY=${IMPORTOBOT_ENCRYPTION_KEY}\n"
        'API_SIGNING_SECRET="${API_SIGNING_SECRET}"  # signs webhooks\n'
        "DATABASE_URL=postgres://db/app\n"
    )
    # Both values are in the real Secret Service, and `importobot run` hands them over.
    assert repo.keyring("IMPORTOBOT_ENCRYPTION_KEY") == key1
    assert repo.keyring("API_SIGNING_SECRET") == secret2
    shown = repo.importobot("run", "--", "env")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert f"IMPORTOBOT_ENCRYPTION_KEY={key1}" in lines and f"API_SIGNING_SECRET={secret2}" in lines
    # The active key is registered as compromised.
    registry = Registry.load(str(repo.path / ".importobot-keys.toml"))
    assert registry.get(fingerprint(raw1)).compromised is not None
    assert "version = 2" in (repo.path / ".importobot-keys.toml").read_text()

    # 3. The tree is clean; the configured key is still the exposed one: IOB204, once.
    clean = repo.importobot("check", "--no-key-check", env=active)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    judged = repo.importobot("check", "--format", "json", env=active)
    assert judged.returncode == 1, judged.stdout + judged.stderr
    findings = json.loads(judged.stdout)["findings"]
    assert [(f["rule"], f["fingerprint"]) for f in findings] == [("IOB204", fingerprint(raw1))]
    # (a baseline cannot hide it)
    (repo.path / "b.json").write_text('{"version": 1, "findings": []}\n')
    assert repo.importobot("check", "--baseline", "b.json", env=active).returncode == 1

    # 4. Following the printed runbook ends it: the old key retired, the new one in use.
    runbook = _runbook_commands(done.stdout)
    assert runbook and runbook[0].startswith("importobot key store --generate --overwrite")
    for command in runbook:
        step = repo.run("bash", "-c", command)
        assert step.returncode == 0, (command, step.stdout, step.stderr)
        assert not contains_key(step.stdout + step.stderr, raw1)
    after = repo.importobot("run", "--", "importobot", "check", "--format", "json")
    assert after.returncode == 0, after.stdout + after.stderr
    assert json.loads(after.stdout)["findings"] == []
    assert repo.keyring("IMPORTOBOT_ENCRYPTION_KEY") != key1
    assert fingerprint(raw1) in Registry.load(str(repo.path / ".importobot-keys.toml")).records

    # A second dry run: the key left in history is known compromised: nothing to do.
    again = repo.importobot("fix")
    assert again.returncode == 0, again.stdout
    assert "recorded as compromised" in again.stdout


def _runbook_commands(text: str) -> list[str]:
    """The commands under "the active key …:" in the plan (comments dropped)."""
    out: list[str] = []
    inside = False
    for line in text.splitlines():
        if line.startswith("  the active key "):
            inside = True
            continue
        if inside and line.startswith("    "):
            command = line.strip().split("   #", 1)[0].strip()
            if command and not command.startswith("#"):
                out.append(command)
            continue
        inside = False
    return out


# -- pre-flight: exit 2 with nothing changed -------------------------------------------------


def _snapshot(repo: Repo) -> tuple[dict[str, bytes], str]:
    files = {
        str(p.relative_to(repo.path)): p.read_bytes()
        for p in repo.path.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(repo.path).parts
    }
    return files, _index(repo)


def test_an_existing_keyring_entry_with_another_value_stops_everything(repo: Repo):
    from importobot.security.key_sources import keyring_set

    raw, key = new_key()
    other_raw, other = new_key()
    (repo.path / ".env").write_text(f"APP_ENCRYPTION_KEY={key}\nSIGNING_KEY={other}\n")
    git(repo.path, "add", ".env")
    commit(repo.path, "env")
    repo.users |= {"APP_ENCRYPTION_KEY", "SIGNING_KEY"}
    keyring_set(repo.service, "SIGNING_KEY", "someone else's value")
    before = _snapshot(repo)
    proc = repo.importobot("fix", "--apply")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "already holds another value" in proc.stderr and "nothing was changed" in proc.stderr
    assert _snapshot(repo) == before
    assert repo.keyring("APP_ENCRYPTION_KEY") is None  # not even the first entry
    assert repo.keyring("SIGNING_KEY") == "someone else's value"
    assert not contains_key(proc.stdout + proc.stderr, raw)
    assert not contains_key(proc.stdout + proc.stderr, other_raw)
    # The dry run says where --apply would stop.
    dry = repo.importobot("fix")
    assert dry.returncode == 1 and "--apply would stop here" in dry.stdout


def test_index_and_work_tree_differing_stops_everything(repo: Repo):
    _raw, key = new_key()
    (repo.path / ".env").write_text(f"APP_ENCRYPTION_KEY={key}\n")
    git(repo.path, "add", ".env")
    commit(repo.path, "env")
    (repo.path / ".env").write_text(f"APP_ENCRYPTION_KEY={key}\nDEBUG=1\n")  # unstaged edit
    repo.users.add("APP_ENCRYPTION_KEY")
    before = _snapshot(repo)
    proc = repo.importobot("fix", "--apply")
    assert proc.returncode == 2 and "index and work-tree copies differ" in proc.stderr
    assert _snapshot(repo) == before
    assert repo.keyring("APP_ENCRYPTION_KEY") is None


def test_a_symlinked_target_is_refused(repo: Repo):
    _raw, key = new_key()
    (repo.path / "real.env").write_text(f"APP_ENCRYPTION_KEY={key}\n")
    (repo.path / ".env").symlink_to("real.env")
    repo.users.add("APP_ENCRYPTION_KEY")
    before = _snapshot(repo)
    proc = repo.importobot("fix", "--apply", ".env")
    assert proc.returncode == 2 and "symbolic link" in proc.stderr
    assert _snapshot(repo) == before and (repo.path / ".env").is_symlink()


def test_wrapped_is_not_available_yet(repo: Repo):
    _raw, key = new_key()
    (repo.path / ".env").write_text(f"APP_ENCRYPTION_KEY={key}\n")
    before = _snapshot(repo)
    for args in (("fix", "--to", "wrapped"), ("fix", "--apply", "--to", "wrapped")):
        proc = repo.importobot(*args)
        assert proc.returncode == 2
        assert "not available yet" in proc.stderr and "key-backends" in proc.stderr
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert _snapshot(repo) == before


# -- what is and is not exposed ---------------------------------------------------------------


def test_a_never_committed_env_file_is_not_called_exposed(repo: Repo):
    (repo.path / "README.md").write_text("# app\n")
    git(repo.path, "add", "README.md")
    commit(repo.path, "init")
    raw, key = new_key()
    (repo.path / ".env").write_text(f"APP_ENCRYPTION_KEY={key}\n")  # untracked, not ignored
    repo.users.add("APP_ENCRYPTION_KEY")
    proc = repo.importobot("fix", "--apply", env={"IMPORTOBOT_ENCRYPTION_KEY": key})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "compromised" not in proc.stdout and "rotation" not in proc.stdout
    assert "git rm --cached" not in proc.stdout  # nothing to untrack
    assert repo.run("git", "check-ignore", "-q", ".env").returncode == 0
    assert repo.keyring("APP_ENCRYPTION_KEY") == key
    assert not (repo.path / ".importobot-keys.toml").exists() or (
        fingerprint(raw) not in (repo.path / ".importobot-keys.toml").read_text()
    )


def test_a_key_only_in_history_is_said_so_and_history_is_not_rewritten(repo: Repo):
    raw, key = new_key()
    (repo.path / "settings.env").write_text(f"LEGACY_ENCRYPTION_KEY={key}\n")
    git(repo.path, "add", "settings.env")
    added = commit(repo.path, "key")
    git(repo.path, "rm", "-q", "settings.env")
    commit(repo.path, "remove it")
    (repo.path / ".importobot-keys.toml").write_text("")  # the registry is in use
    head = git(repo.path, "rev-parse", "HEAD")
    dry = repo.importobot("fix")
    assert dry.returncode == 1, dry.stdout
    assert "found only in history" in dry.stdout and added[:12] in dry.stdout
    assert "git filter-repo" in dry.stdout and fingerprint(raw) in dry.stdout
    assert "keyring set" in dry.stdout and "LEGACY_ENCRYPTION_KEY" in dry.stdout
    done = repo.importobot("fix", "--apply")
    assert done.returncode == 0, done.stdout + done.stderr
    assert git(repo.path, "rev-parse", "HEAD") == head  # history untouched
    assert Registry.load(str(repo.path / ".importobot-keys.toml")).get(fingerprint(raw))
    assert repo.importobot("fix").returncode == 0  # recorded: nothing left to do
    assert not contains_key(dry.stdout + done.stdout, raw)


def test_manual_forms_get_a_plan_and_are_left_alone(repo: Repo):
    _r1, k1 = new_key()
    _r2, k2 = new_key()
    _r3, k3 = new_key()
    _r4, k4 = new_key()
    wf = repo.path / ".github" / "workflows"
    wf.mkdir(parents=True)
    (wf / "deploy.yml").write_text(
        "on: push\njobs:\n  d:\n    runs-on: ubuntu-latest\n    env:\n"
        f"      DEPLOY_SECRET_KEY: {k1}\n    steps:\n      - run: echo\n"
    )
    (repo.path / "Dockerfile").write_text(f"FROM python:3.12\nENV APP_ENCRYPTION_KEY={k2}\n")
    b64 = base64.b64encode(k3.encode()).decode()
    (repo.path / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\ndata:\n"
        f"  APP_ENCRYPTION_KEY: {b64}\n"
    )
    (repo.path / "settings.py").write_text(f'ENCRYPTION_KEY = "{k4}"\n')
    before = _snapshot(repo)
    proc = repo.importobot("fix", "--apply")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "[GitHub Actions env:]" in out and "secrets.DEPLOY_SECRET_KEY" in out
    assert "[Dockerfile ENV/ARG]" in out and "[Kubernetes Secret data:]" in out
    assert "[source]" in out and "os.environ" in out
    assert _snapshot(repo)[0] == before[0]  # no file rewritten
    dry = repo.importobot("fix")
    assert dry.returncode == 1  # still something to do by hand


def test_an_existing_env_example_is_updated_in_place(repo: Repo):
    _raw, key = new_key()
    (repo.path / ".env").write_text(f"PORT=8000\nAPP_ENCRYPTION_KEY={key}\nNEW_FLAG=on\n")
    (repo.path / ".env.example").write_text("# ours\nPORT=8000\nAPP_ENCRYPTION_KEY=\n")
    repo.users.add("APP_ENCRYPTION_KEY")
    proc = repo.importobot("fix", "--apply")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    example = (repo.path / ".env.example").read_text()
    assert example.startswith("# ours\nPORT=8000\n# APP_ENCRYPTION_KEY <- OS keyring")
    assert example.endswith("APP_ENCRYPTION_KEY=\nNEW_FLAG=\n")
    assert repo.importobot("check", "--no-key-check").returncode == 0


# -- importobot run ---------------------------------------------------------------------------


def test_run_puts_values_in_the_environment_never_on_argv(repo: Repo):
    _raw, key = new_key()
    (repo.path / ".env").write_text(f"APP_ENCRYPTION_KEY={key}\n")
    repo.users.add("APP_ENCRYPTION_KEY")
    assert repo.importobot("fix", "--apply").returncode == 0
    probe = (
        "import os, sys; v = os.environ['APP_ENCRYPTION_KEY']; "
        "cmdline = open('/proc/self/cmdline', 'rb').read(); "
        "print(len(v), any(v in a for a in sys.argv), cmdline.count(v.encode()))"
    )
    proc = repo.importobot("run", "--", sys.executable, "-c", probe)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["44", "False", "0"]
    # A keyring value replaces an inherited one, and says so by name only.
    proc = repo.importobot("run", "--", "env", env={"APP_ENCRYPTION_KEY": "stale"})
    assert f"APP_ENCRYPTION_KEY={key}" in proc.stdout.splitlines()
    assert "APP_ENCRYPTION_KEY: the keyring value" in proc.stderr and key not in proc.stderr
    # The command's exit code is the result.
    assert repo.importobot("run", "--", "sh", "-c", "exit 7").returncode == 7


def test_run_without_markers_or_entries_exits_2(repo: Repo):
    proc = repo.importobot("run", "--", "env")
    assert proc.returncode == 2 and "nothing to load" in proc.stderr
    (repo.path / ".env.example").write_text(
        f'# MISSING_SECRET <- OS keyring "{repo.service}" (importobot run)\nMISSING_SECRET=\n'
    )
    proc = repo.importobot("run", "--", "env")
    assert proc.returncode == 2 and "no keyring entry for MISSING_SECRET" in proc.stderr
    assert repo.importobot("run").returncode == 2
    (repo.path / ".env.example").unlink()


def test_keyring_service_names() -> None:
    assert normalise_remote("https://user:pw@GitHub.com:443/Acme/App.git/") == "github.com/Acme/App"
    assert normalise_remote("git@github.com:Acme/App.git") == "github.com/Acme/App"
    assert normalise_remote("ssh://git@host.example:2222/a/b") == "host.example:2222/a/b"
    assert normalise_remote("ssh://git@host.example:22/a/b.git") == "host.example/a/b"
    assert normalise_remote("/srv/git/app.git") is None
    assert normalise_remote("file:///srv/git/app.git") is None


def test_the_service_follows_the_origin_url(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "r")
    assert keyring_service(str(repo)) == f"importobot:{os.path.realpath(repo)}"
    git(repo, "remote", "add", "origin", "https://tok:secret@github.com/acme/app.git")
    assert keyring_service(str(repo)) == "importobot:github.com/acme/app"


def test_apply_is_a_fix_applied_event(repo: Repo, tmp_path: Path):
    from tests.eventsink import install, recorded

    env = install(tmp_path)
    outside = tmp_path / "events.toml"
    outside.write_text("[events]\n")
    env["IMPORTOBOT_EVENTS_CONFIG"] = str(outside)
    raw, key = new_key()
    (repo.path / ".env").write_text(f"IMPORTOBOT_ENCRYPTION_KEY={key}\nDEBUG=1\n")
    git(repo.path, "add", ".env")
    commit(repo.path, "env")
    repo.users.add("IMPORTOBOT_ENCRYPTION_KEY")
    proc = repo.importobot("fix", "--apply", env={**env, "IMPORTOBOT_ENCRYPTION_KEY": key})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [record] = [r for r in recorded(env) if r["event"]["type"] == "fix.applied"]
    event = record["event"]
    assert event["counts"] == {
        "moved": 1,
        "files": 1,
        "untracked": 1,
        "compromised": 1,
        "manual": 0,
    }
    assert event["fingerprint"] == fingerprint(raw)
    assert event["payload"]["to"] == "keyring"
    assert not contains_key(Path(env["IMPORTOBOT_TEST_SINK_FILE"]).read_text(), raw)


def test_a_key_passed_to_a_call_gets_a_setting_named_for_it(repo: Repo):
    """A signing call's or key constructor's argument has no setting's name: the advice
    names one (``jwt.sign()`` → ``JWT_SIGN_KEY``), never a keyring entry called
    ``jwt.sign()``."""
    key = secrets.token_hex(32)
    (repo.path / "auth.js").write_text(f'const t = jwt.sign({{ id: 1 }}, "{key}");\n')
    (repo.path / "crypt.py").write_text(f'f = Fernet(b"{Fernet.generate_key().decode()}")\n')
    proc = repo.importobot("fix")
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "keyring set" in out and " JWT_SIGN_KEY " in out and " FERNET_KEY " in out
    assert "keyring set importobot" in out and "jwt.sign() (prompts)" not in out
    assert key not in out + proc.stderr
