"""Imports run one way, and no module imports itself back (DESIGN "Layout", issue 10 item 1).

Layers, highest first; a module may import its own layer and lower ones only:

    cli -> commands | hooks -> project -> report | events -> scan -> security -> keys
        -> primitives

``a | b`` are siblings: same height, neither imports the other. Primitives are every other
module at the top of ``importobot`` (``exceptions``, ``config``, ``_record``, ``_lazyre``,
``_toml``, ``_version``, ``rules``, ``git``, ``subproc``, ``plugins``, ``fsio``,
``dotenv`` …). ``importobot_enterprise`` sits above the whole base package, and the base
package never imports it. Every import counts: at module level, inside functions, under
``TYPE_CHECKING``, and ``importlib.import_module("…")`` with a literal name. A second test
finds import cycles (strongly connected components of the module graph) in both packages.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("importobot", "importobot_enterprise")

# (height, group) by module prefix; the longest matching prefix wins. Same height and
# another group: siblings, which may not import each other.
LAYERS: dict[str, tuple[int, str]] = {
    "importobot_enterprise": (8, "enterprise"),
    "importobot.cli": (7, "cli"),
    "importobot.commands": (6, "commands"),
    "importobot.hooks": (6, "hooks"),
    "importobot.project": (5, "project"),
    "importobot.report": (4, "report"),
    "importobot.events": (4, "events"),
    "importobot.scan": (3, "scan"),
    "importobot.security": (2, "security"),
    "importobot.keys": (1, "keys"),
    "importobot": (0, "primitives"),
}

# Today's violations, exactly. The test fails when one of these disappears too, so the list
# only shrinks: delete the entry with the change that fixes it.
KNOWN_VIOLATIONS: set[tuple[str, str]] = set()

# Today's import cycles (each a set of modules that import each other, directly or not),
# exactly; same rule: the list only shrinks.
KNOWN_CYCLES: list[frozenset[str]] = [
    # Type-only: observer.py names engine.RotationReport under TYPE_CHECKING, engine.py
    # imports the observer protocol. The report record belongs beside the observer.
    frozenset(
        {
            "importobot_enterprise.key_rotation.engine",
            "importobot_enterprise.key_rotation.observer",
        }
    ),
]


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


SOURCES = _sources()


def _resolve(name: str, modules: Iterable[str]) -> str:
    """The module ``name`` refers to: itself, else its longest known prefix."""
    known = set(modules)
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return name


def imports_of(module: str, source: str, modules: Iterable[str]) -> Iterator[tuple[int, str]]:
    """``(line, module)`` for every import of a module of ours anywhere in ``source``."""
    known = set(modules)
    is_package = module in known and SOURCES.get(module, Path()).name == "__init__.py"
    package = module.split(".") if is_package else module.split(".")[:-1]
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            # `from pkg import sub` imports the submodule pkg.sub when there is one.
            subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known]
            names = subs if len(subs) == len(node.names) else [target, *subs]
        elif isinstance(node, ast.Call):
            func = node.func
            called = getattr(func, "attr", None) or getattr(func, "id", None)
            first = node.args[0] if node.args else None
            if (
                called in ("import_module", "__import__")
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
            ):
                names = [first.value]
        for name in names:
            if name.split(".")[0] in PACKAGES:
                yield node.lineno, _resolve(name, known)


def _graph() -> dict[str, dict[str, int]]:
    """Module -> {imported module of ours: first line}."""
    graph: dict[str, dict[str, int]] = {}
    for module, path in SOURCES.items():
        edges: dict[str, int] = {}
        for line, target in imports_of(module, path.read_text(encoding="utf-8"), SOURCES):
            if target != module:
                edges.setdefault(target, line)
        graph[module] = edges
    return graph


def layer(module: str) -> tuple[int, str]:
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in LAYERS:
            return LAYERS[prefix]
    raise AssertionError(f"{module} is in no layer")


def allowed(importer: str, imported: str) -> bool:
    if imported.split(".")[0] == "importobot_enterprise" and importer.split(".")[0] == "importobot":
        return False  # the base package never imports the enterprise one
    (height, group), (target_height, target_group) = layer(importer), layer(imported)
    return target_height < height or (target_height == height and target_group == group)


def violations(graph: dict[str, dict[str, int]]) -> dict[tuple[str, str], int]:
    return {
        (importer, imported): line
        for importer, edges in graph.items()
        for imported, line in edges.items()
        if not allowed(importer, imported)
    }


def cycles(graph: dict[str, dict[str, int]]) -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph.get(root, {}))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, {})))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(frozenset(component))
    return found


GRAPH = _graph()


def test_every_module_is_in_a_layer() -> None:
    assert len(SOURCES) > 40
    for module in SOURCES:
        layer(module)


def test_layers() -> None:
    found = violations(GRAPH)
    new = sorted(set(found) - KNOWN_VIOLATIONS)
    gone = sorted(KNOWN_VIOLATIONS - set(found))
    lines = [
        f"{SOURCES[a].relative_to(ROOT)}:{found[a, b]}: {a} ({layer(a)[1]}) imports "
        f"{b} ({layer(b)[1]})"
        for a, b in new
    ]
    assert not new, "imports against the layers:\n" + "\n".join(lines)
    assert not gone, f"fixed, remove from KNOWN_VIOLATIONS: {gone}"


def test_no_import_cycle() -> None:
    found = cycles(GRAPH)
    new = [sorted(c) for c in found if c not in KNOWN_CYCLES]
    gone = [sorted(c) for c in KNOWN_CYCLES if c not in found]
    assert not new, f"import cycles: {new}"
    assert not gone, f"fixed (or changed), update KNOWN_CYCLES: {gone}"


def test_known_lists_hold_no_duplicates() -> None:
    assert len(set(KNOWN_CYCLES)) == len(KNOWN_CYCLES)


# The checker itself: each rule fires on a small example.

_MODULES = [
    "importobot",
    "importobot.cli",
    "importobot.config",
    "importobot.scan",
    "importobot.scan.engine",
    "importobot.scan.finding",
    "importobot.hooks.block_keys",
    "importobot.report.text",
]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import importobot.scan.engine", ["importobot.scan.engine"]),
        (
            "from importobot.scan import engine, finding",
            ["importobot.scan.engine", "importobot.scan.finding"],
        ),
        ("from importobot.scan.finding import Finding", ["importobot.scan.finding"]),
        ("from importobot import __version__", ["importobot"]),
        ("from . import finding", ["importobot.scan.finding"]),
        ("from ..report.text import render_text", ["importobot.report.text"]),
        ("def f():\n    from importobot.cli import main", ["importobot.cli"]),
        ("if TYPE_CHECKING:\n    from importobot.config import Settings", ["importobot.config"]),
        ("importlib.import_module('importobot.hooks.block_keys')", ["importobot.hooks.block_keys"]),
        ("import json\nfrom click import echo", []),
        ("from importobot.scan.gone import x", ["importobot.scan"]),
    ],
)
def test_imports_are_found_and_resolved(source: str, expected: list[str]) -> None:
    got = [name for _, name in imports_of("importobot.scan.engine", source, _MODULES)]
    assert got == expected


@pytest.mark.parametrize(
    ("importer", "imported", "ok"),
    [
        ("importobot.cli", "importobot.hooks.block_keys", True),
        ("importobot.hooks.block_keys", "importobot.cli", False),
        ("importobot.scan.engine", "importobot.scan.finding", True),
        ("importobot.scan.finding", "importobot.report.text", False),
        ("importobot.report.text", "importobot.events", False),  # siblings
        ("importobot.commands.check", "importobot.hooks.block_keys", False),  # siblings
        ("importobot.project", "importobot.scan.engine", True),
        ("importobot.keys.material", "importobot.security.key_sources", False),
        ("importobot.keys.material", "importobot._lazyre", True),
        ("importobot.config", "importobot.scan.engine", False),
        ("importobot.config", "importobot.dotenv", True),
        ("importobot_enterprise.cli", "importobot.cli", True),
        ("importobot.plugins", "importobot_enterprise.cli", False),
    ],
)
def test_layer_rule(importer: str, imported: str, ok: bool) -> None:
    assert allowed(importer, imported) is ok


def test_cycle_finder() -> None:
    graph = {
        "a": {"b": 1},
        "b": {"c": 1},
        "c": {"a": 1, "d": 1},
        "d": {},
        "e": {"f": 1},
        "f": {"e": 1},
        "g": {"g": 1},
    }
    assert sorted(map(sorted, cycles(graph))) == [["a", "b", "c"], ["e", "f"]]
    assert cycles({"a": {"b": 1}, "b": {}}) == []
