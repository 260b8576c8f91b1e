"""Each supported format: a generated key is found at its exact line and column."""

from __future__ import annotations

import base64
import secrets

import pytest

from importobot.scan.rules.files import scan_file

from .conftest import fernet_key


def _find(path: str, text: str) -> list[tuple[int, int | None, str | None, str]]:
    return [(f.line, f.column, f.variable, f.rule) for f in scan_file(path, text.encode())]


def _pos(text: str, key: str) -> tuple[int, int]:
    before = text[: text.index(key)]
    return before.count("\n") + 1, len(before.rsplit("\n", 1)[-1]) + 1


K = fernet_key()

FORMATS = [
    (".env", "A=1\nFERNET_KEY={k}\n", "FERNET_KEY", "IOB101"),
    (".env", "export FERNET_KEY='{k}'\n", "FERNET_KEY", "IOB101"),
    (".env.local", '\ufeffFERNET_KEY = "{k}" # note\r\n', "FERNET_KEY", "IOB101"),
    (".envrc", "# old\n#export SECRET_KEY={k}\n", "SECRET_KEY", "IOB101"),
    (
        "docker-compose.yml",
        "services:\n  web:\n    environment:\n      - FERNET_KEY={k}\n",
        "FERNET_KEY",
        "IOB101",
    ),
    (
        "compose.yaml",
        "services:\n  web:\n    environment:\n      FERNET_KEY: '{k}'\n",
        "FERNET_KEY",
        "IOB101",
    ),
    (
        ".github/workflows/ci.yml",
        "env:\n  APP_SECRET: {k}\njobs:\n  t:\n    steps:\n      - run: echo hi\n",
        "APP_SECRET",
        "IOB101",
    ),
    (
        ".github/workflows/ci.yml",
        "jobs:\n  t:\n    steps:\n      - run: |\n          export ENC_KEY={k}\n",
        "ENC_KEY",
        "IOB102",
    ),
    ("Dockerfile", "FROM x\nENV FERNET_KEY={k}\n", "FERNET_KEY", "IOB101"),
    ("Dockerfile", "FROM x\nARG FERNET_KEY {k}\n", "FERNET_KEY", "IOB101"),
    (
        "k8s/configmap.yaml",
        'apiVersion: v1\nkind: ConfigMap\ndata:\n  FERNET_KEY: "{k}"\n',
        "FERNET_KEY",
        "IOB101",
    ),
    (
        "config.json",
        '{{\n  "db": "x",\n  "encryption_key": "{k}"\n}}\n',
        "encryption_key",
        "IOB102",
    ),
    ("settings.yaml", "app:\n  secret_key: {k}\n", "secret_key", "IOB102"),
    ("settings.py", "DEBUG = True\nSECRET_KEY = b'{k}'\n", "SECRET_KEY", "IOB102"),
    ("app.ini", "[security]\nSECRET_KEY     = {k}\n", "SECRET_KEY", "IOB102"),
    ("run.sh", 'docker run --encryption-key "{k}" img\n', "encryption-key", "IOB102"),
    ("main.go", 'var cfg = Config{{SigningKey: "{k}"}}\n', "SigningKey", "IOB102"),
]


@pytest.mark.parametrize(("path", "template", "variable", "rule"), FORMATS)
def test_formats(path: str, template: str, variable: str, rule: str) -> None:
    text = template.format(k=K)
    line, col = _pos(text.lstrip("\ufeff"), K)
    assert _find(path, text) == [(line, col, variable, rule)]


def test_kubernetes_secret_data_is_decoded() -> None:
    encoded = base64.b64encode(K.encode()).decode()
    text = f"apiVersion: v1\nkind: Secret\ntype: Opaque\ndata:\n  FERNET_KEY: {encoded}\n"
    found = scan_file("secret.yaml", text.encode())
    assert [(f.line, f.column, f.variable, f.key_type) for f in found] == [
        (5, 15, "FERNET_KEY", "fernet")
    ]


def test_multiline_value_and_pem() -> None:
    body = base64.b64encode(secrets.token_bytes(1190)).decode()
    pem_lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    pem = "-----BEGIN PRIVATE KEY-----\n" + "\n".join(pem_lines) + "\n-----END PRIVATE KEY-----"
    text = f'A=1\nPRIVATE_KEY="{pem}"\nB=2\n'
    found = scan_file(".env", text.encode())
    assert [(f.line, f.key_type, f.rule) for f in found] == [(2, "pem-private-key", "IOB102")]


def test_key_file() -> None:
    found = scan_file("config/master.key", secrets.token_hex(16).encode() + b"\n")
    assert [(f.line, f.column, f.variable, f.key_type, f.key_bytes) for f in found] == [
        (1, 1, "master.key", "key-file", 16)
    ]


def test_inline_pragmas() -> None:
    text = f"A={K}  # importobot: ignore[IOB101]\nB_KEY={K}  # pragma: allowlist secret\n"
    text += (
        f"# pragma: allowlist nextline secret\nC_KEY={K}\nD_KEY={K} # importobot: ignore[IOB102]\n"
    )
    found = scan_file(".env", text.encode())
    assert [(f.line, f.suppressed) for f in found] == [
        (1, "inline"),
        (2, "inline"),
        (4, "inline"),
        (5, None),
    ]
    found = scan_file(".env", text.encode(), inline_ignores=False)
    assert [f.suppressed for f in found] == [None] * 4


BAD_INPUTS = [
    b"",
    b"\x00\x01\x02binary",
    b"\xff\xfe\xfa invalid utf-8 SECRET_KEY=\xff",
    b"KEY=" + b"A" * 200_000,
    b"secret" * 50_000,
    b"x = '" + b"\\x" * 10_000,
    b"key: |\n" + b"  " * 10,
    b"\r\r\r\n\n\x0b\x0c" + "\u2028".encode(),
]


@pytest.mark.parametrize("data", BAD_INPUTS)
@pytest.mark.parametrize("path", [".env", "a.yaml", "Dockerfile", "x.py", "x.key", "noext"])
def test_bad_input_never_raises(path: str, data: bytes) -> None:
    assert isinstance(scan_file(path, data), list)


def test_long_minified_line_is_linear() -> None:
    import time

    blob = base64.b64encode(secrets.token_bytes(3_000_000)).decode()
    text = "var a='" + blob + "';var secretKey='" + K + "';" + blob
    start = time.perf_counter()
    found = scan_file("app.min.js", text.encode())
    assert time.perf_counter() - start < 5
    assert [f.variable for f in found if f.column == text.index(K) + 1] == ["secretKey"]


def test_pem_marker_without_a_body_is_not_a_key() -> None:
    # A PEM assembled at run time in code: the markers are there, the key is not.
    text = (
        'pem = "-----BEGIN PRIVATE KEY-----\\n" + "\\n".join(lines)'
        ' + "\\n-----END PRIVATE KEY-----"\n'
    )
    assert scan_file("build_pem.py", text.encode()) == []
