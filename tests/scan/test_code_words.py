"""The code reader's lazy word finder answers like a plain search (issue 16's speed).

``_Words.any_in`` keeps per word the next occurrence or how far none occurs, and reads
ahead a bounded stretch; these properties pin its answers to the obvious definition
for any text, any words and any non-decreasing questions.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from importobot.scan.readers import code

_ALPHABET = b"aky se\n"


def _brute(low: bytes, words: tuple[bytes, ...], lo: int, hi: int) -> bool:
    return any(low.startswith(word, at) for word in words for at in range(max(lo, 0), max(hi, 0)))


@settings(max_examples=500, deadline=None)
@given(
    text=st.binary(max_size=300).map(lambda b: bytes(_ALPHABET[x % len(_ALPHABET)] for x in b)),
    words=st.lists(st.sampled_from([b"key", b"se", b"a", b"kk", b"yes"]), min_size=1, max_size=4),
    asks=st.lists(st.tuples(st.integers(-20, 320), st.integers(0, 200)), max_size=30),
    lookahead=st.sampled_from([1, 3, 16, 1 << 16]),
)
# A word starting just before the end of a stretch read ahead, asked about next.
@example(text=b"xxxxxxkeyxx", words=[b"key"], asks=[(0, 5), (6, 1)], lookahead=1)
def test_any_in_answers_like_a_plain_search(
    text: bytes,
    words: list[bytes],
    asks: list[tuple[int, int]],
    lookahead: int,
) -> None:
    old = code._LOOKAHEAD
    code._LOOKAHEAD = lookahead
    try:
        finder = code._Words(text, tuple(words))
        floor = 0
        for lo, width in sorted(asks):
            hi = lo + width
            expected = _brute(text, tuple(words), max(lo, floor), hi)
            floor = max(floor, lo)
            assert finder.any_in(lo, hi) is expected, (text, words, lo, hi)
    finally:
        code._LOOKAHEAD = old


def test_a_missing_word_is_not_searched_to_the_end_for_each_line() -> None:
    # 1 MB with "key" only at the end: a question near the start reads a bounded stretch.
    text = b"x" * 1_000_000 + b"key"
    finder = code._Words(text, (b"secret", b"key"))
    assert finder.any_in(0, 10) is False
    assert finder._clear[0] < 200_000 and finder._clear[1] < 200_000
    assert finder.any_in(999_990, 1_000_001) is True


@settings(max_examples=300, deadline=None)
@given(
    text=st.lists(
        st.sampled_from([b'"', b"'", b"`", b">", b"<", b" ", b"A", b"b", b"9", b"=", b"/"]),
        max_size=400,
    ).map(b"".join),
    start=st.integers(0, 50),
    sparse_min=st.sampled_from([0, 8, 1 << 16]),
)
@example(text=b'x"' + b"A" * 40 + b'"y', start=0, sparse_min=0)
@example(text=b'"' + b"A" * 20 + b'"' + b"B" * 20 + b'"', start=0, sparse_min=0)
@example(text=b"x'" + b"Ab9 " * 15 + b"A'\"" + b"B=b " * 12 + b'b"', start=0, sparse_min=0)
def test_value_matches_are_finditers(text: bytes, start: int, sparse_min: int) -> None:
    # The sparse path (matched at quotes only) gives what the regex search gives.
    old = code._SPARSE_MIN, code._SPARSE_SHIFT
    code._SPARSE_MIN, code._SPARSE_SHIFT = sparse_min, 0  # 0: any number of quotes is few
    try:
        end = len(text)
        for regex in (code._VALUE_RE, code._SPACED_VALUE_RE):
            got = [m.span() for m in code._value_matches(text, start, end, regex)]
            want = [m.span() for m in regex.finditer(text, start, end)]
            assert got == want
    finally:
        code._SPARSE_MIN, code._SPARSE_SHIFT = old
