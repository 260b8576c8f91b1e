"""The CLI skeleton: exit codes (D15), one-line errors, stdin only, plugins."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from importobot.cli import cli, main
from importobot.keys.fingerprint import fingerprint
from importobot.security import CredentialManager
from tests.keygen import contains_key, new_raw


def _run(
    *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "importobot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )


def test_version_and_help():
    import importobot

    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0 and importobot.__version__ in result.output
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in ("key", "encrypt", "decrypt"):
        assert name in result.output


def test_acceptance_short_key_status_and_encrypt():
    status = _run("key", "status", env={"IMPORTOBOT_ENCRYPTION_KEY": "short"})
    assert status.returncode == 1
    assert status.stdout.startswith("IOB202 malformed-key: IMPORTOBOT_ENCRYPTION_KEY is too short")
    assert "5 base64 characters" in status.stdout
    assert "short " not in status.stdout.replace("too short", "")
    enc = _run("encrypt", env={"IMPORTOBOT_ENCRYPTION_KEY": "short"}, stdin="x\n")
    assert enc.returncode == 2
    assert enc.stdout == ""
    assert len(enc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in enc.stderr


@pytest.mark.parametrize(
    ("env", "code", "rule"),
    [
        ({}, 1, "IOB201"),
        ({"IMPORTOBOT_ENCRYPTION_KEY": "changeme"}, 1, "IOB203"),
        ({"IMPORTOBOT_ENCRYPTION_KEY": base64.b64encode(bytes(32)).decode()}, 1, "IOB203"),
        ({"IMPORTOBOT_ENCRYPTION_KEY": "changeme" * 5 + "1234"}, 1, "IOB203"),
        ({"IMPORTOBOT_ENCRYPTION_KEY": base64.b64encode(os.urandom(24)).decode()}, 1, "IOB202"),
    ],
)
def test_key_status_judges(env, code, rule):
    result = CliRunner().invoke(cli, ["key", "status"], env=env)
    assert result.exit_code == code
    assert result.output.startswith(rule)


def test_key_status_valid_and_json():
    raw = new_raw()
    env = {"IMPORTOBOT_ENCRYPTION_KEY": base64.b64encode(raw).decode()}
    result = CliRunner().invoke(cli, ["key", "status"], env=env)
    assert result.exit_code == 0
    assert "env:IMPORTOBOT_ENCRYPTION_KEY" in result.output and fingerprint(raw) in result.output
    import json

    result = CliRunner().invoke(cli, ["key", "status", "--format", "json"], env=env)
    data = json.loads(result.output)
    assert data["valid"] is True and data["fingerprint"] == fingerprint(raw)


def test_key_status_prints_the_legacy_migration():
    result = CliRunner().invoke(
        cli, ["key", "status"], env={"IMPORTOBOT_ENCRYPTION_KEY": new_raw().hex()}
    )
    assert result.exit_code == 1
    assert "legacy:" in result.output and "importobot rotate" in result.output


def test_encrypt_decrypt_round_trip_over_stdin():
    raw = new_raw()
    env = {"IMPORTOBOT_ENCRYPTION_KEY": base64.urlsafe_b64encode(raw).decode()}
    enc = _run("encrypt", env=env, stdin="p@ss word\n")
    assert enc.returncode == 0 and enc.stdout.startswith("gAAAA")
    assert not contains_key(enc.stdout, raw)
    dec = _run("decrypt", env=env, stdin=enc.stdout)
    assert dec.returncode == 0 and dec.stdout == "p@ss word\n"
    assert CredentialManager(key=raw).decrypt_credential(enc.stdout.strip()) == "p@ss word"


def test_decrypt_failures_exit_2_with_one_line():
    env = {"IMPORTOBOT_ENCRYPTION_KEY": base64.urlsafe_b64encode(new_raw()).decode()}
    other = CredentialManager(key=new_raw()).encrypt_credential("x").token
    for stdin in (other, "garbage", ""):
        dec = _run("decrypt", env=env, stdin=stdin)
        assert dec.returncode == 2
        assert len(dec.stderr.strip().splitlines()) == 1 and dec.stderr.startswith(
            "importobot: error:"
        )
    assert _run("encrypt", stdin="x").returncode == 2  # no key at all


def test_key_generate_formats():
    result = CliRunner().invoke(cli, ["key", "generate"])
    key = result.output.strip()
    assert len(base64.urlsafe_b64decode(key)) == 32
    result = CliRunner().invoke(cli, ["key", "generate", "--format", "env"])
    assert result.output.startswith("IMPORTOBOT_ENCRYPTION_KEY=")


def test_no_option_takes_a_secret():
    import re

    import click

    from tests.cli.test_leaks import _commands

    # An option *named* like a secret (--key, --db-password, --token) must not exist (D6);
    # options about keys (--max-key-age, --no-key-check) are fine.
    secretish = re.compile(r"(^|-)(key|keys|password|secret|plaintext|value|token|passphrase)$")
    for path, cmd in _commands():
        for param in cmd.params:
            if isinstance(param, click.Option) and not param.is_flag:
                for opt in param.opts:
                    assert not secretish.search(opt.lstrip("-")), (path, opt)


def test_usage_error_exit_2():
    assert main(["no-such-command"]) == 2
    assert main(["key", "generate", "--format", "yaml"]) == 2


def test_enterprise_command_without_its_plugin_names_the_extra(monkeypatch):
    monkeypatch.setattr("importobot.plugins.entry_points", lambda group: {})
    result = CliRunner().invoke(cli, ["rotate", "sqlite"])
    assert result.exit_code == 2
    assert "pip install 'importobot[enterprise]'" in result.output


def _plugin_dir(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    dist = site / "importobot_testplugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: importobot-testplugin\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text(
        "[importobot.commands]\n"
        "hello = importobot_testplugin:hello\n"
        "needs-extra = importobot_testplugin_missing_dep:cmd\n"
    )
    (site / "importobot_testplugin.py").write_text(
        textwrap.dedent(
            """
            import click

            @click.command()
            @click.option("--name", default="world")
            def hello(name):
                '''Say hello (a test plugin).'''
                click.echo(f"hello {name}")
            """
        )
    )
    (site / "importobot_testplugin_missing_dep.py").write_text("import no_such_module_xyz\n")
    return site


def test_plugins_are_listed_and_loaded_lazily(tmp_path):
    site = _plugin_dir(tmp_path)
    env = {"PYTHONPATH": os.pathsep.join([str(site), *sys.path])}
    helped = _run("--help", env=env)
    assert "hello" in helped.stdout and "needs-extra" in helped.stdout
    assert _run("hello", "--name", "plugin", env=env).stdout == "hello plugin\n"
    broken = _run("needs-extra", env=env)
    assert broken.returncode == 2
    assert "importobot[enterprise]" in broken.stderr and "no_such_module_xyz" in broken.stderr


def test_version_reads_no_entry_points(tmp_path):
    code = (
        "import importlib.metadata as m\n"
        "def boom(*a, **k):\n"
        "    if k.get('group') == 'importobot.commands': raise SystemExit(99)\n"
        "    return real(*a, **k)\n"
        "real = m.entry_points; m.entry_points = boom\n"
        "import sys; from importobot.cli import main; sys.exit(main(['--version']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_version_is_the_package_metadata():
    from importlib.metadata import version

    import importobot

    assert version("importobot") == importobot.__version__
