"""importobot-check-key and importobot-key-age: exit codes and messages (fixed clock)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from importobot.hooks import check_key, key_age
from importobot.keys.fingerprint import fingerprint
from importobot.keys.registry import Registry
from tests.keygen import contains_key, new_raw

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    (tmp_path / ".git").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _set_key(monkeypatch) -> bytes:
    raw = new_raw()
    monkeypatch.setenv("IMPORTOBOT_ENCRYPTION_KEY", base64.urlsafe_b64encode(raw).decode())
    return raw


def _register(repo: Path, raw: bytes, days: int) -> None:
    reg = Registry(str(repo / ".importobot-keys.toml"))
    reg.register(fingerprint(raw), NOW - timedelta(days=days))
    reg.save()


@pytest.mark.parametrize(
    ("env", "argv", "code", "rule"),
    [
        ({}, [], 1, "IOB201"),
        ({}, ["--optional"], 0, None),
        ({"IMPORTOBOT_ENCRYPTION_KEY": "changeme"}, [], 1, "IOB203"),
        ({"IMPORTOBOT_ENCRYPTION_KEY": "changeme" * 5 + "abcd"}, ["--optional"], 1, "IOB203"),
        ({"IMPORTOBOT_ENCRYPTION_KEY": base64.b64encode(os.urandom(16)).decode()}, [], 1, "IOB202"),
        ({"IMPORTOBOT_ENCRYPTION_KEY": base64.b64encode(bytes(32)).decode()}, [], 1, "IOB203"),
    ],
)
def test_check_key(monkeypatch, capsys, env, argv, code, rule):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert check_key.main(argv) == code
    out = capsys.readouterr().out
    if rule:
        assert out.startswith(rule)
        assert "env:IMPORTOBOT_ENCRYPTION_KEY" in out or rule == "IOB201"


def test_check_key_with_a_generated_key(monkeypatch, capsys):
    raw = _set_key(monkeypatch)
    assert check_key.main([]) == 0
    out = capsys.readouterr().out
    assert fingerprint(raw) in out and not contains_key(out, raw)


def test_check_key_usage_errors(capsys):
    assert check_key.main(["file.py"]) == 2
    assert check_key.main(["--bogus"]) == 2
    with pytest.raises(SystemExit) as info:
        check_key.main(["--help"])
    assert info.value.code == 0


def test_key_age_due_and_warning(repo, monkeypatch, capsys):
    raw = _set_key(monkeypatch)
    _register(repo, raw, 100)
    assert key_age.run(max_age="90d", now=NOW) == 1
    out = capsys.readouterr().out
    assert out.startswith("IOB301") and "2026-11-15" in out and not contains_key(out, raw)
    _register_fresh = repo / ".importobot-keys.toml"
    _register_fresh.unlink()
    _register(repo, raw, 80)
    assert key_age.run(max_age="90d", warn_age="75d", now=NOW) == 0
    assert capsys.readouterr().out.startswith("IOB302")
    assert key_age.run(max_age="90d", warn_age="75d", strict=True, now=NOW) == 1
    capsys.readouterr()
    assert key_age.run(max_age="90d", now=NOW - timedelta(days=30)) == 0
    assert "key age ok" in capsys.readouterr().out


def test_key_age_unregistered_is_a_warning(repo, monkeypatch, capsys):
    _set_key(monkeypatch)
    assert key_age.run(now=NOW) == 0
    out = capsys.readouterr().out
    assert out.startswith("IOB304") and "importobot key register" in out


def test_key_age_reads_config(repo, monkeypatch, capsys):
    raw = _set_key(monkeypatch)
    _register(repo, raw, 40)
    (repo / "pyproject.toml").write_text('[tool.importobot]\nmax-key-age = "30d"\n')
    assert key_age.run(now=NOW) == 1
    assert "30d" in capsys.readouterr().out


def test_key_age_bad_arguments(repo, monkeypatch, capsys):
    _set_key(monkeypatch)
    assert key_age.main(["--max-age", "3m"]) == 2
    assert "ambiguous" in capsys.readouterr().err
    assert key_age.main(["--max-age"]) == 2
    (repo / ".importobot-keys.toml").write_text("[[key]]\nfingerprint = 1\n")
    assert key_age.main([]) == 2
    assert ".importobot-keys.toml:2:" in capsys.readouterr().err


def test_console_scripts_run_without_click(tmp_path):
    code = (
        "import sys; from importobot.hooks.check_key import main; rc = main(['--optional']);"
        "heavy = ('click', 'cryptography', 'keyring', 'json', 'argparse');"
        "bad = [m for m in heavy if m in sys.modules];"
        "print(bad); sys.exit(rc)"
    )
    # No COVERAGE_*: scripts/test measures child processes, and coverage would load json.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMPORTOBOT_", "COVERAGE_"))}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0
    assert proc.stdout.strip().endswith("[]"), proc.stdout


def test_key_age_skips_where_key_checks_are_not_configured(repo, capsys):
    """D16: a contributor without a key in a repository that has not opted in commits."""
    for argv in ([], ["--optional"], ["--max-age", "30d"]):
        assert key_age.main(argv) == 0
        assert capsys.readouterr().out == "key checks skipped (not configured)\n"
    # A bad option is still a usage error, configured or not.
    assert key_age.main(["--max-age", "3m"]) == 2
    assert "ambiguous" in capsys.readouterr().err
    # key-check = false opts out even with a key set.
    (repo / ".importobot.toml").write_text("key-check = false\n")
    assert key_age.run(now=NOW, env={"IMPORTOBOT_ENCRYPTION_KEY": "changeme"}) == 0
    assert "skipped" in capsys.readouterr().out


def test_key_age_optional_where_opted_in(repo, capsys):
    (repo / ".importobot-keys.toml").write_text("")  # a registry opts the repository in
    assert key_age.run(now=NOW) == 1
    assert capsys.readouterr().out.startswith("IOB201")
    assert key_age.run(now=NOW, optional=True) == 0
    assert "no key set up" in capsys.readouterr().out
    # --optional: absent is fine, invalid or old is not.
    assert key_age.run(now=NOW, optional=True, env={"IMPORTOBOT_ENCRYPTION_KEY": "changeme"}) == 1
    assert capsys.readouterr().out.startswith("IOB203")
    raw = new_raw()
    _register(repo, raw, 100)
    env = {"IMPORTOBOT_ENCRYPTION_KEY": base64.b64encode(raw).decode()}
    assert key_age.run(now=NOW, optional=True, env=env) == 1
    assert capsys.readouterr().out.startswith("IOB301")


def test_key_age_judges_only_the_active_key(repo, capsys):
    raw = new_raw()
    _register(repo, raw, 10)
    env = {
        "IMPORTOBOT_ENCRYPTION_KEY": base64.b64encode(raw).decode(),
        "IMPORTOBOT_PREVIOUS_KEYS": "short",  # a malformed previous key is check-key's business
    }
    assert key_age.run(now=NOW, env=env) == 0
    assert "key age ok" in capsys.readouterr().out
    assert check_key.run(env=env) == 1
    assert capsys.readouterr().out.startswith("IOB202")


def test_cli_hook_key_age_optional(repo):
    from click.testing import CliRunner

    from importobot.cli import cli

    result = CliRunner().invoke(cli, ["hook", "key-age", "--optional"])
    assert result.exit_code == 0 and "key checks skipped (not configured)" in result.output


def _hook_imports(
    cwd: Path, module: str, argv: list[str], env: dict[str, str]
) -> tuple[int, list[str]]:
    code = (
        "import sys; before = set(sys.modules)\n"
        f"from importobot.hooks.{module} import main; rc = main({argv!r})\n"
        "print(' '.join(sorted(set(sys.modules) - before))); sys.exit(rc)\n"
    )
    full = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    full.update(env)
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, env=full, timeout=60
    )
    return proc.returncode, proc.stdout.strip().splitlines()[-1].split()


HEAVY = ("click", "cryptography", "keyring", "json", "argparse")
#: Not even these where nothing is configured (reading a registry imports tomllib: typing).
LIGHT = (*HEAVY, "typing", "dataclasses")


def test_key_age_hook_stays_light(repo):
    code, loaded = _hook_imports(repo, "key_age", ["--optional"], {})
    assert code == 0
    assert [m for m in loaded if m.split(".")[0] in LIGHT] == []
    # Not configured: nothing of the key machinery is imported.
    assert not [m for m in loaded if m.startswith(("importobot.security", "importobot.scan"))]
    raw = new_raw()
    _register(repo, raw, 10)
    env = {"IMPORTOBOT_ENCRYPTION_KEY": base64.b64encode(raw).decode()}
    code, loaded = _hook_imports(repo, "key_age", [], env)
    assert code == 0
    assert [m for m in loaded if m.split(".")[0] in HEAVY] == []
    code, loaded = _hook_imports(repo, "check_key", [], env)
    assert code == 0
    assert [m for m in loaded if m.split(".")[0] in HEAVY] == []
