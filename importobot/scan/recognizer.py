"""Key recognizer (D8): a value is key material when it is key-shaped *and* in key context.

*Key-shaped*: it decodes (D1: Laravel ``base64:``, hex, base64 of either alphabet,
padding optional) to 16, 24, 32, 48 or 64 bytes that are not weak (D4), or it is hex
of 32 or more characters, or an opaque random string of 32 or more characters (D4),
or a Python bytes literal of such bytes, or a PEM ``PRIVATE KEY`` block.

*Key context*: the name says key or secret and not identifier or public; or the file
is a key file; or — in an env-style file — the value is 32 bytes and the name does
not say hash or ID.

Published example keys are key material and are reported with a note. Nothing here
raises, logs or returns a key value: a :class:`Match` carries a fingerprint and sizes.
"""

from __future__ import annotations

import re

from importobot._lazyre import lazy_compile
from importobot._record import Record
from importobot.keys.fingerprint import fingerprint, fingerprint_opaque
from importobot.keys.material import (
    KEY_SIZES,
    decode_key_text,
    find_key_material,
    is_low_entropy_text,
    is_random_opaque,
    is_readable_placeholder,
    weakness,
)
from importobot.scan.filters import (
    content_filter,
    context_filter,
    is_credential_name,
    is_hash_or_id_name,
    is_identifier_name,
    is_key_name,
    is_public_key,
)

__all__ = [
    "KEY_SHAPED_NAME",
    "PUBLISHED_NOTE",
    "Match",
    "key_shape",
    "recognize",
    "recognize_key_file",
    "shown_name",
]

PUBLISHED_NOTE = "published example key"
#: What a finding shows instead of a name that is itself key material.
KEY_SHAPED_NAME = "<key-shaped name {fingerprint}>"

_MIN_LEN = 16
_OPAQUE_MIN = 32
_B64_RUN_RE = lazy_compile(r"[A-Za-z0-9+/_=-]{22}")
_HEX_RE = lazy_compile(r"\A[0-9a-fA-F]+\Z")
_ESCAPE_RE = lazy_compile(r"\\x[0-9a-fA-F]{2}")
_EMBED_HEX_RE = lazy_compile(r"(?<![0-9A-Za-z])(?:key_)?([0-9a-fA-F]{32,})(?![0-9A-Za-z])")
_EMBED_B64_RE = lazy_compile(
    r"(?<![A-Za-z0-9+/_-])([A-Za-z0-9+/_-]{22,}={0,2})(?![A-Za-z0-9+/=_-])"
)


class Match(Record):
    """A recognized key: type, size, fingerprint and where in the value it starts."""

    #: ``fernet``, ``base64``, ``hex``, ``laravel``, ``opaque``, ``pem-private-key``, ``key-file``.
    key_type: str
    #: Decoded size in bytes (characters for an opaque string).
    key_bytes: int
    fingerprint: str
    #: ``published example key`` for a listed demo key, else ``None``.
    note: str | None = None
    #: Offset of the key inside the value (non-zero for a key embedded in a URI).
    offset: int = 0
    #: How the value was spelled when that is worth saying (``bytes literal``).
    spelling: str | None = None

    def __repr__(self) -> str:
        return (
            f"Match(key_type={self.key_type!r}, key_bytes={self.key_bytes}, "
            f"fingerprint={self.fingerprint!r})"
        )


def _bytes_literal(value: str) -> bytes | None:
    """Decode a Python-style ``'\\xb5\\xcc…'`` literal to bytes, if it is one."""
    if len(_ESCAPE_RE.findall(value)) < 4:
        return None
    out = bytearray()
    i = 0
    n = len(value)
    simple = {"n": 10, "t": 9, "r": 13, "0": 0, "\\": 92, "'": 39, '"': 34, "a": 7, "b": 8}
    while i < n:
        c = value[i]
        if c == "\\" and i + 1 < n:
            nxt = value[i + 1]
            if nxt == "x" and i + 3 < n + 0 and re.match(r"[0-9a-fA-F]{2}", value[i + 2 : i + 4]):
                out.append(int(value[i + 2 : i + 4], 16))
                i += 4
                continue
            if nxt in simple:
                out.append(simple[nxt])
                i += 2
                continue
        code = ord(c)
        if code > 0xFF:
            return None
        out.append(code)
        i += 1
    return bytes(out)


