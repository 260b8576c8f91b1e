"""importobot._record: light value classes that mypy sees as dataclasses."""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import ClassVar

import pytest

from importobot._record import Record, field, replace

ROOT = Path(__file__).resolve().parent.parent


class Point(Record):
    x: int
    y: int = 0
    tags: list[str] = field(default_factory=list)
    unit: ClassVar[str] = "px"


class Other(Record):
    x: int
    y: int = 0
    tags: list[str] = field(default_factory=list)


class Counter(Record, frozen=False):
    n: int = 0
    seen: dict[str, int] = field(default_factory=dict)


class Point3(Point):
    z: int = 0


def test_fields_become_slots_in_declaration_order() -> None:
    assert Point._fields == ("x", "y", "tags")
    assert Point.__slots__ == ("x", "y", "tags")
    assert Point.unit == "px"  # a ClassVar is no field
    assert not hasattr(Point(1), "__dict__")


def test_keyword_positional_defaults_and_factories() -> None:
    assert Point(1) == Point(x=1, y=0, tags=[])
    assert Point(1, 2, ["a"]) == Point(tags=["a"], y=2, x=1)
    first, second = Point(1), Point(1)
    first.tags.append("a")
    assert second.tags == []  # each instance gets its own list


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Point(), "missing argument 'x'"),
        (lambda: Point(1, x=2), "multiple values for 'x'"),
        (lambda: Point(1, 2, [], 4), "at most 3 arguments"),
        (lambda: Point(1, pathh=2), "unexpected ['pathh']"),
    ],
)
def test_bad_construction_is_a_type_error(make: object, message: str) -> None:
    with pytest.raises(TypeError, match=re.escape(message)):
        make()  # type: ignore[operator]


def test_frozen_by_default() -> None:
    p = Point(1)
    with pytest.raises(AttributeError, match="frozen"):
        p.x = 2  # type: ignore[misc]
    with pytest.raises(AttributeError, match="frozen"):
        del p.x
    assert p.x == 1


def test_mutable_record() -> None:
    c = Counter()
    c.n += 1
    c.seen["a"] = 1
    assert c == Counter(1, {"a": 1})
    with pytest.raises(AttributeError):
        c.m = 1  # type: ignore[attr-defined]  # slots: no stray attributes
    with pytest.raises(TypeError, match="unhashable"):
        hash(c)


def test_equality_and_hash_are_by_type_and_values() -> None:
    assert Point(1, 2) == Point(1, 2)
    assert Point(1, 2) != Point(1, 3)
    assert Point(1, 2) != Other(1, 2)  # same fields, other type
    assert Point(1, 2) != (1, 2, [])
    a, b = Point(1, 2, ()), Point(1, 2, ())  # type: ignore[arg-type]
    assert hash(a) == hash(b)
    assert len({a, b}) == 1


def test_repr_names_every_field() -> None:
    assert repr(Point(1, 2)) == "Point(x=1, y=2, tags=[])"


def test_pickle_round_trip() -> None:
    for value in (Point(1, 2, ["t"]), Counter(3, {"a": 1}), Point3(1, z=5)):
        assert pickle.loads(pickle.dumps(value)) == value  # noqa: S301 (our own bytes)


def test_replace_returns_a_changed_copy() -> None:
    p = Point(1, 2)
    q = replace(p, y=5)
    assert (p.y, q.y, q.x, type(q)) == (2, 5, 1, Point)
    with pytest.raises(TypeError, match="no field"):
        replace(p, z=1)  # type: ignore[call-arg]


def test_inherited_fields_come_first() -> None:
    assert Point3._fields == ("x", "y", "tags", "z")
    assert Point3.__slots__ == ("z",)
    p = Point3(1, z=3)
    assert (p.x, p.y, p.tags, p.z) == (1, 0, [], 3)
    assert p != Point(1)


def test_declaring_slots_is_refused() -> None:
    with pytest.raises(TypeError, match="annotations, not __slots__"):

        class Bad(Record):
            __slots__ = ("x",)


def test_field_without_default_after_one_with_default_is_refused() -> None:
    with pytest.raises(TypeError, match="'b' has no default"):

        class Bad(Record):
            a: int = 0
            b: int


def test_record_module_imports_nothing_heavy() -> None:
    heavy = {"dataclasses", "typing", "inspect", "typing_extensions"}
    code = f"import sys, importobot._record; print(sorted({heavy!r} & set(sys.modules)))"
    # Without coverage's subprocess hook (scripts/test measures child processes): it would
    # load what this test forbids.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, check=True
    )
    assert proc.stdout.strip() == "[]"


# Each line marked `# E:<code>` must get exactly that mypy error; the other lines none.
_SNIPPET = """
    from __future__ import annotations

    from importobot._record import Record, field, replace
    from importobot.scan.finding import Finding, ScanResult


    class Point(Record):
        x: int
        tags: list[str] = field(default_factory=list)


    f = Finding("IOB101", "error", None, None, None, None, None, None, None, "m")
    commit: str | None = f.commit
    p = Point(1)
    r = ScanResult()
    r.files_scanned = 3
    g: Finding = replace(f, note="n")
    Finding(  # E:call-arg
        rule="IOB101", severity="error", path=None, line=None, column=None, variable=None,
        key_type=None, key_bytes=None, fingerprint=None, message="m", pathh="x",
    )
    Point(x="one")  # E:arg-type
    f.rule = "IOB102"  # E:misc
    replace(f, notee="n")  # E:call-arg
    Point()  # E:call-arg
    replace(f, line="3")  # E:arg-type
    p.y  # E:attr-defined
    r.files_scaned = 3  # E:attr-defined
"""


def test_mypy_sees_real_field_names_and_types(tmp_path: Path) -> None:
    snippet = tmp_path / "snippet.py"
    snippet.write_text(textwrap.dedent(_SNIPPET).lstrip(), encoding="utf-8")
    expected = {
        (number, match.group(1))
        for number, line in enumerate(snippet.read_text().splitlines(), start=1)
        if (match := re.search(r"# E:([\w-]+)", line))
    }
    assert len(expected) == 8
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--show-error-codes",
            "--cache-dir",
            str(tmp_path / "cache"),
            str(snippet),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    got = set()
    for line in proc.stdout.splitlines():
        match = re.match(r".*snippet\.py:(\d+): error: .*\[([\w-]+)\]$", line)
        if match:
            got.add((int(match.group(1)), match.group(2)))
    assert got == expected, proc.stdout + proc.stderr
    assert proc.returncode == 1


def test_annotations_must_be_strings() -> None:
    # Python 3.14 without `from __future__ import annotations` hands the class an
    # __annotate__ function instead of __annotations__: refused with the fix named.
    with pytest.raises(TypeError, match="from __future__ import annotations"):
        type(Record)("Lazy", (Record,), {"__annotate__": lambda _format: {"x": int}})
