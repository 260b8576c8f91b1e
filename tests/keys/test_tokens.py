"""The one Fernet-token finder (importobot.keys.tokens): lengths, boundaries, linear time."""

from __future__ import annotations

import base64
import json
import secrets
import time

import pytest

from importobot.keys.tokens import (
    MIN_TOKEN_BYTES,
    MIN_TOKEN_CHARS,
    find_tokens,
    is_token,
    token_bytes,
    token_timestamp,
)
from importobot.security import CredentialManager
from tests.keygen import new_raw


def forged(body_len: int, *, stamp: int | None = None, pad: bool = True) -> bytes:
    """A token-*shaped* value of ``body_len`` decoded bytes (no key involved)."""
    when = int(time.time()) if stamp is None else stamp
    raw = b"\x80" + when.to_bytes(8, "big") + secrets.token_bytes(body_len - 9)
    text = base64.urlsafe_b64encode(raw)
    return text if pad else text.rstrip(b"=")


def test_minimum_is_a_real_tokens_structure() -> None:
    assert MIN_TOKEN_BYTES == 1 + 8 + 16 + 16 + 32 == 73
    assert MIN_TOKEN_CHARS == 100
    real = CredentialManager(new_raw()).encrypt_bytes(b"")  # empty plaintext: one padding block
    assert len(base64.urlsafe_b64decode(real)) == 73 and len(real) == MIN_TOKEN_CHARS
    assert find_tokens(real) == [(0, len(real))] and is_token(real)


@pytest.mark.parametrize(
    ("size", "found"),
    [(57, False), (72, False), (73, True), (74, False), (88, False), (89, True), (105, True)],
)
def test_decoded_length_must_be_a_tokens(size: int, found: bool) -> None:
    tok = forged(size)
    assert bool(find_tokens(b"x=" + tok + b"\n")) is found
    assert is_token(tok) is found
    assert (token_bytes(tok) is not None) is found


def test_padding_is_required() -> None:
    tok = forged(73, pad=False)  # 98 characters, "==" dropped: base64 (and Fernet) refuse it
    assert find_tokens(tok) == [] and not is_token(tok)


def test_boundaries() -> None:
    tok = forged(89)
    for before, after in [
        (b"", b""),
        (b"K=", b"\n"),
        (b'{"t": "', b'"}'),
        (b" ", b" "),
        (b"'", b"'"),
    ]:
        data = before + tok + after
        assert find_tokens(data) == [(len(before), len(before) + len(tok))], (before, after)
    for before, after in [
        (b"a", b""),
        (b"-", b""),
        (b"_", b""),
        (b"", b"a"),
        (b"", b"="),
        (b"", b"-"),
    ]:
        assert find_tokens(before + tok + after) == [], (before, after)


def test_several_tokens_in_one_text_and_json() -> None:
    manager = CredentialManager(new_raw())
    toks = [manager.encrypt_bytes(b"v%d" % i) for i in range(3)]
    doc = json.dumps({"a": toks[0].decode(), "b": [toks[1].decode(), "x"], "c": toks[2].decode()})
    data = doc.encode()
    assert [data[s:e] for s, e in find_tokens(data)] == toks
    joined = b",".join(toks)
    assert [joined[s:e] for s, e in find_tokens(joined)] == toks


def test_token_time_and_whole_value_test() -> None:
    tok = forged(89, stamp=1_700_000_000)
    assert token_timestamp(tok) == 1_700_000_000
    assert token_timestamp(b"  " + tok + b"\n") == 1_700_000_000
    assert not is_token(b"x" + tok) and not is_token(tok + b"x") and not is_token("gAAAAA\u00e9")
    assert token_bytes("gAAAAA" + "!" * 94) is None


def test_every_user_uses_the_one_finder() -> None:
    from importobot.scan import filters
    from importobot.scan.rules import key_health
    from importobot_enterprise.key_rotation.stores import base, files

    assert files.find_tokens is find_tokens
    assert key_health.find_tokens is find_tokens
    assert not hasattr(key_health, "_TOKEN_RE") and not hasattr(files, "_TOKEN")
    assert base.find_tokens is find_tokens
    for size in (72, 73, 74, 89):
        tok = forged(size).decode()
        assert filters.is_fernet_token(tok) is is_token(tok)


def _elapsed(data: bytes) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        find_tokens(data)
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize(
    "unit",
    [
        b"gAAAAA",  # a token start everywhere, never a boundary
        b"=gAAAAA" + b"A" * 200 + b"===",  # long bodies whose padding is one too many
        b" gAAAAA" + b"B" * 93,  # bodies of a wrong length, each after a boundary
        b"gAAAAAgAAAAA-",
    ],
)
def test_linear_time(unit: bytes) -> None:
    small = unit * (64 * 1024 // len(unit))
    big = unit * (1024 * 1024 // len(unit))
    ratio = _elapsed(big) / max(_elapsed(small), 1e-6)
    assert ratio < 64, ratio  # 16x the input: ~16x the time (quadratic would be ~256x)
    assert _elapsed(big) < 1.0