def _pem_match(value: str) -> Match | None:
    """A private-key block of any family (:mod:`importobot.scan.readers.pem`)."""
    from importobot.scan.readers.pem import BEGIN_RE, block_key

    m = BEGIN_RE.search(value)
    if m is None:
        return None
    found = block_key(value[m.start() :])
    if found is None:
        return None
    raw, family = found
    return Match("pem-private-key", len(raw), fingerprint(raw), None, m.start(), family)


#: Base64 of a private-key block's first line (``-----BEGIN``, ``---- BEGIN``,
#: ``PuTTY-User-Key-File-``): a Kubernetes Secret's ``tls.key``, a Helm value, an env var
#: holding a PEM file in one line.
_B64_BLOCK_PREFIXES = ("LS0tLS1CRUdJTi", "LS0tLSBCRUdJTi", "UHVUVFktVXNlci1LZXktRmlsZS")
#: Base64 of a JSON object (``{``: ``e…``) this long may be a service account's
#: credentials file holding a private key (GCP's ``GOOGLE_CREDENTIALS``); a PEM key is
#: longer than this.
_B64_JSON_MIN = 200
#: What the decoded text must hold to be read as a key block.
_BLOCK_WORDS = ("PRIVATE KEY", "PuTTY-User-Key-File-", "OpenVPN Static key")


def _b64_block(v: str) -> Match | None:
    """A private-key block spelled in base64 (standard or URL-safe), else ``None``."""
    if not (v.startswith(_B64_BLOCK_PREFIXES) or (v[:1] == "e" and len(v) >= _B64_JSON_MIN)):
        return None
    import base64
    import binascii

    try:
        raw = base64.b64decode(
            v.replace("-", "+").replace("_", "/") + "=" * (-len(v) % 4), validate=True
        )
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    if not any(w in text for w in _BLOCK_WORDS):
        return None
    found = _pem_match(text)
    if found is None:
        return None
    return Match(found.key_type, found.key_bytes, found.fingerprint, found.note, 0, "base64")


def key_shape(value: str) -> Match | None:
    """The key a value spells, or ``None`` when it is not key-shaped (or is weak).

    Does not look at names or apply the D9 filters; :func:`recognize` does.
    """
    v = value.strip()
    if len(v) < _MIN_LEN:
        return None
    if "-----BEGIN" in v or "---- BEGIN" in v or "PuTTY-User-Key-File-" in v:
        return _pem_match(v)
    found = _b64_block(v)
    if found is not None:
        return found
    raw_literal = _bytes_literal(v)
    if raw_literal is not None:
        if len(raw_literal) < 16 or weakness(raw_literal) not in (None, "published"):
            return None
        note = PUBLISHED_NOTE if weakness(raw_literal) == "published" else None
        return Match("opaque", len(raw_literal), fingerprint(raw_literal), note, 0, "bytes literal")
    if any(c.isspace() for c in v):
        return _spaced_opaque(v)
    if v[:2] in ("0x", "0X") and len(v) % 2 == 0 and len(v) >= 34 and _HEX_RE.match(v[2:]):
        # ``0x`` hex (an Ethereum private key, a C literal): the digits after the prefix.
        found = key_shape(v[2:])
        if found is None or found.key_type != "hex" or found.key_bytes not in KEY_SIZES:
            return None  # of a key's size only: not a 20-byte address
        return Match(found.key_type, found.key_bytes, found.fingerprint, found.note, 2)
    is_hex = _HEX_RE.match(v) is not None
    if is_readable_placeholder(v) or is_low_entropy_text(v):
        return None
    decoded = decode_key_text(v)
    if decoded is not None:
        size = len(decoded.key_bytes)
        if (
            size in KEY_SIZES
            or (decoded.key_type == "hex" and size >= 16)
            or (decoded.key_type == "laravel" and size >= 16)
        ):
            reason = weakness(decoded.key_bytes)
            if reason is not None and reason != "published":
                return None
            note = PUBLISHED_NOTE if reason == "published" else None
            return Match(decoded.key_type, size, decoded.fingerprint, note)
        if decoded.key_type == "hex":
            return None
        # Decodes, but to no key size: still key-shaped as an opaque random string
        # unless the bytes are text spelled in base64.
        reason = weakness(decoded.key_bytes)
        if reason is not None:
            return None
    elif is_hex:
        return None  # odd-length hex: a digest fragment, not a key
    if len(v) >= 32 and is_random_opaque(v):
        return Match("opaque", len(v), fingerprint_opaque(v))
    return None


