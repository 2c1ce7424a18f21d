"""A conversation with tools rendered through the model's own chat template (the GGUF's Jinja).

A template that uses `tools` (Qwen2.5's has the `<tools>` block) gets the tools, the assistant calls and
the tool messages as Hugging Face's templates expect them. A template without tool support gets the same
conversation in Qwen's written form: the tools described in the system message, calls as `<tool_call>`
text, and tool results as a user turn of `<tool_response>` blocks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from synapse.llm.models import ChatMessage, ToolSpec
from synapse.llm.tool_calls import fill_tool_names, render_call

_TOOLS_WORD = re.compile(r"\btools\b")


def tools_block(tools: Sequence[ToolSpec]) -> str:
    """The tools described for the system prompt in the form Qwen2.5 was trained on."""
    listed = "\n".join(json.dumps(t.to_wire(), ensure_ascii=False) for t in tools)
    return (
        "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
        f"You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n{listed}\n</tools>\n\n"
        "For each function call, return a json object with function name and arguments within "
        "<tool_call></tool_call> XML tags:\n<tool_call>\n"
        '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
    )


def template_uses_tools(template: str) -> bool:
    """Whether the Jinja template reads a `tools` variable (and so renders tools itself)."""
    try:
        import jinja2
        import jinja2.meta
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        env = jinja2.Environment(extensions=[Jinja2ChatFormatter.IgnoreGenerationTags, "jinja2.ext.loopcontrols"])
        return "tools" in jinja2.meta.find_undeclared_variables(env.parse(template))
    except Exception:  # a template our parser cannot read: llama.cpp's renderer still may
        return _TOOLS_WORD.search(template) is not None


def _native(message: ChatMessage) -> dict[str, Any]:
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        out["tool_calls"] = [c.to_wire() for c in message.tool_calls]
    if message.role == "tool":
        out["tool_call_id"] = message.tool_call_id
        out["name"] = message.name
    return out


def _written(messages: Sequence[ChatMessage], tools: Sequence[ToolSpec]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "tool":
            response = f"<tool_response>\n{message.content}\n</tool_response>"
            if out and out[-1].get("tool_responses"):
                out[-1]["content"] += "\n" + response
            else:
                out.append({"role": "user", "content": response, "tool_responses": True})
            continue
        content = message.content
        if message.tool_calls:
            content = "\n".join([*([content] if content else []), *(render_call(c) for c in message.tool_calls)])
        out.append({"role": message.role, "content": content})
    for item in out:
        item.pop("tool_responses", None)
    if tools:
        block = tools_block(tools)
        if out and out[0]["role"] == "system":
            out[0]["content"] = f"{out[0]['content']}\n\n{block}" if out[0]["content"] else block
        else:
            out.insert(0, {"role": "system", "content": block})
    return out


@dataclass(frozen=True)
class RenderedPrompt:
    """The prompt text, the stop strings of the template, and whether it holds the special tokens itself."""

    text: str
    stops: list[str]
    added_special: bool


class ChatTemplate:
    """The model's chat template with tools; `formatter` is llama-cpp-python's Jinja2ChatFormatter."""

    def __init__(self, formatter: Any, template: str) -> None:
        self.formatter = formatter
        self.native_tools = template_uses_tools(template)

    def render(self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = ()) -> RenderedPrompt:
        messages = fill_tool_names(messages)
        if self.native_tools:
            wire = [t.to_wire() for t in tools] or None
            result = self.formatter(messages=[_native(m) for m in messages], tools=wire)
        else:
            result = self.formatter(messages=_written(messages, tools))
        stops = [result.stop] if isinstance(result.stop, str) else list(result.stop or [])
        return RenderedPrompt(
            text=result.prompt, stops=[s for s in stops if s], added_special=bool(result.added_special)
        )
