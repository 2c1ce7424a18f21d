"""A request's sampling: what it leaves open stays open for the model's defaults; Ollama's top_k/repeat_penalty."""

from __future__ import annotations

from synapse.api.ollama_wire import sampling
from synapse.api.schemas_ollama import OllamaOptions
from synapse.api.turns import TurnInput, build_turn
from synapse.config import SynapseSettings
from synapse.llm import ChatMessage

Q = [ChatMessage(role="user", content="Стрела крана должна быть прочнее, но не тяжелее. Что делать?")]


def test_unsent_sampling_is_left_to_the_model() -> None:
    options = build_turn(SynapseSettings(), TurnInput("triz-agent", Q)).options
    assert (options.temperature, options.top_p, options.top_k, options.repeat_penalty) == (None, None, None, None)


def test_sent_sampling_is_kept() -> None:
    given = TurnInput("triz-agent", Q, temperature=0.0, top_p=0.5, top_k=7, repeat_penalty=1.3)
    options = build_turn(SynapseSettings(), given).options
    assert (options.temperature, options.top_p, options.top_k, options.repeat_penalty) == (0.0, 0.5, 7, 1.3)


def test_ollama_options_carry_top_k_and_repeat_penalty() -> None:
    fields = sampling(OllamaOptions(top_k=20, repeat_penalty=1.1))
    assert fields["top_k"] == 20 and fields["repeat_penalty"] == 1.1 and fields["temperature"] is None


def test_openai_requests_may_send_llama_cpps_top_k_and_repeat_penalty() -> None:
    from synapse.api.openai_request import turn_input
    from synapse.api.schemas_openai import ChatCompletionRequest

    base = {"model": "triz-agent", "messages": [{"role": "user", "content": "x"}]}
    llama_names = turn_input(ChatCompletionRequest.model_validate({**base, "top_k": 5, "repeat_penalty": 1.15}))
    vllm_name = turn_input(ChatCompletionRequest.model_validate({**base, "repetition_penalty": 1.05}))
    unsent = turn_input(ChatCompletionRequest.model_validate(base))
    assert (llama_names.top_k, llama_names.repeat_penalty) == (5, 1.15)
    assert vllm_name.repeat_penalty == 1.05
    assert (unsent.top_k, unsent.repeat_penalty) == (None, None)
