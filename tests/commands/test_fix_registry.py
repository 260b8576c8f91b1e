"""What ``fix`` records and how it writes: registry version 2 (``compromised``), IOB204 for a
configured compromised key, the crash-safe rewrite (D22), and ``check --fail-on``."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from importobot.cli import cli
from importobot.exceptions import ConfigError
from importobot.fsio import DurableWriteError, FileRefused, replace_file_durably
from importobot.keys.fingerprint import fingerprint
from importobot.keys.registry import Registry
from importobot.project import load_project
from importobot.scan.rules.key_status import key_status
from tests.gitrepo import init_repo, new_key
from tests.keygen import new_raw

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


# -- registry version 2 ----------------------------------------------------------------------


def test_a_version_1_registry_still_loads_and_is_written_back_as_version_2(tmp_path: Path):
    fp = fingerprint(new_raw())
    path = tmp_path / ".importobot-keys.toml"
    path.write_text(f'[[key]]\nfingerprint = "{fp}"\ncreated = 2026-08-01T00:00:00Z\n')
    reg = Registry.load(str(path), now=NOW)
    assert reg.get(fp).compromised is None
    assert reg.mark_compromised(fp, NOW, "exposed: committed in .env:2") is True
    assert reg.mark_compromised(fp, NOW + timedelta(days=1)) is False  # the first date stays
    reg.save()
    text = path.read_text()
    assert "\nversion = 2\n" in text and "compromised = 2026-11-20T12:00:00Z" in text
    again = Registry.load(str(path), now=NOW)
    assert again.get(fp).compromised == NOW and again.get(fp).note.startswith("exposed")
    assert again.dumps() == reg.dumps()
    assert again.get(fp).to_dict()["compromised"] == "2026-11-20T12:00:00Z"


def test_a_compromised_key_may_have_no_created_date_but_no_future_or_early_dates(tmp_path):
    fp = fingerprint(new_raw())
    path = tmp_path / "r.toml"
    reg = Registry(str(path))
    reg.mark_compromised(fp, NOW)
    reg.save()
    assert Registry.load(str(path), now=NOW).get(fp).created is None
    path.write_text(f'version = 2\n[[key]]\nfingerprint = "{fp}"\ncompromised = 2027-01-01\n')
    with pytest.raises(ConfigError, match="`compromised` is in the future"):
        Registry.load(str(path), now=NOW)
    path.write_text(
        f'[[key]]\nfingerprint = "{fp}"\ncreated = 2026-10-01\ncompromised = 2026-09-01\n'
    )
    with pytest.raises(ConfigError, match="`compromised` is before `created`"):
        Registry.load(str(path), now=NOW)
    for version in ("3", '"2"', "true"):
        path.write_text(f"version = {version}\n")
        with pytest.raises(ConfigError, match="unsupported registry version"):
            Registry.load(str(path), now=NOW)
    with pytest.raises(ConfigError, match="fingerprint"):
        reg.mark_compromised("iobfp1:nothex", NOW)


def _project_with(tmp_path: Path, records: str) -> object:
    repo = init_repo(tmp_path / "repo")
    (repo / ".importobot-keys.toml").write_text("version = 2\n" + records)
    return load_project(str(repo))


def test_iob204_where_a_compromised_key_is_configured(tmp_path: Path):
    raw, key = new_key()
    old_raw, old = new_key()
    fp, old_fp = fingerprint(raw), fingerprint(old_raw)
    project = _project_with(
        tmp_path,
        f'[[key]]\nfingerprint = "{fp}"\ncreated = 2026-11-01T00:00:00Z\n'
        f"compromised = 2026-11-19T00:00:00Z\n"
        f'[[key]]\nfingerprint = "{old_fp}"\ncompromised = 2026-11-19T00:00:00Z\n',
    )
    env = {"IMPORTOBOT_ENCRYPTION_KEY": key, "IMPORTOBOT_PREVIOUS_KEYS": old}
    status = key_status(project, env, NOW)
    found = sorted((f.rule, f.fingerprint) for f in status.findings)
    # The primary and the (not retired) previous key; no age finding for an exposed key.
    assert found == sorted([("IOB204", fp), ("IOB204", old_fp)])
    assert all(f.severity == "error" and f.source for f in status.findings)
    assert key not in repr(status.to_dict()) and old not in repr(status.to_dict())
    # Once the old key is retired, IOB305 (still configured) replaces IOB204 for it.
    reg = Registry.load(project.registry_path(), now=NOW)
    reg.retire(old_fp, NOW)
    reg.save()
    rules = sorted(f.rule for f in key_status(project, env, NOW).findings)
    assert rules == ["IOB204", "IOB305"]


# -- the durable rewrite ---------------------------------------------------------------------


def test_replace_file_durably_keeps_the_mode_and_leaves_no_temp_file(tmp_path: Path):
    target = tmp_path / ".env"
    target.write_bytes(b"A=1\n")
    target.chmod(0o640)
    replace_file_durably(str(target), b"A=${A}\n")
    assert target.read_bytes() == b"A=${A}\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == [".env"]
    fresh = tmp_path / "new.txt"
    replace_file_durably(str(fresh), b"x")
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o644


def test_replace_file_durably_refuses_links_and_leaves_them_alone(tmp_path: Path):
    real = tmp_path / "real.env"
    real.write_bytes(b"A=1\n")
    link = tmp_path / ".env"
    link.symlink_to("real.env")
    with pytest.raises(FileRefused, match="symbolic link"):
        replace_file_durably(str(link), b"changed")
    hard = tmp_path / "hard.env"
    os.link(real, hard)
    with pytest.raises(FileRefused, match="hard links"):
        replace_file_durably(str(hard), b"changed")
    assert real.read_bytes() == b"A=1\n" and link.is_symlink()


def test_replace_file_durably_fails_whole(tmp_path: Path):
    directory = tmp_path / "ro"
    directory.mkdir()
    target = directory / "f"
    target.write_bytes(b"old")
    directory.chmod(0o500)
    try:
        if os.access(directory, os.W_OK):  # root ignores the mode: use a missing directory
            missing = tmp_path / "gone" / "f"
            with pytest.raises(DurableWriteError, match="the file is unchanged"):
                replace_file_durably(str(missing), b"new")
        else:
            with pytest.raises(DurableWriteError, match="the file is unchanged"):
                replace_file_durably(str(target), b"new")
    finally:
        directory.chmod(0o700)
    assert target.read_bytes() == b"old"


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_replace_file_durably_order_is_write_fsync_rename_fsync_dir(tmp_path: Path):
    target = tmp_path / "t.env"
    target.write_bytes(b"old\n")
    log = tmp_path / "trace"
    code = (
        "import sys; from importobot.fsio import replace_file_durably; "
        "replace_file_durably(sys.argv[1], b'new\\n')"
    )
    proc = subprocess.run(
        [
            "strace",
            "-f",
            "-e",
            "trace=openat,write,fsync,rename,renameat,renameat2",
            "-o",
            str(log),
            sys.executable,
            "-c",
            code,
            str(target),
        ],
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    calls = [
        line for line in log.read_text().splitlines() if "importobot-tmp" in line or "fsync" in line
    ]
    tail: list[str] = []
    for line in calls:
        name = line.split(None, 1)[1].split("(", 1)[0]
        if name in ("openat", "write", "fsync") or name.startswith("rename"):
            tail.append(name)
    # open(tmp, O_EXCL|O_NOFOLLOW) ... write ... fsync(tmp) ... rename ... fsync(dir)
    opened = next(line for line in calls if "openat" in line and "importobot-tmp" in line)
    assert "O_EXCL" in opened and "O_NOFOLLOW" in opened and "0600" in opened
    order = [n if not n.startswith("rename") else "rename" for n in tail]
    first_fsync = order.index("fsync")
    assert order.index("rename") > first_fsync
    assert "fsync" in order[order.index("rename") + 1 :]
    assert target.read_bytes() == b"new\n"


# -- check --fail-on ---------------------------------------------------------------------------


def test_check_fail_on(tmp_path: Path, monkeypatch):
    repo = init_repo(tmp_path / "repo")
    monkeypatch.chdir(repo)
    secret = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()  # weak: no key
    (repo / ".env").write_text(f"PASSWORD={secret}x\n")  # IOB103 only (a warning)
    runner = CliRunner()

    def code(*args: str) -> int:
        result = runner.invoke(cli, ["check", "--no-key-check", "--format", "json", *args])
        return result.exit_code

    report = json.loads(runner.invoke(cli, ["check", "--no-key-check", "--format", "json"]).stdout)
    assert [f["rule"] for f in report["findings"]] == ["IOB103"]
    assert code() == 0 and code("--fail-on", "error") == 0
    assert code("--fail-on", "warning") == 1 and code("--fail-on", "never") == 0
    _raw, key = new_key()
    (repo / ".env").write_text(f"APP_ENCRYPTION_KEY={key}\n")
    assert code("--fail-on", "error") == 1 and code("--fail-on", "never") == 0
    result = runner.invoke(cli, ["check", "--fail-on", "never", "--strict"])
    assert result.exit_code == 2 and "--fail-on replaces" in result.output
