"""Decode and judge key material (D1, D4). Pure functions, standard library only.

Both the scanner (which must never raise and never import ``cryptography``) and
key validation in :mod:`importobot.security` build on these. Nothing here raises
on bad input: decoders return ``None`` and judges return a reason code.
"""

from __future__ import annotations

import binascii
import math
import os

from importobot._lazyre import lazy_compile
from importobot._record import Record
from importobot.keys.fingerprint import fingerprint, fingerprint_opaque

__all__ = [
    "KEY_SIZES",
    "PUBLISHED_KEY_FINGERPRINTS",
    "Decoded",
    "char_classes",
    "decode_key_text",
    "find_key_material",
    "strip_value",
    "weakness",
    "word_coverage",
    "is_low_entropy_text",
    "is_readable_placeholder",
    "is_random_opaque",
]

#: Decoded sizes that count as key material (D8).
KEY_SIZES = frozenset({16, 24, 32, 48, 64})

#: Fingerprints (D2) of published example keys: the Fernet specification's test
#: vector and widely copied demo keys. Stored as fingerprints so that this
#: repository never commits the keys themselves.
PUBLISHED_KEY_FINGERPRINTS: frozenset[str] = frozenset(
    {
        "iobfp1:5e437e77d5895228",  # Fernet spec generate.json / verify.json secret
        "iobfp1:ac29cb931bcac155",  # puckel/docker-airflow demo FERNET_KEY
    }
)

_HEX_RE = lazy_compile(r"\A[0-9a-fA-F]+\Z")
_B64_STD_RE = lazy_compile(r"\A[A-Za-z0-9+/]+={0,2}\Z")
_B64_URL_RE = lazy_compile(r"\A[A-Za-z0-9_-]+={0,2}\Z")


class Decoded(Record):
    """A value decoded per D1: its raw bytes and how it was spelled.

    ``key_type`` is ``laravel``, ``hex``, ``fernet`` (url-safe, 44 chars, padded, 32
    bytes) or ``base64``; ``alphabet`` is ``laravel``, ``hex``, ``urlsafe``, ``standard``
    or ``common`` (no ``+/-_`` at all).
    """

    key_bytes: bytes
    key_type: str
    alphabet: str

    def __repr__(self) -> str:
        # Never show the bytes, even by accident in a debugger or a log line.
        return f"Decoded(key_type={self.key_type!r}, size={len(self.key_bytes)})"

    @property
    def fingerprint(self) -> str:
        """D2 fingerprint of the decoded bytes."""
        return fingerprint(self.key_bytes)


def strip_value(text: str) -> str:
    """Remove surrounding whitespace and at most one pair of matching quotes."""
    value = text.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1].strip()
    return value


def _b64(text: str) -> tuple[bytes, str] | None:
    body = text.rstrip("=")
    pad = len(text) - len(body)
    if not body or len(body) % 4 == 1:
        return None
    if pad and (len(body) + pad) % 4 != 0:
        return None
    has_std = "+" in body or "/" in body
    has_url = "-" in body or "_" in body
    if has_std and has_url:
        return None
    if has_url:
        if not _B64_URL_RE.match(text):
            return None
        alphabet = "urlsafe"
        std = body.replace("-", "+").replace("_", "/")
    else:
        if not _B64_STD_RE.match(text):
            return None
        alphabet = "standard" if has_std else "common"
        std = body
    padded = std + "=" * (-len(std) % 4)
    try:
        raw = binascii.a2b_base64(padded.encode("ascii"))  # input validated above
    except (binascii.Error, ValueError):
        return None
    # Canonical only: the unused trailing bits must be zero, so that one key
    # has exactly one spelling per alphabet (no aliasing).
    if binascii.b2a_base64(raw, newline=False).decode("ascii").rstrip("=") != std:
        return None
    return raw, alphabet


