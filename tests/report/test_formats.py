"""Report formats: SARIF validates against the official schema, GitHub lines are valid
workflow commands, JSON has DESIGN's shape, and no format ever contains a key."""

from __future__ import annotations

import base64
import json
import re
import secrets
from pathlib import Path

import jsonschema
import pytest

from importobot.report import FORMATS, render
from importobot.scan.finding import Finding, ScanResult
from importobot.scan.rules.files import scan_file

SCHEMA = json.loads((Path(__file__).parent / "sarif-schema-2.1.0.json").read_text())


def _result() -> tuple[ScanResult, bytes]:
    raw = secrets.token_bytes(32)
    text = (
        f"FERNET_KEY={base64.urlsafe_b64encode(raw).decode()}\n"
        f"OLD_KEY={base64.b64encode(secrets.token_bytes(32)).decode()}  # importobot: ignore\n"
    )
    result = ScanResult(files_scanned=1, bytes_scanned=len(text))
    result.findings.extend(scan_file("dir with space/.env", text.encode()))
    result.findings.append(
        Finding(
            "IOB201",
            "error",
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            "no key is set up",
            source="env:IMPORTOBOT_ENCRYPTION_KEY",
        )
    )
    result.findings.append(
        Finding(
            "IOB103",
            "warning",
            "a,b:c.env",
            None,
            None,
            None,
            None,
            None,
            None,
            "env file holding secrets is not git-ignored",
        )
    )
    result.skip("binary", 10)
    return result, raw


def test_sarif_validates_against_the_schema() -> None:
    result, _ = _result()
    doc = json.loads(render("sarif", result, show_suppressed=True, tool_version="1.0"))
    jsonschema.validate(doc, SCHEMA)
    run = doc["runs"][0]
    assert run["columnKind"] == "unicodeCodePoints"
    first = run["results"][0]
    assert first["partialFingerprints"]["importobotKeyFingerprint/v1"].startswith("iobfp1:")
    assert first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "dir%20with%20space/.env"
    )
    assert any(r.get("suppressions") for r in run["results"])
    setup = [r for r in run["results"] if r["ruleId"] == "IOB201"][0]
    assert setup["locations"][0]["physicalLocation"]["region"]["startLine"] == 1


_COMMAND_RE = re.compile(
    r"^::(error|warning|notice)( [a-z]+=[^,:\r\n]*(,[a-z]+=[^,:\r\n]*)*)?::[^\r\n]*$"
)


def test_github_lines_are_workflow_commands() -> None:
    result, _ = _result()
    lines = render("github", result).splitlines()
    assert lines
    for line in lines:
        assert _COMMAND_RE.match(line), line
    assert "file=a%2Cb%3Ac.env" in "\n".join(lines)


def test_json_shape() -> None:
    result, _ = _result()
    doc = json.loads(render("json", result, tool_version="1.0"))
    assert set(doc) == {"version", "tool", "findings", "summary"}
    assert doc["version"] == 1
    keys = {
        "rule",
        "severity",
        "path",
        "line",
        "column",
        "variable",
        "key_type",
        "fingerprint",
        "message",
    }
    for item in doc["findings"]:
        assert keys <= set(item)
    assert doc["summary"]["skipped"] == {"binary": 1}
    assert all("suppressed" not in f for f in doc["findings"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_format_contains_the_key(fmt: str) -> None:
    result, raw = _result()
    out = render(fmt, result, show_suppressed=True, tool_version="1.0")
    std = base64.b64encode(raw).decode()
    url = base64.urlsafe_b64encode(raw).decode()
    for spelling in (std, std.rstrip("="), url, url.rstrip("="), raw.hex(), raw.hex().upper()):
        assert spelling not in out


def test_text_groups_by_file_and_ends_with_summary() -> None:
    result, _ = _result()
    out = render("text", result, show_suppressed=True)
    assert out.splitlines()[0] == "(key set-up)" or "dir with space/.env" in out
    assert "dir with space/.env:1:12 IOB101 FERNET_KEY fernet iobfp1:" in out
    tail = out.rstrip().splitlines()
    summary = next(i for i, line in enumerate(tail) if line.startswith("3 findings"))
    # After the summary: the env file out of git, then the one fix command (quoted).
    assert tail[summary + 1 :] == [
        "an env file belongs out of git: add it to .gitignore and, where git tracks or "
        "stages it, git rm --cached 'dir with space/.env' (importobot fix --apply does both "
        "and writes .env.example)",
        "fix: importobot fix 'dir with space/.env'   (prints the plan; --apply moves the "
        "values to the OS keyring and records an exposed key as compromised)",
    ]
