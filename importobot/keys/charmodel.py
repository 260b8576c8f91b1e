"""Does a string read as text or code, or as random characters? (D4, ``docs/filters.md``)

A measured model, not a word count: a letter-trigram model of words in 32 languages
(``charmodel.bin``, 19,683 bytes, built offline by ``scripts/build_charmodel.py`` from the
word lists of the ``wordfreq`` 3.1.1 package, whose data is CC BY-SA 4.0 by Robyn Speer and
contributors; the table holds only aggregate, quantised trigram costs, no word).

A value is cut into *segments*: letter words (camelCase and ``HTTPServer`` split, so
``discriminatorKey`` is two words), digit runs and runs of other characters. A segment is
*explained* when it is what text or code is made of:

* a letter word of ≥ 3 letters whose trigram cost is at most :data:`WORD_BITS` bits per
  symbol (end included; a little less for 3–4 letters) — a word of any of the languages,
  or one shaped like them — or a protocol or algorithm name (``ecdhe``, ``gcm``);
* a word of 1–2 letters between one-character separators next to such a word (``a``,
  ``of``), and non-ASCII letters (a key spelling is ASCII);
* a keyboard walk of ≥ 4 keys (``qwerty``, ``asdf``, ``1qaz2wsx``);
* a digit run next to an explained word (``aes128``, ``secret-2024``), or of ≥ 3 digits
  with one or two values or a constant step (``0000``, ``1234567890``);
* a run of other characters between explained segments (``.``, ``::``, ``/``, ``-``, ``_``).

:func:`text_fraction` is the explained share of the characters. Random strings are made
of short, mixed-case, unpronounceable pieces and score low; identifiers, paths, settings
names and phrases in any Latin-script or transliterated language score high. The thresholds
that use it, and the rates they give, are in ``docs/filters.md``.

The table is read lazily, the first time a value is judged (one 20 KB file read, well
under a millisecond); standard library only, linear in the input.
"""

from __future__ import annotations

import os

from importobot._lazyre import lazy_compile
from importobot.exceptions import ImportobotError

__all__ = ["SPAN", "WORD_BITS", "is_regex", "text_fraction", "word_bits"]

#: A letter word is word-like when its trigram cost is at most this many bits per symbol
#: (letters plus the end of the word). Uniformly random letters cost log2(26) ≈ 4.7 bits
#: under a flat model and ≈ 6 under this one; words of the training languages ≈ 2.5–3.5.
WORD_BITS = 4.5
_SCALE = 16.0

_TABLE: list[bytes] = []


def _table() -> bytes:
    if not _TABLE:
        path = os.path.join(os.path.dirname(__file__), "charmodel.bin")
        try:
            with open(path, "rb") as handle:
                data = handle.read(27**3 + 1)
        except OSError as exc:
            msg = f"importobot is damaged: cannot read {path} ({exc.strerror})"
            raise ImportobotError(msg) from None
        if len(data) != 27**3:
            raise ImportobotError(f"importobot is damaged: {path} has {len(data)} bytes")
        _TABLE.append(data)
    return _TABLE[0]


def word_bits(word: str) -> float:
    """Average cost in bits per symbol of a word of ASCII letters (case ignored)."""
    table = _table()
    a = b = 0
    total = 0
    for ch in word.lower():
        c = ord(ch) - 96
        total += table[(a * 27 + b) * 27 + c]
        a, b = b, c
    total += table[(a * 27 + b) * 27]
    return total / _SCALE / (len(word) + 1)


_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")


def _adjacent_pairs() -> frozenset[str]:
    """Two keys next to each other on a QWERTY keyboard, either order: same row, or the
    row below (shifted right by about half a key) straight down or down-left."""
    pairs = set()
    for r, row in enumerate(_ROWS):
        for i, ch in enumerate(row):
            near = [row[i + 1]] if i + 1 < len(row) else []
            if r + 1 < len(_ROWS):
                below = _ROWS[r + 1]
                near += [below[j] for j in (i - 1, i) if 0 <= j < len(below)]
            for other in near:
                pairs.add(ch + other)
                pairs.add(other + ch)
    return frozenset(pairs)


