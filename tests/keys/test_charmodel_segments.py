"""The character model's segmenter: its fast-compiling pattern splits text exactly as the
negated-class form it replaced."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from importobot.keys import charmodel

_NEGATED = re.compile(
    r"([A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+)|([0-9]+)|([^\x00-\x7f]+)"
    r"|([^A-Za-z0-9\x80-\U0010ffff]+)"
)


@given(st.text(max_size=60))
def test_segments_match_the_negated_class_form(text: str) -> None:
    got = [(m.span(), m.lastindex) for m in charmodel._SEGMENT_RE.finditer(text)]
    assert got == [(m.span(), m.lastindex) for m in _NEGATED.finditer(text)]
