"""Keys written as arrays of byte literals (C, Java, C#, Go, Rust, Python, JavaScript):
caught under a key's name and at a key size, quiet otherwise. Keys are generated here."""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable

import pytest

from importobot.scan.readers.bytearray import read_byte_arrays
from importobot.scan.rules.files import scan_file, scan_text

from .conftest import all_spellings
from .worktime import assert_linear


def _hex(raw: bytes, sep: str = ", ") -> str:
    return sep.join(f"0x{b:02x}" for b in raw)


def _java(raw: bytes) -> str:
    # Java's bytes are signed: casts on the high ones, or negative decimals.
    return ", ".join(
        f"(byte) 0x{b:02X}" if b > 127 and i % 2 else str(b - 256 if b > 127 else b)
        for i, b in enumerate(raw)
    )


CAUGHT: list[tuple[str, str, Callable[[bytes], str], str]] = [
    (
        "c",
        "key.c",
        lambda r: f"static const unsigned char aes_key[32] = {{{_hex(r)}}};\n",
        "aes_key",
    ),
    (
        "c-over-lines",
        "key.h",
        lambda r: (
            "static const uint8_t encryption_key[] = {\n    "
            + _hex(r[:16])
            + ",\n    "
            + _hex(r[16:])
            + ",\n};\n"
        ),
        "encryption_key",
    ),
    (
        "java",
        "Keys.java",
        lambda r: f"static final byte[] SECRET_KEY = new byte[] {{ {_java(r)} }};\n",
        "SECRET_KEY",
    ),
    (
        "csharp",
        "Keys.cs",
        lambda r: f"private static readonly byte[] Key = new byte[32] {{ {_hex(r)} }};\n",
        "Key",
    ),
    ("go", "keys.go", lambda r: f"var masterKey = []byte{{{_hex(r)}}}\n", "masterKey"),
    ("rust", "keys.rs", lambda r: f"const SIGNING_KEY: [u8; 32] = [{_hex(r)}];\n", "SIGNING_KEY"),
    (
        "python-bytes",
        "keys.py",
        lambda r: f"SECRET_KEY = bytes([{_hex(r)}])\n",
        "SECRET_KEY",
    ),
    (
        "python-bytearray",
        "keys.py",
        lambda r: f"fernet_key = bytearray([{_hex(r)}])\n",
        "fernet_key",
    ),
    (
        "js",
        "keys.js",
        lambda r: f"const encryptionKey = new Uint8Array([{_hex(r)}]);\n",
        "encryptionKey",
    ),
    (
        "json-like",
        "keys.ts",
        lambda r: f'export const cfg = {{ "aesKey": [{_hex(r)}] }};\n',
        "aesKey",
    ),
]


@pytest.mark.parametrize(
    ("path", "template", "variable"), [pytest.param(*r[1:], id=r[0]) for r in CAUGHT]
)
def test_byte_array_key_is_caught(
    path: str, template: Callable[[bytes], str], variable: str
) -> None:
    raw = secrets.token_bytes(32)
    text = template(raw)
    findings = scan_file(path, text.encode())
    assert [(f.rule, f.variable) for f in findings] == [("IOB102", variable)]
    f = findings[0]
    assert "byte array" in f.message
    # Reported where the first byte is written.
    lines = text.split("\n")
    assert (
        lines[f.line - 1][f.column - 1 :]
        .lstrip("(byte) ")
        .lower()
        .startswith((f"0x{raw[0]:02x}", str(raw[0]), str(raw[0] - 256)))
    )
    shown = f.message + (f.variable or "") + f.fingerprint
    assert not any(s in shown for s in [*all_spellings(raw), _hex(raw[:4]), _hex(raw[-4:])])


NOT_CAUGHT: list[tuple[str, str, Callable[[bytes], str]]] = [
    ("neutral-name", "aes.c", lambda r: f"static const uint8_t test_vector[32] = {{{_hex(r)}}};\n"),
    ("iv", "aes.c", lambda r: f"static const uint8_t iv[16] = {{{_hex(r[:16])}}};\n"),
    (
        "not-a-key-size",
        "aes.c",
        lambda r: f"static const uint8_t aes_key[20] = {{{_hex(r[:20])}}};\n",
    ),
    ("identifier", "k.go", lambda r: f"var signingKeyId = []byte{{{_hex(r)}}}\n"),
    ("weak-sequential", "k.c", lambda r: f"uint8_t aes_key[32] = {{{_hex(bytes(range(32)))}}};\n"),
    ("weak-zeros", "k.py", lambda r: f"SECRET_KEY = bytes([{', '.join(['0'] * 32)}])\n"),
    ("unnamed", "k.c", lambda r: f"use({{{_hex(r)}}});\n"),
    ("not-bytes", "k.py", lambda r: "SECRET_KEY = [" + ", ".join(str(300 + b) for b in r) + "]\n"),
    (
        "too-many-items",
        "sbox.c",
        lambda r: f"static const uint8_t aes_key[96] = {{{_hex(r * 3)}}};\n",
    ),
    ("not-a-program", "notes.txt", lambda r: f"aes_key = {{{_hex(r)}}}\n"),
]


@pytest.mark.parametrize(("path", "template"), [pytest.param(*r[1:], id=r[0]) for r in NOT_CAUGHT])
def test_byte_array_not_a_key_is_quiet(path: str, template: Callable[[bytes], str]) -> None:
    assert scan_file(path, template(secrets.token_bytes(32)).encode()) == []


def test_signed_and_cast_items_decode_to_the_bytes() -> None:
    raw = secrets.token_bytes(16)
    text = f"byte[] k = new byte[] {{ {_java(raw)} }};".encode()
    assert [(n, b) for n, b, _ in read_byte_arrays(text)] == [("k", raw)]


def test_byte_array_search_is_linear() -> None:
    rng = random.Random(5)

    def make(size: int) -> Callable[[], object]:
        # Brackets full of almost-arrays: 15 items then a stray token, over and over,
        # and long runs of numbers with no bracket.
        near = "{" + ", ".join(f"0x{rng.randrange(256):02x}" for _ in range(15)) + ", z}"
        text = "uint8_t aes_key[] = " + (near + "\n") * (size // (2 * len(near)))
        text += "0x1, " * (size // 10) + "\n"
        return lambda: scan_text("hostile.c", text)

    assert_linear(make, what="arrays of byte literals")
