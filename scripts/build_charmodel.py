"""Build ``importobot/keys/charmodel.bin``: a letter-trigram model of words in many languages.

Run offline, never at install or scan time::

    uv run --no-project --with wordfreq==3.1.1 python scripts/build_charmodel.py

Source: the word-frequency lists shipped in the ``wordfreq`` 3.1.1 package from PyPI
(code Apache-2.0; its data CC BY-SA 4.0, by Robyn Speer and contributors, built from
Wikipedia, subtitles, news, books, web text and more). The output holds only aggregate,
quantised trigram costs (no word), credited in ``importobot/keys/charmodel.py`` and in
``pyproject.toml``. Plus the project's own ``importobot/keys/words.txt`` (configuration words).

Each language counts equally: the most frequent ``TOP`` words of each, folded to the 26
ASCII letters (diacritics dropped, ``ß`` → ``ss``; Cyrillic and Greek transliterated), each
word type weighted by one, so that frequent short function words do not dominate. A word
is padded as ``^^word$``; the cost of a letter after two others is
``-log2 P(c | a, b)`` with P interpolated from trigram, bigram and unigram estimates, and
stored as one byte in sixteenths of a bit (capped at 255) at index ``(a * 27 + b) * 27 + c``
(0 is the boundary, 1–26 the letters): 27³ = 19,683 bytes, read as they are at run time.
"""

from __future__ import annotations

import gzip
import importlib.util
import math
import unicodedata
from collections import Counter
from pathlib import Path

import msgpack  # type: ignore[import-not-found]

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "importobot" / "keys" / "charmodel.bin"
WORDS = ROOT / "importobot" / "keys" / "words.txt"

#: Latin-script languages, then those transliterated to Latin letters.
LATIN = "en de fr es pt it nl pl tr id ms sv nb da fi cs sk sl hu ro ca lt lv vi fil sh is".split()
TRANSLIT = ["ru", "uk", "bg", "mk", "el"]
TOP = 25_000
SCALE = 16  # sixteenths of a bit
WEIGHTS = (0.80, 0.17, 0.03)  # trigram, bigram, unigram

_SPECIAL = {"ß": "ss", "ł": "l", "ı": "i", "ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "þ": "th"}
_CYRILLIC = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґўјљњћџѓќѕ",
        "a b v g d e yo zh z i y k l m n o p r s t u f kh ts ch sh shch _ y _ e yu ya i yi ye g "
        "u j lj nj c dz g k dz".split(),
        strict=True,
    )
)
_GREEK = dict(
    zip(
        "αβγδεζηθικλμνξοπρσςτυφχψω",
        "a v g d e z i th i k l m n x o p r s s t y f ch ps o".split(),
        strict=True,
    )
)


def fold(word: str) -> str | None:
    """``word`` in the 26 ASCII letters, or ``None`` when it holds anything else."""
    out = []
    for ch in word.lower():
        ch = _SPECIAL.get(ch) or _CYRILLIC.get(ch) or _GREEK.get(ch) or ch
        ch = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        ch = ch.replace("_", "")
        if not ch.isascii() or not ch.isalpha():
            return None
        out.append(ch)
    folded = "".join(out)
    return folded if len(folded) >= 2 else None


def top_words(lang: str) -> list[str]:
    spec = importlib.util.find_spec("wordfreq")  # located, not imported (its deps are heavy)
    if spec is None or spec.origin is None:
        raise SystemExit("wordfreq is not installed: uv run --with wordfreq==3.1.1 ...")
    data = Path(spec.origin).parent / "data" / f"small_{lang}.msgpack.gz"
    buckets = msgpack.unpackb(gzip.decompress(data.read_bytes()), raw=False)[1:]
    seen: dict[str, None] = {}
    for bucket in buckets:
        for word in bucket:
            folded = fold(word)
            if folded is not None:
                seen.setdefault(folded)
        if len(seen) >= TOP:
            break
    return list(seen)[:TOP]


def main() -> None:
    tri: Counter[tuple[int, int, int]] = Counter()
    languages = {lang: top_words(lang) for lang in LATIN + TRANSLIT}
    own = [
        w
        for line in WORDS.read_text().splitlines()
        if not line.startswith("#")
        for w in line.split()
    ]
    languages["importobot-words"] = own
    for lang, words in languages.items():
        weight = 1.0 / len(words)
        local: Counter[tuple[int, int, int]] = Counter()
        for w in words:
            codes = [0, 0] + [ord(c) - 96 for c in w] + [0]
            for i in range(2, len(codes)):
                local[codes[i - 2], codes[i - 1], codes[i]] += 1
        for k, v in local.items():
            tri[k] += v * weight
        print(f"{lang}: {len(words)} words")
    bi: Counter[tuple[int, int]] = Counter()
    uni: Counter[int] = Counter()
    ctx2: Counter[tuple[int, int]] = Counter()
    ctx1: Counter[int] = Counter()
    for (a, b, c), v in tri.items():
        bi[b, c] += v
        uni[c] += v
        ctx2[a, b] += v
        ctx1[b] += v
    total = sum(uni.values())
    out = bytearray(27**3)
    for a in range(27):
        for b in range(27):
            for c in range(27):
                p3 = tri[a, b, c] / ctx2[a, b] if ctx2[a, b] else 0.0
                p2 = bi[b, c] / ctx1[b] if ctx1[b] else 0.0
                p1 = (uni[c] + 1) / (total + 27)
                p = WEIGHTS[0] * p3 + WEIGHTS[1] * p2 + WEIGHTS[2] * p1
                out[(a * 27 + b) * 27 + c] = min(255, round(-math.log2(p) * SCALE))
    OUT.write_bytes(bytes(out))
    print(f"wrote {OUT.relative_to(ROOT)} ({len(out)} bytes)")


if __name__ == "__main__":
    main()
