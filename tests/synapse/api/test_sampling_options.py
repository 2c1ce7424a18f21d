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
