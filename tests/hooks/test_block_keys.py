"""importobot-block-keys: what it reads (D12), what it prints, exit codes, start-up (D17)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from importobot.cli import cli
from importobot.hooks import block_keys
from importobot.keys.fingerprint import fingerprint
from tests.gitrepo import commit, git, init_repo, new_key
from tests.keygen import contains_key

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    path = init_repo(tmp_path / "repo")
    monkeypatch.chdir(path)
    return path


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = block_keys.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _fernet_token() -> str:
    from cryptography.fernet import Fernet

    return Fernet(Fernet.generate_key()).encrypt(b"s3cret").decode()


# -- D12: which bytes are judged ---------------------------------------------------------


def test_staged_key_is_blocked_although_the_work_tree_is_clean(repo, capsys):
    raw, key = new_key()
    (repo / ".env").write_text(f"DEBUG=1\nAPP_KEY={key}\n")
    git(repo, "add", ".env")
    (repo / ".env").write_text("DEBUG=1\n")  # the peer bug: reading the work tree only
    code, out, err = _run(capsys, ".env")
    assert code == 1
    assert f".env:2:9 IOB101 APP_KEY {fingerprint(raw)} " in out
    assert "[unstaged]" not in out
    assert "importobot: fix:" in out
    assert not contains_key(out + err, raw)


def test_unstaged_key_is_reported_and_labelled(repo, capsys):
    raw, key = new_key()
    (repo / ".env").write_text("DEBUG=1\n")
    git(repo, "add", ".env")
    (repo / ".env").write_text(f"DEBUG=1\nAPP_KEY={key}\n")
    code, out, _ = _run(capsys, ".env")
    assert code == 1
    assert fingerprint(raw) in out and out.count("[unstaged]") == 1


def test_same_key_staged_and_in_work_tree_is_reported_once(repo, capsys):
    raw, key = new_key()
    (repo / ".env").write_text(f"APP_KEY={key}\n")
    git(repo, "add", ".env")
    (repo / ".env").write_text(f"# moved\nAPP_KEY={key}\n")
    code, out, _ = _run(capsys, ".env")
    assert code == 1
    assert out.count(fingerprint(raw)) == 1


def test_untracked_and_outside_git_read_the_work_tree(tmp_path, monkeypatch, capsys):
    raw, key = new_key()
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "app.env").write_text(f"SECRET_KEY={key}\n")
    monkeypatch.chdir(plain)
    code, out, _ = _run(capsys, "app.env")
    assert code == 1 and fingerprint(raw) in out
    repo = init_repo(tmp_path / "repo")
    (repo / "tracked.txt").write_text("hello\n")
    git(repo, "add", "tracked.txt")
    (repo / "new.env").write_text(f"SECRET_KEY={key}\n")
    monkeypatch.chdir(repo)
    code, out, _ = _run(capsys, "new.env")
    assert code == 1 and fingerprint(raw) in out


def test_intent_to_add_reads_the_work_tree(repo, capsys):
    raw, key = new_key()
    (repo / ".env").write_text(f"APP_KEY={key}\n")
    git(repo, "add", "-N", ".env")
    code, out, _ = _run(capsys, ".env")
    assert code == 1 and fingerprint(raw) in out
    assert "[unstaged]" not in out


def test_unmerged_path_scans_stages_2_and_3(repo, capsys):
    raw_ours, key_ours = new_key()
    raw_theirs, key_theirs = new_key()
    (repo / ".env").write_text("APP_KEY=\n")
    git(repo, "add", ".env")
    commit(repo, "base")
    git(repo, "checkout", "-q", "-b", "other")
    (repo / ".env").write_text(f"APP_KEY={key_theirs}\n")
    git(repo, "commit", "-q", "--no-verify", "-am", "theirs")
    git(repo, "checkout", "-q", "main")
    (repo / ".env").write_text(f"APP_KEY={key_ours}\n")
    git(repo, "commit", "-q", "--no-verify", "-am", "ours")
    git(repo, "merge", "other", check=False)
    assert "U" in git(repo, "status", "--porcelain")
    code, out, _ = _run(capsys, ".env")
    assert code == 1
    assert fingerprint(raw_ours) in out and "[ours]" in out
    assert fingerprint(raw_theirs) in out and "[theirs]" in out


def test_git_index_file_is_honoured(repo, capsys):
    raw, key = new_key()
    (repo / ".env").write_text("DEBUG=1\n")
    git(repo, "add", ".env")
    commit(repo, "clean")
    alt = repo / ".git" / "alt-index"
    env = {"GIT_INDEX_FILE": str(alt)}
    git(repo, "read-tree", "HEAD", env=env)
    (repo / ".env").write_text(f"APP_KEY={key}\n")
    git(repo, "add", ".env", env=env)
    (repo / ".env").write_text("DEBUG=1\n")
    assert _run(capsys, ".env")[0] == 0
    os.environ["GIT_INDEX_FILE"] = str(alt)
    try:
        code, out, _ = _run(capsys, ".env")
    finally:
        del os.environ["GIT_INDEX_FILE"]
    assert code == 1 and fingerprint(raw) in out


def test_filtered_files_are_judged_by_their_index_blob(repo, capsys):
    """git-crypt & co.: the work tree holds plaintext, the commit holds ciphertext."""
    _, key = new_key()
    git(repo, "config", "filter.fake.clean", "gzip -cn")
    git(repo, "config", "filter.fake.smudge", "gunzip -c")
    (repo / ".gitattributes").write_text("secret.env filter=fake\n")
    (repo / "secret.env").write_text(f"APP_KEY={key}\n")
    git(repo, "add", ".gitattributes", "secret.env")
    code, out, err = _run(capsys, "secret.env")
    assert (code, out) == (0, ""), err


# -- verdicts ----------------------------------------------------------------------------

CLEAN = [
    "APP_KEY=changeme\n",
    "APP_KEY=${APP_KEY}\n",
    "APP_KEY=\n",
    "# APP_KEY is set in the keyring\nDEBUG=true\n",
    "APP_KEY=your-32-byte-key-here\n",
]


@pytest.mark.parametrize("text", CLEAN)
def test_non_keys_pass(repo, capsys, text):
    (repo / ".env").write_text(text)
    git(repo, "add", ".env")
    assert _run(capsys, ".env") == (0, "", "")


def test_fernet_token_passes(repo, capsys):
    (repo / ".env").write_text(f"DB_PASSWORD_ENC={_fernet_token()}\n")
    git(repo, "add", ".env")
    assert _run(capsys, ".env")[0] == 0


def test_inline_ignore_and_no_inline_ignores(repo, capsys):
    _, key = new_key()
    (repo / ".env").write_text(f"APP_KEY={key}  # importobot: ignore[IOB101]\n")
    git(repo, "add", ".env")
    assert _run(capsys, ".env")[0] == 0
    assert _run(capsys, "--no-inline-ignores", ".env")[0] == 1


def test_baseline_from_option_and_config(repo, capsys):
    raw, key = new_key()
    (repo / ".env").write_text(f"APP_KEY={key}\n")
    git(repo, "add", ".env")
    doc = {
        "version": 1,
        "findings": [{"rule": "IOB101", "path": ".env", "fingerprint": fingerprint(raw)}],
    }
    (repo / "accepted.json").write_text(json.dumps(doc))
    assert _run(capsys, "--baseline", "accepted.json", ".env")[0] == 0
    assert _run(capsys, ".env")[0] == 1
    (repo / "pyproject.toml").write_text('[tool.importobot]\nbaseline = "accepted.json"\n')
    assert _run(capsys, ".env")[0] == 0
    # A different key in the same file still fails.
    _, other = new_key()
    (repo / ".env").write_text(f"APP_KEY={key}\nNEXT_KEY={other}\n")
    git(repo, "add", ".env")
    assert _run(capsys, ".env")[0] == 1


def test_config_exclude_and_env_files(repo, capsys):
    _, key = new_key()
    (repo / "fixtures").mkdir()
    (repo / "fixtures" / "demo.env").write_text(f"APP_KEY={key}\n")
    (repo / "app.conf").write_text(f"TOKEN_SALT_VALUE={key}\n")
    git(repo, "add", ".")
    (repo / ".importobot.toml").write_text('exclude = ["fixtures/**"]\nenv-files = ["*.conf"]\n')
    assert _run(capsys, "fixtures/demo.env")[0] == 0
    code, out, _ = _run(capsys, "app.conf")
    assert code == 1 and "IOB101" in out


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        ([], 2, "no files given"),
        (["missing.env"], 2, "missing.env: missing"),
        (["--bogus", "a"], 2, "unknown option --bogus"),
        (["--baseline"], 2, "--baseline needs a value"),
        (["."], 2, "is a directory"),
    ],
)
def test_usage_errors(repo, capsys, argv, code, message):
    got, _, err = _run(capsys, *argv)
    assert got == code and message in err


def test_empty_and_binary_files_are_clean(repo, capsys):
    (repo / "empty.env").write_bytes(b"")
    (repo / "blob.bin").write_bytes(b"\0\1\2key=" + os.urandom(64))
    git(repo, "add", ".")
    assert _run(capsys, "empty.env")[0] == 0
    assert _run(capsys, "blob.bin")[0] == 0


def test_missing_file_fails_even_beside_a_clean_one(repo, capsys):
    (repo / "ok.txt").write_text("hello\n")
    code, _, err = _run(capsys, "ok.txt", "gone.txt")
    assert code == 2 and "gone.txt" in err


def test_click_command_calls_the_same_main(repo):
    raw, key = new_key()
    (repo / ".env").write_text(f"APP_KEY={key}\n")
    git(repo, "add", ".env")
    result = CliRunner().invoke(cli, ["hook", "block-keys", ".env"])
    assert result.exit_code == 1 and fingerprint(raw) in result.output
    assert not contains_key(result.output, raw)
    assert CliRunner().invoke(cli, ["hook", "block-keys"]).exit_code == 2


def test_default_max_size_matches_config():
    from importobot.config import DEFAULT_MAX_FILE_SIZE
    from importobot.project import DEFAULT_MAX_FILE_SIZE as PROJECT_DEFAULT

    assert PROJECT_DEFAULT == DEFAULT_MAX_FILE_SIZE


# -- D17: one git call at most, none for untracked files ----------------------------------


@pytest.fixture
def git_log(tmp_path, monkeypatch) -> Path:
    """Put a logging ``git`` wrapper first on PATH; returns the log file."""
    real = subprocess.run(["which", "git"], capture_output=True, text=True).stdout.strip()
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "git.log"
    wrapper = bindir / "git"
    wrapper.write_text(f'#!/bin/sh\necho "$@" >> "{log}"\nexec "{real}" "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return log


def _calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_one_git_call_for_tracked_and_none_for_untracked(repo, capsys, git_log):
    (repo / "a.txt").write_text("hello\n")
    (repo / "b.env").write_text("DEBUG=1\n")
    git(repo, "add", "a.txt", "b.env")
    git_log.unlink(missing_ok=True)
    (repo / "untracked.env").write_text("DEBUG=1\n")
    assert _run(capsys, "untracked.env")[0] == 0
    assert _calls(git_log) == []
    assert _run(capsys, "a.txt", "b.env", "untracked.env")[0] == 0
    assert _calls(git_log) == ["-C " + str(repo) + " cat-file --batch"]


# -- D17: start-up ----------------------------------------------------------------------

#: Never imported on the hook path (D17), checked after a real run on a staged .env, with
#: and without configuration.
FORBIDDEN = (
    "click",
    "argparse",
    "cryptography",
    "keyring",
    "json",
    "typing",
    "pathlib",
    "subprocess",
    "tomllib",
    "datetime",
    "hashlib",
    "dataclasses",
    "inspect",
    "importlib.metadata",
    "importobot.scan.engine",
    "importobot.plugins",
)
#: Modules the hook may add to a bare interpreter's (a budget; raise it only with a reason).
MODULE_BUDGET = 75

#: The three ways a repository is configured (none, a pyproject table, a dot file).
CONFIGS = {
    "none": None,
    "pyproject": (
        "pyproject.toml",
        '[project]\nname = "demo"\n\n[tool.importobot]\n'
        'exclude = ["vendor/**", "*.min.js"]\nmax-file-size = "5MB"\n'
        'baseline = ".importobot-baseline.json"\n',
    ),
    "dotfile": (".importobot.toml", 'exclude = ["vendor/**"]\nextra-env-globs = ["*.conf"]\n'),
}


@pytest.mark.parametrize("config", sorted(CONFIGS))
@pytest.mark.parametrize("with_key", [False, True], ids=["clean", "key"])
def test_hook_start_up_imports(repo, config, with_key):
    spec = CONFIGS[config]
    if spec is not None:
        (repo / spec[0]).write_text(spec[1])
    text = "DEBUG=1\nDATABASE_URL=${DATABASE_URL}\nAPP_KEY=changeme\n"
    if with_key:
        text += f"SECRET_KEY={new_key()[1]}\n"
    (repo / ".env").write_text(text)
    git(repo, "add", ".env")
    probe = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "from importobot.hooks.block_keys import main\n"
        "code = main(['.env'])\n"
        "sys.stdout.flush()\n"
        "print('@@', code)\n"
        "print('@@', ' '.join(sorted(set(sys.modules) - before)))\n"
    )
    # As installed hooks run: from cached bytecode (a first run writes it), so that the
    # import times compare modules' work, not which files happen to have a fresh .pyc.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for _ in range(2):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", probe],
            cwd=repo,
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
    marked = [ln[3:] for ln in proc.stdout.splitlines() if ln.startswith("@@ ")]
    code, added = marked
    assert code == ("1" if with_key else "0"), proc.stdout + proc.stderr[-2000:]
    loaded = set(added.split())
    # A finding's fingerprint is HMAC-SHA256 over the built-in SHA-256: no hashlib (OpenSSL).
    forbidden = set(FORBIDDEN) | {"hashlib", "hmac", "_hashlib", "importobot.events"}
    bad = sorted(m for m in loaded if m.split(".")[0] in forbidden or m in forbidden)
    assert not bad, f"imported on the hook path: {bad}"
    assert len(loaded) <= MODULE_BUDGET, (len(loaded), sorted(loaded))
    # -X importtime: the hook module itself (not the scanner) stays light.
    cumulative = {}
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            _, total, name = line.split("|")
            if total.strip().isdigit():
                cumulative[name.strip()] = int(total)
    assert cumulative["importobot.hooks.block_keys"] < cumulative["importobot.scan.rules.files"]


def test_hook_ids_and_console_scripts():
    """Each hook's entry is a console script pointing at a module's ``console`` (D17),
    which runs its ``main`` and leaves."""
    import tomllib

    hooks_yaml = (ROOT / ".pre-commit-hooks.yaml").read_text()
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    for hook_id in ("importobot-block-keys", "importobot-check-key", "importobot-key-age"):
        assert f"- id: {hook_id}\n" in hooks_yaml
        assert f"entry: {hook_id}\n" in hooks_yaml
        module, func = scripts[hook_id].split(":")
        assert func == "console"
        __import__(module)
        assert callable(sys.modules[module].main) and callable(sys.modules[module].console)
