"""The connector: retrieval and TRIZ analysis before generation, sources after, warnings when parts are down."""

from __future__ import annotations

import pytest

from synapse.agent import InvalidTurnError, RagOptions, TurnRequest
from synapse.llm import BackendUnavailableError, ChatMessage, GenerationOptions, ToolCall
from tests.synapse.agent.fakes import FakeCortex, ScriptedBackend

BEAM = "We want the beam to be stronger, but then it becomes heavier."


def turn(text: str, **kw: object) -> TurnRequest:
    return TurnRequest(messages=[ChatMessage(role="user", content=text)], **kw)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_sources_and_triz_go_into_the_prompt(make_agent, backend: ScriptedBackend, cortex: FakeCortex) -> None:
    agent = make_agent()
    plan = await agent.plan(turn(BEAM))
    assert [s.id for s in plan.sources] == [s.id for s in cortex.sources]
    assert cortex.queries[0].mode == "mix" and cortex.queries[0].query == BEAM
    system = plan.messages[0].content
    assert plan.messages[0].role == "system" and "[1] (principle) 1. Segmentation" in system and "FULLTEXT2" in system
    assert plan.triz is not None and plan.triz.contradictions
    top = plan.triz.contradictions[0]
    assert f"«{top.improving.name}»" in system and str(top.principles[0].id) in system
    assert plan.model == "triz-td010v2-q4km" and plan.route == "triz"
    assert plan.retrieval.count == 3 and plan.retrieval.mode == "mix"
    result = await agent.complete(plan)
    assert result.content == "Use principle one [1]." and result.completion_tokens == 4
    assert backend.calls[0][0] == plan.messages


@pytest.mark.asyncio
async def test_rag_off_skips_cortex(make_agent, cortex: FakeCortex) -> None:
    plan = await make_agent().plan(turn(BEAM, rag=RagOptions(mode="off")))
    assert cortex.queries == [] and plan.sources == [] and plan.retrieval.mode == "off"
    assert "Context" not in plan.messages[0].content


@pytest.mark.asyncio
async def test_rag_mode_and_top_k_per_request(make_agent, cortex: FakeCortex) -> None:
    plan = await make_agent().plan(turn(BEAM, rag=RagOptions(mode="naive", top_k=1)))
    assert cortex.queries[0].mode == "naive" and cortex.queries[0].top_k == 1
    assert len(plan.sources) == 1 and plan.retrieval.mode_requested == "naive"


@pytest.mark.asyncio
async def test_cortex_down_answers_with_a_warning(make_agent, cortex: FakeCortex) -> None:
    cortex.down = True
    agent = make_agent()
    plan = await agent.plan(turn(BEAM))
    assert plan.sources == [] and plan.retrieval.mode == "off"
    assert any("CORTEX is unavailable" in w and "fake CORTEX is down" in w for w in plan.warnings)
    assert (await agent.complete(plan)).content


@pytest.mark.asyncio
async def test_backend_down_names_the_setting(make_agent, backend: ScriptedBackend) -> None:
    backend.down = True
    with pytest.raises(BackendUnavailableError) as err:
        await make_agent().plan(turn(BEAM))
    assert "SYNAPSE_BACKEND" in str(err.value) or "OLLAMA_HOST" in str(err.value)


@pytest.mark.asyncio
async def test_russian_question_gets_russian_system_prompt(make_agent) -> None:
    plan = await make_agent().plan(turn("Как сделать балку прочнее, но при этом не тяжелее?"))
    assert plan.lang == "ru" and "Отвечай на русском" in plan.messages[0].content
    assert "Контекст" in plan.messages[0].content


@pytest.mark.asyncio
async def test_base_agent_uses_the_baseline_model(make_agent) -> None:
    plan = await make_agent().plan(turn(BEAM, model="triz-agent-base"))
    assert plan.model == "qwen2.5:14b-instruct-q4_k_m" and plan.route == "base"


@pytest.mark.asyncio
async def test_raw_model_passes_messages_through(make_agent, cortex: FakeCortex) -> None:
    plan = await make_agent().plan(turn("hello there", model="qwen2.5:14b-instruct-q4_k_m"))
    assert plan.route == "raw" and cortex.queries == [] and plan.triz is None
    assert [m.role for m in plan.messages] == ["user"]


