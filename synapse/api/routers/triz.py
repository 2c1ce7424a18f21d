"""POST /v1/triz/analyze: contradictions, principles, a generated explanation and its sources."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from cortex.models import Source
from synapse.agent import TRIZ_AGENT, Agent, RetrievalInfo, TurnPlan, detect_lang
from synapse.api.body import CheckedRoute
from synapse.api.deps import client_of, for_client, get_agent, get_limiter, get_settings, reserve_slot
from synapse.api.limits import ConcurrencyLimiter
from synapse.api.openapi_docs import GENERATION, OPENAI_BODY, openai_errors
from synapse.api.schemas_common import RagRequest
from synapse.api.streaming import ClientGoneError, unless_disconnected
from synapse.api.turns import TurnInput, build_turn, chat_message
from synapse.config import SynapseSettings
from synapse.lang import Lang, LangChoice
from synapse.triz import Candidate, PrincipleCard, analyze_problem, principle_card

router = APIRouter(prefix="/v1/triz", tags=["triz"], route_class=CheckedRoute)


class AnalyzeRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [{"problem": "The beam must be stronger, but then it becomes heavier.", "explain": False}]
        },
    )

    problem: str = Field(min_length=1, max_length=8000)
    lang: LangChoice = "auto"
    top: int = Field(default=3, ge=1, le=10)
    explain: bool = True
    max_tokens: int | None = Field(default=None, ge=1)
    rag: RagRequest | None = None


class AnalyzeResponse(BaseModel):
    lang: Lang
    contradictions: list[Candidate]
    principles: list[PrincipleCard]
    message: str | None = None
    explanation: str | None = None
    model: str | None = None
    sources: list[Source] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    retrieval: RetrievalInfo | None = None


@router.post("/analyze", response_model=AnalyzeResponse, responses=openai_errors(*OPENAI_BODY, *GENERATION))
async def analyze(
    body: AnalyzeRequest,
    request: Request,
    agent: Agent = Depends(get_agent),  # noqa: B008
    settings: SynapseSettings = Depends(get_settings),  # noqa: B008
    limiter: ConcurrencyLimiter = Depends(get_limiter),  # noqa: B008
) -> AnalyzeResponse:
    """The analyzer's contradictions and principle cards; with `explain`, the agent's explanation too."""
    lang = body.lang if body.lang != "auto" else detect_lang(body.problem)
    analysis = await asyncio.to_thread(agent.analyze_now, body.problem, lang, body.top)
    if analysis is None:
        analysis = await asyncio.to_thread(analyze_problem, body.problem, lang, body.top)
    found = analysis.candidates[: body.top]
    ids: list[int] = []
    for cand in found:
        ids += [p.id for p in cand.principles if p.id not in ids]
    cards = [principle_card(n, lang) for n in ids[:6]]
    response = AnalyzeResponse(lang=lang, contradictions=found, principles=cards, message=analysis.message)
    if not body.explain:
        return response
    question = [chat_message("user", body.problem)]
    turn = build_turn(settings, TurnInput(TRIZ_AGENT, question, max_tokens=body.max_tokens, rag=body.rag))
    client = client_of(request)
    slot = reserve_slot(limiter, client)
    try:

        async def explain() -> tuple[TurnPlan, str]:
            await slot.acquire()
            plan = await agent.plan(for_client(turn, client))
            result = await agent.complete(plan)
            return plan, result.content

        plan, text = await unless_disconnected(request, explain())
    except ClientGoneError:
        return response
    finally:
        slot.release()
    response.explanation = text
    response.model = plan.model
    response.sources = plan.sources
    response.warnings = plan.warnings
    response.retrieval = plan.retrieval
    return response
