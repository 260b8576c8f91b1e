"""Attestations: what a person states for a manual control, and the commit that proves who.

``.importobot-attestations.toml`` (config ``compliance.attestations``) holds one
``[[attestation]]`` table per statement::

    [[attestation]]
    control = "split-knowledge"       # a manual control of docs/compliance.md
    who = "Dana Reyes, security lead"
    when = 2026-03-02                 # a date or an RFC 3339 timestamp, not in the future
    note = "Key ceremony with two custodians; minutes in the ISMS, ref. KM-12"

The statement alone proves nothing, so the report ties it to git: ``git blame`` names the
commit that last changed the table's lines, and ``git verify-commit`` checks its
signature. A good signature makes the control ``pass``; an unsigned (or unverifiable)
commit, or lines not committed yet, ``warn``; a bad signature ``fail``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from importobot.config import line_of
from importobot.exceptions import ConfigError

__all__ = ["Attestation", "AttestationProof", "load_attestations", "prove"]

_FIELDS = ("control", "who", "when", "note")
_HEADER_RE = re.compile(r"\s*\[\[\s*attestation\s*\]\]")


@dataclass(frozen=True)
class Attestation:
    """One statement: which control, who, when, a note; and where it is in the file."""

    control: str
    who: str
    when: datetime
    note: str | None
    path: str
    line: int
    end_line: int


@dataclass(frozen=True)
class AttestationProof:
    """What git says about an attestation's lines."""

    #: ``committed`` or why not: ``uncommitted``, ``untracked``, ``no-git``.
    state: str
    commit: str | None = None
    author: str | None = None
    committed: str | None = None
    #: ``good``, ``unsigned``, ``unverifiable``, ``bad`` (``None`` when not committed).
    signature: str | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "commit": self.commit,
            "author": self.author,
            "committed": self.committed,
            "signature": self.signature,
            "detail": self.detail,
        }


def load_attestations(
    path: str, shown: str, manual_controls: tuple[str, ...], now: datetime
) -> list[Attestation]:
    """Read and validate the attestation file (repository content: no link followed).

    A missing file is no attestation. Errors (exit 2) name ``shown`` and the line.
    """
    from importobot.config import load_toml_file
    from importobot.keys.age import parse_timestamp

    if not os.path.lexists(path):
        return []
    try:
        document = load_toml_file(path, follow_symlinks=False)
    except ConfigError as exc:
        raise ConfigError(str(exc).replace(path, shown)) from None
    with open(path, encoding="utf-8", errors="replace") as handle:
        lines = handle.read(2 * 1024 * 1024).splitlines()
    starts = [n for n, text in enumerate(lines, 1) if _HEADER_RE.match(text)]
    extra = sorted(set(document) - {"attestation"})
    if extra:
        raise ConfigError(f"{shown}: unknown entry {extra[0]!r} (only [[attestation]] tables)")
    tables = document.get("attestation", [])
    if not isinstance(tables, list):
        raise ConfigError(f"{shown}: `attestation` must be an array of tables ([[attestation]])")
    out: list[Attestation] = []
    for index, table in enumerate(tables):
        start = starts[index] if index < len(starts) else 1
        end = starts[index + 1] - 1 if index + 1 < len(starts) else len(lines)
        if not isinstance(table, dict):
            raise ConfigError(f"{shown}:{start}: each [[attestation]] must be a table")
        for name in table:
            if name not in _FIELDS:
                raise ConfigError(
                    f"{shown}:{line_of(lines, str(name), start, end)}: unknown field "
                    f"{str(name)!r} (allowed: {', '.join(_FIELDS)})"
                )
        control = table.get("control")
        if control not in manual_controls:
            raise ConfigError(
                f"{shown}:{line_of(lines, 'control', start, end)}: `control` must be one of "
                f"the manual controls: {', '.join(manual_controls)}"
            )
        who = table.get("who")
        if not isinstance(who, str) or not who.strip() or len(who) > 500:
            raise ConfigError(
                f"{shown}:{line_of(lines, 'who', start, end)}: `who` must name a person "
                f"(text, at most 500 characters)"
            )
        try:
            when = parse_timestamp(table.get("when"))
        except ValueError as exc:
            where = line_of(lines, "when", start, end)
            raise ConfigError(f"{shown}:{where}: `when`: {exc}") from None
        if when > now:
            raise ConfigError(f"{shown}:{line_of(lines, 'when', start, end)}: `when` is future")
        note = table.get("note")
        if note is not None and (not isinstance(note, str) or len(note) > 4000):
            raise ConfigError(
                f"{shown}:{line_of(lines, 'note', start, end)}: `note` must be text "
                f"(at most 4000 characters)"
            )
        out.append(Attestation(str(control), who.strip(), when, note, shown, start, end))
    return out


def prove(root: str, rel: str | None, attestations: list[Attestation]) -> list[AttestationProof]:
    """The git evidence of each attestation (one ``git blame`` for the file)."""
    from importobot.git import blame_commits, commit_info, verify_commit

    if rel is None:
        return [AttestationProof("no-git") for _ in attestations]
    blamed = blame_commits(root, rel)
    if blamed is None:
        return [AttestationProof("untracked") for _ in attestations]
    cache: dict[str, tuple[str, str]] = {}
    proofs = []
    for a in attestations:
        commits = blamed[a.line - 1 : a.end_line]
        if not commits or any(c is None for c in commits):
            proofs.append(AttestationProof("uncommitted"))
            continue
        infos = [commit_info(root, c) for c in dict.fromkeys(c for c in commits if c)]
        known = [i for i in infos if i is not None]
        if not known:
            proofs.append(AttestationProof("untracked"))
            continue
        newest = max(known, key=lambda i: datetime.fromisoformat(i.committed))
        if newest.commit not in cache:
            cache[newest.commit] = verify_commit(root, newest.commit)
        signature, detail = cache[newest.commit]
        proofs.append(
            AttestationProof(
                "committed",
                commit=newest.commit,
                author=newest.author,
                committed=newest.committed,
                signature=signature,
                detail=detail,
            )
        )
    return proofs
