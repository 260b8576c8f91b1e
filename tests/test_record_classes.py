"""The package's value classes are typed records (issue 10 item 5: one record style), and
converting them kept what they promised: reprs that hide keys and data, keys that refuse
to be pickled or copied, validation on construction, frozen values."""

from __future__ import annotations

import base64
import copy
import pickle
from datetime import datetime, timedelta, timezone

import pytest

from importobot._record import Record, replace
from importobot.commands.fix import Change, FixRequest, Manual
from importobot.git import Repository
from importobot.keys.age import AgePolicy, AgeVerdict, judge_age
from importobot.keys.material import Decoded, decode_key_text
from importobot.keys.registry import KeyRecord, Registry
from importobot.scan.finding import Finding
from importobot.scan.rules.key_setup import KeySetup
from importobot.scan.sources import Item
from importobot.security.key_sources import KeySource, PreviousKey, ResolvedKey, WrappedSource
from tests.keygen import contains_key, new_raw

VALUE_CLASSES = [
    Repository,
    Item,
    AgePolicy,
    AgeVerdict,
    Decoded,
    KeyRecord,
    KeySetup,
    KeySource,
    ResolvedKey,
    PreviousKey,
    WrappedSource,
    FixRequest,
    Change,
    Manual,
]

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
FP = "iobfp1:0123456789abcdef"


@pytest.mark.parametrize("cls", VALUE_CLASSES, ids=lambda c: c.__name__)
def test_value_classes_are_records(cls: type) -> None:
    assert issubclass(cls, Record)
    assert cls.__slots__ == tuple(n for n in cls._fields if n in cls.__annotations__)


@pytest.mark.parametrize("cls", [ResolvedKey, PreviousKey])
def test_keys_hide_their_bytes_and_refuse_pickling_and_copies(cls: type) -> None:
    raw = new_raw()
    key = cls(raw, KeySource("env", "env:IMPORTOBOT_ENCRYPTION_KEY"))
    assert not contains_key(repr(key), raw) and not contains_key(str(key), raw)
    assert "env:IMPORTOBOT_ENCRYPTION_KEY" in repr(key)
    for attempt in (pickle.dumps, copy.copy, copy.deepcopy):
        with pytest.raises(TypeError, match="cannot be pickled"):
            attempt(key)
    with pytest.raises(AttributeError, match="frozen"):
        key.raw = b""
    assert key == cls(raw, KeySource("env", "env:IMPORTOBOT_ENCRYPTION_KEY"))
    assert replace(key, raw=new_raw()) != key


def test_key_setup_repr_shows_no_key() -> None:
    raw, old = new_raw(), new_raw()
    setup = KeySetup(
        [],
        ResolvedKey(raw, KeySource("explicit", "explicit")),
        previous=[PreviousKey(old, KeySource("env", "env:X"))],
    )
    assert not contains_key(repr(setup), raw) and not contains_key(repr(setup), old)
    assert KeySetup([], None).previous == []
    assert KeySetup([], None).previous is not KeySetup([], None).previous


def test_decoded_repr_shows_no_bytes() -> None:
    raw = new_raw()
    decoded = decode_key_text(base64.urlsafe_b64encode(raw).decode())
    assert isinstance(decoded, Decoded) and decoded.key_bytes == raw
    assert not contains_key(repr(decoded), raw)
    assert repr(decoded) == "Decoded(key_type='fernet', size=32)"
    # The alphabet depends on the random key (``common`` when it has no ``-`` or ``_``).
    same = Decoded(raw, "fernet", decoded.alphabet)
    assert decoded == same and hash(decoded) == hash(same)
    assert decoded != Decoded(raw, "base64", decoded.alphabet)


def test_item_repr_shows_no_data_and_shown_is_printable() -> None:
    raw = new_raw()
    data = b"IMPORTOBOT_ENCRYPTION_KEY=" + base64.urlsafe_b64encode(raw)
    item = Item("a\x1b.env", ".env", data, label="unstaged")
    assert item.shown == "a\\x1b.env"
    assert repr(item) == f"Item('a\\\\x1b.env', label='unstaged', {len(data)} bytes)"
    assert not contains_key(repr(item), raw)
    assert replace(item, label=None).shown == "a\\x1b.env"  # escaped once, not twice


def test_fix_change_repr_shows_no_value_or_token() -> None:
    value = base64.urlsafe_b64encode(new_raw()).decode()
    change = Change(2, 4, value, '"', "APP_KEY", FP, "fernet")
    change.token = "gAAAA" + value
    change.destination = "encrypted"
    assert value not in repr(change) and repr(change) == "Change('APP_KEY', line=3, to='encrypted')"
    with pytest.raises(TypeError, match="unhashable"):
        hash(change)


def test_age_policy_validates_and_defaults() -> None:
    policy = AgePolicy(timedelta(days=90))
    assert policy.warn_age < policy.max_age
    assert policy == AgePolicy(timedelta(days=90), policy.warn_age)
    with pytest.raises(ValueError, match="longer than the max age"):
        replace(policy, warn_age=timedelta(days=91))
    verdict = judge_age(NOW - timedelta(days=100), policy, NOW)
    assert verdict.state == "due" and verdict == replace(verdict)


def test_registry_changes_replace_records() -> None:
    reg = Registry("keys.toml")
    reg.register(FP, NOW - timedelta(days=10))
    before = reg.get(FP)
    assert before is not None
    reg.retire(FP, NOW)
    after = reg.get(FP)
    assert before.retired is None  # a record held earlier does not change under the caller
    assert after == replace(before, retired=NOW)
    assert reg.mark_compromised(FP, NOW, "exposed")
    marked = reg.get(FP)
    assert marked is not None and marked.compromised == NOW and marked.note == "exposed"
    assert marked.retired == NOW and Registry.parse("k.toml", reg.dumps(), now=NOW).get(FP) == (
        marked
    )


def test_sources_and_repository_are_plain_values() -> None:
    assert KeySource("env", "env:X") == KeySource("env", "env:X")
    assert str(KeySource("env", "env:X")) == "env:X"
    assert len({KeySource("env", "env:X"), KeySource("env", "env:X")}) == 1
    wrapped = WrappedSource("importobot-wrapped:v1:secret-ish", "env", "IMPORTOBOT_X", None)
    assert "secret-ish" not in repr(wrapped)
    repo = Repository("/r", "/r/.git", False, True)
    assert repo == Repository(top="/r", git_dir="/r/.git", bare=False, shallow=True)
    with pytest.raises(AttributeError):
        repo.top = "/x"  # type: ignore[misc]  # mypy sees the record frozen too
    assert FixRequest() == FixRequest(paths=(), to="keyring")
    finding = Finding("IOB101", "error", ".env", 1, 9, "APP_KEY", "fernet", 32, FP, "key")
    assert Manual(finding, "symbolic link", "edit by hand").finding is finding
