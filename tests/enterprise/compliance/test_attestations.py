"""Manual controls: an attestation file turns them into evidence, judged by its commit.

Signed commits use SSH signatures (``ssh-keygen`` keys made per test, an allowed-signers
file in the repository's own git config): good -> pass, unsigned or a signer not trusted
here -> warn, a signature that does not match the commit -> fail.
"""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from importobot.git import blame_commits, commit_info, verify_commit
from tests.conftest import require_service
from tests.gitrepo import commit, git

from .scenario import Scenario, cli, control, make_repo, now, report_json, validate

ATTESTATIONS = ".importobot-attestations.toml"


def _attest(s: Scenario, control_id: str = "split-knowledge", days: int = 3) -> None:
    when = (now() - timedelta(days=days)).strftime("%Y-%m-%d")
    with open(s.repo / ATTESTATIONS, "a") as handle:
        handle.write(
            f'[[attestation]]\ncontrol = "{control_id}"\nwho = "Dana Reyes, security lead"\n'
            f'when = {when}\nnote = "Key ceremony with two custodians, minutes KM-12"\n\n'
        )


def _ssh_key(tmp_path: Path, name: str) -> Path:
    require_service(
        "ssh-keygen", shutil.which("ssh-keygen") is not None, "apt-get install openssh-client"
    )
    key = tmp_path / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True
    )
    return key


