"""The scanner's byte-level fast paths never skip a key (issue 4, item 8).

``_value_lines`` decides on bytes which lines can hold a key value; every other line
is never decoded or parsed, and a file without such a line is not decoded at all.
Each case here is scanned twice: as shipped, and with the prefilter disabled (every
line inspected). Both must give the same findings, and the key must be found.
Keys are generated at run time.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable

import pytest

from importobot.scan.finding import Finding
from importobot.scan.rules import files
from tests.scan.conftest import fernet_key, hex_key, std_key


def _every_line(
    data: bytes, *, block_headers: bool = False, suffix: str = ""
) -> list[tuple[int, int, int]]:
    out: list[tuple[int, int, int]] = []
    start = 0
    for idx, raw in enumerate(data.split(b"\n")):
        out.append((idx, start, start + len(raw)))
        start += len(raw) + 1
    return out


def _scan_both(
    monkeypatch: pytest.MonkeyPatch, path: str, data: bytes
) -> tuple[list[Finding], list[Finding]]:
    fast = files.scan_file(path, data)
    with monkeypatch.context() as m:
        m.setattr(files, "_value_lines", _every_line)
        m.setattr(files, "_has_value_line", lambda data, suffix="": True)
        slow = files.scan_file(path, data)
    return fast, slow


def _noise_b64(lines: int) -> bytes:
    return b"\n".join(base64.b64encode(secrets.token_bytes(57)) for _ in range(lines)) + b"\n"


def _minified(key: str) -> bytes:
    parts = [f"var a{i}=function(b){{return b+{i}}}" for i in range(40_000)]
    parts.insert(20_000, f'const ENCRYPTION_KEY="{key}"')
    return ";".join(parts).encode()


CASES: list[tuple[str, str, Callable[[str], bytes], int]] = [
    # (id, path, content builder, expected line of the finding)
    ("minified-1mb-line", "dist/app.min.js", _minified, 1),
    (
        "end-of-file-no-newline",
        "app/settings.py",
        lambda k: b"import os\nDEBUG = True\nSECRET_KEY = '" + k.encode() + b"'",
        3,
    ),
    (
        "crlf",
        "app/settings.py",
        lambda k: b'import os\r\nx = 1\r\nFERNET_KEY = "' + k.encode() + b'"\r\n',
        3,
    ),
    (
        "bom",
        "app/config.py",
        lambda k: b"\xef\xbb\xbfSIGNING_KEY = '" + k.encode() + b"'\n",
        1,
    ),
    (
        "after-100k-lines-of-base64",
        "data/blob.txt",
        lambda k: _noise_b64(100_000) + b"master_key: " + k.encode() + b"\n",
        100_001,
    ),
    (
        "not-env-like-name",
        "docs/notes.md",
        lambda k: b"# Notes\n\nSet it up with\n\n    APP_SECRET=" + k.encode() + b"\n",
        5,
    ),
    (
        "large-log",
        "logs/big.log",
        lambda k: b"GET / 200 ok\n" * 400_000 + b"encryption_key=" + k.encode() + b"\n",
        400_001,
    ),
    (
        "yaml-crlf",
        "deploy/app.yml",
        lambda k: b"app:\r\n  env:\r\n    CIPHER_KEY: " + k.encode() + b"\r\n",
        3,
    ),
    (
        "yaml-block-scalar-after-blank-lines",
        "deploy/values.yaml",
        lambda k: b"app:\n  encryption_key: |\n\n   \n    " + k.encode() + b"\n",
        5,
    ),
    (
        "compose-list-item",
        "docker-compose.yml",
        lambda k: b"services:\n  app:\n    environment:\n      - APP_KEY=" + k.encode() + b"\n",
        4,
    ),
    (
        "no-ascii-whitespace-around",
        "src/x.go",
        lambda k: b'cfg := Config{Key: "' + k.encode() + '"} // \u00e9\u2003'.encode(),
        1,
    ),
]


@pytest.mark.parametrize("spell", [fernet_key, std_key, hex_key], ids=["fernet", "std", "hex"])
@pytest.mark.parametrize(
    ("path", "build", "line"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_fast_path_finds_the_key(
    monkeypatch: pytest.MonkeyPatch,
    spell: Callable[[], str],
    path: str,
    build: Callable[[str], bytes],
    line: int,
) -> None:
    key = spell()
    fast, slow = _scan_both(monkeypatch, path, build(key))
    assert [f.line for f in fast] == [line]
    assert [(f.rule, f.line, f.column, f.fingerprint) for f in fast] == [
        (f.rule, f.line, f.column, f.fingerprint) for f in slow
    ]


def test_no_value_line_means_no_decode() -> None:
    plain = b"def f(key, value):\n    return {key: value}\n" * 1000
    assert files._value_lines(plain) == []
    assert files._no_value_lines("a/b.py", "b.py", plain, ())
    # Names and markers that change the reading are never skipped.
    for path in ("a/.env", "a/master.key", "a/Dockerfile", "a/notes"):
        assert not files._no_value_lines(path, path.rsplit("/", 1)[-1], plain, ())
    assert not files._no_value_lines("a/b.py", "b.py", b"\xef\xbb\xbf" + plain, ())
    assert not files._no_value_lines("a/b.py", "b.py", plain + b"-----BEGIN", ())


def test_php_key_names_mark_value_lines() -> None:
    from importobot.scan.recognizer import key_shape

    # A WordPress salt holds blanks, so no run need mark its line: in PHP the quoted
    # name of a key or salt does, and only there.
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#%&*()-_[]{}<>~+="
    while True:  # one the recognizer calls random (about 1 in 1,000 is not)
        salt = " ".join("".join(secrets.choice(alphabet) for _ in range(15)) for _ in range(4))
        if key_shape(salt) is not None:
            break
    data = b"<?php\n$a = 1;\ndefine('NONCE_SALT', '" + salt.encode() + b"');\n"
    assert files._value_lines(data) == []
    assert files._no_value_lines("a/b.py", "b.py", data, ())
    assert [idx for idx, _, _ in files._value_lines(data, suffix=".php")] == [2]
    assert not files._no_value_lines("wp-config.php", "wp-config.php", data, ())
    assert [(f.variable, f.line) for f in files.scan_file("wp-config.php", data)] == [
        ("NONCE_SALT", 3)
    ]


def test_value_lines_locate_lines() -> None:
    key = fernet_key()
    data = f"a\r\nX = '{key}'\r\nb\nc = b'\\x01'\nlast {'z' * 40}".encode()
    got = files._value_lines(data)
    assert [idx for idx, _, _ in got] == [1, 3, 4]
    for idx, start, end in got:
        assert data[start:end] == data.split(b"\n")[idx]


def test_recognize_short_value_reject_keeps_keys() -> None:
    from importobot.scan.recognizer import recognize

    raw = secrets.token_bytes(16)
    for value in (
        base64.b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "base64:" + base64.b64encode(raw).decode(),
    ):
        assert len(value) < 32
        assert recognize("ENCRYPTION_KEY", value) is not None
    assert recognize("ENCRYPTION_KEY", "function(b){return") is None


def test_minified_windows_without_values_are_skipped_not_shifted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = fernet_key()
    parts = [f"x{i}=cache_key(b,{i})" for i in range(30_000)]
    for at in (3, 15_000, 29_990):
        parts.insert(at, f"signing_key:'{key}'")
    fast, slow = _scan_both(monkeypatch, "dist/x.min.js", ";".join(parts).encode())
    assert len(fast) >= 1
    assert [(f.line, f.column) for f in fast] == [(f.line, f.column) for f in slow]


def test_translations_are_kept_per_bytes_object_never_shared() -> None:
    # The prefilter and the line finder share one file's translations; two files never do.
    from importobot.scan.rules import files

    a = b"x = 1\n" + b"A" * 40 + b"\n"
    b = b"x = 1\n" + b"A b " * 20 + b"\n"
    assert files._has_value_line(a)
    assert not files._has_value_line(b)
    assert [s for _, s, _ in files._value_lines(a)] == [6]
    assert files._value_lines(b) == []
    assert files._translated(a, files._B64_TABLE) == a.translate(files._B64_TABLE)
