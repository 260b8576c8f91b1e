"""Units behind sharded and fast rotation, in process: the plan's ranges and journal form,
the packed page format between processes, the worker entry points, whole-value swaps."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from importobot_enterprise.key_rotation.errors import JournalError, StoreError
from importobot_enterprise.key_rotation.shards import ShardPlan, ShardStatus, parse_shard
from importobot_enterprise.key_rotation.stores.base import Cell, Change, grouped, split_value
from tests.enterprise.helpers import managers
from tests.keygen import new_raw


def test_parse_shard_and_plan_ranges() -> None:
    assert parse_shard("2/4") == (2, 4)
    for bad in ("0/4", "5/4", "x/4", "2", "1/0", "1/99999"):
        with pytest.raises(StoreError):
            parse_shard(bad)
    plan = ShardPlan("p1", 3, (Decimal("-1.5"), Decimal("7")))
    assert plan.bounds(1) == (None, Decimal("-1.5"))
    assert plan.bounds(2) == (Decimal("-1.5"), Decimal("7"))
    assert plan.bounds(3) == (Decimal("7"), None)
    assert plan.describe(1) == "[−∞, '-1.5')" and plan.describe(3) == "['7', +∞)"
    with pytest.raises(StoreError):
        plan.bounds(4)
    again = ShardPlan.from_json(plan.to_json(), "j")
    assert again.boundaries == plan.boundaries and again.shards == 3
    for corrupt in (
        [],
        {"plan_id": "", "shards": 3, "scheme": "id-range-v1", "boundaries": [1, 2]},
        {"plan_id": "p", "shards": 3, "scheme": "id-range-v1", "boundaries": [1]},
        {"plan_id": "p", "shards": True, "scheme": "id-range-v1", "boundaries": []},
        {"plan_id": "p", "shards": 2, "scheme": "other", "boundaries": [1]},
        {"plan_id": "p", "shards": 2, "scheme": "id-range-v1", "boundaries": [{"$id": "x"}]},
    ):
        with pytest.raises(JournalError):
            ShardPlan.from_json(corrupt, "j")
    status = ShardStatus(1, 2, "[−∞, 3)", "rotating", last_id=b"\x01", heartbeat_age=1.26)
    assert status.to_json()["last_id"] == "\\x01"
    assert status.to_json()["heartbeat_age_seconds"] == 1.3


def test_whole_value_swaps_and_mixed_values() -> None:
    _, _, old, new = managers()
    a, b = old.encrypt_bytes(b"a"), old.encrypt_bytes(b"b")
    whole_text, _ = split_value(1, a.decode())
    whole_bytes, _ = split_value(2, a)
    (spaced,), _ = split_value(3, a.decode() + "\n")
    assert spaced.span == (0, len(a))  # trailing whitespace: found by find_tokens, kept
    doc = '{"x": "' + a.decode() + '", "y": "' + b.decode() + '"}'
    several, _ = split_value(4, doc)
    new_tok = new.encrypt_bytes(b"a")
    changes = [Change(c, new_tok) for c in [*whole_text, *whole_bytes, spaced, *several]]
    out = {row_id: value for value, row_id, _old in grouped(changes)}
    assert out[1] == new_tok.decode() and out[2] == new_tok
    assert out[3] == new_tok.decode() + "\n"
    assert out[4].count(new_tok.decode()) == 2 and out[4].startswith('{"x": "')
    # One value with a whole-value cell and another cell (not from split_value): rebuilt.
    odd: list[Any] = [Cell(5, a, a, (0, len(a))), Cell(5, a, a, (0, len(a)))]
    assert grouped([Change(c, new_tok) for c in odd])[0][0] == new_tok
    assert new_raw()
