"""What the MCP tools answer: pydantic models, from which the SDK derives each tool's output schema."""

from __future__ import annotations

from pydantic import BaseModel, Field

from cortex.models import QueryMode, Source
from synapse.lang import Lang
from synapse.triz import Candidate, PrincipleCard


class TrizAnalysis(BaseModel):
    """The technical contradictions found in a problem, with the cards of the principles they point to."""

    lang: Lang
    method: str = Field(description="how the contradictions were found: lexicon, or lexicon plus embeddings")
    contradictions: list[Candidate]
    principles: list[PrincipleCard] = Field(description="the recommended principles, most relevant first")
    message: str | None = Field(default=None, description="why nothing was found, when nothing was")


class KnowledgeHits(BaseModel):
    """What CORTEX retrieved for a query: the sources (TRIZ knowledge and the user's documents) with snippets."""

    query: str
    mode: QueryMode = Field(description="the retrieval mode that actually ran")
    lang: Lang
    sources: list[Source]
    warnings: list[str] = Field(default_factory=list)
