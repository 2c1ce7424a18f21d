"""Pydantic models of the TRIZ knowledge and of the answers built from it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from synapse.lang import Lang

SeparationId = Literal["space", "time", "condition", "system"]
N_PARAMETERS = 39
N_PRINCIPLES = 40


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Localized(_Frozen):
    """A text in English and Russian."""

    en: str = Field(min_length=1)
    ru: str = Field(min_length=1)

    def get(self, lang: Lang) -> str:
        return self.ru if lang == "ru" else self.en


class LocalizedList(_Frozen):
    """A list of words or phrases in English and Russian."""

    en: list[str] = Field(default_factory=list)
    ru: list[str] = Field(default_factory=list)

    def get(self, lang: Lang) -> list[str]:
        return self.ru if lang == "ru" else self.en


class Parameter(_Frozen):
    """One of the 39 engineering parameters of the contradiction matrix."""

    id: int = Field(ge=1, le=N_PARAMETERS)
    name: Localized
    description: Localized
    synonyms: LocalizedList


class SubPrinciple(_Frozen):
    """One lettered clause (A, B, C...) of an inventive principle."""

    label: str = Field(pattern=r"^[A-Z]$")
    text: Localized


class Principle(_Frozen):
    """One of the 40 inventive principles."""

    id: int = Field(ge=1, le=N_PRINCIPLES)
    name: Localized
    description: Localized
    sub_principles: list[SubPrinciple] = Field(min_length=1)
    examples: list[Localized] = Field(min_length=2)
    keywords: LocalizedList = Field(default_factory=LocalizedList)


class Separation(_Frozen):
    """One of the four separation principles for physical contradictions."""

    id: SeparationId
    name: Localized
    description: Localized
    question: Localized
    principles: list[int] = Field(min_length=1)
    examples: list[Localized] = Field(min_length=1)

    @field_validator("principles")
    @classmethod
    def _in_range(cls, value: list[int]) -> list[int]:
        if any(not 1 <= p <= N_PRINCIPLES for p in value):
            raise ValueError(f"principle numbers must be in 1..{N_PRINCIPLES}: {value}")
        return value


class MatrixCell(_Frozen):
    """One non-empty cell of the contradiction matrix; `votes` is set where sources disagreed."""

    improving: int = Field(ge=1, le=N_PARAMETERS)
    worsening: int = Field(ge=1, le=N_PARAMETERS)
    principles: list[int] = Field(min_length=1)
    votes: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _check(self) -> MatrixCell:
        if self.improving == self.worsening:
            raise ValueError(f"self-cell ({self.improving},{self.worsening}) is not part of the matrix")
        if any(not 1 <= p <= N_PRINCIPLES for p in self.principles):
            raise ValueError(f"cell ({self.improving},{self.worsening}): principles outside 1..40")
        if len(set(self.principles)) != len(self.principles):
            raise ValueError(f"cell ({self.improving},{self.worsening}): a principle repeats")
        return self

    @property
    def disputed(self) -> bool:
        return self.votes is not None


# ---- answers -------------------------------------------------------------------------------


class ParameterRef(BaseModel):
    """A parameter as it appears in answers: number and name in the answer's language."""

    id: int
    name: str


class PrincipleRef(BaseModel):
    """A principle as it appears in answers: number and name in the answer's language."""

    id: int
    name: str


class MatrixAnswer(BaseModel):
    """The principles that the matrix recommends for one improving/worsening pair."""

    improving: ParameterRef
    worsening: ParameterRef
    principles: list[PrincipleRef]
    disputed: bool = False
    note: str | None = None
    lang: Lang


class SubPrincipleCard(BaseModel):
    label: str
    text: str


class PrincipleCard(BaseModel):
    """A principle with its texts in one language."""

    id: int
    name: str
    description: str
    sub_principles: list[SubPrincipleCard]
    examples: list[str]
    separation: list[str] = Field(default_factory=list)
    lang: Lang


class Candidate(BaseModel):
    """One technical contradiction found in a problem statement."""

    improving: ParameterRef
    worsening: ParameterRef
    score: float
    principles: list[PrincipleRef]


class Analysis(BaseModel):
    """The ranked contradictions found in a problem statement."""

    candidates: list[Candidate]
    lang: Lang
    method: str
    message: str | None = None
