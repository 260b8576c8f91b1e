"""The mapping table (``controls.json``): controls, their requirements, what to attest.

The table is data, so docs/compliance.md, the report and the tests read one source.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from importobot_enterprise.compliance.model import Citation, ComplianceRule

__all__ = ["ControlSpec", "catalog", "citation", "control_spec", "framework_source"]


@dataclass(frozen=True)
class ControlSpec:
    """One control of the table."""

    id: str
    title: str
    #: ``evidence`` (judged from what importobot can see) or ``manual`` (a person attests).
    kind: str
    weight: float
    requirements: tuple[str, ...]
    #: What the evidence is (evidence controls) or what a person must attest (manual).
    description: str

    @property
    def rule(self) -> ComplianceRule:
        return ComplianceRule(self.id, self.title, self.weight)

    @property
    def citations(self) -> list[Citation]:
        return [citation(ref) for ref in self.requirements]


@lru_cache(maxsize=1)
def _data() -> dict[str, object]:
    text = resources.files(__package__).joinpath("controls.json").read_text(encoding="utf-8")
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("version") != 1:
        raise RuntimeError("importobot_enterprise/compliance/controls.json: unknown version")
    return data


def _frameworks() -> dict[str, dict[str, str]]:
    frameworks = _data()["frameworks"]
    assert isinstance(frameworks, dict)  # noqa: S101 - our own data file
    return frameworks


def framework_source(key: str) -> str:
    """The full reference of a framework (``pci``, ``nist``)."""
    return _frameworks()[key]["source"]


def citation(ref: str) -> Citation:
    """``pci:3.7.4`` as a :class:`Citation`."""
    requirements = _data()["requirements"]
    assert isinstance(requirements, dict)  # noqa: S101
    key, _, number = ref.partition(":")
    return Citation(_frameworks()[key]["name"], number, str(requirements[ref]))


@lru_cache(maxsize=1)
def catalog() -> tuple[ControlSpec, ...]:
    """Every control, in report order."""
    out = []
    controls = _data()["controls"]
    assert isinstance(controls, list)  # noqa: S101
    for item in controls:
        out.append(
            ControlSpec(
                id=item["id"],
                title=item["title"],
                kind=item["kind"],
                weight=float(item["weight"]),
                requirements=tuple(item["requirements"]),
                description=item.get("attest") or item.get("evidence") or "",
            )
        )
    return tuple(out)


def control_spec(identifier: str) -> ControlSpec:
    for spec in catalog():
        if spec.id == identifier:
            return spec
    raise KeyError(identifier)
