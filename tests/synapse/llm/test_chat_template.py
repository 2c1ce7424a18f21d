"""Tools and tool messages through a chat template that supports tools, and one that does not."""

from __future__ import annotations

import json

from llama_cpp.llama_chat_format import Jinja2ChatFormatter

from synapse.llm import ChatMessage
from synapse.llm.chat_template import ChatTemplate, template_uses_tools
from synapse.llm.models import ToolCall, ToolSpec

# A small ChatML template in the way Hugging Face templates handle tools (written for this test).
WITH_TOOLS = (
    "{% if tools %}<|im_start|>system\nTOOLS:{% for t in tools %}{{ t | tojson }};{% endfor %}<|im_end|>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}"
    "{% for c in m.tool_calls or [] %}CALL {{ c.function.name }} {{ c.function.arguments | tojson }}{% endfor %}"
    "{% if m.role == 'tool' %} FOR {{ m.tool_call_id }} {{ m.name }}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
WITHOUT_TOOLS = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
TOOL = ToolSpec(name="get_weather", description="Weather now", parameters={"type": "object"})
CALL = ToolCall(id="call_1", name="get_weather", arguments={"city": "Oslo"})
HISTORY = [
    ChatMessage(role="system", content="Be brief."),
    ChatMessage(role="user", content="Weather in Oslo and Rome?"),
    ChatMessage(role="assistant", tool_calls=[CALL, CALL.model_copy(update={"id": "call_2"})]),
    ChatMessage(role="tool", tool_call_id="call_1", content="sunny"),
    ChatMessage(role="tool", tool_call_id="call_2", content="rain"),
]


def template(text: str) -> ChatTemplate:
    return ChatTemplate(Jinja2ChatFormatter(template=text, eos_token="<|im_end|>", bos_token=""), text)


def test_detects_whether_the_template_renders_tools() -> None:
    assert template_uses_tools(WITH_TOOLS) and not template_uses_tools(WITHOUT_TOOLS)
    assert template_uses_tools("{% generation %}{{ tools }}{% endgeneration %}")
    assert template_uses_tools("{% broken syntax tools")  # unreadable: the word decides


def test_a_template_with_tools_gets_them_and_the_calls_as_objects() -> None:
    rendered = template(WITH_TOOLS).render(HISTORY, [TOOL])
    assert 'TOOLS:{"type": "function", "function": {"name": "get_weather"' in rendered.text
    assert 'CALL get_weather {"city": "Oslo"}' in rendered.text
    assert "sunny FOR call_1 get_weather" in rendered.text and rendered.stops == ["<|im_end|>"]
    assert "TOOLS" not in template(WITH_TOOLS).render(HISTORY[:2]).text


def test_a_template_without_tools_gets_qwen_written_form() -> None:
    text = template(WITHOUT_TOOLS).render(HISTORY, [TOOL]).text
    system = text.split("<|im_end|>")[0]
    assert system.startswith("<|im_start|>system\nBe brief.\n\n# Tools") and "<tools>\n" in system
    assert json.dumps(TOOL.to_wire()) in system and "<tool_call></tool_call> XML tags" in system
    assert (
        '<|im_start|>assistant\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>'
        in text
    )
    # Consecutive tool results share one user turn, as Qwen2.5 was trained.
    assert (
        "<|im_start|>user\n<tool_response>\nsunny\n</tool_response>\n<tool_response>\nrain\n</tool_response><|im_end|>"
        in text
    )
    assert text.endswith("<|im_start|>assistant\n") and "<|im_start|>tool" not in text
    no_system = template(WITHOUT_TOOLS).render(HISTORY[1:2], [TOOL]).text
    assert no_system.startswith("<|im_start|>system\n# Tools")
