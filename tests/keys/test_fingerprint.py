"""Fingerprints (D2): the built-in SHA-256 HMAC gives the standard library's digests."""

from __future__ import annotations

import hashlib
import hmac
import importlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

fp = importlib.import_module("importobot.keys.fingerprint")


def reference(label: bytes, message: bytes) -> str:
    return fp.FINGERPRINT_PREFIX + hmac.new(label, message, hashlib.sha256).hexdigest()[:16]


@given(st.binary(max_size=300))
def test_key_fingerprint_is_hmac_sha256_under_the_key_label(raw: bytes) -> None:
    assert fp.fingerprint(raw) == reference(b"importobot/fingerprint/v1", raw)


@given(st.text(max_size=200))
def test_opaque_fingerprint_is_hmac_sha256_under_its_own_label(text: str) -> None:
    expected = reference(b"importobot/opaque/v1", text.encode("utf-8", "surrogatepass"))
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        return  # not UTF-8 encodable: fingerprint_opaque raises like str.encode does
    assert fp.fingerprint_opaque(text) == expected


def test_a_fixed_vector_does_not_drift() -> None:
    # The labels and truncation are a public format (reports and registries carry them).
    assert fp.fingerprint(bytes(range(32))) == reference(
        b"importobot/fingerprint/v1", bytes(range(32))
    )
    assert fp.is_fingerprint(fp.fingerprint(b"x" * 32))


def test_without_a_builtin_sha256_the_hmac_module_gives_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw = bytes(range(7, 39))
    builtin = fp.fingerprint(raw)
    monkeypatch.setattr(fp, "_builtin_sha256", lambda: None)
    assert fp.fingerprint(raw) == builtin == reference(b"importobot/fingerprint/v1", raw)


def test_the_builtin_is_found_on_this_interpreter() -> None:
    # Otherwise the hook would load OpenSSL after all (the reason for the built-in path).
    assert fp._builtin_sha256() is not None
