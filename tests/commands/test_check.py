"""``importobot check`` end to end: exit codes, scope (D11), formats, bad input."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from importobot.cli import cli
from tests.scan.conftest import all_spellings


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    _git(tmp_path, "init", "-q", ".")
    monkeypatch.chdir(tmp_path)
    for k in list(os.environ):
        if k.startswith("IMPORTOBOT_"):
            monkeypatch.delenv(k)
    return tmp_path


def _check(*args: str) -> tuple[int, str]:
    """Exit code and stdout (stderr notes are not part of the report)."""
    result = CliRunner().invoke(cli, ["check", *args])
    return result.exit_code, result.stdout


def test_fresh_repo_key_in_env(repo: Path) -> None:
    raw = secrets.token_bytes(32)
    (repo / ".env").write_text(f"DEBUG=1\nFERNET_KEY={base64.urlsafe_b64encode(raw).decode()}\n")
    code, out = _check("--format", "json", "--no-key-check")
    assert code == 1
    doc = json.loads(out)
    assert [(f["rule"], f["path"], f["line"], f["column"]) for f in doc["findings"]] == [
        ("IOB101", ".env", 2, 12)
    ]
    assert doc["findings"][0]["key_bytes"] == 32
    for fmt in ("text", "json", "sarif", "github"):
        code, out = _check("--format", fmt, "--no-key-check")
        assert code == 1
        for spelling in all_spellings(raw):
            assert spelling not in out, fmt


@pytest.mark.parametrize(
    "value",
    ["changeme", "${FERNET_KEY}", "gAAAAA" + "B" * 94, "", "your-fernet-key-here"],
)
def test_fresh_repo_non_keys(repo: Path, value: str) -> None:
    if value.startswith("gAAAAA"):
        import time

        body = b"\x80" + int(time.time()).to_bytes(8, "big") + secrets.token_bytes(80)
        value = base64.urlsafe_b64encode(body).decode()
    (repo / ".env").write_text(f"FERNET_KEY={value}\n")
    code, out = _check("--no-key-check")
    assert code == 0, out


def test_ignored_files_are_skipped_unless_no_gitignore(repo: Path) -> None:
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    (repo / ".gitignore").write_text(".env\n")
    (repo / ".env").write_text(f"APP_KEY={key}\n")
    assert _check("--no-key-check")[0] == 0
    assert _check("--no-key-check", "--no-gitignore")[0] == 1
    # An explicit file is always scanned.
    assert _check("--no-key-check", ".env")[0] == 1


def test_outside_git_walks_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub dir").mkdir()
    (tmp_path / "sub dir" / "a\nb.env").write_text(f"K={secrets.token_hex(32)}X\n")
    (tmp_path / "sub dir" / "app.env").write_text(
        f"SECRET_KEY={base64.b64encode(secrets.token_bytes(32)).decode()}\n"
    )
    code, out = _check("--format", "json", "--no-key-check")
    assert code == 1
    assert [f["path"] for f in json.loads(out)["findings"]] == ["sub dir/app.env"]


def test_skips_are_counted(repo: Path) -> None:
    (repo / "bin.dat").write_bytes(b"\0" * 100 + b"SECRET_KEY=" + secrets.token_hex(32).encode())
    (repo / "big.txt").write_text("x" * 5000)
    (repo / "ok.txt").write_text("fine\n")
    outside = repo.parent / f"outside-{secrets.token_hex(4)}.env"
    outside.write_text(f"SECRET_KEY={secrets.token_hex(32)}\n")
    (repo / "link.env").symlink_to(outside)
    code, out = _check("--format", "json", "--no-key-check", "--max-file-size", "1000")
    summary = json.loads(out)["summary"]
    assert code == 0
    assert summary["skipped"] == {"binary": 1, "symlink": 1, "too-large": 1}
    outside.unlink()


def test_nothing_scanned_is_exit_2(repo: Path) -> None:
    code, _ = _check("--no-key-check", "does-not-exist")
    assert code == 2


def test_empty_repo_is_clean(repo: Path) -> None:
    code, out = _check("--no-key-check")
    assert code == 0
    assert "0 findings" in out


def test_exit_zero_and_output(repo: Path, tmp_path: Path) -> None:
    (repo / ".env").write_text(f"SECRET_KEY={secrets.token_hex(32)}\n")
    out_file = tmp_path / "report.sarif"
    code, _ = _check(
        "--no-key-check", "--exit-zero", "--format", "sarif", "--output", str(out_file)
    )
    assert code == 0
    assert json.loads(out_file.read_text())["version"] == "2.1.0"


def test_baseline_round_trip(repo: Path) -> None:
    (repo / ".env").write_text(f"SECRET_KEY={secrets.token_hex(32)}\n")
    code, _ = _check("--no-key-check", "--baseline", "bl.json", "--update-baseline")
    assert code == 0
    doc = json.loads((repo / "bl.json").read_text())
    assert doc["version"] == 1
    assert [sorted(e) for e in doc["findings"]] == [["fingerprint", "path", "rule"]]
    assert "line" not in json.dumps(doc)
    before = (repo / "bl.json").read_text()
    # Lines move: still suppressed, and the baseline does not churn.
    (repo / ".env").write_text("A=1\n\n" + (repo / ".env").read_text())
    assert _check("--no-key-check", "--baseline", "bl.json")[0] == 0
    _check("--no-key-check", "--baseline", "bl.json", "--update-baseline")
    assert (repo / "bl.json").read_text() == before
    # A new key in the same file still fails.
    with (repo / ".env").open("a") as fh:
        fh.write(f"OTHER_SECRET={secrets.token_hex(32)}\n")
    assert _check("--no-key-check", "--baseline", "bl.json")[0] == 1


def test_invalid_config_is_exit_2(repo: Path) -> None:
    (repo / ".importobot.toml").write_text('max-file-size = "lots"\n')
    result = CliRunner().invoke(cli, ["check", "--no-key-check"])
    assert result.exit_code == 2
    assert ".importobot.toml" in result.output and "max-file-size" in result.output


def test_git_filter_files_are_judged_by_their_index_content(tmp_path, monkeypatch) -> None:
    """D11: git-crypt-style files hold plaintext only in the work tree; the repo holds
    ciphertext (here gzip stands in for the encryption filter)."""
    import base64
    import json
    import secrets
    import subprocess

    from importobot.commands.check import CheckRequest, run_check

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
            cwd=tmp_path,
            check=True,
            capture_output=True,
        )

    git("init", "-q")
    git("config", "filter.crypt.clean", "gzip -cn")
    git("config", "filter.crypt.smudge", "gzip -dc")
    (tmp_path / ".gitattributes").write_text("secret.env filter=crypt\n")
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    (tmp_path / "secret.env").write_text(f"FERNET_KEY={key}\n")
    (tmp_path / "plain.env").write_text(f"FERNET_KEY={key}\n")
    git("add", ".")
    git("commit", "-qm", "x")
    monkeypatch.chdir(tmp_path)
    import io
    import sys

    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    code = run_check(CheckRequest(fmt="json", key_check=False))
    report = json.loads(out.getvalue())
    paths = [f["path"] for f in report["findings"]]
    assert code == 1 and paths == ["plain.env"]
    assert report["summary"]["skipped"].get("binary") == 1
