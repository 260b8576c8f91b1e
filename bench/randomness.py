"""How often the randomness judgement (D4) calls truly random values text, by kind.

Usage::

    python bench/randomness.py [--count 100000] [--seed N]

Generates ``--count`` values of each kind at run time (never committed) and prints, per
kind, how many :func:`importobot.scan.recognizer.recognize` misses under the name
``SECRET_KEY`` (the filters of D9 and the judgement of D4 together), how many of those
:func:`importobot.keys.material.is_readable_placeholder` called a placeholder, and the tail
of :func:`importobot.keys.charmodel.text_fraction`. Opaque strings count only when D4's
class and distinct-character floors hold (≥ 3 classes, ≥ max(8, len/4) distinct).
The figures go into ``docs/filters.md``.
"""

from __future__ import annotations

import argparse
import base64
import random
import string
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from importobot.keys.charmodel import text_fraction  # noqa: E402
from importobot.keys.material import (  # noqa: E402
    KEY_SIZES,
    OPAQUE_TEXT,
    PLACEHOLDER_TEXT,
    char_classes,
    decode_key_text,
    is_readable_placeholder,
)
from importobot.scan.recognizer import recognize  # noqa: E402

_DJANGO = string.ascii_lowercase + string.digits + "!@#$%^&*(-_=+)"
_PRINT = string.ascii_letters + string.digits + string.punctuation
_ALNUM = string.ascii_letters + string.digits


def kinds(rng: random.Random) -> dict[str, Callable[[], str]]:
    def raw(n: int) -> bytes:
        return rng.getrandbits(8 * n).to_bytes(n, "big")

    def pick(alphabet: str, n: int) -> Callable[[], str]:
        return lambda: "".join(rng.choice(alphabet) for _ in range(n))

    return {
        "fernet (urlsafe b64, 32 B)": lambda: base64.urlsafe_b64encode(raw(32)).decode(),
        "base64 32 B": lambda: base64.b64encode(raw(32)).decode(),
        "base64url 32 B unpadded": lambda: base64.urlsafe_b64encode(raw(32)).decode().rstrip("="),
        "base64 48 B": lambda: base64.b64encode(raw(48)).decode(),
        "base64 27 B (36 chars)": lambda: base64.b64encode(raw(27)).decode(),
        "alnum 32": pick(_ALNUM, 32),
        "alnum 40": pick(_ALNUM, 40),
        "alnum 64": pick(_ALNUM, 64),
        "django key 50": pick(_DJANGO, 50),
        "printable 32": pick(_PRINT, 32),
        "printable 40": pick(_PRINT, 40),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(f"thresholds: opaque text >= {OPAQUE_TEXT}, placeholder text >= {PLACEHOLDER_TEXT}")
    print(f"{'kind':28} {'n':>8} {'missed':>14} {'placeholder':>12} {'p99.9':>6} {'max':>5}")
    for label, make in kinds(rng).items():
        start = time.perf_counter()
        missed = placeholder = eligible = 0
        fractions = []
        for _ in range(args.count):
            value = make()
            fractions.append(text_fraction(value))
            floors = char_classes(value) >= 3 and len(set(value)) >= max(8, len(value) // 4)
            decoded = decode_key_text(value)
            if floors or (decoded is not None and len(decoded.key_bytes) in KEY_SIZES):
                eligible += 1
                if recognize("SECRET_KEY", value) is None:
                    missed += 1
                    placeholder += is_readable_placeholder(value)
        fractions.sort()
        tail = fractions[int(0.999 * (len(fractions) - 1))]
        rate = f"{missed}/{eligible}"
        per = (time.perf_counter() - start) / args.count * 1e6
        print(
            f"{label:28} {args.count:>8} {rate:>14} {placeholder:>12} {tail:6.2f} "
            f"{fractions[-1]:5.2f}  ({per:.0f} µs/value)"
        )


if __name__ == "__main__":
    main()
