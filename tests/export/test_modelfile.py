"""The Modelfile: its text, its chat template (rendered as Ollama would), and atomic writing."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from export.modelfile import modelfile_filename, render_modelfile, write_modelfile
from export.profiles import ExportProfile, builtin_profiles
from synapse.errors import SynapseError

# ---------------------------------------------------------------------------------------------
# A small evaluator for the part of Go's text/template language that the template uses (if/else
# if/else, range with variables, := and =, fields, and/or/not/eq/ne/len/slice/index, trim
# markers). No Go toolchain is at hand in the tests; this checks the template's whitespace and
# turn structure against the exact ChatML text Qwen2.5 was trained on.
# ---------------------------------------------------------------------------------------------

_ACTION = re.compile(r"\{\{(-?)\s*(.*?)\s*(-?)\}\}", re.DOTALL)
_TOKEN = re.compile(r'\(|\)|"(?:[^"\\]|\\.)*"|\$\w*(?:\.\w+)*|(?:\.\w+)+|\.|-?\d+|:=|=|\w+')
_FUNCS: dict[str, Callable[..., Any]] = {
    "not": lambda a: not a,
    "and": lambda *a: next((x for x in a if not x), a[-1]),
    "or": lambda *a: next((x for x in a if x), a[-1]),
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "len": len,
    "slice": lambda seq, i: seq[i:],
    "index": lambda seq, i: seq[i],
}


def _lex(template: str) -> list[tuple[str, str]]:
    """Text and action pieces, with the {{- and -}} trim markers already applied."""
    pieces: list[tuple[str, str]] = []
    pos, trim_next = 0, False
    for match in _ACTION.finditer(template):
        text = template[pos : match.start()]
        text = text.lstrip(" \t\r\n") if trim_next else text
        text = text.rstrip(" \t\r\n") if match.group(1) else text
        pieces += [("text", text), ("action", match.group(2))]
        pos, trim_next = match.end(), bool(match.group(3))
    tail = template[pos:]
    pieces.append(("text", tail.lstrip(" \t\r\n") if trim_next else tail))
    return pieces


def _parse(pieces: list[tuple[str, str]], at: int = 0) -> tuple[list[Any], int, str]:
    """A node list up to the next else/end; returns it, the next index and the action that stopped it."""
    nodes: list[Any] = []
    while at < len(pieces):
        kind, body = pieces[at]
        at += 1
        if kind == "text":
            nodes.append(("text", body))
        elif body == "end" or body.startswith("else"):
            return nodes, at, body
        elif body.startswith("if "):
            branches: list[tuple[str, list[Any] | None]] = [(body[3:], None)]
            otherwise: list[Any] | None = None
            while True:
                block, at, stop = _parse(pieces, at)
                branches[-1] = (branches[-1][0], block)
                if stop.startswith("else if "):
                    branches.append((stop[8:], None))
                elif stop == "else":
                    otherwise, at, _ = _parse(pieces, at)
                    break
                else:
                    break
            nodes.append(("if", branches, otherwise))
        elif body.startswith("range "):
            block, at, _ = _parse(pieces, at)
            nodes.append(("range", body[6:], block))
        elif not body.startswith("/*"):
            nodes.append(("expr", body))
    return nodes, at, ""


class _Scope:
    """Go template variables: nested scopes, := declares in the innermost, = assigns where found."""

    def __init__(self, root: Any) -> None:
        self.frames: list[dict[str, Any]] = [{"$": root}]

    def get(self, name: str) -> Any:
        return next(frame[name] for frame in reversed(self.frames) if name in frame)

    def set(self, name: str, value: Any, declare: bool) -> None:
        target = self.frames[-1] if declare else next(f for f in reversed(self.frames) if name in f)
        target[name] = value


def _fields(value: Any, chain: str) -> Any:
    for name in filter(None, chain.split(".")):
        value = value.get(name) if isinstance(value, dict) else None
    return value


def _eval(tokens: list[str], dot: Any, scope: _Scope) -> Any:
    """Evaluate a pipeline: a function call with arguments, or a single operand."""
    values: list[Any] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token == "(":
            depth, j = 1, i + 1
            while depth:
                depth += {"(": 1, ")": -1}.get(tokens[j], 0)
                j += 1
            value = _eval(tokens[i + 1 : j - 1], dot, scope)
            if j < len(tokens) and tokens[j].startswith(".") and tokens[j] != ".":
                value, j = _fields(value, tokens[j]), j + 1
            values.append(value)
            i = j
            continue
        if token.startswith('"'):
            values.append(json.loads(token))
        elif token.lstrip("-").isdigit():
            values.append(int(token))
        elif token.startswith("$"):
            name, _, chain = token.partition(".")
            values.append(_fields(scope.get(name), chain))
        elif token.startswith("."):
            values.append(_fields(dot, token))
        else:
            values.append(token)  # a function name
        i += 1
    if values and isinstance(values[0], str) and tokens[0] in _FUNCS:
        return _FUNCS[tokens[0]](*values[1:])
    return values[0]


def _exec(nodes: list[Any], dot: Any, scope: _Scope, out: list[str]) -> None:
    for node in nodes:
        if node[0] == "text":
            out.append(node[1])
        elif node[0] == "expr":
            tokens = _TOKEN.findall(node[1])
            if len(tokens) > 2 and tokens[1] in (":=", "="):
                scope.set(tokens[0], _eval(tokens[2:], dot, scope), declare=tokens[1] == ":=")
            else:
                value = _eval(tokens, dot, scope)
                out.append("" if value is None else str(value))
        elif node[0] == "if":
            _, branches, otherwise = node
            chosen = next((block for cond, block in branches if _eval(_TOKEN.findall(cond), dot, scope)), otherwise)
            scope.frames.append({})
            _exec(chosen or [], dot, scope, out)
            scope.frames.pop()
        elif node[0] == "range":
            _, head, block = node
            names, _, pipeline = head.rpartition(":=")
            variables = [name.strip() for name in names.split(",") if name.strip()]
            for index, item in enumerate(_eval(_TOKEN.findall(pipeline), dot, scope) or []):
                frame = dict(zip(variables, [index, item] if len(variables) == 2 else [item], strict=False))
                scope.frames.append(frame)
                _exec(block, item, scope, out)
                scope.frames.pop()


def go_render(template: str, data: dict[str, Any]) -> str:
    """Render `template` with `data` the way Go's text/template would, for the constructs it uses."""
    nodes, _, _ = _parse(_lex(template))
    out: list[str] = []
    _exec(nodes, data, _Scope(data), out)
    return "".join(out)


