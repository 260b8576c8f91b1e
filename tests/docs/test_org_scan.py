"""docs/org-scan.md: its GitHub Actions workflow and Kubernetes Jobs validate against the
schemas they claim (vendored under tests/docs/schemas/), and say what importobot needs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "org-scan.md"
SCHEMAS = Path(__file__).resolve().parent / "schemas"
#: The GitHub workflow schema the Action's tests use (SchemaStore, tests/action_schemas).
WORKFLOW_SCHEMA = ROOT / "tests" / "action_schemas" / "github-workflow.json"


class _Loader(yaml.SafeLoader):
    """YAML as GitHub and Kubernetes read it: only true/false are booleans (not `on`)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def block(marker: str) -> Any:
    """The YAML block right after ``<!-- marker -->`` in docs/org-scan.md."""
    text = DOC.read_text(encoding="utf-8")
    found = re.search(rf"<!-- {marker} -->\n```yaml\n(.*?)\n```", text, re.S)
    assert found, f"no {marker} block in docs/org-scan.md"
    return yaml.load(found.group(1), Loader=_Loader)  # noqa: S506 - a SafeLoader


def validate(doc: Any, schema_file: str | Path) -> None:
    schema = json.loads((SCHEMAS / schema_file).read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    errors = sorted(cls(schema).iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def test_github_workflow_is_a_valid_reusable_matrix_workflow() -> None:
    wf = block("github-workflow")
    validate(wf, WORKFLOW_SCHEMA)
    assert "workflow_call" in wf["on"]
    scan = wf["jobs"]["scan"]
    assert scan["strategy"]["matrix"]["shard"] == "${{ fromJSON(needs.plan.outputs.shards) }}"
    assert scan["strategy"]["fail-fast"] is False
    steps = " ".join(str(s.get("run", "")) for s in scan["steps"])
    assert '--shard "$SHARD/$SHARDS"' in steps and "--state state" in steps
    assert "256" in wf["jobs"]["plan"]["steps"][0]["run"]  # GitHub's matrix limit
    merge = wf["jobs"]["merge"]
    assert merge["if"] == "always()" and merge["permissions"]["security-events"] == "write"
    runs = " ".join(str(s.get("run", "")) for s in merge["steps"])
    assert "report merge shards --list" in runs and "--format sarif" in runs
    # Inputs reach scripts only through env (never ${{ }} inside run:).
    for job in wf["jobs"].values():
        for step in job["steps"]:
            assert "${{" not in str(step.get("run", "")), step


def test_kubernetes_indexed_job_and_merge_job_are_valid() -> None:
    job = block("kubernetes-job")
    validate(job, "kubernetes-job-batch-v1.37.json")
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] >= spec["parallelism"]
    [container] = spec["template"]["spec"]["containers"]
    command = container["command"]
    assert command[:2] == ["importobot", "scan-repos"]
    assert command[command.index("--shards") + 1] == str(spec["completions"])
    assert "--state" in command and "--shard-index" not in command  # read from the env
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert "/data" in mounts
    merge = block("kubernetes-merge-job")
    validate(merge, "kubernetes-job-batch-v1.37.json")
    assert merge["spec"]["template"]["spec"]["containers"][0]["command"][1:3] == [
        "report",
        "merge",
    ]


def test_schemas_reject_a_broken_example() -> None:
    job = block("kubernetes-job")
    job["spec"]["completionMode"] = 7
    with pytest.raises(AssertionError):
        validate(job, "kubernetes-job-batch-v1.37.json")
    wf = block("github-workflow")
    wf["jobs"]["scan"]["strategy"]["fail-fast"] = "sometimes"
    wf["jobs"]["scan"]["timeout-minutes"] = "long"
    with pytest.raises(AssertionError):
        validate(wf, WORKFLOW_SCHEMA)
