"""Language detection and routing between the TRIZ and the baseline model."""

from __future__ import annotations

import pytest

from synapse.agent import BASE_AGENT, TRIZ_AGENT, ProfileRouter, detect_lang
from synapse.agent.models import TurnRequest
from synapse.agent.profiles import builtin_profiles
from synapse.llm import ChatMessage
from synapse.triz import TrizKnowledge
from tests.conftest import HashingEmbedder


@pytest.mark.parametrize(
    ("text", "lang"),
    [("How to cool a chip?", "en"), ("Как охладить чип?", "ru"), ("12345", "en"), ("Чип CPU греется", "ru")],
)
def test_detect_lang(text: str, lang: str) -> None:
    assert detect_lang(text) == lang


@pytest.mark.asyncio
async def test_router_sends_triz_questions_to_the_triz_model(make_agent, kb: TrizKnowledge) -> None:
    router = ProfileRouter(HashingEmbedder(), kb, 0.45, builtin_profiles())
    triz_route, triz_score = await router.decide(
        "segmentation of the object and composite materials", has_contradiction=False
    )
    base_route, base_score = await router.decide("recipe for pancakes with blueberries", has_contradiction=False)
    assert triz_route == TRIZ_AGENT and base_route == BASE_AGENT and triz_score > base_score
    agent = make_agent(routing=True)
    agent.router = router
    plan = await agent.plan(
        TurnRequest(messages=[ChatMessage(role="user", content="recipe for pancakes with blueberries")])
    )
    assert plan.route == "base" and plan.model == "qwen2.5:14b-instruct-q4_k_m" and plan.route_score is not None
    # A recognised contradiction routes to TRIZ whatever the similarity.
    assert (await router.decide("pancakes", has_contradiction=True))[0] == TRIZ_AGENT