def message(role: str, content: str = "", tool_calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"Role": role, "Content": content, "ToolCalls": tool_calls or []}


def call(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    # Ollama prints tool-call arguments as JSON through their String method.
    return {"Function": {"Name": name, "Arguments": json.dumps(arguments)}}


def ollama_data(messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """What Ollama hands the template: system messages joined into .System and kept in .Messages."""
    system = "\n\n".join(m["Content"] for m in messages if m["Role"] == "system")
    return {"System": system, "Messages": messages, "Tools": tools or [], "Prompt": "", "Response": ""}


# ---------------------------------------------------------------------------------------------


@pytest.fixture
def td() -> ExportProfile:
    return builtin_profiles()["td010v2"]


def test_modelfile_text(td: ExportProfile) -> None:
    text = render_modelfile(td, "./triz-td010v2-q4km.gguf")
    lines = text.splitlines()
    assert "FROM ./triz-td010v2-q4km.gguf" in lines
    assert 'PARAMETER stop "<|im_end|>"' in lines
    assert 'PARAMETER stop "<|endoftext|>"' in lines
    assert "PARAMETER num_ctx 4096" in lines
    assert "PARAMETER temperature 0.3" in lines
    assert f'SYSTEM """{td.system["ru"]}"""' in text
    assert "ADAPTER" not in text
    template = text.split('TEMPLATE """', 1)[1].split('"""', 1)[0]
    assert template == td.template
    for piece in ("<|im_start|>", "<|im_end|>", ".Tools", "<tool_call>", "<tool_response>", ".ToolCalls"):
        assert piece in template
    assert text.endswith("\n") and "\r" not in text


def test_adapter_line_and_english_system(td: ExportProfile) -> None:
    english = td.model_copy(update={"system_lang": "en"})
    text = render_modelfile(english, "./base.gguf", "./lora.gguf")
    assert "ADAPTER ./lora.gguf" in text.splitlines()
    assert f'SYSTEM """{td.system["en"]}"""' in text


def test_paths_with_blanks_are_quoted(td: ExportProfile) -> None:
    text = render_modelfile(td, "./my models/x.gguf")
    assert 'FROM "./my models/x.gguf"' in text.splitlines()


def test_triple_quotes_that_would_end_a_block_are_refused(td: ExportProfile) -> None:
    bad = td.model_copy(update={"system": {**td.system, "ru": 'Say """ hello'}})
    with pytest.raises(SynapseError, match="SYSTEM"):
        render_modelfile(bad, "./x.gguf")
    # Quotes that the parser reads back whole are fine, even at the ends of the text.
    fine = td.model_copy(update={"system": {**td.system, "ru": '"Quoted" and ""x""'}})
    assert 'SYSTEM """"Quoted" and ""x"""""' in render_modelfile(fine, "./x.gguf")


def test_modelfile_filename(td: ExportProfile) -> None:
    assert modelfile_filename(td) == "triz-td010v2-q4km.Modelfile"
    assert modelfile_filename(td.model_copy(update={"ollama_name": "me/m:q4"})) == "me-m-q4.Modelfile"


def test_write_modelfile_is_atomic(tmp_path: Path, td: ExportProfile) -> None:
    target = tmp_path / "modelfiles" / "triz-td010v2-q4km.Modelfile"
    text = render_modelfile(td, "./triz-td010v2-q4km.gguf")
    assert write_modelfile(target, "old\n") == target
    write_modelfile(target, text)
    assert target.read_bytes() == text.encode("utf-8")
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_write_modelfile_failure_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("export.modelfile.os.replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        write_modelfile(tmp_path / "x.Modelfile", "text\n")
    assert list(tmp_path.iterdir()) == []


def test_template_renders_a_plain_chat(td: ExportProfile) -> None:
    messages = [message("system", "SYS"), message("user", "Hi")]
    assert go_render(td.template, ollama_data(messages)) == (
        "<|im_start|>system\nSYS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )


def test_template_renders_a_multi_turn_chat(td: ExportProfile) -> None:
    messages = [
        message("system", "SYS"),
        message("user", "Q1"),
        message("assistant", "A1"),
        message("user", "Q2"),
    ]
    assert go_render(td.template, ollama_data(messages)) == (
        "<|im_start|>system\nSYS<|im_end|>\n"
        "<|im_start|>user\nQ1<|im_end|>\n"
        "<|im_start|>assistant\nA1<|im_end|>\n"
        "<|im_start|>user\nQ2<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_template_leaves_a_final_assistant_message_open(td: ExportProfile) -> None:
    messages = [message("user", "Q"), message("assistant", "Partial")]
    assert go_render(td.template, ollama_data(messages)) == (
        "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\nPartial"
    )


def test_template_renders_tools_calls_and_responses(td: ExportProfile) -> None:
    tool = {"type": "function", "function": {"name": "matrix", "parameters": {"type": "object"}}}
    tools = [{"Function": json.dumps(tool["function"])}]
    messages = [
        message("system", "SYS"),
        message("user", "Look up 14/1"),
        message("assistant", "", [call("matrix", {"improving": 14}), call("matrix", {"improving": 1})]),
        message("tool", "[1, 8]"),
        message("tool", "[40]"),
    ]
    rendered = go_render(td.template, ollama_data(messages, tools))
    assert rendered == (
        "<|im_start|>system\nSYS\n\n# Tools\n\n"
        "You may call one or more functions to assist with the user query.\n\n"
        "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
        f'{{"type": "function", "function": {json.dumps(tool["function"])}}}\n</tools>\n\n'
        "For each function call, return a json object with function name and arguments within "
        "<tool_call></tool_call> XML tags:\n<tool_call>\n"
        '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\nLook up 14/1<|im_end|>\n"
        "<|im_start|>assistant\n"
        '<tool_call>\n{"name": "matrix", "arguments": {"improving": 14}}\n</tool_call>\n'
        '<tool_call>\n{"name": "matrix", "arguments": {"improving": 1}}\n</tool_call><|im_end|>\n'
        "<|im_start|>user\n<tool_response>\n[1, 8]\n</tool_response>\n"
        "<tool_response>\n[40]\n</tool_response><|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_template_without_messages_uses_the_prompt(td: ExportProfile) -> None:
    data = {"System": "SYS", "Messages": [], "Tools": [], "Prompt": "Hi", "Response": ""}
    assert go_render(td.template, data) == (
        "<|im_start|>system\nSYS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )
