"""The dotenv parser: exact lines and columns, every quoting form, never raises."""

from __future__ import annotations

import pytest

from importobot.dotenv import parse

CASES = [
    # (text, [(name, value, line, column, quote, commented)])
    ("A=1", [("A", "1", 1, 3, "", False)]),
    ("export A=1", [("A", "1", 1, 10, "", False)]),
    ("A = 1", [("A", "1", 1, 5, "", False)]),
    ("A: 1", [("A", "1", 1, 4, "", False)]),
    ("A='x y'", [("A", "x y", 1, 4, "'", False)]),
    ('A="x"', [("A", "x", 1, 4, '"', False)]),
    ("A=`x`", [("A", "x", 1, 4, "`", False)]),
    ("A=x # note", [("A", "x", 1, 3, "", False)]),
    ("A=x#y", [("A", "x#y", 1, 3, "", False)]),
    ("# A=x", [("A", "x", 1, 5, "", True)]),
    ("#export A=x", [("A", "x", 1, 11, "", True)]),
    ("\ufeffA=x", [("A", "x", 1, 3, "", False)]),
    ("B=1\r\nA=x\r\n", [("B", "1", 1, 3, "", False), ("A", "x", 2, 3, "", False)]),
    (
        'A="line1\nline2"\nB=2',
        [("A", "line1\nline2", 1, 4, '"', False), ("B", "2", 3, 3, "", False)],
    ),
    ('A="unclosed\nB=2', [("A", "unclosed", 1, 4, '"', False), ("B", "2", 2, 3, "", False)]),
    ('A="a\\"b"', [("A", 'a\\"b', 1, 4, '"', False)]),
    ("A=", [("A", "", 1, 3, "", False)]),
    ("APP_KEY", []),
    ("# just a comment", []),
    ("", []),
    ("  INDENTED=v", [("INDENTED", "v", 1, 12, "", False)]),
    ("é=1\nA=ü", [("A", "ü", 2, 3, "", False)]),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_parse(text: str, expected: list[tuple[str, str, int, int, str, bool]]) -> None:
    got = [(e.name, e.value, e.line, e.column, e.quote, e.commented) for e in parse(text)]
    assert got == expected


def test_column_counts_code_points() -> None:
    (entry,) = parse("# ünïcode: x\nKEY_ÄÖ=v\nX='ä'")[-1:]
    assert (entry.line, entry.column) == (3, 4)


def test_repr_hides_value() -> None:
    (entry,) = parse("SECRET=hunter2hunter2")
    assert "hunter2" not in repr(entry)
