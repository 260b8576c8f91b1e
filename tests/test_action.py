"""The GitHub Action (``action.yml``): schemas, script hygiene, and its steps run locally.

``action.yml`` and the workflows under ``.github/workflows/`` are validated against the
SchemaStore schemas vendored in ``tests/action_schemas/``. No ``run:`` script holds a
``${{ }}`` expression (inputs arrive through ``env:`` only). Then the action's shell steps
run here as the runner would run them — ``bash --noprofile --norc -eo pipefail``, the
step's ``env:`` with its expressions evaluated, and the variables GitHub sets
(``GITHUB_WORKSPACE``, ``GITHUB_EVENT_NAME``/``_PATH``, ``GITHUB_OUTPUT``,
``GITHUB_STEP_SUMMARY``, ``GITHUB_ACTION_PATH``, ``RUNNER_TEMP``…) — against real
repositories cloned from a bare origin. The install step runs for real once per session
(``pip install`` of this checkout into a fresh venv; it needs the package index). The
``uses:`` steps (setup-python, upload-sarif) are not run: their ``if:``/``with:`` are
evaluated and the SARIF file they would upload is validated against SARIF 2.1.0.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from importobot.keys.fingerprint import fingerprint
from tests.gitrepo import GIT_ENV, commit, git, new_key
from tests.keygen import contains_key

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = Path(__file__).parent / "action_schemas"
SARIF_SCHEMA = json.loads(
    (Path(__file__).parent / "report" / "sarif-schema-2.1.0.json").read_text()
)
ZERO = "0" * 40
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}", re.S)


def _yaml(path: Path) -> dict:
    doc = yaml.safe_load(path.read_text())
    if True in doc:  # YAML 1.1 reads the key `on` as a boolean
        doc["on"] = doc.pop(True)
    return doc


ACTION = _yaml(ROOT / "action.yml")
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


# -- schemas and hygiene -------------------------------------------------------------------


def test_action_yml_validates_against_the_github_action_schema():
    schema = json.loads((SCHEMAS / "github-action.json").read_text())
    jsonschema.validate(ACTION, schema)
    assert ACTION["runs"]["using"] == "composite"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_validate_against_the_github_workflow_schema(path: Path):
    schema = json.loads((SCHEMAS / "github-workflow.json").read_text())
    jsonschema.validate(_yaml(path), schema)


def test_the_schemas_do_reject_a_broken_action():
    schema = json.loads((SCHEMAS / "github-action.json").read_text())
    broken = json.loads(json.dumps(ACTION))
    broken["runs"]["steps"][1].pop("shell")  # a composite run step needs its shell
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_no_expression_inside_a_run_script_and_every_input_goes_through_env():
    steps = ACTION["runs"]["steps"]
    scripts = [s["run"] for s in steps if "run" in s]
    assert scripts and all("${{" not in script for script in scripts)
    env_values = " ".join(str(v) for s in steps for v in (s.get("env") or {}).values())
    with_values = " ".join(str(v) for s in steps for v in (s.get("with") or {}).values())
    conditions = " ".join(str(s.get("if", "")) for s in steps)
    for name in ACTION["inputs"]:
        assert f"inputs.{name}" in env_values + with_values + conditions, name
    for path in WORKFLOWS:
        for job in _yaml(path)["jobs"].values():
            for step in job.get("steps", []):
                assert "${{" not in step.get("run", ""), (path.name, step)


def test_the_action_installs_from_its_own_checkout():
    install = next(s for s in ACTION["runs"]["steps"] if "pip install" in s.get("run", ""))
    assert install["env"]["IMPORTOBOT_SOURCE"] == "${{ github.action_path }}"
    assert '"$IMPORTOBOT_SOURCE"' in install["run"] and "importobot==" not in install["run"]


# -- a local runner --------------------------------------------------------------------------


class Runner:
    """Runs the action's ``run:`` steps like the GitHub runner, for one workspace."""

    def __init__(self, temp: Path, workspace: Path, event_name: str, event: dict) -> None:
        self.temp = temp
        self.workspace = workspace
        self.inputs = {
            name: str(spec.get("default", "")) for name, spec in ACTION["inputs"].items()
        }
        self.outputs: dict[str, dict[str, str]] = {}
        # Per-run files (GitHub gives each step its own) beside the workspace, not in the
        # session-wide RUNNER_TEMP.
        self.files = workspace.parent
        self.summary = self.files / f"summary-{workspace.name}.md"
        event_path = self.files / f"event-{workspace.name}.json"
        event_path.write_text(json.dumps(event))
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
        self.env.update(GIT_ENV)
        self.env.update(
            CI="true",
            GITHUB_ACTIONS="true",
            GITHUB_WORKSPACE=str(workspace),
            GITHUB_EVENT_NAME=event_name,
            GITHUB_EVENT_PATH=str(event_path),
            GITHUB_SHA=str(
                event.get("after")
                or (event.get("pull_request") or {}).get("head", {}).get("sha", "")
            ),
            GITHUB_REF=str(event.get("ref", "refs/heads/main")),
            GITHUB_STEP_SUMMARY=str(self.summary),
            GITHUB_ACTION_PATH=str(ROOT),
            RUNNER_TEMP=str(temp),
            RUNNER_OS="Linux",
            # setup-python puts its interpreter first on PATH; here it is this venv's.
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        )

    def value(self, expr: str) -> str:
        if expr.startswith("inputs."):
            return self.inputs[expr[len("inputs.") :]]
        if expr == "github.action_path":
            return str(ROOT)
        if expr == "runner.temp":
            return str(self.temp)
        if expr.startswith("steps."):
            _steps, step_id, _outputs, name = expr.split(".", 3)
            return self.outputs.get(step_id, {}).get(name, "")
        raise AssertionError(f"an expression the local runner does not know: {expr}")

    def substitute(self, text: str) -> str:
        return EXPR.sub(lambda m: self.value(m.group(1)), text)

    def condition(self, text: str) -> bool:
        """The few expression forms action.yml uses: always(), ==, !=, &&, literals."""
        body = EXPR.fullmatch(text.strip())
        expr = body.group(1) if body else text
        expr = expr.replace("always()", "True").replace("&&", " and ").replace("||", " or ")
        expr = re.sub(
            r"\b(inputs|steps)\.[A-Za-z0-9_.\-]+",
            lambda m: repr(self.value(m.group(0))),
            expr,
        )
        return bool(eval(expr, {"__builtins__": {}}, {"True": True}))  # noqa: S307

    def run(self, step: dict) -> subprocess.CompletedProcess[str]:
        assert step.get("shell") == "bash"
        env = dict(self.env)
        for key, value in (step.get("env") or {}).items():
            env[key] = self.substitute(str(value))
        output = self.files / f"output-{self.workspace.name}-{step.get('id', 'step')}"
        output.write_text("")
        env["GITHUB_OUTPUT"] = str(output)
        script = self.files / f"step-{self.workspace.name}.sh"
        script.write_text(step["run"])
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=self.workspace,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if "id" in step:
            pairs = (line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
            self.outputs[step["id"]] = dict(pairs)
        return proc

    def run_action(self) -> dict[str, subprocess.CompletedProcess[str] | bool]:
        """Every step after the install, in order, as the runner would (if: honoured)."""
        done: dict[str, subprocess.CompletedProcess[str] | bool] = {}
        for step in ACTION["runs"]["steps"]:
            name = step["name"]
            if "uses" in step:
                if "upload-sarif" in step["uses"]:
                    done[name] = self.condition(step["if"])
                continue
            if "pip install" in step["run"]:
                continue  # done once per session (the venv fixture)
            done[name] = self.run(step)
        return done


@pytest.fixture(scope="session")
def runner_temp(tmp_path_factory) -> Path:
    """RUNNER_TEMP with the venv the action's install step made (pip, for real)."""
    temp = tmp_path_factory.mktemp("runner-temp")
    step = next(s for s in ACTION["runs"]["steps"] if "pip install" in s.get("run", ""))
    runner = Runner(temp, temp, "push", {})
    proc = runner.run(step)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "importobot, version" in proc.stdout
    return temp


def _clone(tmp_path: Path) -> tuple[Path, Path]:
    """A bare origin and a full clone of it, with one clean commit on main."""
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(origin))
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(origin), str(work))
    git(work, "checkout", "-q", "-b", "main")
    (work / "README.md").write_text("# app\n")
    git(work, "add", "README.md")
    commit(work, "init")
    git(work, "push", "-q", "origin", "main")
    return origin, work


