"""TRIZ look-ups straight from the TRIZ core: matrix cells, principle cards, the contradiction analyzer."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from cortex.api.errors import error_responses
from synapse.lang import Lang
from synapse.triz import Analysis, MatrixAnswer, PrincipleCard, analyze_problem, matrix_lookup, principle_card

router = APIRouter(prefix="/triz", tags=["triz"])


class AnalyzeRequest(BaseModel):
    problem: str = Field(min_length=1, max_length=4000)
    lang: str = Field(default="auto", pattern="^(auto|en|ru)$")
    top: int = Field(default=3, ge=1, le=20)


@router.get("/matrix", responses=error_responses(400, 404, 422))
async def matrix(
    improving: Annotated[str, Query(description="number 1-39 or a name")],
    worsening: Annotated[str, Query(description="number 1-39 or a name")],
    lang: Annotated[str, Query(pattern="^(auto|en|ru)$")] = "auto",
) -> MatrixAnswer:
    return matrix_lookup(improving, worsening, lang=lang)


@router.get("/principles/{number}", responses=error_responses(400, 404, 422))
async def principle(number: str, lang: Annotated[Lang, Query()] = "en") -> PrincipleCard:
    return principle_card(number, lang=lang)


@router.post("/analyze", responses=error_responses(400, 413, 422))
async def analyze(request: AnalyzeRequest) -> Analysis:
    # The analyzer is CPU-bound (embeddings); keep the event loop free for other requests.
    return await asyncio.to_thread(analyze_problem, request.problem, request.lang, request.top)