@pytest.mark.asyncio
async def test_last_message_must_be_from_the_user(make_agent) -> None:
    req = TurnRequest(messages=[ChatMessage(role="user", content="hi"), ChatMessage(role="assistant", content="x")])
    with pytest.raises(InvalidTurnError, match="last message"):
        await make_agent().plan(req)


@pytest.mark.asyncio
async def test_budget_drops_old_history_and_low_sources(make_agent, backend: ScriptedBackend) -> None:
    backend.window = 260
    history = []
    for i in range(10):
        history += [
            ChatMessage(role="user", content=f"old question {i} " + "word " * 20),
            ChatMessage(role="assistant", content=f"old answer {i} " + "word " * 20),
        ]
    req = TurnRequest(
        messages=[*history, ChatMessage(role="user", content=BEAM)], options=GenerationOptions(max_tokens=64)
    )
    plan = await make_agent().plan(req)
    total = sum(backend.count_tokens(m.content) + 8 for m in plan.messages) + 16
    assert total + plan.options.max_tokens <= 260
    assert plan.dropped_messages > 0 and plan.messages[-1].content == BEAM
    # What stays is the newest history, in order.
    kept = [m.content for m in plan.messages[1:-1]]
    assert kept == [m.content for m in history[len(history) - len(kept) :]]
    assert any("left out to fit" in w for w in plan.warnings)
    assert len(plan.sources) == plan.retrieval.count


@pytest.mark.asyncio
async def test_memory_stores_the_dialogue(make_agent, cortex: FakeCortex) -> None:
    from synapse.agent import DialogueMemory

    agent = make_agent()
    agent.memory = DialogueMemory(cortex)
    plan = await agent.plan(turn(BEAM))
    await agent.complete(plan)
    await agent.memory.drain()
    ((info, data),) = cortex.docs.values()
    assert info.kind == "dialogue" and BEAM in data.decode() and "Use principle one" in data.decode()
    # The next turn of the same dialogue replaces the stored one.
    req = TurnRequest(
        messages=[
            ChatMessage(role="user", content=BEAM),
            ChatMessage(role="assistant", content="a"),
            ChatMessage(role="user", content="And cheaper?"),
        ]
    )
    await agent.complete(await agent.plan(req))
    await agent.memory.drain()
    ((info2, data2),) = cortex.docs.values()
    assert info2.id != info.id and "And cheaper?" in data2.decode()


@pytest.mark.asyncio
async def test_an_agent_loop_keeps_the_question_the_calls_and_the_results(make_agent, cortex: FakeCortex) -> None:
    calls = [ToolCall(id="call_1", name="lookup", arguments={"n": 1})]
    req = TurnRequest(
        messages=[
            ChatMessage(role="user", content="Как сделать балку прочнее, но не тяжелее?"),
            ChatMessage(role="assistant", content="", tool_calls=calls),
            ChatMessage(role="tool", content='{"principle": "segmentation"}', tool_call_id="call_1", name="lookup"),
        ]
    )
    plan = await make_agent().plan(req)
    assert cortex.queries and "балку" in cortex.queries[-1].query
    assert [m.role for m in plan.messages] == ["system", "user", "assistant", "tool"]
    assert plan.messages[2].tool_calls == calls and plan.messages[3].tool_call_id == "call_1"


@pytest.mark.asyncio
async def test_a_tool_result_must_follow_a_question(make_agent) -> None:
    lone = TurnRequest(messages=[ChatMessage(role="tool", content="{}", tool_call_id="call_1")])
    with pytest.raises(InvalidTurnError, match="no user question"):
        await make_agent().plan(lone)


@pytest.mark.asyncio
async def test_the_budget_keeps_room_for_the_tools_block(make_agent, backend: ScriptedBackend) -> None:
    from synapse.llm import ToolSpec
    from synapse.llm.chat_template import tools_block

    backend.window = 460
    tools = [ToolSpec(name=f"tool_{i}", description="looks something up " * 10) for i in range(3)]
    question = [ChatMessage(role="user", content=BEAM)]
    plain = await make_agent().plan(TurnRequest(messages=question, options=GenerationOptions(max_tokens=64)))
    with_tools = await make_agent().plan(
        TurnRequest(messages=question, options=GenerationOptions(max_tokens=64, tools=tools))
    )
    block = backend.count_tokens(tools_block(tools))
    assert with_tools.prompt_tokens == plain.prompt_tokens + block
    assert with_tools.prompt_tokens + with_tools.options.max_tokens <= 460