def _head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def _check_step(runner: Runner) -> subprocess.CompletedProcess[str]:
    step = next(s for s in ACTION["runs"]["steps"] if s.get("id") == "check")
    return runner.run(step)


def _verdict(runner: Runner) -> int:
    step = ACTION["runs"]["steps"][-1]
    return runner.run(step).returncode


# -- scenarios ------------------------------------------------------------------------------


def test_push_range_sarif_upload_and_verdict(runner_temp: Path, tmp_path: Path):
    _origin, work = _clone(tmp_path)
    before = _head(work)
    raw, key = new_key()
    (work / ".env").write_text(f"APP_ENCRYPTION_KEY={key}\n")
    git(work, "add", ".env")
    added = commit(work, "add key")
    git(work, "rm", "-q", ".env")
    after = commit(work, "remove key")
    event = {
        "before": before,
        "after": after,
        "ref": "refs/heads/main",
        "repository": {"default_branch": "main"},
    }
    runner = Runner(runner_temp, work, "push", event)
    steps = runner.run_action()
    check = steps["importobot check"]
    assert check.returncode == 0, check.stdout + check.stderr
    out = runner.outputs["check"]
    assert out["exit-code"] == "1" and out["findings"] == "1" and out["sarif-file"]
    assert steps["Upload SARIF to code scanning"] is True
    sarif = json.loads((work / out["sarif-file"]).read_text())
    jsonschema.validate(sarif, SARIF_SCHEMA)
    assert sarif["version"] == "2.1.0" and len(sarif["runs"]) == 1
    [result] = sarif["runs"][0]["results"]
    assert result["properties"]["commit"] == added
    assert result["partialFingerprints"]["importobotKeyFingerprint/v1"] == fingerprint(raw)
    assert f"{before}..{after}" in check.stdout
    summary = runner.summary.read_text()
    assert fingerprint(raw) in summary and added[:12] in summary
    for text in (check.stdout, check.stderr, summary, json.dumps(sarif)):
        assert not contains_key(text, raw)
    assert steps["Verdict"].returncode == 1


