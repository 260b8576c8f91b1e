"""Keys written as arrays of byte literals, the way C, Java, C#, Go, Rust, Python and
JavaScript programs embed them:

* C/C++ ``static const uint8_t aes_key[32] = { 0x2b, 0x7e, … };`` (over lines too);
* Java/C# ``byte[] KEY = new byte[] { (byte) 0x9c, -12, … };``;
* Go ``key := []byte{0x2b, …}``; Rust ``let key: [u8; 32] = [0x2b, …];``;
* Python ``SECRET_KEY = bytes([0x2b, 0x7e, …])`` / ``bytearray(…)``;
* JavaScript ``const key = new Uint8Array([0x2b, …])`` / ``Buffer.from([…])``.

An array is read when it holds 16 to 64 items, each a byte (``0x00``–``0xff``, ``0``–``255``,
or Java's signed ``-128``–``-1``, with an optional cast or ``u8`` suffix; decimal items
only in the C family, Java, C#, Go and Rust, see :func:`may_hold_byte_array`), and the code in
front of its opening bracket assigns it to a name. Whether the name is a key's and the
bytes a key (its size, D4's weakness) is the caller's to judge. The search is one regular
expression pass whose work per opening bracket is bounded by the item limit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from importobot._lazyre import lazy_compile

__all__ = ["MAX_ITEMS", "MIN_ITEMS", "may_hold_byte_array", "read_byte_arrays"]

MIN_ITEMS = 16
MAX_ITEMS = 64
_CAST = rb"(?:\(\s*(?:unsigned\s+)?(?:byte|char|uint8_t|u8|sbyte|int8_t|u_char)\s*\)\s*)?"
_ITEM = _CAST + rb"-?(?:0[xX][0-9a-fA-F]{1,2}|\d{1,3})(?:u8|i8)?"
_SEP = rb"\s*,\s*"
#: An opening bracket, MIN_ITEMS..MAX_ITEMS byte items, an optional trailing comma and
#: the closing bracket.
_ARRAY_RE = lazy_compile(
    rb"[\[{(]\s*(?P<items>"
    + _ITEM
    + rb"(?:"
    + _SEP
    + _ITEM
    + rb"){%d,%d})\s*,?\s*[\]})]" % (MIN_ITEMS - 1, MAX_ITEMS - 1)
)
_NUMBER_RE = lazy_compile(rb"(-?)(?:0[xX]([0-9a-fA-F]{1,2})|(\d{1,3}))(?:u8|i8)?(?![\w])")
_CAST_RE = lazy_compile(_CAST)
#: The code in front of the opening bracket: ``name[32] =``, ``name = new byte[]``,
#: ``name := []byte``, ``name: [u8; 32] =``, ``name = bytes(``, ``"name":``.
_HEAD_RE = lazy_compile(
    r"""(?P<q>["']?)(?P<name>[A-Za-z_$][\w$.]*)(?P=q)[ \t]*(?:\[[^\]\r\n]{0,12}\][ \t]*)?
    (?::[ \t]*[^=\r\n]{1,40}?[ \t]*)?(?::=|=(?![=>])|:)\s*
    (?:new\s+[\w.]+\s*(?:\[\s*\d*\s*\])?\s*
      |(?:bytes|bytearray|Buffer\.from|Uint8Array\.from|new\s+Uint8Array|\[\]byte
         |\[\d{1,3}\]byte|vec!|&)\s*\(?\s*
    )?\Z""",
    re.X,
)
#: How far before the opening bracket the head is looked for (characters).
_HEAD_REACH = 200
#: A cheap first test, by language: a hex item (``0x``), or what a decimal array needs
#: where such arrays are the idiom (Java's, C#'s and Go's ``byte``; Rust's ``u8``; C's
#: ``char``/``int8``). Each is one C-level search over the file. Python and JavaScript
#: files are searched for hex items only (``bytes([0x2b, …])``, ``Uint8Array([0x2b, …])``):
#: a decimal array is rare there, and a second search of every such file is not free.
_DECIMAL_HINTS = {
    "byte": (b"byte",),
    "u8": (b"u8",),
    "c": (b"char", b"int8"),
}
_HINT_BY_SUFFIX = {
    **dict.fromkeys((".java", ".cs", ".go", ".kt", ".scala", ".groovy", ".dart"), "byte"),
    ".rs": "u8",
    **dict.fromkeys((".c", ".h", ".cc", ".cpp", ".hpp", ".swift"), "c"),
}


def may_hold_byte_array(data: bytes, suffix: str = "") -> bool:
    """True when ``data`` (a file ending in ``suffix``) holds an array of 16 or more byte
    literals, named or not. A language not listed is searched for hex items only."""
    hints = (b"0x", *_DECIMAL_HINTS.get(_HINT_BY_SUFFIX.get(suffix, ""), ()))
    return any(h in data for h in hints) and _ARRAY_RE.search(data) is not None


def _byte(item: bytes) -> int | None:
    m = _NUMBER_RE.search(item, _CAST_RE.match(item).end())  # type: ignore[union-attr]
    if m is None:
        return None
    sign, hexa, dec = m.groups()
    n = int(hexa, 16) if hexa is not None else int(dec)
    if sign:
        return 256 - n if 0 < n <= 128 else None
    return n if n <= 255 else None


def read_byte_arrays(data: bytes) -> Iterator[tuple[str, bytes, int]]:
    """``(name, key bytes, offset of the first item)`` of each array of byte literals
    assigned to a name in ``data``."""
    for m in _ARRAY_RE.finditer(data):
        items = m.group("items").split(b",")
        raw = bytearray()
        for item in items:
            b = _byte(item.strip())
            if b is None:
                break
            raw.append(b)
        else:
            head = data[max(0, m.start() - _HEAD_REACH) : m.start()]
            text = head.decode("utf-8", errors="replace")
            found = _HEAD_RE.search(text)
            if found is not None:
                yield found.group("name"), bytes(raw), m.start("items")
