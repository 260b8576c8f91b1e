"""IOB204 by the key itself: every key this process holds, found in any spelling (issue 16, 5).

The scanner's candidates reach IOB204 only when a value is key-shaped *and* in key context.
A committed copy of the set-up key is compromised whatever its name or file, so ``check``
also searches the bytes of every scanned file (work tree, index or the lines each commit
added) for each key it holds — the primary and the previous keys — spelled as:

* the raw bytes;
* hex, lower or upper case;
* base64 of either alphabet, padded or not (so also Laravel's ``base64:`` and Fernet keys),
  with the escapes JSON and YAML strings allow: ``\\/`` and ``\\u002f``/``\\x2f`` for ``/``,
  ``\\u002b``/``\\x2b`` for ``+`` (either case of the hex digits).

The search is literal and runs in this process over bytes already read: an *anchor* — the
longest run of the base64 text without ``+`` or ``/``, which every spelling above holds
verbatim — is found with :meth:`bytes.find`, and each hit is checked outwards, character by
character, against the key's text (a few hundred bytes at most). Hex and raw spellings are
found whole. Nothing is handed to git: ``git grep`` or ``git log -S`` would put the key on
a command line other processes can read. Keys are held as bytes in this object only for
the scan; its ``repr`` shows none, and it refuses to pickle, so it never crosses to a
worker process. A ``legacy:`` previous key (D3) is held only as derived bytes: its written
form is unknown here, so it is found only as those bytes' spellings.
"""

from __future__ import annotations

import base64

from importobot._version import DOCS_URL
from importobot.scan.finding import Finding, rule_info

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["KeyNeedles", "search_files"]

_B64_ALNUM = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
#: Ways a ``+`` or ``/`` of standard base64 may be written (longest first).
_SPELLED: dict[int, tuple[bytes, ...]] = {
    ord("+"): (b"\\u002b", b"\\u002B", b"\\x2b", b"\\x2B", b"+", b"-"),
    ord("/"): (b"\\u002f", b"\\u002F", b"\\x2f", b"\\x2F", b"\\/", b"/", b"_"),
}


def _longest_run(text: bytes) -> tuple[int, int]:
    """(start, end) of the longest run of ``text`` holding no ``+`` or ``/``."""
    best = (0, 0)
    start = 0
    for i in range(len(text) + 1):
        if i == len(text) or text[i] not in _B64_ALNUM:
            if i - start > best[1] - best[0]:
                best = (start, i)
            start = i + 1
    return best


def _forward(data: bytes, pos: int, text: bytes) -> tuple[int, bool] | None:
    """End of ``text`` spelled from ``pos`` on (and whether URL-safe letters were used)."""
    url = False
    for c in text:
        if c in _SPELLED:
            for spelling in _SPELLED[c]:
                if data.startswith(spelling, pos):
                    url = url or spelling in (b"-", b"_")
                    pos += len(spelling)
                    break
            else:
                return None
        elif pos < len(data) and data[pos] == c:
            pos += 1
        else:
            return None
    return pos, url


def _backward(data: bytes, end: int, text: bytes) -> tuple[int, bool] | None:
    """Start of ``text`` spelled so that it ends at ``end``."""
    url = False
    for c in reversed(text):
        if c in _SPELLED:
            for spelling in _SPELLED[c]:
                if data.endswith(spelling, 0, end) and end >= len(spelling):
                    url = url or spelling in (b"-", b"_")
                    end -= len(spelling)
                    break
            else:
                return None
        elif end > 0 and data[end - 1] == c:
            end -= 1
        else:
            return None
    return end, url


