"""Repositories for compliance-report tests: real git, keys generated at run time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from importobot.keys.fingerprint import fingerprint
from importobot.keys.registry import Registry
from tests.gitrepo import GIT_ENV, commit, git, init_repo, new_key

SCHEMA = (
    Path(__file__).resolve().parents[3]
    / "importobot_enterprise"
    / "compliance"
    / "report.schema.json"
)


@dataclass
class Scenario:
    repo: Path
    raw: bytes
    key: str
    env: dict[str, str]
    #: Every raw key the scenario made (no report may hold any of them).
    raws: list[bytes] = field(default_factory=list)

    @property
    def fp(self) -> str:
        return fingerprint(self.raw)


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    env.update(GIT_ENV)
    return env


def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def register(repo: Path, raw: bytes, created: datetime, retired: datetime | None = None) -> None:
    reg = Registry.load(str(repo / ".importobot-keys.toml"))
    reg.register(fingerprint(raw), created)
    if retired is not None:
        reg.retire(fingerprint(raw), retired)
    reg.save()


def make_repo(
    tmp_path: Path,
    *,
    age_days: int = 400,
    config: str = 'max-key-age = "365d"\n',
    committed_env: bool = True,
    name: str = "repo",
) -> Scenario:
    """The acceptance repository: the key registered ``age_days`` ago under ``config``, and
    (``committed_env``) a ``.env`` holding it committed, then deleted (history only)."""
    repo = init_repo(tmp_path / name)
    raw, key = new_key()
    if committed_env:
        (repo / ".env").write_text(f"APP_KEY={key}\n")
        git(repo, "add", ".env")
        commit(repo, "add settings")
        git(repo, "rm", "-q", ".env")
        commit(repo, "remove settings")
    (repo / "pyproject.toml").write_text(f"[project]\nname = 'app'\n\n[tool.importobot]\n{config}")
    register(repo, raw, now() - timedelta(days=age_days))
    git(repo, "add", "-A")
    commit(repo, "configure importobot")
    env = {**base_env(), "IMPORTOBOT_ENCRYPTION_KEY": key}
    return Scenario(repo, raw, key, env, [raw])


def cli(
    repo: Path, env: dict[str, str], *args: str, check_traceback: bool = True
) -> subprocess.CompletedProcess[str]:
    """``importobot ARGS`` in ``repo`` as a real process."""
    proc = subprocess.run(
        [sys.executable, "-m", "importobot.cli", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if check_traceback:
        assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def report_json(repo: Path, env: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    proc = cli(repo, env, "compliance", "report", "--format", "json", *args)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def validate(report: dict[str, Any]) -> None:
    """The report against the JSON Schema shipped in the package."""
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(report)


def control(report: dict[str, Any], identifier: str) -> dict[str, Any]:
    return next(c for c in report["controls"] if c["id"] == identifier)