#: A random secret drawn from an alphabet holding the space (WordPress's salts: 64 of
#: 94 printable characters, about one blank in 94): 40 to 256 characters, single blanks,
#: at most one per 12 characters (prose has one every five or six), random without them.
_SPACED_MIN = 40
_SPACED_MAX = 256
_SPACED_RATIO = 12
_SPACED_RE = lazy_compile(r"[!-\[\]-~ ]+")
#: Pieces between blanks this long or longer must not read as text (share explained).
_SPACED_PIECE = 4
_SPACED_WORDY = 0.8


def _spaced_opaque(v: str) -> Match | None:
    """An opaque secret holding a few single blanks (a WordPress salt), else ``None``."""
    if not _SPACED_MIN <= len(v) <= _SPACED_MAX or "  " in v:
        return None
    blanks = v.count(" ")
    if blanks * _SPACED_RATIO > len(v) or not _SPACED_RE.fullmatch(v):
        return None  # printable ASCII and blanks only, no escapes (``\x00``)
    if not is_random_opaque(v.replace(" ", "")):
        return None
    from importobot.keys.charmodel import text_fraction

    # Each piece is random too: a readable word or a host name among them makes it a line
    # of text, and so does a public key after a blank (``example.org ssh-ed25519 AAAA…``:
    # a known_hosts or authorized_keys line).
    pieces = v.split(" ")
    if any(len(p) >= _SPACED_PIECE and text_fraction(p) >= _SPACED_WORDY for p in pieces):
        return None
    at = v.find(" ")
    while at >= 0:
        if is_public_key(v[at + 1 :]):
            return None
        at = v.find(" ", at + 1)
    return Match("opaque", len(v), fingerprint_opaque(v))


def _embedded(value: str) -> Match | None:
    """A key inside a longer value (``dotenv://:key_<hex>@host``)."""
    for regex in (_EMBED_HEX_RE, _EMBED_B64_RE):
        for m in regex.finditer(value):
            token = m.group(1)
            if content_filter(token) is not None:
                continue
            found = key_shape(token)
            if found is not None and found.key_type != "opaque":
                return Match(
                    found.key_type,
                    found.key_bytes,
                    found.fingerprint,
                    found.note,
                    m.start(1),
                )
    return None


def _odd_hex(value: str) -> Match | None:
    """Hex of odd length (33 or more digits) under a key name: an opaque secret.

    Hex of odd length decodes to no bytes, yet a secret generator that emits hex
    digits (``openssl rand -hex`` cut by hand, a 65-digit value) leaves one, and the
    digits before the last are judged as key bytes (D4)."""
    if len(value) < 33 or len(value) % 2 == 0 or _HEX_RE.match(value) is None:
        return None
    if weakness(bytes.fromhex(value[:-1])) not in (None, "published"):
        return None
    return Match("opaque", len(value), fingerprint_opaque(value))


def _is_pgp_fingerprint(name: str, value: str) -> bool:
    """A 40-hex OpenPGP fingerprint under ``GPG_KEY``-style names, or spelled upper-case."""
    if len(value) != 40 or _HEX_RE.match(value) is None:
        return False
    upper = name.upper()
    return value.isupper() or any(w in upper for w in ("GPG", "PGP", "GNUPG"))


