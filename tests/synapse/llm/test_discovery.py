"""What backends tell about their models for Ollama's /api/show and /api/ps: the GGUF card, Ollama's own."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from synapse.llm import GenerationOptions, ToolSpec
from synapse.llm.errors import InvalidToolChoiceError, UnsupportedSchemaError
from synapse.llm.gguf_card import file_type_name, gguf_card, model_info
from synapse.llm.llamacpp import LlamaCppBackend
from synapse.llm.ollama_backend import OllamaBackend
from synapse.llm.ollama_tools import parse_parameters
from tests.support.fake_ollama import CHAT_TEMPLATE, ollama_chat_server


def test_gguf_metadata_is_typed_and_the_template_shown_apart() -> None:
    meta = {
        "general.architecture": "qwen2",
        "qwen2.context_length": "32768",
        "qwen2.rope.freq_base": "1000000.0",
        "tokenizer.ggml.add_bos_token": "false",
        "tokenizer.chat_template": "{{ messages }}",
        "general.name": "Qwen2.5 1.5B Instruct",
    }
    info = model_info(meta, n_params=1_543_714_304)
    assert info == {
        "general.architecture": "qwen2",
        "general.name": "Qwen2.5 1.5B Instruct",
        "general.parameter_count": 1_543_714_304,
        "qwen2.context_length": 32768,
        "qwen2.rope.freq_base": 1e6,
        "tokenizer.ggml.add_bos_token": False,
    }
    card = gguf_card(meta, template="{{ messages }}", n_ctx=4096, stops=["<|im_end|>"])
    assert card.template == "{{ messages }}" and card.capabilities == ["completion", "tools"]
    assert card.parameters == {"num_ctx": [4096], "stop": ["<|im_end|>"]}
    assert file_type_name("15") == "Q4_K_M" and file_type_name("1") == "F16" and file_type_name(None) is None


def test_ollamas_parameters_text_is_read_back() -> None:
    text = "\n".join(['stop  "<|im_end|>"', 'stop                           "<|endoftext|>"', "num_ctx    8192"])
    text += "\ntemperature 0.7\nodd x y\n\n"
    assert parse_parameters(text) == {
        "stop": ["<|im_end|>", "<|endoftext|>"],
        "num_ctx": [8192],
        "temperature": [0.7],
        "odd": ["x y"],
    }


@pytest.mark.asyncio
async def test_the_ollama_backend_passes_show_ps_and_keep_alive_through() -> None:
    with ollama_chat_server("Hollow beams.") as fake:
        backend = OllamaBackend(fake.url)
        try:
            assert await backend.loaded_models() == []
            options = GenerationOptions(keep_alive="-1s")
            _ = [d async for d in backend.stream([], "triz-td010v2-q4km", options)]
            card = await backend.model_card("triz-td010v2-q4km")
            [loaded] = await backend.loaded_models()
            models = {m.name: m for m in await backend.list_models()}
        finally:
            await backend.aclose()
    assert fake.chats[-1]["keep_alive"] == "-1s"
    assert card.template == CHAT_TEMPLATE and card.capabilities == ["completion", "tools"]
    # Ollama's own parameters, with the temperature and top_p SYNAPSE sends in place of the Modelfile's.
    assert card.parameters == {"stop": ["<|im_end|>"], "num_ctx": [8192], "temperature": [0.3], "top_p": [0.95]}
    assert card.model_info["qwen2.context_length"] == 32768
    assert loaded.name == "triz-td010v2-q4km:latest" and loaded.parameter_size == "1.5B"
    assert loaded.expires_at is not None and loaded.expires_at.year > datetime.now(timezone.utc).year + 100
    assert loaded.digest == models["triz-td010v2-q4km:latest"].digest is not None


@pytest.mark.asyncio
async def test_the_ollama_backend_reports_nothing_when_ollama_is_down() -> None:
    backend = OllamaBackend("http://127.0.0.1:9")
    try:
        assert await backend.loaded_models() == []
        assert (await backend.model_card("x")).capabilities is None
    finally:
        await backend.aclose()


def test_check_options_raises_the_422s_before_any_generation() -> None:
    tool = ToolSpec(name="f", parameters={"type": "object", "properties": {"n": {"type": "integer", "maximum": 3}}})
    embedded = LlamaCppBackend()
    with pytest.raises(InvalidToolChoiceError):
        embedded.check_options(GenerationOptions(tool_choice="required"))
    # The embedded backend's grammar cannot enforce a maximum; Ollama is left to judge it.
    with pytest.raises(UnsupportedSchemaError, match="maximum"):
        embedded.check_options(GenerationOptions(tools=[tool], tool_choice="required"))
    OllamaBackend("http://127.0.0.1:9").check_options(GenerationOptions(tools=[tool], tool_choice="required"))