def test_pull_request_rules_come_from_the_base_commit(runner_temp: Path, tmp_path: Path):
    _origin, work = _clone(tmp_path)
    raw_ok, key_ok = new_key()
    entry = f'{{"rule": "IOB101", "path": "demo/.env", "fingerprint": "{fingerprint(raw_ok)}"}}'
    (work / ".importobot.toml").write_text('baseline = "baseline.json"\n')
    (work / "baseline.json").write_text(f'{{"version": 1, "findings": [{entry}]}}\n')
    git(work, "add", ".")
    commit(work, "base rules")
    base = _head(work)
    git(work, "checkout", "-q", "-b", "pr")
    (work / "demo").mkdir()
    (work / "demo" / ".env").write_text(f"APP_ENCRYPTION_KEY={key_ok}\n")  # accepted at base
    git(work, "add", ".")
    commit(work, "accepted demo key")
    head = _head(work)
    event = {"pull_request": {"base": {"sha": base}, "head": {"sha": head}}}
    runner = Runner(runner_temp, work, "pull_request", event)
    steps = runner.run_action()
    assert runner.outputs["check"]["exit-code"] == "0", steps["importobot check"].stdout
    # The pull request widens the rules and adds a key: the base's rules still apply.
    raw, key = new_key()
    (work / ".importobot.toml").write_text('exclude = ["**"]\nbaseline = "mine.json"\n')
    (work / "mine.json").write_text('{"version": 1, "findings": []}\n')
    (work / "app.env").write_text(f"APP_ENCRYPTION_KEY={key}\n")
    git(work, "add", ".")
    commit(work, "exclude everything")
    event = {"pull_request": {"base": {"sha": base}, "head": {"sha": _head(work)}}}
    runner = Runner(runner_temp, work, "pull_request", event)
    steps = runner.run_action()
    out = runner.outputs["check"]
    assert out["exit-code"] == "1", steps["importobot check"].stdout
    sarif = json.loads((work / out["sarif-file"]).read_text())
    fps = {
        r["partialFingerprints"]["importobotKeyFingerprint/v1"] for r in sarif["runs"][0]["results"]
    }
    assert fingerprint(raw) in fps and fingerprint(raw_ok) not in fps
    assert f"{base}..{_head(work)}" in steps["importobot check"].stdout