def _signed_commit(repo: Path, key: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(
        repo, "-c", "gpg.format=ssh", "-c", f"user.signingkey={key}", "commit", "-q", "-S",
        "--no-verify", "-m", message,
    )  # fmt: skip
    return git(repo, "rev-parse", "HEAD").strip()


def _trust(repo: Path, tmp_path: Path, *keys: Path) -> None:
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(
        "".join(f"tests@importobot.invalid {k.with_suffix('.pub').read_text()}" for k in keys)
    )
    git(repo, "config", "gpg.ssh.allowedSignersFile", str(allowed))


@pytest.fixture
def repo(tmp_path: Path) -> Scenario:
    return make_repo(tmp_path, age_days=10, committed_env=False)


def test_without_attestation_manual_controls_say_what_to_attest(repo: Scenario) -> None:
    _, report = report_json(repo.repo, repo.env)
    split = control(report, "split-knowledge")
    assert split["status"] == "manual"
    assert split["attest"].startswith("No one person") and "attestation" in split["fix"]
    arch = control(report, "crypto-architecture")
    assert arch["status"] == "manual" and any("Fernet" in line for line in arch["draft"])
    assert any(repo.fp in line for line in arch["draft"])


def test_uncommitted_then_unsigned_attestation_warns(repo: Scenario) -> None:
    _attest(repo)
    _, report = report_json(repo.repo, repo.env)
    split = control(report, "split-knowledge")
    assert split["status"] == "warn"
    assert split["attestations"][0]["proof"]["state"] == "untracked"
    git(repo.repo, "add", ATTESTATIONS)  # staged is not committed
    _, report = report_json(repo.repo, repo.env)
    assert control(report, "split-knowledge")["attestations"][0]["proof"]["state"] == "uncommitted"
    sha = commit(repo.repo, "attest split knowledge")
    _, report = report_json(repo.repo, repo.env)
    validate(report)
    split = control(report, "split-knowledge")
    assert split["status"] == "warn"
    (entry,) = split["attestations"]
    assert entry["who"] == "Dana Reyes, security lead"
    assert entry["proof"]["commit"] == sha and entry["proof"]["signature"] == "unsigned"
    assert entry["path"] == ATTESTATIONS and entry["line"] == 1
    item = next(e for e in split["evidence"] if e.get("commit"))
    assert item["commit"] == sha and "signature: unsigned" in item["text"]
    assert control(report, "custodians")["status"] == "manual"  # only its own attestation counts
    # an edit not committed yet is not proved by the earlier commit
    text = (repo.repo / ATTESTATIONS).read_text().replace("KM-12", "KM-13")
    (repo.repo / ATTESTATIONS).write_text(text)
    _, report = report_json(repo.repo, repo.env)
    split = control(report, "split-knowledge")
    assert split["attestations"][0]["proof"]["state"] == "uncommitted"
    assert split["status"] == "warn"


def test_a_good_signature_passes_and_a_stranger_or_a_forgery_does_not(
    repo: Scenario, tmp_path: Path
) -> None:
    signer, stranger = _ssh_key(tmp_path, "signer"), _ssh_key(tmp_path, "stranger")
    _attest(repo, "custodians")
    sha = _signed_commit(repo.repo, signer, "custodians acknowledged")
    _trust(repo.repo, tmp_path, signer)
    assert verify_commit(str(repo.repo), sha)[0] == "good"
    _, report = report_json(repo.repo, repo.env)
    validate(report)
    custodians = control(report, "custodians")
    assert custodians["status"] == "pass", custodians
    assert custodians["attestations"][0]["proof"]["signature"] == "good"
    assert custodians["fix"] is None

    _trust(repo.repo, tmp_path, stranger)  # signed, but not by anyone trusted here
    assert verify_commit(str(repo.repo), sha)[0] == "unverifiable"
    _, report = report_json(repo.repo, repo.env)
    assert control(report, "custodians")["status"] == "warn"

    _trust(repo.repo, tmp_path, signer)
    forged = subprocess.run(
        ["git", "hash-object", "-t", "commit", "-w", "--stdin"],
        input=git(repo.repo, "cat-file", "commit", sha).replace(
            "custodians acknowledged", "custodians acknowledged (edited)"
        ),
        cwd=repo.repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    git(repo.repo, "reset", "-q", "--soft", forged)
    assert verify_commit(str(repo.repo), forged)[0] == "bad"
    _, report = report_json(repo.repo, repo.env)
    custodians = control(report, "custodians")
    assert custodians["status"] == "fail"
    assert custodians["attestations"][0]["proof"]["commit"] == forged


def test_git_functions(repo: Scenario) -> None:
    _attest(repo)
    _attest(repo, "custodians")
    sha = commit(repo.repo, "x") if git(repo.repo, "add", "-A") == "" else ""
    lines = blame_commits(str(repo.repo), ATTESTATIONS)
    assert lines is not None and set(lines) == {sha}
    assert blame_commits(str(repo.repo), "no-such-file") is None
    assert blame_commits(str(repo.repo), "-rf") is None
    info = commit_info(str(repo.repo), sha)
    assert info is not None and info.author == "importobot tests" and not info.signed
    assert commit_info(str(repo.repo), "HEAD") is None  # ids only, never an option or a ref
    assert verify_commit(str(repo.repo), "--help")[0] == "unverifiable"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[attestation]]\ncontrol = "exposure"\nwho = "x"\nwhen = 2026-01-01\n',
            "manual controls",
        ),
        ('[[attestation]]\ncontrol = "custodians"\nwho = ""\nwhen = 2026-01-01\n', "`who`"),
        ('[[attestation]]\ncontrol = "custodians"\nwho = "x"\nwhen = 2999-01-01\n', "future"),
        ('[[attestation]]\ncontrol = "custodians"\nwho = "x"\n', "`when`"),
        ('[[attestation]]\ncontrol = "custodians"\nwho = "x"\nwhen = 2026-01-01\nhow = 1\n', "how"),
        ("[meta]\nx = 1\n", "only [[attestation]]"),
        ("[[attestation]\n", "invalid TOML"),
    ],
)
def test_a_bad_attestation_file_is_exit_2_naming_the_line(
    repo: Scenario, text: str, message: str
) -> None:
    (repo.repo / ATTESTATIONS).write_text(text)
    proc = cli(repo.repo, repo.env, "compliance", "report")
    assert proc.returncode == 2, proc.stdout
    assert proc.stderr.startswith(f"importobot: error: {ATTESTATIONS}")
    assert message in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr


def test_a_symlinked_attestation_file_is_refused(repo: Scenario, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.toml"
    outside.write_text('[[attestation]]\ncontrol = "custodians"\nwho = "x"\nwhen = 2026-01-01\n')
    (repo.repo / ATTESTATIONS).symlink_to(outside)
    proc = cli(repo.repo, repo.env, "compliance", "report")
    assert proc.returncode == 2 and "symbolic link" in proc.stderr, proc.stderr
