"""importobot._toml: the fast path agrees with tomllib on everything it accepts."""

from __future__ import annotations

import datetime
import os
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from importobot import _toml
from importobot._toml import TomlError, declares_table, loads, loads_table

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the backport is a base dependency on 3.10
    import tomli as tomllib


def _typed(value: object) -> object:
    """A comparison key that tells ``True`` from ``1`` (``True == 1`` in Python)."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, value)


def _fast(text: str) -> dict[str, object] | None:
    try:
        return _toml._fast_loads(text)
    except _toml._Unsupported:
        return None


SUPPORTED = [
    "",
    "# only a comment\n",
    'a = "x"\n',
    "a = 'lit\\eral'\n",
    'a = "esc \\" \\\\ \\n \\t \\u00e9 \\U0001F600"\n',
    "a = 1\nb = -0\nc = +1_000\nd = true\ne = false\n",
    'exclude = [\n  "a/**",  # why\n  "*.min.js",\n]\n',
    "a = []\nb = [ ]\nc = [1, 'x', true,]\n",
    '[tool.importobot]\nexclude = ["x"]\n[tool.importobot.events]\nuse = ["corp"]\n',
    "[[tool.importobot.events.connector]]\nname = 'a'\n[[tool.importobot.events.connector]]\n"
    "name = 'b'\n",
    "[ a . b ]\nx = 1\n[a]\ny = 2\n",
    "a = 1\r\nb = 2\r\n",
    "[[a]]\n[a.b]\nx = 1\n",
    "key-with_dash-1 = 'v'  # trailing comment\n",
]


@pytest.mark.parametrize("text", SUPPORTED)
def test_fast_path_takes_the_config_subset_and_agrees(text: str) -> None:
    fast = _fast(text)
    assert fast is not None, text
    assert _typed(fast) == _typed(tomllib.loads(text))


UNSUPPORTED_BUT_VALID = [
    "a = 1.5\n",
    "a = 1979-05-27\n",
    "a = 0x10\n",
    "a = {b = 1}\n",
    "a.b = 1\n",
    '"quoted key" = 1\n',
    'a = """multi\nline"""\n',
    "a = [[1], [2]]\n",
    "[[a]]\nx = 1\n[a.b]\n[[a]]\n[a.b]\n",
    "a = inf\n",
]


@pytest.mark.parametrize("text", UNSUPPORTED_BUT_VALID)
def test_other_toml_goes_to_tomllib(text: str) -> None:
    assert _fast(text) is None
    assert _typed(loads(text)) == _typed(tomllib.loads(text))


INVALID = [
    "a = 1\na = 2\n",
    "[a]\n[a]\n",
    "a = 01\n",
    "a = 1__0\n",
    "a = _1\n",
    "a = 1_\n",
    "a = \n",
    'a = "x" y\n',
    'a = "unterminated\n',
    "a = [1, 2\n",
    'a = "\\q"\n',
    'a = "\\uD800"\n',
    "a = 'x\x01'\n",
    "# bad \x01 comment\n",
    "a = 1\rb = 2\n",
    "a = True\n",
    "[]\n",
    "[[a]\n",
    "a = 1\n[a]\n",
    "b = [1]\n[[b]]\n",
    "[x]\na = 1\n[x.a]\n",
    "\ufeffa = 1\n",
]


@pytest.mark.parametrize("text", INVALID)
def test_invalid_text_is_tomllibs_error(text: str) -> None:
    assert _fast(text) is None
    with pytest.raises(TomlError):
        loads(text)


def test_deep_nesting_is_one_error_not_recursion() -> None:
    with pytest.raises(TomlError, match="nested too deeply"):
        loads("a = " + "[" * 100_000 + "]" * 100_000 + "\n")


# -- differential: random lines of a config-like grammar, valid and not ------------------------
_keys = st.sampled_from(["a", "b", "exclude", "max-key-age", "x_1", "1", "", "a.b", '"q"'])
_scalars = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8"), max_size=8).map(
        lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    ),
    st.text(max_size=6).map(lambda s: f"'{s}'"),
    st.sampled_from(
        ["1", "-2", "+3_000", "0", "01", "1_", "true", "false", "1.5", "nan", '"\\u00e9"']
    ),
)
_values = st.one_of(
    _scalars,
    st.lists(_scalars, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]"),
    st.lists(_scalars, max_size=3).map(lambda xs: "[\n  " + ",\n  # c\n  ".join(xs) + ",\n]"),
)
_lines = st.one_of(
    st.builds(lambda k, v: f"{k} = {v}", _keys, _values),
    st.sampled_from(["[t]", "[t.u]", "[[arr]]", "[[arr.x]]", "[ t . v ]", "# note", "", "[t]]"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_lines, max_size=8), st.sampled_from(["\n", "\r\n"]))
def test_fast_path_never_disagrees_with_tomllib(lines: list[str], newline: str) -> None:
    text = newline.join(lines) + newline
    fast = _fast(text)
    try:
        expected = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        assert fast is None, text
        return
    if fast is not None:
        assert _typed(fast) == _typed(expected), text


# -- one table of a larger file ------------------------------------------------------------
PYPROJECT = """\
[project]
name = "demo"
version = "1.0"
dependencies = [
    "importobot>=0.2",
    "requests",
]
authors = [{name = "A", email = "a@example.invalid"}]