def test_a_new_branch_is_judged_against_the_default_branch(runner_temp: Path, tmp_path: Path):
    _origin, work = _clone(tmp_path)
    raw, key = new_key()
    (work / "old.env").write_text(f"APP_ENCRYPTION_KEY={key}\n")
    git(work, "add", "old.env")
    commit(work, "old key")
    git(work, "rm", "-q", "old.env")
    commit(work, "removed")
    git(work, "push", "-q", "origin", "main")
    git(work, "checkout", "-q", "-b", "feature")
    (work / "notes.txt").write_text("hello\n")
    git(work, "add", "notes.txt")
    after = commit(work, "notes")
    git(work, "push", "-q", "origin", "feature")
    event = {
        "before": ZERO,
        "after": after,
        "ref": "refs/heads/feature",
        "repository": {"default_branch": "main"},
    }
    runner = Runner(runner_temp, work, "push", event)
    steps = runner.run_action()
    assert runner.outputs["check"]["exit-code"] == "0", steps["importobot check"].stdout
    assert f"origin/main..{after}" in steps["importobot check"].stdout
    runner.inputs["history"] = "all"  # every ref: the old key is there
    steps = runner.run_action()
    assert runner.outputs["check"]["exit-code"] == "1"
    assert fingerprint(raw) in runner.summary.read_text()


def test_a_force_push_whose_before_is_gone(runner_temp: Path, tmp_path: Path):
    _origin, work = _clone(tmp_path)
    git(work, "checkout", "-q", "-b", "topic")
    raw, key = new_key()
    (work / ".env").write_text(f"APP_ENCRYPTION_KEY={key}\n")
    git(work, "add", ".env")
    after = commit(work, "key on topic")
    event = {
        "before": "1" * 40,
        "after": after,
        "ref": "refs/heads/topic",
        "forced": True,
        "repository": {"default_branch": "main"},
    }
    runner = Runner(runner_temp, work, "push", event)
    runner.inputs["paths"] = ""  # history only
    steps = runner.run_action()
    check = steps["importobot check"]
    assert "::notice" in check.stdout and "force push" in check.stdout
    assert runner.outputs["check"]["exit-code"] == "1"
    assert f"origin/main..{after}" in check.stdout


def test_annotations_respect_the_per_step_limit(runner_temp: Path, tmp_path: Path):
    _origin, work = _clone(tmp_path)
    keys = [new_key() for _ in range(12)]
    (work / ".env").write_text("".join(f"KEY_{n}_SECRET={k}\n" for n, (_r, k) in enumerate(keys)))
    runner = Runner(runner_temp, work, "workflow_dispatch", {})
    runner.inputs["format"] = "github"
    steps = runner.run_action()
    check = steps["importobot check"]
    errors = [line for line in check.stdout.splitlines() if line.startswith("::error ")]
    assert len(errors) == 10 and "file=.env,line=1" in errors[0]
    assert "2 more finding(s) not annotated" in check.stdout
    assert runner.outputs["check"]["sarif-file"] == ""
    assert steps["Upload SARIF to code scanning"] is False
    rows = [line for line in runner.summary.read_text().splitlines() if line.startswith("| IOB")]
    assert len(rows) == int(runner.outputs["check"]["findings"]) >= 12  # every finding
    assert not any(contains_key(check.stdout, raw) for raw, _k in keys)
    assert steps["Verdict"].returncode == 1


def test_a_shallow_clone_cannot_scan_history(runner_temp: Path, tmp_path: Path):
    origin, work = _clone(tmp_path)
    for n in range(3):
        (work / f"f{n}").write_text(f"{n}\n")
        git(work, "add", ".")
        commit(work, f"c{n}")
    git(work, "push", "-q", "origin", "main")
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{origin}", str(shallow))
    event = {
        "before": "2" * 40,
        "after": _head(shallow),
        "ref": "refs/heads/main",
        "repository": {"default_branch": "main"},
    }
    runner = Runner(runner_temp, shallow, "push", event)
    steps = runner.run_action()
    assert runner.outputs["check"]["exit-code"] == "2"
    assert "fetch-depth: 0" in steps["importobot check"].stdout
    assert steps["Verdict"].returncode == 2


def test_fail_on_never_and_a_bad_input(runner_temp: Path, tmp_path: Path):
    _origin, work = _clone(tmp_path)
    _raw, key = new_key()
    (work / ".env").write_text(f"APP_ENCRYPTION_KEY={key}\n")
    runner = Runner(runner_temp, work, "workflow_dispatch", {})
    runner.inputs["fail-on"] = "never"
    steps = runner.run_action()
    assert runner.outputs["check"]["exit-code"] == "0"
    assert int(runner.outputs["check"]["findings"]) >= 1
    assert steps["Verdict"].returncode == 0
    runner.inputs["fail-on"] = "sometimes"
    steps = runner.run_action()
    assert runner.outputs["check"]["exit-code"] == "2"
    assert (
        "::error" in steps["importobot check"].stdout
        and "fail-on must be one of" in steps["importobot check"].stdout
    )
    assert steps["Verdict"].returncode == 2