class _Needle:
    __slots__ = ("after", "anchor", "before", "fp", "hex", "raw", "size", "what")

    def __init__(self, raw: bytes, what: str) -> None:
        from importobot.keys.fingerprint import fingerprint

        text = base64.b64encode(raw).rstrip(b"=")
        a, b = _longest_run(text)
        self.raw = raw
        self.size = len(raw)
        self.before, self.anchor, self.after = text[:a], text[a:b], text[b:]
        self.hex = (raw.hex().encode(), raw.hex().upper().encode())
        self.fp = fingerprint(raw)
        self.what = what

    def hits(self, data: bytes) -> Iterable[tuple[int, int, str]]:
        """(start, end, key_type) of every spelling of this key in ``data``."""
        for spelled in self.hex:
            at = data.find(spelled)
            while at >= 0:
                yield at, at + len(spelled), "hex"
                at = data.find(spelled, at + len(spelled))
        at = data.find(self.raw)
        while at >= 0:
            yield at, at + len(self.raw), "key-file"
            at = data.find(self.raw, at + len(self.raw))
        anchor = self.anchor
        at = data.find(anchor) if anchor else -1
        while at >= 0:
            back = _backward(data, at, self.before)
            ahead = _forward(data, at + len(anchor), self.after) if back is not None else None
            if back is not None and ahead is not None:
                start, end = back[0], ahead[0]
                kind = "fernet" if back[1] or ahead[1] else "base64"
                if data.endswith(b"base64:", 0, start):
                    kind = "laravel"
                yield start, end, kind
                at = data.find(anchor, end)
            else:
                at = data.find(anchor, at + 1)


class KeyNeedles:
    """The keys one ``check`` holds, to search scanned bytes for (see the module text).

    ``keys`` are ``(raw bytes, what it is)`` pairs, e.g. ``(raw, "the set-up key
    (env:IMPORTOBOT_ENCRYPTION_KEY)")``; the description goes into the message, never the key.
    """

    __slots__ = ("_needles",)

    def __init__(self, keys: Iterable[tuple[bytes, str]]) -> None:
        needles: list[_Needle] = []
        seen: set[bytes] = set()
        for raw, what in keys:
            if len(raw) >= 16 and raw not in seen:
                seen.add(raw)
                needles.append(_Needle(raw, what))
        self._needles = tuple(needles)

    def __bool__(self) -> bool:
        return bool(self._needles)

    def __repr__(self) -> str:
        return f"KeyNeedles({len(self._needles)} keys)"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("keys cannot be pickled")

    def findings(self, shown: str, data: bytes) -> list[Finding]:
        """IOB204 at each place ``data`` (the file ``shown``) holds one of the keys.

        A file with a UTF-16 byte-order mark (PowerShell's ``.env``) is searched as the
        scanner reads it, decoded, where the text spellings are; and as its bytes, where
        the raw key would be."""
        out = self._search(shown, data)
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            from importobot.scan.rules.files import text_bytes

            decoded = text_bytes(data)
            if decoded is not None:
                out.extend(self._search(shown, decoded))
        return out

    def _search(self, shown: str, data: bytes) -> list[Finding]:
        out: list[Finding] = []
        for needle in self._needles:
            for start, end, kind in sorted(needle.hits(data)):
                out.append(_finding(shown, data, start, end, kind, needle))
        return out


def _finding(shown: str, data: bytes, start: int, end: int, kind: str, n: _Needle) -> Finding:
    from importobot.scan.rules.key_health import name_before

    line_start = data.rfind(b"\n", 0, start) + 1
    line = data.count(b"\n", 0, start) + 1
    before = data[line_start:start].decode("utf-8", "replace")
    if kind == "laravel":
        before = before[: -len("base64:")]
    name = name_before(before)
    return Finding(
        rule="IOB204",
        severity=rule_info("IOB204").severity,
        path=shown,
        line=line,
        column=len(before) + 1,
        variable=name,
        key_type=kind,
        key_bytes=n.size,
        fingerprint=n.fp,
        message=(
            f"{n.what} is committed here: treat it as compromised and rotate it now "
            f"({DOCS_URL}/Key-Rotation.md)"
        ),
    )


def search_files(
    keys: KeyNeedles, files: Iterable[tuple[str, str, str | None]], max_size: int
) -> list[Finding]:
    """IOB204 in work-tree ``files`` (``(path, shown, rel)``, as the engine chose them).

    Read again here, in this process (the scan's worker processes never get a key), through
    :func:`importobot.fsio.read_content`: never a link, a FIFO or more than ``max_size``.
    """
    from importobot.fsio import FileRefused, read_content

    out: list[Finding] = []
    for path, shown, _rel in files:
        try:
            data = read_content(path, max_size)
        except FileRefused:
            continue
        out.extend(keys.findings(shown, data))
    return out
