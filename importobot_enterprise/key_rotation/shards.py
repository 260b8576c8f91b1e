"""Sharded rotation of one PostgreSQL table across hosts (D27): the plan and its ranges.

The first shard to start fixes a **plan**: N id ranges, cut at N−1 boundaries taken from
the id column's distribution, that together cover −∞…+∞ — shard 1 is ``id < b1``,
shard k is ``b(k−1) ≤ id < bk``, shard N is ``id ≥ b(N−1)`` — so every id, negative,
fractional, text or uuid, inserted before or after the plan, belongs to exactly one
shard, and each shard's pages walk an index range. The plan is stored in the journal
table with N, the scheme and a plan id; a shard started with another N stops (exit 2)
unless ``--replan``, which is refused while any shard of the old plan runs.

Each shard row of the journal holds that shard's run (last id, counts, target key), its
state (``rotating``, ``verifying``, ``verified``, ``unverified``) and a heartbeat (host,
pid; the row's ``updated`` time). Locks are PostgreSQL advisory locks held by the
session: the table lock *shared* by every shard and *exclusive* for an unsharded run (so
the two exclude each other), plus one exclusive lock per shard. Connections use libpq
keepalives and ``tcp_user_timeout``, and ask the server for the same, so the lock of a
host that died is released within about a minute and the shard can be restarted
anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from importobot_enterprise.key_rotation.errors import JournalError, StoreError
from importobot_enterprise.key_rotation.ids import decode_id, encode_id, show_id

__all__ = [
    "PLAN_SCHEME",
    "PlanMismatchError",
    "ShardPlan",
    "ShardStatus",
    "parse_shard",
]

#: How ranges are cut: half-open ranges of the id column's order, boundaries at quantiles.
PLAN_SCHEME = "id-range-v1"
#: The most shards a plan may have.
MAX_SHARDS = 4096


class PlanMismatchError(StoreError):
    """A shard was started with another N than the stored plan's (see ``--replan``)."""


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` → ``(K, N)``, K counting from 1."""
    k_text, sep, n_text = text.partition("/")
    if not sep or not k_text.strip().isdigit() or not n_text.strip().isdigit():
        raise StoreError(f"--shard {text!r}: expected K/N, such as 2/4")
    k, n = int(k_text), int(n_text)
    if not 1 <= n <= MAX_SHARDS or not 1 <= k <= n:
        raise StoreError(f"--shard {k}/{n}: K counts from 1 to N (N at most {MAX_SHARDS})")
    return k, n


@dataclass(frozen=True)
class ShardPlan:
    """N ranges fixed at plan time. ``boundaries`` has N−1 ids, in order (repeats allowed:
    a shard's range may be empty)."""

    plan_id: str
    shards: int
    boundaries: tuple[Any, ...]
    scheme: str = PLAN_SCHEME
    created: str = ""

    def bounds(self, k: int) -> tuple[Any, Any]:
        """``(low, high)`` of shard ``k``: ``low ≤ id < high``; ``None`` is unbounded."""
        if not 1 <= k <= self.shards:
            raise StoreError(f"shard {k} is not in a plan of {self.shards}")
        low = self.boundaries[k - 2] if k > 1 else None
        high = self.boundaries[k - 1] if k < self.shards else None
        return low, high

    def describe(self, k: int) -> str:
        low, high = self.bounds(k)
        left = "−∞" if low is None else repr(show_id(low))
        right = "+∞" if high is None else repr(show_id(high))
        return f"[{left}, {right})"

    def to_json(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "shards": self.shards,
            "scheme": self.scheme,
            "boundaries": [encode_id(b) for b in self.boundaries],
            "created": self.created,
        }

    @classmethod
    def from_json(cls, data: Any, where: str) -> ShardPlan:
        if not isinstance(data, dict):
            raise JournalError(f"{where}: corrupt shard plan (not an object)")
        plan_id, shards, scheme = data.get("plan_id"), data.get("shards"), data.get("scheme")
        raw = data.get("boundaries")
        if (
            not isinstance(plan_id, str)
            or not 0 < len(plan_id) <= 64
            or type(shards) is not int
            or not 1 <= shards <= MAX_SHARDS
            or not isinstance(raw, list)
            or len(raw) != shards - 1
        ):
            raise JournalError(f"{where}: corrupt shard plan")
        if scheme != PLAN_SCHEME:
            raise JournalError(f"{where}: shard plan scheme {scheme!r} is not {PLAN_SCHEME}")
        created = data.get("created")
        return cls(
            plan_id,
            shards,
            tuple(decode_id(b, where) for b in raw),
            scheme,
            created if isinstance(created, str) and len(created) < 64 else "",
        )


@dataclass
class ShardStatus:
    """One shard's progress as ``--status`` shows it."""

    shard: int
    shards: int
    range: str
    state: str
    target_fingerprint: str | None = None
    last_id: Any = None
    rotated: int = 0
    total: int = 0
    host: str | None = None
    pid: int | None = None
    backend_pid: int | None = None
    heartbeat_age: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "shard": self.shard,
            "shards": self.shards,
            "range": self.range,
            "state": self.state,
            "target_fingerprint": self.target_fingerprint,
            "last_id": show_id(self.last_id),
            "rotated": self.rotated,
            "total": self.total,
            "host": self.host,
            "pid": self.pid,
            "holder_backend_pid": self.backend_pid,
            "heartbeat_age_seconds": (
                None if self.heartbeat_age is None else round(self.heartbeat_age, 1)
            ),
        }
