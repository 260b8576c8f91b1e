"""Private-key blocks (D10, issue 16 item 6): every family pre-commit-hooks'
``detect-private-key`` knows, each decoded to the key bytes it carries.

* PEM ``-----BEGIN … PRIVATE KEY-----`` of any label: PKCS#8, RSA, DSA, EC, OpenSSH,
  ED25519, ``ENCRYPTED`` PKCS#8 and legacy encrypted PEM (``Proc-Type: 4,ENCRYPTED``),
  and ``PGP PRIVATE KEY BLOCK`` (headers and the ``=XXXX`` checksum line left out);
* SSH2 (RFC 4716 style, ssh.com) ``---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----``;
* OpenVPN ``-----BEGIN OpenVPN Static key V1-----`` (a hex body);
* PuTTY ``PuTTY-User-Key-File-2:`` / ``-3:`` (the ``Private-Lines`` base64 body).

An encrypted private key is still a private key in the repository: it is reported like
the others. :func:`block_key` reads one block; finding the blocks in a file (and keeping
their lines away from the other readers) is :func:`importobot.scan.rules.files._pem`'s.
Nothing here returns or logs key text: the caller fingerprints the bytes.
"""

from __future__ import annotations

import base64
import binascii

from importobot._lazyre import lazy_compile

__all__ = ["BEGIN_RE", "BOUNDARY_RE", "HINTS", "block_key", "end_of_block"]

#: The first line of a private-key block, one named group per family.
BEGIN_RE = lazy_compile(
    r"-----BEGIN (?P<pem>(?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?)-----"
    r"|---- BEGIN (?P<ssh2>SSH2 (?:ENCRYPTED )?PRIVATE KEY) ----"
    r"|-----BEGIN (?P<ovpn>OpenVPN Static key V1)-----"
    r"|(?<![\w-])(?P<putty>PuTTY-User-Key-File-[0-9]+):"
)
#: Where any armored block starts (a private-key block ends before the next one).
BOUNDARY_RE = lazy_compile(r"-----BEGIN|---- BEGIN|(?<![\w-])PuTTY-User-Key-File-")
#: Substrings without which a text holds no block (tested before any regex).
HINTS: tuple[str, ...] = ("-----BEGIN", "---- BEGIN", "PuTTY-User-Key-File-")
_ENDS = {"pem": "-----END", "ssh2": "---- END", "ovpn": "-----END", "putty": "Private-MAC:"}
#: Around a body line inside a code string or a list (``"MIIE…",``).
_QUOTES = "\"', \t"
_PGP_CRC_RE = lazy_compile(r"=[A-Za-z0-9+/]{4}")
_PRIVATE_LINES_RE = lazy_compile(r"Private-Lines:[ \t]*([0-9]{1,4})[ \t]*\r?$")


def end_of_block(text: str, family: str, start: int, stop: int) -> int:
    """Offset of the end marker of a ``family`` block whose body starts at ``start``,
    searched before ``stop`` (the next block); ``-1`` when there is none."""
    return text.find(_ENDS[family], start, stop)


def block_key(block: str) -> tuple[bytes, str | None] | None:
    """``(key bytes, family note)`` of the private-key block ``block`` starts with, or
    ``None`` when it holds no key body of 16 bytes or more (a marker in code or docs: a
    PEM built at run time, a truncated example). Literal ``\\n`` escapes (a block inside
    a JSON or code string) count as line breaks. Linear in ``len(block)``."""
    m = BEGIN_RE.search(block)
    if m is None:
        return None
    family = m.lastgroup or "pem"
    body = block[m.end() :]
    end = body.find(_ENDS[family])
    if end >= 0:
        body = body[:end]
    lines = [ln.strip() for ln in body.replace("\\n", "\n").splitlines()]
    note: str | None
    if family == "putty":
        raw = _putty_body(lines)
        note = "PuTTY key file"
    elif family == "ovpn":
        hexits = "".join(ln.strip(_QUOTES) for ln in lines if not ln.startswith("#"))
        try:
            raw = bytes.fromhex(hexits)
        except ValueError:
            raw = b""
        note = "OpenVPN static key"
    else:
        label = m.group(family) or ""
        text, encrypted = _armor_body(lines)
        try:
            raw = base64.b64decode(text, validate=True) if text else b""
        except (binascii.Error, ValueError):
            raw = b""
        note = _note(label, encrypted)
    if len(raw) < 16:
        return None
    return raw, note


def _armor_body(lines: list[str]) -> tuple[str, bool]:
    """The base64 body of a PEM/SSH2/PGP block: header lines (``Name: value``, with
    ``\\``-continued lines), blank lines and a PGP ``=XXXX`` checksum left out; and whether
    a header says the key is encrypted (legacy ``Proc-Type: 4,ENCRYPTED``)."""
    parts: list[str] = []
    encrypted = False
    continued = False
    for ln in lines:
        if continued:
            continued = ln.endswith("\\")
            continue
        if not ln:
            continue
        if ":" in ln:
            encrypted = encrypted or ("ENCRYPTED" in ln.upper() and "PROC-TYPE" in ln.upper())
            continued = ln.endswith("\\")
            continue
        ln = ln.strip(_QUOTES)
        if _PGP_CRC_RE.fullmatch(ln) is not None:
            continue
        parts.append(ln)
    return "".join(parts), encrypted


def _putty_body(lines: list[str]) -> bytes:
    """The private part of a PuTTY key file: the ``Private-Lines: N`` lines after it."""
    for at, ln in enumerate(lines):
        m = _PRIVATE_LINES_RE.match(ln)
        if m is None:
            continue
        count = int(m.group(1))
        text = "".join(ln.strip(_QUOTES) for ln in lines[at + 1 : at + 1 + count])
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return b""
    return b""


def _note(label: str, encrypted: bool) -> str | None:
    if label.startswith("SSH2"):
        return "SSH2, encrypted" if "ENCRYPTED" in label else "SSH2"
    if label.startswith("PGP"):
        return "PGP"
    if "ENCRYPTED" in label or encrypted:
        return "encrypted"
    return None