[tool.ruff]
line-length = 1.5e2

[tool.importobot]
exclude = ["vendor/**"]

[tool.importobot.events]
use = ["corp-splunk"]

[tool.mypy]
strict = true
"""


def test_loads_table_reads_only_our_sections() -> None:
    expected = tomllib.loads(PYPROJECT)["tool"]["importobot"]
    assert loads_table(PYPROJECT, ("tool", "importobot")) == expected
    # The other tables never reach a parser: a syntax error there does not matter.
    broken = PYPROJECT.replace("line-length = 1.5e2", "line-length = = 1")
    assert loads_table(broken, ("tool", "importobot")) == expected


@pytest.mark.parametrize(
    "text",
    [
        '[tool]\nimportobot = {exclude = ["a"]}\n',
        '[tool]\nimportobot.exclude = ["a"]\n',
        'tool.importobot.exclude = ["a"]\n',
        '[tool."importobot"]\nexclude = ["a"]\n',
        '[project]\ndescription = """\n[tool.importobot]\nexclude = ["fake"]\n"""\n',
        '[tool.importobot]\nexclude = ["a"]\nmax-file-size = 1.5\n',
    ],
)
def test_loads_table_falls_back_when_cutting_is_unsafe(text: str) -> None:
    document = tomllib.loads(text)
    expected = document.get("tool", {}).get("importobot")
    assert loads_table(text, ("tool", "importobot")) == expected
    if expected is not None:
        assert declares_table(text.encode(), ("tool", "importobot"))


def test_loads_table_absent_and_not_a_table() -> None:
    assert loads_table('[project]\nname = "importobot"\n', ("tool", "importobot")) is None
    with pytest.raises(TomlError, match="must be a table"):
        loads_table("[tool]\nimportobot = 1\n", ("tool", "importobot"))


@pytest.mark.parametrize(
    ("text", "declared"),
    [
        ('[project]\nname = "x"\n', False),
        ('[project]\ndependencies = ["importobot>=0.2"]\n[tool.ruff]\nx = 1\n', False),
        ("[tool.importobot]\n", True),
        ("[[tool.importobot.events.connector]]\n", True),
        ("[tool]\nimportobot = {exclude = []}\n", True),
        ("[ tool . importobot ]\n", True),
        ('[tool."importobot"]\n', True),
    ],
)
def test_declares_table_is_a_byte_search(text: str, declared: bool) -> None:
    assert declares_table(text.encode(), ("tool", "importobot")) is declared


def test_fast_path_imports_no_tomllib() -> None:
    code = (
        "import sys\n"
        "from importobot._toml import loads, loads_table\n"
        "loads('exclude = [\"a\"]\\nkey-check = true\\n')\n"
        f"loads_table({PYPROJECT!r}, ('tool', 'importobot'))\n"
        "print(sorted(m for m in ('tomllib', 'tomli', 'typing') if m in sys.modules))\n"
    )
    # No COVERAGE_*: scripts/test measures child processes, and coverage imports tomllib.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert proc.stdout.strip() == "[]"


# -- results and errors through the public loader -------------------------------------------


def test_parses_tables_arrays_and_dates() -> None:
    data = loads(
        '[tool.importobot]\nmax-key-age = "90d"\nexclude = ["a", "b"]\n'
        "[[key]]\ncreated = 2026-01-31T00:00:00Z\n"
    )
    assert data["tool"]["importobot"] == {"max-key-age": "90d", "exclude": ["a", "b"]}
    assert data["key"][0]["created"] == datetime.datetime(2026, 1, 31, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize(
    "text",
    ["a = ", "[table\n", "a = 1\na = 2\n", 'a = "unclosed\n', "= 1"],
)
def test_invalid_toml_raises_toml_error_with_where(text: str) -> None:
    with pytest.raises(TomlError) as caught:
        loads(text)
    assert isinstance(caught.value, ValueError)  # callers catching ValueError keep working
    assert re.search(r"\(at (line \d+, column \d+|end of document)\)", str(caught.value))
    # One clear error: the parser's own exception is not chained (nothing to leak from it).
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_error_never_echoes_a_value() -> None:
    secret = "NotAKeyJustAMarker1234567890"
    with pytest.raises(TomlError) as caught:
        loads(f'k = "{secret}"\nk = "{secret}"\n')
    assert secret not in str(caught.value)
