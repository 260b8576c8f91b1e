"""Detection floors on the real-world corpus (issue 4, item 6), read from /work/shared at test time.

The corpus only measures the detector: no name, value or line from it is in the code.
"""

from __future__ import annotations

import os
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The checkout's sibling ../shared (the workspace layout), or IMPORTOBOT_TEST_CORPUS.
_CANDIDATES = [
    Path(os.environ["IMPORTOBOT_TEST_CORPUS"])
    if os.environ.get("IMPORTOBOT_TEST_CORPUS")
    else None,
    ROOT.parent / "shared" / "corpus" / "realworld",
    Path("/work/shared/corpus/realworld"),
]
CORPUS = next(
    (c for c in _CANDIDATES if c is not None and (c / "labels.jsonl").is_file()),
    ROOT.parent / "shared" / "corpus" / "realworld",
)


@pytest.fixture(scope="module")
def scores() -> dict[str, object]:
    if not (CORPUS / "labels.jsonl").is_file():
        pytest.skip("real-world corpus not available")
    module = runpy.run_path(str(ROOT / "bench" / "detection.py"))
    result: dict[str, object] = module["score"](CORPUS)
    return result


def test_recall_on_32_byte_keys_is_perfect(scores: dict[str, object]) -> None:
    assert scores["recall_32"] == 1.0, scores["fn"]


def test_f1_floor(scores: dict[str, object]) -> None:
    assert scores["f1"] >= 0.93, (scores["fp"], scores["fn"])


def test_no_finding_on_negative_files(scores: dict[str, object]) -> None:
    assert scores["negative_hits"] == []
