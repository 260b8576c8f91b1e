"""Wrapped keys (D24): the ``iobwk1:`` text a repository may commit. Standard library only.

A wrapped key is the 32-byte data key (DEK) encrypted under a key-encrypting key (KEK)
that never leaves an HSM or a key service. Its text is one line with no whitespace, no
comma and nothing a shell or a comma-separated previous-key list would split::

    iobwk1:<KEK URI, percent-encoded>:<KEK version>:<DEK fingerprint, 16 hex>:<mechanism>:<payload>

- the **URI** is the KEK's (``pkcs11:token=…;object=kek``, ``vault://host:8200/transit/
  keys/kek``, ``awskms:alias/kek``) with ``%``, ``:``, ``,`` and every character outside
  ``A-Za-z0-9-._~/;=?&@`` percent-encoded (:func:`quote_uri`);
- the **version** is the KEK version that wrapped it (``[0-9A-Za-z._-]``, at most 64);
- the **fingerprint** is the DEK's D2 fingerprint without its ``iobfp1:`` prefix;
- the **mechanism** names how the payload was made (``aes-gcm``, ``transit``, ``kms``);
- the **payload** is the backend's ciphertext, base64url without padding.

Everything before the payload is the **header**; backends authenticate it as associated
data (AES-GCM AAD, transit ``associated_data``, KMS ``EncryptionContext``), so an edited
version, fingerprint, URI or mechanism fails to unwrap. :func:`parse_wrapped` accepts
only text that parses fully (the scanner's D9 filter relies on that).
"""

from __future__ import annotations

from importobot._lazyre import lazy_compile
from importobot._record import Record

__all__ = [
    "MAX_WRAPPED_CHARS",
    "WRAPPED_PREFIX",
    "WrappedKey",
    "header_for",
    "is_wrapped_key",
    "parse_wrapped",
    "quote_uri",
    "unquote_uri",
]

WRAPPED_PREFIX = "iobwk1:"
#: Longest wrapped text accepted (a KMS blob is ~200 bytes; transit adds ~30).
MAX_WRAPPED_CHARS = 8192

_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/;=?&@")
_HEX = "0123456789ABCDEF"

_WRAPPED_RE = lazy_compile(
    r"iobwk1:"
    r"(?P<uri>(?:[A-Za-z0-9\-._~/;=?&@]|%[0-9A-Fa-f]{2}){3,2048}):"
    r"(?P<version>[0-9A-Za-z._-]{1,64}):"
    r"(?P<fp>[0-9a-f]{16}):"
    r"(?P<mech>[a-z0-9][a-z0-9-]{0,31}):"
    r"(?P<payload>[A-Za-z0-9_-]{16,8000})"
)
_SCHEME_RE = lazy_compile(r"[a-z][a-z0-9+.-]{0,31}")


def quote_uri(uri: str) -> str:
    """``uri`` with ``%``, ``:``, ``,``, whitespace and other specials percent-encoded."""
    out: list[str] = []
    for byte in uri.encode("utf-8"):
        ch = chr(byte)
        if ch in _SAFE:
            out.append(ch)
        else:
            out.append("%" + _HEX[byte >> 4] + _HEX[byte & 15])
    return "".join(out)


def unquote_uri(text: str) -> str | None:
    """The URI :func:`quote_uri` encoded, or ``None`` when ``text`` is not such an encoding."""
    raw = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "%":
            pair = text[i + 1 : i + 3]
            if len(pair) != 2 or any(c not in "0123456789abcdefABCDEF" for c in pair):
                return None
            raw.append(int(pair, 16))
            i += 3
            continue
        if ch not in _SAFE:
            return None
        raw.append(ord(ch))
        i += 1
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _b64decode(text: str) -> bytes | None:
    import base64
    import binascii

    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def _b64encode(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


class WrappedKey(Record):
    """One wrapped data key: the clear header fields and the backend's ciphertext.

    ``repr`` shows the header only (the payload is ciphertext, but long and useless).
    """

    #: The KEK's URI (decoded).
    uri: str
    #: The KEK version that wrapped the DEK.
    version: str
    #: The DEK's ``iobfp1:`` fingerprint (D2).
    fingerprint: str
    #: How the payload was made: ``aes-gcm`` (PKCS#11), ``transit``, ``kms``.
    mechanism: str
    #: The backend's ciphertext.
    payload: bytes

    @property
    def scheme(self) -> str:
        """The URI scheme: ``pkcs11``, ``vault``, ``vault+http``, ``awskms``."""
        return self.uri.split(":", 1)[0].lower()

    @property
    def header(self) -> str:
        """Everything before the payload, ending in ``:``: what backends authenticate."""
        fp = self.fingerprint.split(":", 1)[-1]
        return f"{WRAPPED_PREFIX}{quote_uri(self.uri)}:{self.version}:{fp}:{self.mechanism}:"

    @property
    def aad(self) -> bytes:
        """The header as associated data."""
        return self.header.encode("ascii")

    @property
    def text(self) -> str:
        """The whole wrapped key as one line (safe to commit and to print)."""
        return self.header + _b64encode(self.payload)

    def __repr__(self) -> str:
        return (
            f"WrappedKey(uri={self.uri!r}, version={self.version!r}, "
            f"fingerprint={self.fingerprint!r}, mechanism={self.mechanism!r})"
        )

    __str__ = __repr__


def header_for(uri: str, version: str, fingerprint: str, mechanism: str) -> WrappedKey:
    """A :class:`WrappedKey` with an empty payload: its :attr:`~WrappedKey.aad` is what a
    backend authenticates before it has produced the payload."""
    return WrappedKey(uri, version, fingerprint, mechanism, b"")


def parse_wrapped(text: str) -> WrappedKey | None:
    """The wrapped key ``text`` spells, or ``None`` unless it parses fully.

    Leading and trailing whitespace are ignored; anything else that does not fit (a
    truncated payload, a bad percent-escape, an unknown field) is ``None``.
    """
    value = text.strip()
    if not value.startswith(WRAPPED_PREFIX) or len(value) > MAX_WRAPPED_CHARS:
        return None
    m = _WRAPPED_RE.fullmatch(value)
    if m is None:
        return None
    uri = unquote_uri(m.group("uri"))
    if uri is None or ":" not in uri:
        return None
    if _SCHEME_RE.fullmatch(uri.split(":", 1)[0].lower()) is None:
        return None
    payload = _b64decode(m.group("payload"))
    if payload is None or _b64encode(payload) != m.group("payload"):
        return None
    return WrappedKey(uri, m.group("version"), "iobfp1:" + m.group("fp"), m.group("mech"), payload)


def is_wrapped_key(value: str) -> bool:
    """True when ``value`` is a whole, well-formed ``iobwk1:`` wrapped key (D9 filter)."""
    return value[:7] == WRAPPED_PREFIX and parse_wrapped(value) is not None
