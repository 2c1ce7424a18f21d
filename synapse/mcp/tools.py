"""The TRIZ tools and CORTEX as MCP tools: typed arguments in, pydantic models out."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath
from typing import Annotated

from pydantic import Field

from cortex.backend import CortexBackend
from cortex.models import DocumentInfo, QueryMode, QueryRequest
from synapse.lang import Lang, LangChoice
from synapse.mcp.models import KnowledgeHits, TrizAnalysis
from synapse.triz import Analysis, MatrixAnswer, PrincipleCard, principle_card
from synapse.triz import matrix_lookup as lookup_matrix

AnalyzeFn = Callable[[str, str, int], Analysis]
"""(problem, lang, top) -> the analysis; runs on a worker thread (the embedder may load on first use)."""

LangArg = Annotated[LangChoice, Field(description="answer language: en, ru, or auto (from the text)")]
CardLang = Annotated[Lang, Field(description="answer language: en or ru")]
ParameterArg = Annotated[
    int | str,
    Field(description="an engineering parameter: its number 1-39, or its name (or a name's beginning) in EN or RU"),
]
Tag = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^,]+$")]
# Cards per analysis, as POST /v1/triz/analyze gives them.
MAX_CARDS = 6
TEXT_SUFFIXES = (".txt", ".md")


@dataclass(frozen=True)
class ToolDeps:
    """What the tools run on: the contradiction analyzer and the CORTEX to search and fill."""

    analyze: AnalyzeFn
    cortex: Callable[[], CortexBackend]


def _cards(analysis: Analysis) -> list[PrincipleCard]:
    ids: list[int] = []
    for cand in analysis.candidates:
        ids += [p.id for p in cand.principles if p.id not in ids]
    return [principle_card(n, analysis.lang) for n in ids[:MAX_CARDS]]


def text_name(name: str) -> str:
    """The document's name with a text suffix: the tool takes text, so CORTEX must read it as text."""
    return name if PurePath(name).suffix.lower() in TEXT_SUFFIXES else f"{name}.md"


class TrizTools:
    """One method per MCP tool; the docstrings are the descriptions that clients show their models."""

    def __init__(self, deps: ToolDeps) -> None:
        self.deps = deps

    async def triz_analyze(
        self,
        problem: Annotated[
            str,
            Field(
                min_length=1,
                max_length=4000,
                description="the problem in one or two sentences: what should improve and what gets worse (EN or RU)",
            ),
        ],
        lang: LangArg = "auto",
        top: Annotated[int, Field(ge=1, le=10, description="how many contradictions to return")] = 3,
    ) -> TrizAnalysis:
        """Find the technical contradictions in a problem statement (Russian or English) and the inventive
        principles that the TRIZ contradiction matrix recommends for them, with each principle's card."""
        analysis = await asyncio.to_thread(self.deps.analyze, problem, lang, top)
        return TrizAnalysis(
            lang=analysis.lang,
            method=analysis.method,
            contradictions=analysis.candidates[:top],
            principles=_cards(analysis),
            message=analysis.message,
        )

    async def matrix_lookup(
        self, improving: ParameterArg, worsening: ParameterArg, lang: LangArg = "auto"
    ) -> MatrixAnswer:
        """Look up the TRIZ contradiction matrix (39x39): the inventive principles recommended when the
        `improving` parameter gets better and the `worsening` one gets worse."""
        return lookup_matrix(str(improving), str(worsening), lang)

    async def principle(
        self,
        n: Annotated[int, Field(description="the principle's number, 1-40", json_schema_extra={"minimum": 1})],
        lang: CardLang = "en",
    ) -> PrincipleCard:
        """One of the 40 inventive principles of TRIZ: description, sub-principles, examples and the
        separation principles it serves."""
        return principle_card(n, lang)

    async def search_knowledge(
        self,
        query: Annotated[str, Field(min_length=3, max_length=8000, description="what to look for (EN or RU)")],
        mode: Annotated[
            QueryMode, Field(description="naive: text chunks only; local/global/hybrid/mix: with the knowledge graph")
        ] = "mix",
        top_k: Annotated[int, Field(ge=1, le=50, description="how many sources at most")] = 8,
    ) -> KnowledgeHits:
        """Search CORTEX, the knowledge base (TRIZ principles, parameters, matrix, separation and the user's
        documents): the sources found, each with a snippet, best first. No text is generated."""
        result = await self.deps.cortex().query(QueryRequest(query=query, mode=mode, top_k=top_k))
        return KnowledgeHits(
            query=result.query, mode=result.mode, lang=result.lang, sources=result.sources, warnings=result.warnings
        )

    async def add_document(
        self,
        name: Annotated[
            str, Field(min_length=1, max_length=200, description="the document's name; .md is added without .txt/.md")
        ],
        text: Annotated[str, Field(min_length=1, max_length=5_000_000, description="the document's text")],
        tags: Annotated[list[Tag], Field(max_length=20, description="labels to find it by")] = [],  # noqa: B006
    ) -> DocumentInfo:
        """Add a text document to CORTEX so that search_knowledge and the agent can find it. It is processed
        in the background: the answer's `status` is pending until its chunks are stored."""
        return await self.deps.cortex().add_document(text_name(name), text.encode("utf-8"), tags=tags)
