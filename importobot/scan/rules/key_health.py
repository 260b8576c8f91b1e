"""Key health inside ``importobot check`` (D16 opt-in): IOB2xx, IOB204, IOB301–IOB304.

- IOB201–IOB203: the set-up key (:mod:`importobot.scan.rules.key_setup`).
- IOB301/IOB302/IOB304: its age by the registry (:mod:`importobot.scan.rules.key_age`).
- IOB204: the set-up key, or any registered key that is not retired, was found
  committed. Matched by the fingerprints of the candidates the scanner reported, so
  the key is never compared or printed as text.
- IOB303: committed Fernet ciphertext older than the maximum age. A token's time is in
  clear, so no key is needed.
"""

from __future__ import annotations

from importobot._version import DOCS_URL
from importobot.keys.age import format_duration
from importobot.keys.tokens import find_tokens, token_timestamp
from importobot.scan.finding import Finding, rule_info

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from datetime import datetime
    from pathlib import Path

    from importobot.keys.age import AgePolicy
    from importobot.keys.registry import Registry

__all__ = ["compromised_findings", "stale_token_findings", "watched_fingerprints"]

_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_NAME_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")


def watched_fingerprints(
    active: str | None, active_source: str | None, registry: Registry | None
) -> dict[str, str]:
    """Fingerprint → what it is, for every key whose appearance in the repo is IOB204."""
    watched: dict[str, str] = {}
    if registry is not None:
        for fp, record in registry.records.items():
            if record.retired is None:
                watched[fp] = f"registered key {fp}"
    if active is not None:
        watched[active] = f"the set-up key ({active_source or 'configured'})"
    return watched


def compromised_findings(findings: Iterable[Finding], watched: Mapping[str, str]) -> list[Finding]:
    """IOB204 at every reported candidate whose fingerprint is a watched key.

    Suppressed candidates count too: a baseline or pragma never hides IOB204 (D13).
    """
    out: list[Finding] = []
    seen: set[tuple[str | None, int | None, str | None, str | None]] = set()
    for f in findings:
        if f.fingerprint is None or f.fingerprint not in watched or f.rule == "IOB204":
            continue
        where = (f.path, f.line, f.commit, f.fingerprint)
        if where in seen:
            continue
        seen.add(where)
        what = watched[f.fingerprint]
        place = f" in commit {f.commit[:12]}" if f.commit else ""
        out.append(
            Finding(
                rule="IOB204",
                severity=rule_info("IOB204").severity,
                path=f.path,
                line=f.line,
                column=f.column,
                variable=f.variable,
                key_type=f.key_type,
                key_bytes=f.key_bytes,
                fingerprint=f.fingerprint,
                message=(
                    f"{what} is committed here{place}: treat it as compromised and "
                    f"rotate it now ({DOCS_URL}/Key-Rotation.md)"
                ),
                commit=f.commit,
            )
        )
    return out


def name_before(text: str) -> str | None:
    """The name a value is assigned to, from ``text``, the line before the value.

    ``NAME=``, ``NAME: "``, ``"name": "``, ``name = '``: the answer of searching
    ``([A-Za-z_][A-Za-z0-9_.-]*)["']?\\s*[:=]\\s*["']?$``, found by reading back from the
    end, so the work is linear in what is read (the regex backtracked quadratically
    on a long run of name characters before the value).
    """
    i = len(text)
    if i and text[i - 1] in "\"'":
        i -= 1
    while i and text[i - 1].isspace():
        i -= 1
    if not i or text[i - 1] not in ":=":
        return None
    i -= 1
    while i and text[i - 1].isspace():
        i -= 1
    if i and text[i - 1] in "\"'":
        i -= 1
    end = i
    while i and text[i - 1] in _NAME_CHARS:
        i -= 1
    for j in range(i, end):
        if text[j] in _NAME_FIRST:
            return text[j:end]
    return None


class _Locator:
    """Line, column and the text before a value, for values given in file order.

    Each call reads only the bytes since the previous value, so locating every token
    of a file is linear in its size (counting from the start each time was not).
    """

    __slots__ = ("_chars", "_data", "_end", "_last", "_line")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._line = 1
        self._last = 0  # start of the previous value (or 0)
        self._end = 0  # end of the previous value (or 0)
        self._chars = 0  # code points from the start of ``_last``'s line to ``_last``

    def locate(self, start: int, end: int) -> tuple[int, int, str]:
        """(line, 1-based column in code points, the text before it on its line, from
        the previous value's end at most) of the ASCII value ``data[start:end]``."""
        data = self._data
        newlines = data.count(b"\n", self._last, start)
        if newlines:
            self._line += newlines
            since = data.rfind(b"\n", self._last, start) + 1
            self._chars = 0
            text_from = since
        else:
            since = self._last
            text_from = max(self._end, since)
        # Offsets fall on ASCII bytes: decoding piecewise counts code points as a whole
        # decode would.
        self._chars += len(data[since:start].decode("utf-8", "replace"))
        before = data[text_from:start].decode("utf-8", "replace")
        self._last, self._end = start, end
        return self._line, self._chars + 1, before


def stale_token_findings(
    files: Iterable[tuple[Path, str]],
    policy: AgePolicy,
    now: datetime,
    *,
    max_size: int,
) -> list[Finding]:
    """IOB303 for each committed Fernet token made before ``now - policy.max_age``."""
    from datetime import datetime, timezone

    from importobot.fsio import FileRefused, read_content
    from importobot.scan.recognizer import shown_name

    cutoff = (now - policy.max_age).timestamp()
    out: list[Finding] = []
    for path, shown in files:
        try:
            # Repository content: never through a link, never a FIFO or device (D9/issue 17).
            data = read_content(str(path), max_size)
        except FileRefused:
            continue
        where = _Locator(data)
        for start, end in find_tokens(data):
            line, column, before = where.locate(start, end)
            stamp = token_timestamp(data[start:end])
            if stamp is None or stamp >= cutoff:
                continue
            name = shown_name(name_before(before))

            made = datetime.fromtimestamp(stamp, tz=timezone.utc)
            out.append(
                Finding(
                    rule="IOB303",
                    severity=rule_info("IOB303").severity,
                    path=shown,
                    line=line,
                    column=column,
                    variable=name,
                    key_type=None,
                    key_bytes=None,
                    fingerprint=None,
                    message=(
                        f"Fernet ciphertext made {made:%Y-%m-%d} is {format_duration(now - made)} "
                        f"old, over the {format_duration(policy.max_age)} maximum: re-encrypt it "
                        f"with `importobot rotate files` ({DOCS_URL}/Key-Rotation.md)"
                    ),
                )
            )
    return out
