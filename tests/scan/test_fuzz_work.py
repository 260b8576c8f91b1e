"""Fuzz: the scanner's work per byte is bounded on any input (issue 17, item 2).

Mutated dotenv, YAML, JSON, PEM, Dockerfile and code seeds, and random bytes, are each
grown to two sizes (as many lines, as one long line, or tiled) and scanned by
``scan_file``; the CPU time must grow near-linearly (tests/scan/worktime.py) and stay
under a per-byte ceiling. The default run tries a fixed, small set of examples; the
slow run (``pytest -m slow``) tries ``IMPORTOBOT_FUZZ_COUNT`` (else ``IMPORTOBOT_SLOW_COUNT``)
random ones at 4x the size.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importobot.scan.rules.files import scan_file

from .worktime import assert_linear

# Read at import: the autouse fixture of tests/conftest.py clears IMPORTOBOT_* variables.
# IMPORTOBOT_FUZZ_COUNT bounds this run on its own (.ci/run sets it: each example costs
# about a second, several with coverage), else IMPORTOBOT_SLOW_COUNT does.
SLOW_COUNT = int(
    os.environ.get("IMPORTOBOT_FUZZ_COUNT", "")
    or os.environ.get("IMPORTOBOT_SLOW_COUNT", "")
    or 200
)


def _key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def _seeds() -> dict[str, tuple[str, str | bytes]]:
    k = _key()
    u = base64.urlsafe_b64encode(os.urandom(32)).decode()
    h = os.urandom(32).hex()
    pem_body = "\n".join(base64.b64encode(os.urandom(300)).decode()[i : i + 64] for i in (0, 64))
    return {
        "dotenv": (".env", f'export SECRET_KEY="{k}" # c\nA=1\nB=${{X}}\n#K2={h}\nM="a\nb"\n'),
        "yaml": (
            "compose.yaml",
            f"services:\n  web:\n    environment:\n      - FERNET_KEY={u}\n"
            f"      APP_SECRET: '{k}'\n    x: |\n      {h}\n  list:\n    - {k}\n",
        ),
        "k8s": (
            "secret.yaml",
            f"apiVersion: v1\nkind: Secret\ndata:\n  KEY: {base64.b64encode(k.encode()).decode()}\n"
            "stringData:\n  other: x\n",
        ),
        "json": ("config.json", f'{{"secret_key": "{k}", "n": [1, {{"cipher": "{h}"}}]}}\n'),
        "pem": (
            "id.txt",
            f"-----BEGIN PRIVATE KEY-----\n{pem_body}\n-----END PRIVATE KEY-----\nkey={k}\n",
        ),
        "dockerfile": ("Dockerfile", f"FROM x\nENV SECRET_KEY={k}\nARG SALT {h}\nRUN a=b c=d\n"),
        "python": (
            "settings.py",
            f"SECRET_KEY = b'\\x01\\x02\\x03\\x04{k}'\ncfg = Config{{Key: \"{u}\"}}\n"
            f"run('--encryption-key', '{h}')  # secret\n",
        ),
        "noext": ("config", f"secret_key={k}\ncipher: {h}\n"),
        # Issue 16: UTF-16 with a byte-order mark, and the other private-key families.
        "utf16": (".env", b"\xff\xfe" + f"SECRET_KEY={k}\r\nA=1\r\n".encode("utf-16-le")),
        "putty": (
            "id.ppk",
            "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPublic-Lines: 1\n"
            f"{k}\nPrivate-Lines: 2\n{pem_body}\nPrivate-MAC: {h}\n",
        ),
        "ssh2-openvpn": (
            "keys.txt",
            f'---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\nComment: "a \\\nb"\n{pem_body}\n'
            "---- END SSH2 ENCRYPTED PRIVATE KEY ----\n"
            f"-----BEGIN OpenVPN Static key V1-----\n{h}\n-----END OpenVPN Static key V1-----\n",
        ),
    }


_PIECES = [
    b"=",
    b":",
    b": ",
    b'"',
    b"'",
    b"`",
    b"\\",
    b"${",
    b"$(",
    b"(",
    b")",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b";",
    b"\n",
    b"\r\n",
    b" ",
    b"\t",
    b"#",
    b"//",
    b"- ",
    b"|",
    b">",
    b"://",
    b"@",
    b"key",
    b"secret_key=",
    b"SECRET:",
    b"--key ",
    b"ENV ",
    b"base64:",
    b"\\x41",
    b"gAAAAA",
    b"eyJ",
    b"-----BEGIN PRIVATE KEY-----",
    b"-----BEGIN ",
    b"-----END",
    b"---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----",
    b"PuTTY-User-Key-File-2: ",
    b"Private-Lines: 9\n",
    b"-----BEGIN OpenVPN Static key V1-----",
    b"\xff\xfe",
    b"# importobot: ignore",
    b"kind: Secret\n",
    b"data:\n",
    b"environment:\n",
    b"\xff",
    b"\xc3\xa9",
    b"aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3",
    b"0123456789abcdef0123456789abcdef",
]

_MUTATION = st.tuples(
    st.floats(0, 1),
    st.sampled_from(["insert", "delete", "replace", "repeat"]),
    st.sampled_from(_PIECES),
    st.integers(1, 40),
)


@st.composite
def _inputs(draw: st.DrawFn) -> tuple[str, bytes, str]:
    seeds = _seeds()
    which = draw(st.sampled_from([*sorted(seeds), "random"]))
    if which == "random":
        path = draw(st.sampled_from(sorted({p for p, _ in seeds.values()})))
        data = draw(st.binary(min_size=1, max_size=300))
    else:
        path, text = seeds[which]
        data = text if isinstance(text, bytes) else text.encode()
    for where, op, piece, count in draw(st.lists(_MUTATION, max_size=8)):
        at = int(where * len(data))
        if op == "insert":
            data = data[:at] + piece + data[at:]
        elif op == "delete":
            data = data[:at] + data[at + count :]
        elif op == "replace":
            data = data[:at] + piece + data[at + len(piece) :]
        else:
            data = data[:at] + piece * count + data[at:]
    if not data:
        data = b"x"
    mode = draw(st.sampled_from(["lines", "one-line", "tile", "stretch"]))
    return path, data, mode


def _grow(data: bytes, mode: str, size: int) -> bytes:
    """``data`` grown to about ``size`` bytes the way ``mode`` says."""
    if mode == "one-line":
        data = data.replace(b"\r", b" ").replace(b"\n", b" ")
    elif mode == "lines" and not data.endswith(b"\n"):
        data += b"\n"
    elif mode == "stretch":
        # Its middle byte repeated: one run (of `=`, quotes, spaces…) grows.
        mid = len(data) // 2
        fill = size - len(data)
        return data[:mid] + data[mid : mid + 1] * max(fill, 0) + data[mid:]
    return (data * (size // len(data) + 1))[:size]


def _check(path: str, data: bytes, mode: str, small: int) -> None:
    def make(size: int) -> Callable[[], object]:
        grown = _grow(data, mode, size)
        return lambda: scan_file(path, grown)

    assert_linear(make, small, what=f"{path} {mode} {data[:80]!r}")


@settings(
    max_examples=12,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=_inputs())
def test_work_per_byte_is_bounded(case: tuple[str, bytes, str]) -> None:
    path, data, mode = case
    _check(path, data, mode, 16 * 1024)


@pytest.mark.slow
@settings(
    max_examples=SLOW_COUNT,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=_inputs())
def test_work_per_byte_is_bounded_slow(case: tuple[str, bytes, str]) -> None:
    path, data, mode = case
    _check(path, data, mode, 64 * 1024)
