"""IOB303 (stale Fernet ciphertext) on hostile files: linear time, no link followed, no
special file read (issue 17, items 2 and 3)."""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from hypothesis import given, settings
from hypothesis import strategies as st

from importobot.keys.age import AgePolicy
from importobot.keys.tokens import find_tokens, token_timestamp
from importobot.scan.rules.key_health import name_before, stale_token_findings

from .worktime import assert_linear, child_env

NOW = datetime(2026, 11, 25, tzinfo=timezone.utc)
POLICY = AgePolicy(timedelta(days=90))
_FERNET = Fernet(Fernet.generate_key())


def stale_token() -> str:
    """A Fernet token made 200 days before NOW (a fresh key each session; no literal)."""
    return _FERNET.encrypt_at_time(b"v", int(NOW.timestamp()) - 200 * 86400).decode()


def _stale(path: Path) -> list[tuple[int | None, int | None, str | None]]:
    found = stale_token_findings([(path, path.name)], POLICY, NOW, max_size=1 << 24)
    return [(f.line, f.column, f.variable) for f in found]


# -- the name search -------------------------------------------------------------------

_OLD_NAME_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_.-]*)[\"']?\s*[:=]\s*[\"']?$")


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.sampled_from(list("aZ_9.-:= \t\"'#é\u2003") + ["DB_PASSWORD", " = ", ": '"]),
        max_size=30,
    )
)
def test_name_search_answers_as_the_regex_did(parts: list[str]) -> None:
    text = "".join(parts)
    m = _OLD_NAME_RE.search(text)
    assert name_before(text) == (m.group(1) if m else None)


# -- line and column -------------------------------------------------------------------


def _old_line_col(data: bytes, offset: int) -> tuple[int, int]:
    line = data.count(b"\n", 0, offset) + 1
    start = data.rfind(b"\n", 0, offset) + 1
    return line, len(data[start:offset].decode("utf-8", "replace")) + 1


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=12),
            st.sampled_from([b"\n", b"K=", b"\xe2\x82", b"\xc3\xa9", b"\xff", b" "]),
            st.just(b"TOKEN"),
        ),
        max_size=25,
    )
)
def test_lines_and_columns_as_counted_from_the_start(
    tmp_path_factory: pytest.TempPathFactory, parts: list[bytes]
) -> None:
    token = stale_token().encode()
    data = b"".join(token if p == b"TOKEN" else p for p in parts)
    path = tmp_path_factory.mktemp("t") / "x.env"
    path.write_bytes(data)
    got = [(line, col) for line, col, _ in _stale(path)]
    cutoff = (NOW - POLICY.max_age).timestamp()
    want = [
        _old_line_col(data, start)
        for start, end in find_tokens(data)
        if (token_timestamp(data[start:end]) or cutoff) < cutoff
    ]
    assert got == want


def test_names_and_places(tmp_path: Path) -> None:
    a, b, c = stale_token(), stale_token(), stale_token()
    (tmp_path / "s.env").write_text(f"# é\nDB_PASSWORD={a}\n  \"x\": '{b}', y: {c}\n")
    assert _stale(tmp_path / "s.env") == [
        (2, 13, "DB_PASSWORD"),
        (3, 9, "x"),
        (3, 9 + len(b) + 6, "y"),
    ]


# -- linear time -----------------------------------------------------------------------


Work = Callable[[], object]


def _file_case(build: Callable[[int], str], tmp_path: Path) -> Callable[[int], Work]:
    def make(size: int) -> Callable[[], object]:
        path = tmp_path / f"case-{size}.env"
        path.write_text(build(size))
        return lambda: _stale(path)

    return make


CASES: dict[str, Callable[[int], str]] = {
    # The name regex backtracked over a run of name characters with no `=` after it.
    "name-run-before-token": lambda n: "a" * n + " " + stale_token() + "\n",
    "name-run-then-equals": lambda n: "a" * n + "= " + stale_token() + "\n",
    # Every token counted lines and decoded its line from the start.
    "tokens-on-one-line": lambda n: "".join(f"K{i}={stale_token()} " for i in range(n // 110)),
    "tokens-on-many-lines": lambda n: "é\n" * (n // 4) + f"K={stale_token()}\n" * (n // 220),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_stale_token_search_is_linear(case: str, tmp_path: Path) -> None:
    assert_linear(_file_case(CASES[case], tmp_path), what=case)


# -- links and special files -----------------------------------------------------------


def test_links_and_special_files_are_not_read(tmp_path: Path) -> None:
    """``z.env -> /dev/zero`` ran out of memory (stat says 0 bytes); a FIFO hung."""
    (tmp_path / "real.env").write_text(f"K={stale_token()}\n")
    (tmp_path / "z.env").symlink_to("/dev/zero")
    (tmp_path / "l.env").symlink_to(tmp_path / "real.env")
    os.mkfifo(tmp_path / "f.env")
    (tmp_path / "d.env").mkdir()
    probe = textwrap.dedent(
        f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        from datetime import datetime, timedelta, timezone
        from pathlib import Path
        from importobot.keys.age import AgePolicy
        from importobot.scan.rules.key_health import stale_token_findings
        root = Path({str(tmp_path)!r})
        files = [(root / n, n) for n in ("z.env", "f.env", "l.env", "d.env", "real.env")]
        now = datetime.fromtimestamp({NOW.timestamp()}, tz=timezone.utc)
        found = stale_token_findings(files, AgePolicy(timedelta(days=90)), now, max_size=1 << 20)
        print([f.path for f in found])
        """
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['real.env']"


# -- acceptance: `check` over a 40 KB line before a Fernet token -----------------------


def test_check_over_a_long_line_before_a_token_is_fast(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / ".importobot.toml").write_text('key-check = true\nmax-key-age = "90d"\n')
    old = _FERNET.encrypt_at_time(b"v", int(time.time()) - 200 * 86400).decode()
    (repo / "data.txt").write_text("a" * 40_000 + " " + old + "\n")
    env = child_env()
    env["IMPORTOBOT_ENCRYPTION_KEY"] = Fernet.generate_key().decode()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        [sys.executable, "-m", "importobot.cli", "check", "--format", "json"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    spent = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    report = json.loads(proc.stdout)
    assert [f["rule"] for f in report["findings"] if f["rule"] == "IOB303"] == ["IOB303"]
    assert spent < 1.0, f"check spent {spent:.2f}s of CPU"
