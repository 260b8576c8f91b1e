"""Issue 16 item 6: private-key blocks of every family pre-commit-hooks'
``detect-private-key`` knows are IOB102 (``pem-private-key``), one finding per block,
and none of their lines is read as a value. Every block is generated at test time
(``cryptography`` for PEM, random bytes for the other bodies): the repository never
holds one.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

from importobot.keys.fingerprint import fingerprint
from importobot.scan.rules.files import scan_file
from tests.keygen import contains_key

# Small keys: generated fast, and the scanner judges the block, not the key's strength.
_RSA = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
_PASSWORD = ser.BestAvailableEncryption(os.urandom(12).hex().encode())
_NONE = ser.NoEncryption()


def _lines64(raw: bytes) -> str:
    text = base64.b64encode(raw).decode()
    return "\n".join(text[i : i + 64] for i in range(0, len(text), 64))


def _pem_body(pem: str) -> bytes:
    """The base64 body of a PEM block from cryptography (headers left out)."""
    body = [ln for ln in pem.strip().splitlines()[1:-1] if ln and ":" not in ln]
    return base64.b64decode("".join(body))


def _crypto(key, encoding, fmt, enc=_NONE) -> Callable[[], tuple[str, bytes]]:
    def make() -> tuple[str, bytes]:
        pem = key().private_bytes(encoding, fmt, enc).decode()
        return pem, _pem_body(pem)

    return make


def _pgp() -> tuple[str, bytes]:
    raw = os.urandom(400)
    crc = base64.b64encode(os.urandom(3)).decode()
    text = (
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\nComment: test\n\n"
        f"{_lines64(raw)}\n={crc}\n-----END PGP PRIVATE KEY BLOCK-----\n"
    )
    return text, raw


def _ssh2() -> tuple[str, bytes]:
    raw = os.urandom(600)
    text = (
        "---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----\n"
        'Comment: "rsa-key-20240101 a long comment \\\ncontinued here"\n'
        f"{_lines64(raw)}\n---- END SSH2 ENCRYPTED PRIVATE KEY ----\n"
    )
    return text, raw


def _openvpn() -> tuple[str, bytes]:
    raw = os.urandom(256)
    hexed = raw.hex()
    body = "\n".join(hexed[i : i + 32] for i in range(0, len(hexed), 32))
    text = (
        "#\n# 2048 bit OpenVPN static key\n#\n-----BEGIN OpenVPN Static key V1-----\n"
        f"{body}\n-----END OpenVPN Static key V1-----\n"
    )
    return text, raw


def _putty(version: int) -> Callable[[], tuple[str, bytes]]:
    def make() -> tuple[str, bytes]:
        public, private = os.urandom(51), os.urandom(80)
        pub, priv = _lines64(public), _lines64(private)
        kdf = (
            "Key-Derivation: Argon2id\nArgon2-Memory: 8192\nArgon2-Passes: 13\n"
            f"Argon2-Parallelism: 1\nArgon2-Salt: {os.urandom(16).hex()}\n"
            if version == 3
            else ""
        )
        text = (
            f"PuTTY-User-Key-File-{version}: ssh-ed25519\n"
            f"Encryption: {'aes256-cbc' if version == 3 else 'none'}\n"
            "Comment: eddsa-key-20240101\n"
            f"Public-Lines: {pub.count(chr(10)) + 1}\n{pub}\n{kdf}"
            f"Private-Lines: {priv.count(chr(10)) + 1}\n{priv}\n"
            f"Private-MAC: {os.urandom(32).hex()}\n"
        )
        return text, private

    return make


PEM, DER = ser.Encoding.PEM, ser.Encoding.DER
PKCS8, TRAD, OSSH = (
    ser.PrivateFormat.PKCS8,
    ser.PrivateFormat.TraditionalOpenSSL,
    ser.PrivateFormat.OpenSSH,
)

FAMILIES: dict[str, Callable[[], tuple[str, bytes]]] = {
    "pkcs8": _crypto(lambda: _RSA, PEM, PKCS8),
    "rsa": _crypto(lambda: _RSA, PEM, TRAD),
    "ec": _crypto(lambda: ec.generate_private_key(ec.SECP256R1()), PEM, TRAD),
    "dsa": _crypto(lambda: dsa.generate_private_key(1024), PEM, TRAD),  # noqa: S505
    "openssh": _crypto(ed25519.Ed25519PrivateKey.generate, PEM, OSSH),
    "pkcs8-encrypted": _crypto(lambda: _RSA, PEM, PKCS8, _PASSWORD),
    "rsa-legacy-encrypted": _crypto(lambda: _RSA, PEM, TRAD, _PASSWORD),
    "pgp": _pgp,
    "ssh2-encrypted": _ssh2,
    "openvpn-static": _openvpn,
    "putty-2": _putty(2),
    "putty-3": _putty(3),
}


def _check(found, raw: bytes, line: int) -> None:
    assert [(f.rule, f.key_type, f.variable, f.line) for f in found] == [
        ("IOB102", "pem-private-key", None, line)
    ]
    assert found[0].fingerprint == fingerprint(raw)
    assert not contains_key(repr(found) + found[0].message, raw)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_block_in_its_own_file(family: str) -> None:
    text, raw = FAMILIES[family]()
    first = next(i for i, ln in enumerate(text.splitlines(), 1) if "BEGIN" in ln or "PuTTY" in ln)
    for path in ("id_key", "deploy/server.ppk", "notes.txt", "key.pem"):
        _check(scan_file(path, text.encode()), raw, first)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_block_inside_other_text(family: str) -> None:
    text, raw = FAMILIES[family]()
    first = next(i for i, ln in enumerate(text.splitlines(), 1) if "BEGIN" in ln or "PuTTY" in ln)
    # Between ordinary lines of a dotenv file (quoted multi-line value).
    env = 'DEBUG=1\nPRIVATE_KEY="' + text + '"\nNAME=x\n'
    _check(scan_file(".env", env.encode()), raw, first + 1)
    # In a JSON string with \n escapes: one line.
    doc = json.dumps({"name": "x", "private_key": text}, indent=1)
    _check(scan_file("service.json", doc.encode()), raw, 3)
    # In a YAML block scalar.
    yaml = "deploy:\n  key: |\n" + "".join("    " + ln + "\n" for ln in text.splitlines())
    _check(scan_file("deploy.yml", yaml.encode()), raw, 2 + first)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_block_in_utf16(family: str) -> None:
    text, raw = FAMILIES[family]()
    first = next(i for i, ln in enumerate(text.splitlines(), 1) if "BEGIN" in ln or "PuTTY" in ln)
    data = b"\xff\xfe" + text.replace("\n", "\r\n").encode("utf-16-le")
    _check(scan_file("key.txt", data), raw, first)


def _public() -> str:
    return (
        _RSA.public_key()
        .public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


NOT_KEYS: dict[str, Callable[[], str]] = {
    "public-key": _public,
    "marker-in-code": lambda: 'pem = "-----BEGIN OpenVPN Static key V1-----\\n" + body\n',
    "ssh2-marker-in-docs": lambda: (
        "A key starts with `---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----`.\n"
    ),
    "putty-docs": lambda: (
        "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPrivate-Lines: 1\n...\n"
    ),
    "short-body": lambda: "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
    "openvpn-placeholder": lambda: (
        "-----BEGIN OpenVPN Static key V1-----\n<your key here>\n"
        "-----END OpenVPN Static key V1-----\n"
    ),
}


@pytest.mark.parametrize("case", sorted(NOT_KEYS))
def test_not_a_private_key(case: str) -> None:
    for path in ("notes.txt", "README.md", ".env", "id_key"):
        assert scan_file(path, NOT_KEYS[case]().encode()) == []


def test_two_blocks_are_two_findings_and_lines_are_not_values() -> None:
    a, raw_a = FAMILIES["putty-3"]()
    b, raw_b = FAMILIES["openvpn-static"]()
    text = a + "\n" + b
    found = scan_file("keys.conf", text.encode())
    assert [f.fingerprint for f in found] == [fingerprint(raw_a), fingerprint(raw_b)]
