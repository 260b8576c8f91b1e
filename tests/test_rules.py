"""The rules registry (importobot.rules): one declaration per code, a page per code."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from importobot._version import DOCS_URL
from importobot.rules import RULES, RuleInfo, rule_info
from importobot.scan import finding

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "rules"

# DESIGN "Rules" and D14: code -> (name, severity). The registry must say exactly this.
SPEC = {
    "IOB101": ("key-in-env-file", "error"),
    "IOB102": ("key-in-source", "error"),
    "IOB103": ("env-file-not-ignored", "warning"),
    "IOB201": ("no-key", "error"),
    "IOB202": ("malformed-key", "error"),
    "IOB203": ("weak-key", "error"),
    "IOB204": ("compromised-key", "error"),
    "IOB301": ("key-rotation-due", "error"),
    "IOB302": ("key-rotation-soon", "warning"),
    "IOB303": ("stale-ciphertext", "warning"),
    "IOB304": ("unregistered-key", "warning"),
    "IOB305": ("retired-key-configured", "warning"),
}

SECTIONS = ("What it does", "Why is this bad?", "Example", "How to fix", "References")


def test_registry_matches_the_design() -> None:
    assert {code: (r.name, r.severity) for code, r in RULES.items()} == SPEC
    assert list(RULES) == sorted(RULES)
    for code, info in RULES.items():
        assert info.code == code
        assert info.summary and not info.summary.endswith(".")
        assert info.docs == f"rules/{code}.md"
        assert info.help_uri == f"{DOCS_URL}/rules/{code}.md"


def test_names_are_unique_kebab_case() -> None:
    names = [r.name for r in RULES.values()]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", n) for n in names)


def test_finding_module_reexports_the_registry() -> None:
    # One declaration: the names beside Finding are the registry's own objects.
    assert finding.RULES is RULES
    assert finding.rule_info is rule_info
    assert finding.RuleInfo is RuleInfo


def test_unknown_code_gets_a_generic_entry() -> None:
    info = rule_info("XYZ999")
    assert (info.code, info.name, info.severity) == ("XYZ999", "xyz999", "error")
    assert info.help_uri == ""
    assert rule_info("IOB305") is RULES["IOB305"]


@pytest.mark.parametrize("code", sorted(RULES))
def test_every_code_has_its_page(code: str) -> None:
    info = RULES[code]
    page = ROOT / "docs" / info.docs
    assert page.is_file(), f"{code}: docs/{info.docs} is missing"
    text = page.read_text(encoding="utf-8")
    assert text.splitlines()[0] == f"# {code} `{info.name}`"
    assert f"\nSeverity: {info.severity}.\n" in text
    headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert headings == list(SECTIONS), f"{code}: sections {headings}"
    example = text.split("## Example", 1)[1].split("\n## ", 1)[0]
    assert "```" in example, f"{code}: the example has no code block"


def test_no_page_without_a_code() -> None:
    pages = {p.stem for p in DOCS.glob("*.md")} - {"README"}
    assert pages == set(RULES)


def test_index_lists_every_rule() -> None:
    rows = re.findall(
        r"^\| \[(IOB\d{3})\]\((IOB\d{3})\.md\) \| `([a-z-]+)` \| (\w+) \| (.+) \|$",
        (DOCS / "README.md").read_text(encoding="utf-8"),
        re.MULTILINE,
    )
    assert [(c, link, n, s, summary) for c, link, n, s, summary in rows] == [
        (r.code, r.code, r.name, r.severity, r.summary) for r in RULES.values()
    ]


def _local_links(page: Path) -> list[str]:
    links = re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8"))
    return [link.split("#", 1)[0] for link in links if not re.match(r"[a-z]+:", link)]


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_relative_links_resolve(page: Path) -> None:
    missing = [link for link in _local_links(page) if not (page.parent / link).exists()]
    assert not missing, f"{page.name}: dead links {missing}"


def test_pages_hold_no_key() -> None:
    # Examples use placeholders the scanner filters: the repository's own check passes.
    proc = subprocess.run(
        [sys.executable, "-m", "importobot.cli", "check", "--no-key-check", str(DOCS)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 findings" in proc.stdout


def _mentions(source: str, code: str) -> bool:
    """``code`` named in ``source``, alone or inside a range such as ``IOB201–IOB203``."""
    if code in source:
        return True
    number = int(code[3:])
    for low, high in re.findall(r"IOB(\d{3})\s*[–-]\s*IOB(\d{3})", source):
        if int(low) <= number <= int(high):
            return True
    return False


@pytest.mark.parametrize("code", sorted(RULES))
def test_checked_in_names_the_module_that_reports_the_code(code: str) -> None:
    info = RULES[code]
    spec = importlib.util.find_spec(info.checked_in)
    assert spec is not None and spec.origin, f"{code}: no module {info.checked_in}"
    source = Path(spec.origin).read_text(encoding="utf-8")
    assert _mentions(source, code), f"{code}: {info.checked_in} does not mention it"


def test_mentions_understands_ranges() -> None:
    assert _mentions('"""IOB201–IOB203: the set-up key."""', "IOB202")
    assert not _mentions('"""IOB201–IOB203: the set-up key."""', "IOB204")
    assert not _mentions("IOB101 only", "IOB102")


def test_registry_is_light() -> None:
    # On the hook path: no typing, dataclasses or inspect at run time, and no rule module.
    code = (
        "import sys, importobot.rules; "
        "print(sorted(m for m in sys.modules if m in {'typing', 'dataclasses', 'inspect'} "
        "or m.startswith('importobot.scan')))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}  # see scripts/test
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, check=True
    )
    assert proc.stdout.strip() == "[]"