def recognize(
    name: str | None,
    value: str,
    *,
    env_style: bool = False,
    literal: bool = False,
    keyed: bool = False,
) -> Match | None:
    """Decide whether ``value`` under ``name`` is committed key material (D8, D9).

    ``env_style``: the value sits in an env-style context (IOB101), where a 32-byte
    value counts whatever its name unless the name says hash or ID.
    ``literal``: the value was single-quoted, so ``$…`` in it is text, not a reference.
    ``keyed``: the code around the value says key whatever the name (the argument of a
    key constructor such as ``Fernet(b"…")``): judged as under a key name.
    """
    v = value.strip()
    if v.endswith(_LINE_END_ESCAPES) and "\\x" not in v:
        v = _without_line_end_escapes(v)
    if len(v) < _MIN_LEN:
        return None
    if len(v) < _OPAQUE_MIN and "\\" not in v and _B64_RUN_RE.search(v) is None:
        # Every key spelling shorter than an opaque secret holds a run of 22 base64/hex
        # characters (16 bytes), a ``\\x`` escape or a PEM marker (longer than this).
        return None
    reason = content_filter(v)
    if reason == "reference" and literal:
        reason = None
    if reason == "base64-text":
        # Text spelled in base64 is no key, unless the text is a private-key block.
        return _b64_block(v)
    if reason is not None and reason != "path-or-url":
        return None
    key_named = keyed
    if name and not keyed:
        if is_identifier_name(name):
            return None
        key_named = is_key_name(name)
    if reason == "path-or-url":
        # A URI may carry a key (``dotenv://:key_<hex>@host``); a path never is one.
        return _embedded(v) if key_named and "://" in v else None
    if key_named and _is_pgp_fingerprint(name or "", v):
        return None
    found = key_shape(v)
    if found is None and key_named:
        found = _odd_hex(v)
        if found is None:
            return _embedded(v)
    if found is None:
        return None
    if found.key_type == "pem-private-key":
        return found
    if key_named and not keyed and name and is_credential_name(name):
        # A service credential: only an exact key size spelled as a key counts.
        exact = found.key_type != "opaque" and found.key_bytes in KEY_SIZES
        return found if exact else None
    if key_named:
        return found
    if not env_style or found.key_bytes != 32 or found.key_type == "opaque":
        return None
    if v[:2] in ("0x", "0X"):
        return None  # ``0x`` + 64 hex under a neutral name: as often a Keccak hash (a role id)
    if name and is_hash_or_id_name(name):
        return None
    if context_filter(v) is not None:
        return None
    return found


#: Escaped line ends a program writes after a value (``"SECRET_KEY=…\\n"``, an HTTP
#: header's ``\\r\\n``): not the value's. A bytes literal spelled in ``\\x`` escapes
#: keeps them (``\\n`` is then a byte of the key).
_LINE_END_ESCAPES = ("\\n", "\\r", "\\t")


def _without_line_end_escapes(v: str) -> str:
    while v.endswith(_LINE_END_ESCAPES) and not v.endswith("\\\\" + v[-1]):
        v = v[:-2]
    return v


def recognize_key_file(text: str) -> Match | None:
    """A key file's content (one key-shaped token and nothing else) as a ``key-file`` match."""
    token = text.strip()
    if not token or any(c.isspace() for c in token) or content_filter(token) is not None:
        return None
    found = key_shape(token)
    if found is None or found.key_type == "opaque":
        return None
    return Match("key-file", found.key_bytes, found.fingerprint, found.note)


def shown_name(name: str | None) -> str | None:
    """``name`` as a finding may show it: a name that is key material itself (a value
    in the name position, ``k<64 hex>=…``) is shown as ``<key-shaped name iobfp1:…>``.

    Key material is a key :func:`key_shape` decodes (or a bytes literal, a PEM block),
    or anything :func:`importobot.keys.material.find_key_material` finds in the name
    (a key behind a letter, a key split by whitespace, a random token of 32 or more
    letters and digits). Never returns the key.
    """
    if not name:
        return name
    found = key_shape(name)
    if found is not None and (found.key_type != "opaque" or found.spelling):
        fp: str | None = found.fingerprint  # decoded, a bytes literal or a PEM block
    else:
        fp = find_key_material(name, name=True)
    return KEY_SHAPED_NAME.format(fingerprint=fp) if fp is not None else name