def decode_key_text(text: str) -> Decoded | None:
    """Decode ``text`` by D1's order: Laravel ``base64:`` → hex → base64 (either alphabet).

    Returns ``None`` when no decoder succeeds. Does not judge size or weakness.
    """
    value = strip_value(text)
    if not value:
        return None
    if value.startswith("base64:"):
        got = _b64(value[len("base64:") :])
        if got is None:
            return None
        return Decoded(got[0], "laravel", "laravel")
    if len(value) % 2 == 0 and _HEX_RE.match(value):
        return Decoded(bytes.fromhex(value), "hex", "hex")
    got = _b64(value)
    if got is None:
        return None
    raw, alphabet = got
    if (
        len(raw) == 32
        and len(value) == 44
        and value.endswith("=")
        and alphabet in ("urlsafe", "common")
    ):
        return Decoded(raw, "fernet", alphabet)
    return Decoded(raw, "base64", alphabet)


def _arith_step(raw: bytes) -> int | None:
    step = (raw[1] - raw[0]) % 256
    for a, b in zip(raw[1:], raw[2:], strict=False):
        if (b - a) % 256 != step:
            return None
    return step


#: Up to this size the periods are compared directly (fast in C, and bounded).
_DIRECT_PERIODS = 512


def _has_period(raw: bytes) -> bool:
    """True when ``raw`` repeats with some period of at most half its length.

    Short values compare each shift; long ones take the shortest period from the
    prefix function (Knuth–Morris–Pratt), so the work stays linear in the length.
    """
    n = len(raw)
    if n <= _DIRECT_PERIODS:
        return any(raw[p:] == raw[:-p] for p in range(1, n // 2 + 1))
    fail = [0] * n
    k = 0
    for i in range(1, n):
        b = raw[i]
        while k and raw[k] != b:
            k = fail[k - 1]
        if raw[k] == b:
            k += 1
        fail[i] = k
    return n - fail[-1] <= n // 2


def weakness(raw: bytes) -> str | None:
    """Why decoded key bytes are weak (D4), or ``None`` when they look random.

    Reason codes: ``published`` (a listed example key), ``few-distinct`` (≤ 8 distinct
    bytes), ``repeated`` (a repeating pattern), ``sequential`` (constant step),
    ``printable`` (only printable ASCII: text spelled as a key). A uniformly random
    32-byte key is refused with probability below 2**-40 (printable: (95/256)**32).
    """
    if fingerprint(raw) in PUBLISHED_KEY_FINGERPRINTS:
        return "published"
    if len(raw) < 2:
        return "few-distinct"
    if len(set(raw)) <= 8:
        return "few-distinct"
    if _has_period(raw):
        return "repeated"
    if _arith_step(raw) is not None:
        return "sequential"
    if all(0x20 <= b <= 0x7E for b in raw):
        return "printable"
    return None


_WORDS: list[tuple[frozenset[str], dict[str, tuple[int, ...]]]] = []


def _words() -> tuple[frozenset[str], dict[str, tuple[int, ...]]]:
    """The word list, and for each first four letters the word lengths, longest first."""
    if _WORDS:
        return _WORDS[0]
    path = os.path.join(os.path.dirname(__file__), "words.txt")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    words: set[str] = set()
    for line in text.splitlines():
        if not line.startswith("#"):
            words.update(w for w in line.split() if len(w) >= 4)
    starts: dict[str, set[int]] = {}
    for w in words:
        starts.setdefault(w[:4], set()).add(len(w))
    by_start = {k: tuple(sorted(v, reverse=True)) for k, v in starts.items()}
    _WORDS.append((frozenset(words), by_start))
    return _WORDS[0]


_LETTER_RUN_RE = lazy_compile(r"[A-Za-z]{4,}")


def word_coverage(text: str) -> float:
    """Fraction of ``text``'s characters covered by dictionary words of ≥ 4 letters.

    Only runs of ≥ 4 letters can hold a word; inside a run the longest word at
    each position wins and matching resumes after it (greedy, no overlap).
    """
    if not text:
        return 0.0
    words, by_start = _words()
    covered = 0
    for run in _LETTER_RUN_RE.findall(text):
        low = run.lower()
        n = len(low)
        i = 0
        while i <= n - 4:
            # Only the lengths of words starting with these four letters can match.
            for size in by_start.get(low[i : i + 4], ()):
                if i + size <= n and low[i : i + size] in words:
                    covered += size
                    i += size
                    break
            else:
                i += 1
    return covered / len(text)


def char_classes(text: str) -> int:
    """How many of upper-case, lower-case, digit, other appear in ``text``."""
    upper = lower = digit = other = False
    for c in text:
        if c.isupper():
            upper = True
        elif c.islower():
            lower = True
        elif c.isdigit():
            digit = True
        else:
            other = True
    return upper + lower + digit + other


def _alnum_classes(text: str) -> int:
    return (
        any(c.isupper() for c in text)
        + any(c.islower() for c in text)
        + any(c.isdigit() for c in text)
    )


#: :func:`importobot.keys.charmodel.text_fraction` at or above which a value that decodes
#: to key bytes is a readable placeholder (``MeinGeheimerSchluessel1234567890``). Random
#: base64 keys stay far below (``docs/filters.md`` gives the measured rates).
PLACEHOLDER_TEXT = 0.7
#: ... at or above which an opaque string is text or code, not random (D4).
OPAQUE_TEXT = 0.65


def is_readable_placeholder(text: str) -> bool:
    """True for a key-length string that reads as words (``your-32-byte-key-goes-here``).

    One alphanumeric class only, or the character model explains at least
    :data:`PLACEHOLDER_TEXT` of it as words, numbers and separators (any language).
    Random base64 keys essentially never match (rates in ``docs/filters.md``).
    """
    from importobot.keys.charmodel import text_fraction

    body = text.rstrip("=")
    if _alnum_classes(body) <= 1:
        return True
    return text_fraction(body) >= PLACEHOLDER_TEXT


#: Shannon entropy of a value's characters, in bits per character, below which a value
#: of :data:`LOW_ENTROPY_MIN_LEN` characters or more is too repetitive to be key material
#: (``lcccccccX2kcccccccY2jccc…``: a crafted test value). Random 16-byte hex (32 characters)
#: never went below 2.79 in 4 × 10⁵ draws, 16-byte base64 (22) below 3.33 in 2 × 10⁵.
LOW_ENTROPY_BITS = 2.5
LOW_ENTROPY_MIN_LEN = 22


def char_entropy(text: str) -> float:
    """Shannon entropy of the character frequencies of ``text``, in bits per character."""
    n = len(text)
    if n == 0:
        return 0.0
    counts: dict[str, int] = {}
    for c in text:
        counts[c] = counts.get(c, 0) + 1
    return -sum(k / n * math.log2(k / n) for k in counts.values())


def is_low_entropy_text(text: str) -> bool:
    """A long value whose characters repeat too much to be a key (D4)."""
    return len(text) >= LOW_ENTROPY_MIN_LEN and char_entropy(text) < LOW_ENTROPY_BITS


def is_random_opaque(text: str) -> bool:
    """D4 for opaque strings: ≥ 3 character classes, ≥ max(8, len/4) distinct characters,
    not a regular expression, and the character model explains less than
    :data:`OPAQUE_TEXT` of it as text or code (identifiers, paths, phrases, cipher lists,
    keyboard walks, digit runs)."""
    from importobot.keys.charmodel import is_regex, text_fraction

    if char_classes(text) < 3:
        return False
    if len(set(text)) < max(8, len(text) // 4):
        return False
    return not is_regex(text) and text_fraction(text) < OPAQUE_TEXT


#: Runs that may spell a key inside longer text: base64 of either alphabet (with a
#: Laravel ``base64:`` prefix and padding), and hex runs inside those.
_RUN_RE = lazy_compile(r"(?:base64:)?[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX_RUN_RE = lazy_compile(r"[0-9a-fA-F]{32,}")
_TOKEN_RE = lazy_compile(r"[A-Za-z0-9]{32,}")
#: Base64 lengths of the key sizes (padded and not), and how many characters glued to
#: either end of a run are tried away.
_B64_KEY_LENGTHS = frozenset({22, 24, 32, 43, 44, 64, 86, 88})
_GLUED = 2
_GLUED_MAX = 160
_GLUED_TRIES = 48


def _glued(run: str) -> list[str]:
    """Key-length pieces of a short base64 run that hold a key glued to other text:
    up to two characters at either end (``k<key>``), or words joined by ``_``/``-``
    (``<key>_SECRET``). At most ``_GLUED_TRIES`` pieces."""
    n = len(run)
    starts = set(range(_GLUED + 1))
    ends = {n - t for t in range(_GLUED + 1)}
    for i, c in enumerate(run):
        if c in "_-":
            starts.add(i + 1)
            ends.add(i)
    pieces = [
        run[a : a + size]
        for a in sorted(starts)
        for size in sorted(_B64_KEY_LENGTHS)
        if a + size in ends and (a, a + size) != (0, n)
    ]
    return pieces[:_GLUED_TRIES]


def _key_shaped(text: str, *, opaque: bool, name: bool = False) -> str | None:
    """The fingerprint of ``text`` when it is key-shaped by itself (D8), else ``None``.

    The scanner's rule for one value: decodes (D1) to a key size, or hex / Laravel of
    16 bytes or more, not weak (D4) nor readable; or (``opaque``) an opaque random
    string of 32 or more characters. ``name``: ``text`` is (part of) an identifier,
    which is base64 text too: base64 counts only with upper case, lower case and digits
    and few words (``S3_BUCKET_KMS_KEY_ARN`` decodes to random-looking bytes).
    """
    if (
        len(text) < 16
        or any(c.isspace() for c in text)
        or is_readable_placeholder(text)
        or is_low_entropy_text(text)
    ):
        return None
    decoded = decode_key_text(text)
    if (
        name
        and decoded is not None
        and decoded.key_type != "hex"
        and (_alnum_classes(text) < 3 or word_coverage(text) > 0.4)
    ):
        return None
    if decoded is not None:
        size = len(decoded.key_bytes)
        reason = weakness(decoded.key_bytes)
        if size in KEY_SIZES or (decoded.key_type in ("hex", "laravel") and size >= 16):
            return decoded.fingerprint if reason in (None, "published") else None
        if decoded.key_type == "hex" or reason is not None:
            return None
    elif _HEX_RE.match(text):
        return None
    if opaque and len(text) >= 32 and is_random_opaque(text):
        return fingerprint_opaque(text)
    return None


def find_key_material(text: str, *, name: bool = False) -> str | None:
    """The fingerprint of key material written anywhere in ``text``, or ``None``.

    For text that should hold none: a name, a date, a field of a registry. Looks at
    the whole text, the text with its whitespace removed (a key split over lines),
    each run of base64 characters in it (and, in a short run, key-length pieces with
    up to two characters or ``_``-joined words around them: ``k<key>``,
    ``<key>_SECRET``), and each hex run inside those (``k`` + 64 hex is a hex key
    behind a letter: one alignment or the other). A decodable key
    is preferred to an opaque random string (whose fingerprint is of the text).
    ``name``: ``text`` is an identifier, where ``_ . -`` separate words: an opaque
    random string counts only as one unseparated token (``spring.datasource.x`` or
    ``KMS_KEY_ARN_PROD`` are not random strings). Linear in the text.
    """
    joined = "".join(text.split())
    shapes = [text.strip()]
    if joined != shapes[0]:
        shapes.append(joined)
    for run in _RUN_RE.findall(joined):
        if run != joined:
            shapes.append(run)
        if len(run) <= _GLUED_MAX:
            shapes += _glued(run)
        for hex_run in _HEX_RUN_RE.findall(run):
            if len(hex_run) % 2:
                shapes += [hex_run[:-1], hex_run[1:]]
            elif hex_run != run:
                shapes.append(hex_run)
    if name:
        shapes += _TOKEN_RE.findall(joined)
    for opaque in (False, True):
        for shape in shapes:
            if opaque and name and not (shape.isascii() and shape.isalnum()):
                continue
            found = _key_shaped(shape, opaque=opaque, name=name)
            if found is not None:
                return found
    return None