_PAIRS: list[frozenset[str]] = []
#: Three or more adjacent pairs in a row: a walk of four keys or more.
_WALK_RE = lazy_compile(r"1{3,}")


def _walks(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each keyboard walk of ≥ 4 keys (``qwer``, ``1qaz``, any case)
    and each alphabet run of ≥ 4 characters (``abcd``, ``WXYZ``, ``6789``, ``dcba``: a
    character-set listing such as ``abc…zABC…Z0…9``) in ``text``. In a random base64 string
    an alphabet run starts at a given place with probability about (2/64)³ = 3 × 10⁻⁵."""
    if not _PAIRS:
        _PAIRS.append(_adjacent_pairs())
    pairs = _PAIRS[0]
    low = text.lower()
    walk = "".join("1" if low[i : i + 2] in pairs else "0" for i in range(len(low) - 1))
    step = "".join(
        "1" if abs(ord(a) - ord(b)) == 1 and a.isalnum() and b.isalnum() else "0"
        for a, b in zip(text, text[1:], strict=False)
    )
    return [(m.start(), m.end() + 1) for marks in (walk, step) for m in _WALK_RE.finditer(marks)]


# Segment kinds.
_WORD, _DIGITS, _OTHER, _NONASCII = 0, 1, 2, 3
#: One segment: an upper-case run before a capitalised word (``HTTP`` of ``HTTPServer``),
#: a (capitalised) lower-case word, an upper-case word, digits, non-ASCII, anything else.
#: The last class is ASCII other than letters and digits, spelled as ranges: the negated
#: form ``[^A-Za-z0-9\x80-\U0010ffff]`` took 2.7 ms to compile, 10 % of a hook's run.
_SEGMENT_RE = lazy_compile(
    r"([A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+)|([0-9]+)|([^\x00-\x7f]+)|([\x00-/:-@\[-`{-\x7f]+)"
)
_KIND = {1: _WORD, 2: _DIGITS, 3: _NONASCII, 4: _OTHER}


def _segments(text: str) -> list[tuple[int, int, int]]:
    """``(kind, start, end)`` for each letter word, digit run, non-ASCII run and run of
    other characters (camelCase and ``HTTPServer`` split into words)."""
    return [(_KIND[m.lastindex or 4], m.start(), m.end()) for m in _SEGMENT_RE.finditer(text)]


#: Protocol and algorithm names that cipher-suite lists and settings are made of, which no
#: natural language spells (``ECDHE-RSA-AES128-GCM-SHA256``, ``HIGH:!aNULL:!MD5``).
_TECH = frozenset(
    "aes gcm cbc ccm ctr ecb sha rsa dsa dss dhe ecdh ecdhe ecdsa eecdh edh tls ssl psk srp des "
    "anull enull null chacha poly camellia aria idea seed mac hmac aead cfb ofb xts gost kdf "
    "hkdf pbkdf jwt jwk jws jwe env dev api".split()
)


def _word_like(word: str) -> bool:
    """A letter word of ≥ 3 letters that costs at most :data:`WORD_BITS` per symbol (a
    little less for 3–4 letters, where random letters pass more often)."""
    n = len(word)
    if word.lower() in _TECH:
        return True
    limit = WORD_BITS if n >= 5 else WORD_BITS - (0.3 if n == 4 else 0.6)
    return word_bits(word) <= limit


def _low_entropy_digits(run: str) -> bool:
    """``0000``, ``1010``, ``1234567890``, ``9876``: two digits or a constant step of ±1."""
    if len(set(run)) <= 2:
        return True
    steps = {(ord(b) - ord(a)) % 10 for a, b in zip(run, run[1:], strict=False)}
    return steps in ({1}, {9})


#: Only the first this many characters are judged: a random secret's prefix is random and
#: a text's prefix is text, and the work per value stays bounded.
SPAN = 256


def text_fraction(text: str) -> float:
    """Share of ``text``'s characters explained as words, numbers, walks or separators
    (of its first :data:`SPAN` characters)."""
    if not text:
        return 0.0
    text = text[:SPAN]
    segs = _segments(text)
    m = len(segs)
    walked = [False] * len(text)
    for ws, we in _walks(text):
        walked[ws:we] = [True] * (we - ws)
    explained = [False] * m
    # Words of three letters or more (or walks), and non-ASCII text.
    for k, (kind, s, e) in enumerate(segs):
        if kind == _NONASCII:
            explained[k] = True  # a key spelling is ASCII: this is text
        elif kind == _WORD:
            if e - s >= 2 and all(walked[s:e]):
                explained[k] = True
            elif e - s >= 3:
                explained[k] = _word_like(text[s:e])
    long_word = explained[:]

    def single(k: int) -> bool:
        """Segment ``k`` is a one-character separator, or the edge of the text."""
        return k < 0 or k >= m or (segs[k][0] == _OTHER and segs[k][2] - segs[k][1] == 1)

    def word_near(k: int) -> bool:
        """An explained word next to ``k``, or one beyond a one-character separator."""
        for j, between in ((k - 1, -1), (k + 1, -1), (k - 2, k - 1), (k + 2, k + 1)):
            if 0 <= j < m and long_word[j] and (between < 0 or single(between)):
                return True
        return False

    for k, (kind, s, e) in enumerate(segs):
        if kind == _DIGITS:
            # ``aes128``, ``key-2024``, ``1234567890``, ``0000``, a walk ``1qaz2wsx``.
            run = text[s:e]
            explained[k] = (
                word_near(k)
                or (e - s >= 3 and _low_entropy_digits(run))
                or (e - s >= 2 and all(walked[s:e]))
            )
        elif kind == _WORD and not explained[k] and e - s <= 2:
            # ``a``, ``of``, ``is`` between one-character separators, next to a word
            # of three letters or more (never a chain of short words).
            explained[k] = single(k - 1) and single(k + 1) and word_near(k)
    for k, (kind, _s, _e) in enumerate(segs):
        if kind == _OTHER:
            # A separator between explained segments (or one and the edge of the text).
            left = k == 0 or explained[k - 1]
            right = k == m - 1 or explained[k + 1]
            explained[k] = left and right and m > 1
    # Keyboard walks across segments (``1qaz2wsx``) count whatever the segments say.
    covered = 0
    for k, (_kind, s, e) in enumerate(segs):
        covered += e - s if explained[k] else sum(walked[s:e])
    return covered / len(text)


#: Regular-expression constructs no key spelling holds by chance: three characters or
#: more (ranges, groups, counted repeats), and kinds of two-character ones.
_REGEX_LONG = ("a-z", "A-Z", "0-9", "a-f", "A-F", "(?:", "(?=", "(?!", "(?<", "(?P", "(?i")
_REPEAT_RE = lazy_compile(r"\{\d{1,4}(?:,\d{0,4})?\}")
_REGEX_SHORT = (
    lazy_compile(r"\\[dwsbDWSB]"),  # a class escape
    lazy_compile(r"\\[][(){}.*+?^$|/\\-]"),  # an escaped metacharacter
    lazy_compile(r"\.[*+?]"),  # any character, repeated
    lazy_compile(r"\[\^|\|\^|\$\|"),  # a negated class, an anchor in an alternation
)


def is_regex(text: str) -> bool:
    """A regular expression: a long construct (``[A-Z``, ``(?:``, ``{43}``) and one more,
    or three kinds of short ones (``\\d``, ``\\[``, ``.*``, ``[^``, ``^…$``). A random string
    of printable characters matches with a probability of about 10⁻⁵ (``docs/filters.md``)."""
    long_hits = sum(1 for c in _REGEX_LONG if c in text)
    if _REPEAT_RE.search(text) is not None:
        long_hits += 1
    short_hits = sum(1 for r in _REGEX_SHORT if r.search(text) is not None)
    short_hits += text.startswith("^") and text.endswith("$")
    return (long_hits >= 1 and long_hits + short_hits >= 2) or short_hits >= 3
