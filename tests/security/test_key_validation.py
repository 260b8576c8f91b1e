"""D1 parsing and D4 weakness: every bad key gets its own error, never the value."""

from __future__ import annotations

import base64
import secrets

import pytest

from importobot.exceptions import (
    InvalidKeyError,
    KeyAlphabetError,
    KeyLengthError,
    LegacyKeyError,
    LowEntropyKeyError,
    PlaceholderKeyError,
    PublishedKeyError,
    RepeatedBytesKeyError,
    SecurityError,
)
from importobot.keys.fingerprint import fingerprint
from importobot.keys.material import PUBLISHED_KEY_FINGERPRINTS, weakness
from importobot.security.credential_manager import generate_key
from importobot.security.key_validation import derive_legacy_key, parse_key
from tests.keygen import new_raw


def _url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


def _std(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _std_with_plus_slash() -> bytes:
    while True:
        raw = new_raw()
        text = _std(raw)
        if "+" in text or "/" in text:
            return raw


def _url_with_dash() -> bytes:
    while True:
        raw = new_raw()
        text = _url(raw)
        # Past the first character, which "mixed alphabets" replaces by "+" (a key whose
        # only URL-safe letter came first was then plain standard base64: a flaky row).
        if "-" in text[1:] or "_" in text[1:]:
            return raw


# (label, value factory, expected error class) — at least 20 bad keys.
BAD_KEYS = [
    ("empty", lambda: "", KeyLengthError),
    ("spaces", lambda: "   ", KeyLengthError),
    ("short value", lambda: "q7Zp2x", KeyLengthError),
    ("16 bytes base64", lambda: _url(secrets.token_bytes(16)), KeyLengthError),
    ("24 bytes base64", lambda: _url(secrets.token_bytes(24)), KeyLengthError),
    ("48 bytes base64", lambda: _url(secrets.token_bytes(48)), KeyLengthError),
    ("truncated fernet", lambda: _url(new_raw())[:40], KeyLengthError),
    ("hex 64", lambda: secrets.token_hex(32), LegacyKeyError),
    ("hex 32", lambda: secrets.token_hex(16), LegacyKeyError),
    ("32-char passphrase", lambda: secrets.token_urlsafe(24)[:32], LegacyKeyError),
    ("40-char passphrase", lambda: "correct horse battery staple " + "x" * 11, PlaceholderKeyError),
    ("spaces inside", lambda: _url(new_raw())[:20] + " " + _url(new_raw())[21:], KeyAlphabetError),
    ("non-ascii", lambda: "é" * 44, KeyAlphabetError),
    ("punctuation", lambda: "!" * 44, KeyAlphabetError),
    ("mixed alphabets", lambda: "+" + _url(_url_with_dash())[1:], KeyAlphabetError),
    ("laravel prefix", lambda: "base64:" + _std(new_raw()), KeyAlphabetError),
    ("padding inside", lambda: _url(new_raw())[:20] + "=" + _url(new_raw())[21:], KeyAlphabetError),
    ("legacy prefix on primary", lambda: "legacy:" + secrets.token_hex(32), LegacyKeyError),
    ("changeme", lambda: "changeme", PlaceholderKeyError),
    ("all zero", lambda: _url(bytes(32)), RepeatedBytesKeyError),
    ("AAAA=", lambda: "A" * 43 + "=", RepeatedBytesKeyError),
    (
        "one letter case",
        lambda: "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(43)),
        PlaceholderKeyError,
    ),
    ("repeated pattern", lambda: _url(secrets.token_bytes(4) * 8), RepeatedBytesKeyError),
    ("sequential", lambda: _url(bytes(range(32))), RepeatedBytesKeyError),
    (
        "few distinct",
        lambda: _url(bytes(secrets.choice(b"abcdefg\x00") for _ in range(32))),
        RepeatedBytesKeyError,
    ),
    ("readable text", lambda: _url(b"this is not a random key at all!"), LowEntropyKeyError),
    (
        "placeholder words",
        lambda: "your-32-byte-encryption-key-goes-right-here",
        PlaceholderKeyError,
    ),
]


@pytest.mark.parametrize(("label", "factory", "error"), BAD_KEYS, ids=[b[0] for b in BAD_KEYS])
def test_bad_keys_get_distinct_errors_without_the_value(label, factory, error):
    value = factory()
    with pytest.raises(error) as info:
        parse_key(value, "IMPORTOBOT_ENCRYPTION_KEY")
    exc = info.value
    assert isinstance(exc, SecurityError)
    message = str(exc)
    assert "IMPORTOBOT_ENCRYPTION_KEY" in message
    if value.strip() and len(value.strip()) > 4:
        assert value.strip() not in message
        assert all(value.strip() not in str(a) for a in exc.args)


def test_at_least_twenty_bad_keys_and_every_class_used():
    assert len(BAD_KEYS) >= 20
    used = {row[2] for row in BAD_KEYS}
    for cls in (
        KeyLengthError,
        KeyAlphabetError,
        LegacyKeyError,
        PlaceholderKeyError,
        RepeatedBytesKeyError,
        LowEntropyKeyError,
    ):  # PublishedKeyError: test_published_key_is_refused
        assert cls in used


def test_published_key_is_refused(monkeypatch):
    raw = new_raw()
    monkeypatch.setattr(
        "importobot.keys.material.PUBLISHED_KEY_FINGERPRINTS",
        PUBLISHED_KEY_FINGERPRINTS | {fingerprint(raw)},
    )
    with pytest.raises(PublishedKeyError) as info:
        parse_key(_url(raw))
    assert info.value.rule == "IOB203"
    assert weakness(raw) == "published"


@pytest.mark.parametrize(
    "spell",
    [
        _url,
        lambda r: _url(r).rstrip("="),
        _std,
        lambda r: _std(r).rstrip("="),
        lambda r: f"  {_url(r)}\n",
        lambda r: f'"{_url(r)}"',
        lambda r: f"'{_std(r)}'",
    ],
)
def test_accepted_spellings_give_the_same_key(spell):
    raw = _std_with_plus_slash()
    assert parse_key(spell(raw)) == raw


def test_raw_bytes_and_44_byte_text():
    raw = new_raw()
    assert parse_key(raw) == raw
    assert parse_key(_url(raw).encode()) == raw
    with pytest.raises(KeyLengthError):
        parse_key(raw[:31])
    with pytest.raises(RepeatedBytesKeyError):
        parse_key(bytes(32))


def test_two_pairs_of_quotes_are_not_fixed_up():
    with pytest.raises(KeyAlphabetError):
        parse_key(f"\"'{_url(new_raw())}'\"")


def test_rules_of_errors():
    assert KeyLengthError("x").rule == "IOB202"
    assert KeyAlphabetError("x").rule == "IOB202"
    assert PlaceholderKeyError("x").rule == "IOB203"
    assert issubclass(InvalidKeyError, SecurityError)


def _generated_keys_all_pass(count: int) -> None:
    rejected = 0
    for _ in range(count):
        text = generate_key()
        try:
            parse_key(text)
        except InvalidKeyError:
            rejected += 1
    assert rejected == 0


def test_random_keys_are_never_refused():
    _generated_keys_all_pass(20_000)


@pytest.mark.slow
def test_a_million_random_keys_are_never_refused():
    # D4: a uniformly random key is refused with probability below 2**-40.
    _generated_keys_all_pass(1_000_000)


def test_legacy_derivation_matches_0_1_5():
    import hashlib

    raw = new_raw()
    assert derive_legacy_key(raw) == raw
    text = _url(raw)
    assert derive_legacy_key(text) == raw
    unpadded = text.rstrip("=")
    assert (
        derive_legacy_key(unpadded) == hashlib.blake2b(unpadded.encode(), digest_size=32).digest()
    )
    hex_key = raw.hex()
    decoded = base64.urlsafe_b64decode(hex_key)
    assert derive_legacy_key(hex_key) == hashlib.blake2b(decoded, digest_size=32).digest()


@pytest.mark.parametrize(
    ("value", "usable"),
    [
        (lambda: secrets.token_hex(32), True),
        (lambda: "correct horse battery staple " + "x" * 11, True),
        (lambda: secrets.token_urlsafe(24)[:32], True),
        (lambda: "q7Zp2x", False),
        (lambda: _url(secrets.token_bytes(16)), False),
    ],
)
def test_legacy_usable_flag(value, usable):
    with pytest.raises(InvalidKeyError) as info:
        parse_key(value())
    assert info.value.legacy_usable is usable
