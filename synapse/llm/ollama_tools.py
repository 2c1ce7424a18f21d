"""Tools, tool messages and answer formats in Ollama's /api/chat shapes, and its calls read back.

Ollama cannot be told to call a tool; a forced call (`tool_choice` required or a named function) is asked
for with `format` set to the schema of a call, `{"name": <tool>, "arguments": <its schema>}`, which Ollama
enforces with its own grammar, and the JSON answer is read as the call.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from synapse.llm.models import ChatMessage, ParameterValues, ToolCall, ToolSpec
from synapse.llm.output import OutputPlan
from synapse.llm.structured import schema_of
from synapse.llm.tool_calls import fill_tool_names

_DEFS = ("$defs", "definitions")


def wire_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """The conversation as Ollama takes it: calls with object arguments, tool results with `tool_name`."""
    out: list[dict[str, Any]] = []
    for message in fill_tool_names(messages):
        item: dict[str, Any] = {"role": message.role, "content": message.content}
        if message.tool_calls:
            item["tool_calls"] = [{"function": {"name": c.name, "arguments": c.arguments}} for c in message.tool_calls]
        if message.role == "tool" and message.name:
            item["tool_name"] = message.name
        out.append(item)
    return out


def _rebase(node: Any, base: str, prefix: str) -> Any:
    """A copy of `node` with its local refs pointing into the combined schema where it now sits."""
    if isinstance(node, list):
        return [_rebase(x, base, prefix) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _rebase(v, base, prefix) for k, v in node.items() if k not in _DEFS}
    ref = node.get("$ref")
    if isinstance(ref, str) and (ref == "#" or ref.startswith("#/")):
        parts = ref[2:].split("/") if ref != "#" else []
        if len(parts) >= 2 and parts[0] in _DEFS:
            out["$ref"] = "#/$defs/" + "/".join([prefix + parts[1], *parts[2:]])
        else:
            out["$ref"] = "/".join([base, *parts])
    return out


def call_schema(tools: Sequence[ToolSpec]) -> dict[str, Any]:
    """The JSON schema of one call of one of `tools`, the tools' `$defs` gathered at its root."""
    defs: dict[str, Any] = {}
    options: list[dict[str, Any]] = []
    for i, tool in enumerate(tools):
        prefix = f"t{i}_"
        base = f"#/anyOf/{i}/properties/arguments" if len(tools) > 1 else "#/properties/arguments"
        for key in _DEFS:
            for name, sub in (tool.parameters.get(key) or {}).items():
                defs[prefix + name] = _rebase(sub, base, prefix)
        options.append(
            {
                "type": "object",
                "properties": {"name": {"const": tool.name}, "arguments": _rebase(tool.parameters, base, prefix)},
                "required": ["name", "arguments"],
            }
        )
    schema: dict[str, Any] = options[0] if len(options) == 1 else {"anyOf": options}
    return {**schema, "$defs": defs} if defs else schema


def request_fields(plan: OutputPlan) -> dict[str, Any]:
    """The `tools` and `format` fields of the request for `plan`."""
    fields: dict[str, Any] = {}
    if plan.prompt_tools:
        fields["tools"] = [t.to_wire() for t in plan.prompt_tools]
    if plan.forced:
        fields["format"] = call_schema(plan.prompt_tools)
    elif plan.response_format is not None:
        fmt = plan.response_format
        fields["format"] = "json" if fmt.type == "json_object" else schema_of(fmt)
    return fields


def read_calls(raw: Sequence[Any] | None) -> list[ToolCall]:
    """Ollama's `message.tool_calls` (objects or dicts) as calls with fresh ids."""
    calls: list[ToolCall] = []
    for item in raw or []:
        data = item.model_dump() if hasattr(item, "model_dump") else dict(item)
        calls.append(ToolCall.from_wire({k: v for k, v in data.items() if k != "id" or v}))
    return calls


def call_from_json(text: str) -> ToolCall | None:
    """The call a forced answer holds as JSON (`{"name": ..., "arguments": {...}}`), or None."""
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return None
    try:
        return ToolCall.from_wire(obj)
    except ValueError:
        return None


def parse_parameters(text: str) -> dict[str, ParameterValues]:
    """Ollama's `parameters` text (`name value` lines, strings quoted) as values by name."""
    out: dict[str, ParameterValues] = {}
    for line in text.splitlines():
        name, _, raw = line.strip().partition(" ")
        raw = raw.strip()
        if not name or not raw:
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        if not isinstance(value, (str, int, float, bool)):
            value = raw
        out.setdefault(name, []).append(value)
    return out
