"""GBNF grammars for constrained decoding with llama.cpp: a JSON answer, or a forced tool call.

Schemas go through llama-cpp-python's JSON-schema-to-GBNF converter after `schema_check` has refused what
the converter would silently drop. A forced call is `<tool_call>\\n{"name": "<tool>", "arguments": <that
tool's schema>}\\n</tool_call>`, the format Qwen2.5 was trained on and `tool_calls` parses.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from synapse.llm.errors import UnsupportedSchemaError
from synapse.llm.models import ResponseFormat, ToolSpec
from synapse.llm.output import OutputPlan
from synapse.llm.schema_check import SchemaCleaner
from synapse.llm.structured import schema_of, validator
from synapse.llm.tool_calls import CLOSE, OPEN

#: The most calls one forced answer may hold when parallel calls are allowed.
MAX_PARALLEL_CALLS = 4
_CONVERTER_ERRORS = (AssertionError, ValueError, KeyError, TypeError, IndexError, RecursionError)


def gbnf_literal(text: str) -> str:
    """`text` as a GBNF string literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return '"' + escaped.replace("\t", "\\t") + '"'


def _converter() -> Any:
    from llama_cpp.llama_grammar import SchemaConverter

    converter: Any = SchemaConverter
    return converter(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)


def _convert(converter: Any, schema: dict[str, Any], where: str, prefix: str, name: str) -> str:
    """Adds the rules of `schema` to `converter` and returns the name of its top rule."""
    validator(schema, where)
    cleaned = SchemaCleaner(where, prefix).clean(schema)
    try:
        return str(converter.visit(converter.resolve_refs(cleaned, prefix), name))
    except _CONVERTER_ERRORS as exc:
        raise UnsupportedSchemaError(
            f"{where}: llama.cpp's schema-to-grammar converter rejects the schema: {exc}",
            "simplify the schema",
        ) from exc


def answer_grammar(fmt: ResponseFormat) -> str:
    """A grammar for an answer that is JSON in `fmt` (any object, or the schema)."""
    converter = _converter()
    _convert(converter, schema_of(fmt), "response_format", "a-def-", "")
    return str(converter.format_grammar())


def tool_grammar(tools: Sequence[ToolSpec], *, parallel: bool, answer: ResponseFormat | None = None) -> str:
    """A grammar for one call (several when `parallel`) of one of `tools`; with `answer`, that JSON answer
    is the alternative to calling."""
    if not tools:
        raise UnsupportedSchemaError("a tool-call grammar needs at least one tool", "send the tools")
    converter = _converter()
    rules: list[str] = []
    calls: list[str] = []
    for i, tool in enumerate(tools):
        args = _convert(converter, tool.parameters, f"tool {tool.name!r} parameters", f"t{i}-def-", f"t{i}-args")
        head = gbnf_literal(f"{OPEN}\n" + '{"name": ' + json.dumps(tool.name) + ', "arguments": ')
        rules.append(f"tool-call-{i} ::= {head} {args} {gbnf_literal('}' + chr(10) + CLOSE)}")
        calls.append(f"tool-call-{i}")
    rules.append("tool-block ::= " + " | ".join(calls))
    more = f' ("\\n" tool-block){{0,{MAX_PARALLEL_CALLS - 1}}}' if parallel else ""
    root = f"tool-block{more}"
    if answer is not None:
        answer_rule = _convert(converter, schema_of(answer), "response_format", "a-def-", "answer")
        root = f"({root}) | {answer_rule}"
    rules.append(f"root ::= {root}")
    return "\n".join([converter.format_grammar(), *rules])


def grammar_for(plan: OutputPlan) -> str | None:
    """The grammar that `plan` decodes with, or None for free text."""
    if plan.forced:
        return tool_grammar(list(plan.callable.values()), parallel=plan.parallel)
    if plan.response_format is None:
        return None
    if plan.callable:
        return tool_grammar(list(plan.callable.values()), parallel=plan.parallel, answer=plan.response_format)
    return answer_grammar(plan.response_format)


def grammar_parses(vocab: Any, grammar: str) -> bool:
    """Whether llama.cpp parses `grammar` (it would crash sampling with one that does not)."""
    import llama_cpp

    sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode("utf-8"), b"root")
    if not sampler:
        return False
    llama_cpp.llama_sampler_free(sampler)
    return True
