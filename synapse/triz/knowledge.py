"""The TRIZ knowledge shipped in the package: loaded and validated once per process."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr, model_validator

from synapse.triz.models import (
    N_PARAMETERS,
    N_PRINCIPLES,
    MatrixCell,
    Parameter,
    Principle,
    Separation,
)

DATA_FILES = ("parameters.json", "principles.json", "separation.json", "matrix.json")


class TrizKnowledge(BaseModel):
    """Parameters, principles, separation principles and the contradiction matrix."""

    model_config = ConfigDict(frozen=True)

    version: str
    parameters: list[Parameter]
    principles: list[Principle]
    separation: list[Separation]
    cells: list[MatrixCell]

    _cells: dict[tuple[int, int], MatrixCell] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _complete(self) -> TrizKnowledge:
        if [p.id for p in self.parameters] != list(range(1, N_PARAMETERS + 1)):
            raise ValueError(f"parameters must be numbered 1..{N_PARAMETERS} in order")
        if [p.id for p in self.principles] != list(range(1, N_PRINCIPLES + 1)):
            raise ValueError(f"principles must be numbered 1..{N_PRINCIPLES} in order")
        if sorted(s.id for s in self.separation) != sorted(["space", "time", "condition", "system"]):
            raise ValueError("the four separation principles are space, time, condition and system")
        keys = [(c.improving, c.worsening) for c in self.cells]
        if len(set(keys)) != len(keys):
            raise ValueError("the matrix lists a cell twice")
        return self

    def model_post_init(self, __context: Any) -> None:
        self._cells = {(c.improving, c.worsening): c for c in self.cells}

    def parameter(self, pid: int) -> Parameter:
        return self.parameters[pid - 1]

    def principle(self, pid: int) -> Principle:
        return self.principles[pid - 1]

    def cell(self, improving: int, worsening: int) -> MatrixCell | None:
        return self._cells.get((improving, worsening))

    def separations_of(self, principle_id: int) -> list[Separation]:
        return [s for s in self.separation if principle_id in s.principles]


def _read(name: str) -> bytes:
    return resources.files("synapse.triz").joinpath("data").joinpath(name).read_bytes()


@cache
def load_knowledge() -> TrizKnowledge:
    """The validated knowledge, read from the package data once per process."""
    raw = {name: _read(name) for name in DATA_FILES}
    digest = hashlib.sha256(b"".join(raw[n] for n in DATA_FILES)).hexdigest()[:16]
    data = {name: json.loads(blob) for name, blob in raw.items()}
    return TrizKnowledge(
        version=digest,
        parameters=data["parameters.json"]["parameters"],
        principles=data["principles.json"]["principles"],
        separation=data["separation.json"]["separation"],
        cells=data["matrix.json"]["cells"],
    )
