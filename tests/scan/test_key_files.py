"""Issue 16 item 1: a file whose lines are bare key-shaped values, under a name or path
that says secret or key, is found (IOB102, ``key-file``, the file name as variable)."""

from __future__ import annotations

import base64
import os

import pytest

from importobot.keys.fingerprint import fingerprint
from importobot.scan.rules.files import scan_file
from tests.keygen import contains_key


def _hex64() -> tuple[bytes, str]:
    raw = os.urandom(64)
    return raw, raw.hex()


def _b64() -> tuple[bytes, str]:
    raw = os.urandom(32)
    return raw, base64.b64encode(raw).decode()


def _hex32() -> tuple[bytes, str]:
    raw = os.urandom(32)
    return raw, raw.hex()


# (path, template, expected lines): {k} is a fresh key; line numbers of the key lines.
CAUGHT = [
    ("tmp/development_secret.txt", "{k}\n", _hex64, [1]),  # Rails' development secret
    ("config/credentials/production.key", "{k}", _hex32, [1]),
    ("deploy/app_secret_prod", "\n{k}\n", _b64, [2]),
    ("appSecret.txt", "  {k}  \r\n", _b64, [1]),
    ("keys/prod.txt", "# rotated 2024-01\n{k}\n\n{k2}\n", _hex32, [2, 4]),
    (".secrets/signing", "{k}\n", _b64, [1]),
    ("etc/encryption.keys", "// current\n{k}\n", _b64, [2]),
    ("laravel_secret.txt", "base64:{k}\n", _b64, [1]),
]


@pytest.mark.parametrize(("path", "template", "make", "lines"), CAUGHT)
def test_bare_key_lines_under_a_secret_name(path: str, template: str, make, lines) -> None:
    raw, key = make()
    raw2, key2 = make()
    found = scan_file(path, template.format(k=key, k2=key2).encode())
    name = path.rsplit("/", 1)[-1]
    want = [("IOB102", "key-file", name, line) for line in lines]
    assert [(f.rule, f.key_type, f.variable, f.line) for f in found] == want
    assert found[0].fingerprint == fingerprint(raw)
    if len(lines) > 1:
        assert found[1].fingerprint == fingerprint(raw2)
    assert not contains_key(repr(found), raw)


NOT_CAUGHT = [
    # The name says nothing about a secret.
    ("notes.txt", "{k}\n"),
    ("data/monkey.txt", "{k}\n"),
    # The name says public, hash or identifier.
    ("public_keys.txt", "{k}\n"),
    ("keys/SHA256SUMS", "{k}\n"),
    ("key_fingerprints.txt", "{k}\n"),
    ("secrets/server.pub", "{k}\n"),
    # Not bare values: an assignment line makes it an ordinary file (read by the readers).
    ("keys/readme.txt", "Put the key here, one per line.\n{k} is an example\n"),
    # Bare values that are not keys.
    ("keys/words.txt", "changeme\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"),
]


@pytest.mark.parametrize(("path", "template"), NOT_CAUGHT)
def test_not_key_lines(path: str, template: str) -> None:
    _raw, key = _hex32()
    assert scan_file(path, template.format(k=key).encode()) == []


def test_an_assignment_in_a_secret_named_file_is_read_as_usual() -> None:
    raw, key = _b64()
    found = scan_file("config/secrets.txt", f"{key}\nAPP_KEY={key}\n".encode())
    # The assignment line stops the bare-lines reading; the generic reader finds the key.
    assert [(f.variable, f.line, f.fingerprint) for f in found] == [
        ("APP_KEY", 2, fingerprint(raw))
    ]
