"""Linear time on every input (issue 17, item 2): the work grows with the input, not its
square. Each case is a reproduction of a quadratic step found in the scanner; the test
compares the CPU time of 16 KB and 64 KB of the same pattern (tests/scan/worktime.py).
Those timing runs are marked slow (``pytest -m slow``, run by ``.ci/run``: three minutes
under coverage); the checks that a faster reading answers as before stay in the default run.
"""

from __future__ import annotations

import base64
import os
import re
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from importobot.scan.readers.lines import read_line
from importobot.scan.rules.files import scan_file

from .worktime import assert_linear, child_env

# A random-looking run (no key: too short to decode to a key size, never reported).
RUN = "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5hJ7kL9mN1pQ3"


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def _one_line(prefix: str, unit: str, suffix: str = "") -> Callable[[int], bytes]:
    def build(size: int) -> bytes:
        return (prefix + unit * (size // len(unit)) + suffix + "\n").encode()

    return build


def _lines(prefix: str, unit: str, count: int = 4) -> Callable[[int], bytes]:
    """``count`` lines of ``size / count`` bytes: with 4, 16 KB → 4 KB lines and 64 KB →
    16 KB lines, under the reader's long-line threshold (read whole, not in windows)."""

    def build(size: int) -> bytes:
        width = min(size // count - 1, 16383)
        line = prefix + unit * ((width - len(prefix)) // len(unit))
        return ((line + "\n") * count).encode()

    return build


def _keys_on_one_line(size: int) -> bytes:
    parts: list[str] = []
    total = 0
    while total < size:
        part = f"secret_key_{len(parts)}='{_key()}' "
        parts.append(part)
        total += len(part)
    return ("".join(parts) + "\n").encode()


def _utf16(build: Callable[[int], bytes]) -> Callable[[int], bytes]:
    """The same pattern saved as UTF-16 LE with a byte-order mark (decoded, then read)."""

    def wrapped(size: int) -> bytes:
        return b"\xff\xfe" + build(size // 2).decode().encode("utf-16-le")

    return wrapped


def _repeat(head: str, unit: Callable[[], str]) -> Callable[[int], bytes]:
    """``head`` then fresh ``unit()`` texts up to ``size`` bytes (each with its own key)."""

    def build(size: int) -> bytes:
        parts = [head]
        total = len(head)
        while total < size:
            part = unit()
            parts.append(part)
            total += len(part)
        return "".join(parts).encode()

    return build


CASES: dict[str, tuple[str, Callable[[int], bytes]]] = {
    # The line reader: every `=` in a bare value started a new value to the line's end.
    "nested-assignments-txt": ("notes.txt", _lines("secret_key=", "xY9=")),
    "nested-assignments-py": ("settings.py", _lines("secret_key=", "xY9=")),
    "nested-assignments-yaml": ("app.yaml", _one_line("secret_key=", "xY9=")),
    "nested-assignments-dockerfile": ("Dockerfile", _one_line("RUN secret_key=", "xY9=")),
    "nested-assignments-env": (".env", _one_line("secret_key=", "xY9=")),
    "nested-assignments-noext": ("config", _lines("secret_key=", "xY9=")),
    "nested-assignments-json": ("x.json", _lines('{"secret_key": "a", "k":', "xY9=")),
    "nested-colons-yaml": ("app.yaml", _one_line("secret_key: ", "xY9:")),
    # Trailing closers were stripped one at a time, each counting the whole value.
    "closing-brackets-yaml": ("app.yaml", _one_line(f"secret_key: a{RUN}", ")")),
    "closing-brackets-py": ("settings.py", _lines(f"secret_key=a{RUN}", ")]}")),
    # Each PEM marker searched to the end of the file for its END (and counted lines
    # from the start); every block was then checked against every candidate.
    "pem-begins-without-end": ("id.txt", _one_line("", "-----BEGIN PRIVATE KEY-----\n")),
    "pem-begins-then-one-end": (
        "id.txt",
        _one_line("", "-----BEGIN PRIVATE KEY-----\nsecret_key=" + RUN + "\n", "-----END"),
    ),
    # The value-line gate tried `--flag value` at every dash of a run.
    "dash-run-before-flag": ("settings.py", _lines("key('", "-")),
    "dash-run-before-pem": ("id.txt", _one_line("", "-", "-----BEGIN PRIVATE KEY-----")),
    # `${` without `}`: the reference regex rescanned the value from each one.
    "unclosed-references": ("Dockerfile", _one_line("", "${=SECRET:=\ufffd")),
    # Many findings on one long line.
    "many-keys-one-line": ("settings.py", _keys_on_one_line),
    # Issue 16: UTF-16 text is decoded, then read like any text.
    "utf16-env-lines": (".env", _utf16(_one_line("", f"SECRET_KEY={RUN}\r\n"))),
    "utf16-nested-assignments": ("notes.txt", _utf16(_lines("secret_key=", "xY9="))),
    "utf16-keys-on-one-line": ("settings.py", _utf16(_keys_on_one_line)),
    # Issue 16: the private-key families beside PEM, each marker without its end.
    "ssh2-begins-without-end": (
        "id.txt",
        _one_line("", "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nComment: a \\\n"),
    ),
    "openvpn-begins-then-one-end": (
        "id.txt",
        _one_line("", "-----BEGIN OpenVPN Static key V1-----\n0123abcd\n", "-----END"),
    ),
    "putty-headers-without-mac": (
        "id.ppk",
        _one_line("", "PuTTY-User-Key-File-3: ssh-ed25519\nPrivate-Lines: 9999\nAAAA\n"),
    ),
    "putty-one-mac-after-many-lines": (
        "id.ppk",
        _one_line("PuTTY-User-Key-File-2: x\nPrivate-Lines: 9999\n", "QUFB\n", "Private-MAC: 0"),
    ),
    "pem-label-words-without-private-key": ("id.txt", _one_line("-----BEGIN ", "A ", "KEY")),
    "pem-begins-with-headers-and-crc": (
        "id.txt",
        _one_line("", "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: 1\n=AbCd\n"),
    ),
    # Values code puts in calls, lists, blocks and heredocs (readers/code.py): each key
    # reads a bounded window before it; brackets are read once, in one forward pass.
    "code-list-items": ("keys.py", _repeat("KEYS = [\n", lambda: f'    "{_key()}",\n')),
    "code-call-over-lines": (
        "settings.py",
        _repeat("", lambda: f'S = env(\n    "SECRET_KEY",\n    default="{_key()}",\n)\n'),
    ),
    "code-terraform-heredoc": (
        "main.tf",
        _repeat(
            "", lambda: f'variable "encryption_key" {{\n  default = <<EOF\n{_key()}\nEOF\n}}\n'
        ),
    ),
    "code-unclosed-brackets": ("keys.js", _repeat("const KEYS = ", lambda: f'[("{_key()}", ')),
    "code-minified-line": ("app.min.js", _repeat("var key=1", lambda: f',a="{_key()}"')),
    # A full bracket stack and closers of another kind, each searched the stack for.
    "code-stray-closers": (
        "keys.py",
        _repeat("x = " + "[" * 300 + "\n", lambda: ")" * 60 + f'\nKEYS = ["a", "{_key()}"]\n'),
    ),
    # Brackets inside strings are skipped whole (a quote opening many of them).
    "code-brackets-in-strings": (
        "keys.py",
        _repeat("KEYS = [\n", lambda: f'    "a)]}}(", \'[{{\', "{_key()}",\n'),
    ),
    "code-items-no-name": ("notes.txt", _repeat("secret\n", lambda: f'f(x, "{_key()}")\n')),
    # Directives: a flag word of many x's, blanks before the end of a value.
    "directive-flag-of-xs": ("config.fish", _one_line("set -", "x", " secret_key")),
    "directive-flag-of-xs-txt": ("notes.txt", _one_line("secret set -", "x", " k")),
    "directive-trailing-blanks": (".htaccess", _one_line("SetEnv APP_SECRET v", " ", "x")),
    "directive-semicolons": ("site.conf", _one_line("fastcgi_param SECRET v", " ;", "x")),
    # Blanks before a `;` that starts no statement (each blank began a new try).
    "env-blanks-before-semicolon": (".env", _one_line("SECRET_KEY=a", " ", ";x")),
    "env-quoted-blanks-before-semicolon": (".env", _one_line('SECRET_KEY="a', " ", ';x"')),
    # References with defaults: a long name, a long default.
    "reference-long-name": (".env", _one_line("SECRET_KEY=${", "A-", "}")),
    "cipher-list-items": (".env", _one_line("SECRET_KEY=!a", ":!a", "$")),
    "crypt-hash-fields": (".env", _one_line("SECRET_KEY=$y$", "a$", " ")),
    # Signing calls: each key reads a bounded window back to its call.
    "code-jwt-sign": ("auth.js", _repeat("", lambda: f'jwt.sign({{ a: b }}, "{_key()}");\n')),
    "code-jwt-one-line": ("app.min.js", _repeat("var x=1", lambda: f';jwt.sign(p,"{_key()}")')),
    # Setter calls read back to their callee; references name their own default.
    "code-setter-calls": (
        "app.js",
        _repeat("", lambda: f'config.set("session", "secret_key", "{_key()}");\n'),
    ),
    "code-setter-one-line": (
        "app.min.js",
        _repeat("var x=1", lambda: f';app.set(a.b.c,"secretKey","{_key()}")'),
    ),
    "reference-defaults-yaml": (
        "compose.yaml",
        _repeat("x:\n", lambda: f"  SECRET_KEY: ${{SECRET_KEY:-{_key()}}}\n"),
    ),
    "reference-defaults-java": (
        "C.java",
        _repeat("", lambda: f'@Value("${{jwt.secret:{_key()}}}") String s;\n'),
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_scan_is_linear(case: str) -> None:
    path, build = CASES[case]

    def make(size: int) -> Callable[[], object]:
        data = build(size)
        return lambda: scan_file(path, data)

    assert_linear(make, what=case)


# -- the reader's answers did not change --------------------------------------------------

# The head as the reader spells it today (``==``/``===`` only before a quoted literal,
# ``?=``, ``||=``, ``??=``, type annotations, no head inside ``${``); what is compared is
# the loop around it.
_OLD_ASSIGN_RE = re.compile(
    r"""(?<![\w.\-$@/])(?<!\$\{)(?P<q>["']?)(?=(?P<name>[A-Za-z_][\w.\-]*))(?P=name)(?P=q)
    (?:[ \t]*:[ \t]*[A-Za-z_][\w.]*(?:\[[^\]=\r\n]{0,40}\])?
       (?:[ \t]*\|[ \t]*[A-Za-z_][\w.]*)*[ \t]+(?==[ \t]))?
    [ \t]*(?:=>|:=|\?\?=|\|\|=|\?=|===?(?=[ \t]*["'`])|=(?!=)|(?<!:):(?![:/]))[ \t]*
    (?:[bBrRuU]{1,2}(?=["']))?
    (?P<value>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`[^`\n]*`|[^\s'"`,;]+)""",
    re.X,
)


def _old_unquote(raw: str) -> tuple[str, str, int]:
    if len(raw) >= 2 and raw[0] in "'\"`" and raw[-1] == raw[0]:
        return raw[1:-1], raw[0], 1
    if raw[:1] in "'\"`":
        return raw[1:], raw[0], 1
    value = raw
    while (
        value
        and value[-1] in ")]}"
        and value.count(value[-1]) > value.count({")": "(", "]": "[", "}": "{"}[value[-1]])
    ):
        value = value[:-1]
    return value, "", 0


def _old_assignments(text: str) -> list[tuple[str, str, int]]:
    """The reader's assignment loop before the fix (quadratic; for comparison only)."""
    out = []
    pos = 0
    while True:
        m = _OLD_ASSIGN_RE.search(text, pos)
        if m is None:
            break
        raw = m.group("value")
        # A nested assignment may start a bare value (``env = NAME=…``).
        pos = m.start("value") if raw[:1] not in "'\"`" else m.end()
        if len(raw) < 16:
            continue
        value, _quote, off = _old_unquote(raw)
        out.append((m.group("name"), value, m.start("value") + off + 1))
    return out


_ALPHABET = st.sampled_from(
    list("aZ_9.-=:>,;'\"`\\ $@/(){}[]bB|?")
    + ["xY9=", "key", RUN[:20], "=>", ":=", " = ", "==", "${", ": str "]
)


@settings(max_examples=400, deadline=None)
@given(parts=st.lists(_ALPHABET, max_size=40))
def test_reader_answers_as_before(parts: list[str]) -> None:
    from importobot.scan.readers.lines import _assignments, _unquote

    text = "".join(parts)[:200]
    new = []
    for name, _at, vs, ve in _assignments(text):
        value, _quote, off = _unquote(text[vs:ve])
        new.append((name, value, vs + off + 1))
    assert new == _old_assignments(text)


def test_nested_values_past_the_budget_keep_the_innermost() -> None:
    key = _key()
    text = "a=" + "xY9=" * 5000 + "z+inner_secret=" + key
    names = [c.name for c in read_line(text, 1)]
    assert names[0] == "a"
    assert names[-1] == "inner_secret"
    assert len(names) < 10


# -- acceptance: the hook on 256 KB ------------------------------------------------------


def _child_cpu(argv: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        argv, cwd=cwd, env=child_env(), capture_output=True, text=True, timeout=600
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    spent = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return spent, proc


@pytest.mark.parametrize("name", ["settings.py", "config.yaml", "notes.txt", ".env"])
def test_hook_on_256k_of_nested_assignments_is_fast(tmp_path: Path, name: str) -> None:
    build = _lines("secret_key=", "xY9=", count=16)
    (tmp_path / name).write_bytes(build(256 * 1024))  # 16 lines of 16 KB
    hook = [
        sys.executable,
        "-c",
        "import sys; from importobot.hooks.block_keys import main; sys.exit(main(sys.argv[1:]))",
        name,
    ]
    spent, proc = _child_cpu(hook, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert spent < 1.0, f"the hook spent {spent:.2f}s of CPU on 256 KB"


# -- judging key bytes and words: linear, same answers --------------------------------


def _old_has_period(raw: bytes) -> bool:
    return any(raw[p:] == raw[:-p] for p in range(1, len(raw) // 2 + 1))


@settings(max_examples=300, deadline=None)
@given(
    unit=st.binary(min_size=1, max_size=40),
    times=st.integers(1, 40),
    tail=st.binary(max_size=3),
    cut=st.integers(0, 30),
)
def test_period_check_answers_as_before(unit: bytes, times: int, tail: bytes, cut: int) -> None:
    from importobot.keys.material import _has_period

    raw = (unit * times + tail)[cut:]
    for sample in (raw, raw * 30, raw * 30 + b"!"):  # short and past the direct limit
        assert _has_period(sample) == _old_has_period(sample)


def _old_word_coverage(text: str) -> float:
    from importobot.keys.material import _words

    words = _words()[0]
    lengths = sorted({len(w) for w in words}, reverse=True)
    covered = 0
    for run in re.findall(r"[A-Za-z]{4,}", text):
        low = run.lower()
        n = len(low)
        i = 0
        while i <= n - 4:
            for size in lengths:
                if i + size <= n and low[i : i + size] in words:
                    covered += size
                    i += size
                    break
            else:
                i += 1
    return covered / len(text) if text else 0.0


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(["pass", "word", "Secret", "key", "s", "x", "9", "-", "changeme", "ab"]),
        max_size=30,
    )
)
def test_word_coverage_answers_as_before(parts: list[str]) -> None:
    from importobot.keys.material import word_coverage

    text = "".join(parts)
    assert word_coverage(text) == _old_word_coverage(text)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "unit"),
    [("one-letter", "B"), ("near-period", "BBBBBBBc"), ("hex-like", "Ab")],
)
def test_long_values_are_judged_in_linear_time(name: str, unit: str) -> None:
    """A long base64 value under a key name, mostly one repeated unit: the period check
    compared every shift (quadratic on a near-periodic value); the word search tried
    every word length at every letter."""

    def make(size: int) -> Callable[[], object]:
        body = (unit * (size // len(unit)))[: size - size % 4 - 12]
        data = f"secret_key: aB3dE5gH{body}7jK9\n".encode()  # a multiple of 4: decodes
        return lambda: scan_file("app.yaml", data)

    assert_linear(make, 64 * 1024, what=name)


_OLD_GATE = (
    r"""(?m)[=:>][ \t]*[bBrRuU]?["'`]?[^\s"'`]{16}|--[\w-]+[ \t]+["']?[^\s"']{16}"""
    r"""|\\x[0-9a-fA-F]{2}|-----BEGIN|[:=][ \t]*[|>][+-]?[ \t]*$"""
    r"""|^[ \t]*-[ \t]+["']?[^\s"'`]{16}"""  # YAML list items, read since (not a speed-up)
    r"""|(?i:setenv|_param|set[ \t]+-[A-Za-z]*x[A-Za-z]*)[ \t]+\w+[ \t]+["']?[^\s"']{16}"""
)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(list("-a_9 \t\"'é=\n") + ["--", "x" * 16, "---"]), max_size=30))
def test_line_gate_answers_as_before(parts: list[str]) -> None:
    """The value-line gate reads a run of dashes once (it retried every dash)."""
    from importobot.scan.rules.files import _GATE_BYTES_RE, _GATE_RE

    text = "".join(parts)
    want = re.search(_OLD_GATE, text) is not None
    assert (_GATE_RE.search(text) is not None) == want
    raw = text.encode()
    assert (_GATE_BYTES_RE.search(raw) is not None) == (
        re.search(_OLD_GATE.encode(), raw) is not None
    )


# -- YAML context: parents from one pass, regexes without a square ---------------------

_OLD_KEY_RE = re.compile(
    r"(?P<indent>[ \t]*)(?:-[ \t]+)?(?P<q>[\"']?)"
    r"(?P<name>[^\s:#\"'][^:#\"']*?)(?P=q)[ \t]*:(?:[ \t]|$)"
)
_OLD_DATA_RE = re.compile(r"[ \t]*(?P<name>[\w.\-]+)[ \t]*:[ \t]*(?P<value>\S.*?)[ \t]*$")


def _old_parents(lines: list[str], idx: int) -> list[str]:
    out: list[str] = []
    line = lines[idx]
    if not line.strip():
        return out
    level = len(line) - len(line.lstrip(" \t"))
    if line.lstrip().startswith("- "):
        level += 1
    if level == 0:
        return out
    for j in range(idx - 1, max(-1, idx - 4000), -1):
        text = lines[j]
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        ind = len(text) - len(text.lstrip(" \t"))
        if ind >= level:
            continue
        m = _OLD_KEY_RE.match(text)
        if m is not None:
            out.append(m.group("name").strip())
        level = ind
        if ind == 0:
            break
    return out


_YAML_PIECES = st.sampled_from(
    ["  ", " ", "\t", "- ", "a", "env", "b c", ":", ": ", '"', "'", "#", "x: |", "\r", "-"]
)
_YAML_LINE = st.lists(_YAML_PIECES, max_size=8).map("".join)


@settings(max_examples=400, deadline=None)
@given(lines=st.lists(_YAML_LINE, min_size=1, max_size=12))
def test_yaml_parents_answer_as_before(lines: list[str]) -> None:
    from importobot.scan.readers import yaml

    context = yaml.YamlContext(lines)
    for idx in range(len(lines)):
        assert context.parents(idx) == _old_parents(lines, idx), idx
        assert yaml.parents(lines, idx) == _old_parents(lines, idx)
    for text in lines:
        old, new = _OLD_KEY_RE.match(text), yaml._KEY_RE.match(text)
        assert (old is None) == (new is None), text
        if old is not None and new is not None:
            assert old.group("name") == (new.group("name") or new.group("qname")), text
        old_d, new_d = _OLD_DATA_RE.match(text), yaml._DATA_RE.match(text)
        assert (old_d and old_d.groupdict()) == (new_d and new_d.groupdict()), text


def _yaml_blocks(size: int) -> bytes:
    """Blocks at indentation 1 (never a stop for the walk back) holding list items and
    a compose-style env entry: each walked back over every block before it."""
    block = (
        " services:\n  web:\n    environment:\n"
        f"      - FERNET_KEY={RUN[:43]}=\n    list:\n      - {RUN}\n"
    )
    return (block * (size // len(block))).encode()


def _yaml_blank_runs(size: int) -> bytes:
    head = "a" + " " * (size // 2) + "b\n"
    value = " " * (size // 2)
    item = f"  - {RUN} # key: {RUN}\n"  # a list item: its parents are looked up
    return (head + item + f"kind: Secret\ndata:\n  K: a{value}b\n").encode()


@pytest.mark.slow
@pytest.mark.parametrize("case", ["blocks", "blank-runs"])
def test_yaml_context_is_linear(case: str) -> None:
    build = {"blocks": _yaml_blocks, "blank-runs": _yaml_blank_runs}[case]

    def make(size: int) -> Callable[[], object]:
        data = build(size)
        return lambda: scan_file("compose.yaml", data)

    assert_linear(make, 64 * 1024, what=case)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["$", "{", "}", "${", "${{", "a", " ", "\n"]), max_size=12))
def test_brace_references_answer_as_before(parts: list[str]) -> None:
    from importobot.scan.filters import _has_brace_reference

    text = "".join(parts)
    assert _has_brace_reference(text) == (re.search(r"\$\{\{?[^}]*\}", text) is not None)
