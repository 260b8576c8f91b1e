"""Import boundaries that keep the base package small and the hook fast.

(a) ``importobot`` never imports ``importobot_enterprise`` (checked on the source with ``ast``,
    so an import hidden in a function body counts too);
(b) importing the light modules loads none of ``cryptography``, ``keyring`` or ``click``, and
    importing ``importobot.security`` / ``importobot.cli`` loads neither ``cryptography`` nor
    ``keyring`` (both are imported only where used);
(c) ``importobot --version`` and ``--help`` run the real CLI without loading either.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "importobot"
HEAVY = ("cryptography", "keyring")


def _imported_names(tree: ast.AST, module: str) -> list[tuple[int, str]]:
    """Absolute names imported anywhere in ``tree`` (relative imports resolved against module)."""
    found: list[tuple[int, str]] = []
    package_parts = module.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            found.append((node.lineno, target))
        elif isinstance(node, ast.Call):
            # importlib.import_module("importobot_enterprise...") / __import__("...")
            func = node.func
            name = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else ""
            )
            if name in ("import_module", "__import__") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.append((node.lineno, first.value))
    return found


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_base_package_has_modules() -> None:
    assert len(_modules()) >= 3


def test_relative_import_resolution() -> None:
    tree = ast.parse("from . import a\nfrom ..x import y\nimport importlib\n")
    names = [name for _, name in _imported_names(tree, "importobot.keys.material")]
    assert names == ["importobot.keys", "importobot.x", "importlib"]


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_base_never_imports_enterprise(path: Path) -> None:
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for line, name in _imported_names(tree, module)
        if name == "importobot_enterprise" or name.startswith("importobot_enterprise.")
    ]
    assert not offenders, "importobot must not import importobot_enterprise:\n" + "\n".join(
        offenders
    )


def test_ast_walk_catches_a_hidden_enterprise_import() -> None:
    source = "def f():\n    from importobot_enterprise.siem import SIEMManager\n"
    names = [name for _, name in _imported_names(ast.parse(source), "importobot.x")]
    assert names == ["importobot_enterprise.siem"]


# A fresh interpreter per case: this process has long since imported everything.
_PROBE = """
import json, sys
{body}
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {watched!r})))
"""


def _loaded_after(body: str, watched: tuple[str, ...]) -> list[str]:
    code = _PROBE.format(body=body, watched=set(watched))
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert proc.returncode == 0, proc.stderr
    loaded: list[str] = json.loads(proc.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize(
    "module",
    ["importobot", "importobot.keys", "importobot.keys.material", "importobot.exceptions"],
)
def test_light_modules_load_no_heavy_dependency(module: str) -> None:
    loaded = _loaded_after(f"import {module}", (*HEAVY, "click"))
    assert loaded == [], f"import {module} loaded {loaded}"


@pytest.mark.parametrize(
    "module",
    ["importobot.security", "importobot.security.credential_manager", "importobot.cli"],
)
def test_security_and_cli_import_lazily(module: str) -> None:
    loaded = _loaded_after(f"import {module}", HEAVY)
    assert loaded == [], f"import {module} loaded {loaded}"


def test_version_attribute_loads_nothing_heavy() -> None:
    loaded = _loaded_after("import importobot; importobot.__version__", (*HEAVY, "click"))
    assert loaded == []


# Run the CLI's real entry point in-process, then report what it loaded (SystemExit from click
# is expected; its code is reported too).
_CLI_PROBE = """
import json, sys
sys.argv = ["importobot", {arg!r}]
from importobot.cli import main
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
print()
print(json.dumps({{"code": code, "loaded": sorted(
    m for m in sys.modules if m.split(".")[0] in {watched!r})}}))
"""


@pytest.mark.parametrize("arg", ["--version", "--help"])
def test_cli_version_and_help_load_nothing_heavy(arg: str) -> None:
    code = _CLI_PROBE.format(arg=arg, watched=set(HEAVY))
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["code"] in (0, None), proc.stdout
    assert result["loaded"] == [], f"importobot {arg} loaded {result['loaded']}"


def test_console_script_version_under_importtime() -> None:
    """The installed console script itself, watched with ``-X importtime``."""
    script = Path(sys.executable).parent / "importobot"
    assert script.exists(), "the dev venv has no importobot console script (uv sync)"
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", str(script), "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    imported = {
        line.split("|")[-1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    heavy = sorted(m for m in imported if m.split(".")[0] in HEAVY)
    assert heavy == [], f"importobot --version imported {heavy}"


# -- the event seam costs nothing unless a sink is configured (issue 10, D23) --------------------
_EVENTS_PROBE = """
import json, sys
before = set(sys.modules)
from importobot import events
sent = events.emit_event("commit.blocked", root={root!r}, rule="IOB101", path=".env", line=1)
print(json.dumps({{"sent": sent is not None, "added": sorted(set(sys.modules) - before)}}))
"""
#: Never loaded by an emit with no sink configured.
_EVENTS_FORBIDDEN = {
    "importlib.metadata",
    "importobot.plugins",
    "importobot.scan.recognizer",
    "typing",
    "dataclasses",
    "inspect",
    "json.decoder",
    "tomllib",
    "re",
}


def _emit_in(root: Path, env: dict[str, str] | None = None) -> dict[str, object]:
    import os

    full = {k: v for k, v in os.environ.items() if not k.startswith("IMPORTOBOT_")}
    full["XDG_CONFIG_HOME"] = str(root / "xdg")
    full.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-c", _EVENTS_PROBE.format(root=str(root))],
        capture_output=True,
        text=True,
        cwd=root,
        env=full,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (None, ""),
        ("pyproject.toml", '[project]\nname = "x"\n[tool.importobot]\nexclude = ["a/**"]\n'),
        (".importobot.toml", 'exclude = ["a/**"]\nkey-check = true\n'),
    ],
    ids=["no-config", "pyproject-table", "dot-file"],
)
def test_emit_without_a_sink_pays_nothing(tmp_path: Path, name: str | None, text: str) -> None:
    if name is not None:
        (tmp_path / name).write_text(text)
    result = _emit_in(tmp_path)
    assert result["sent"] is False
    added = set(result["added"])  # type: ignore[arg-type]
    assert not added & _EVENTS_FORBIDDEN, sorted(added & _EVENTS_FORBIDDEN)


def test_emit_with_a_sink_configured_looks_it_up(tmp_path: Path) -> None:
    from tests import eventsink

    env = eventsink.install(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.importobot.events]\nuse = ["corp"]\n')
    result = _emit_in(tmp_path, env)
    assert result["sent"] is True
    assert "importlib.metadata" in result["added"]  # type: ignore[operator]
    assert len(eventsink.recorded(env)) == 1
