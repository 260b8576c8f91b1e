"""Every hook id in ``.pre-commit-hooks.yaml`` is documented in the README (drift guard)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _hook_ids() -> list[str]:
    text = (ROOT / ".pre-commit-hooks.yaml").read_text()
    return re.findall(r"^- id: (\S+)$", text, flags=re.MULTILINE)


def test_hook_ids_are_the_contract():
    assert _hook_ids() == ["importobot-block-keys", "importobot-check-key", "importobot-key-age"]


def test_every_hook_id_is_in_the_readme_and_the_guide():
    readme = (ROOT / "README.md").read_text()
    guide = (ROOT / "docs" / "hooks.md").read_text()
    for hook_id in _hook_ids():
        assert f"`{hook_id}`" in readme, hook_id
        assert f"`{hook_id}`" in guide, hook_id
