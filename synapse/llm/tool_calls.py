"""Tool calls in Qwen/Hermes style: `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` in the model's text.

The parser never raises: a block that is not a call stays plain text, so an answer is a call or text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from synapse.llm.models import ChatMessage, ToolCall, ToolCallDelta

OPEN = "<tool_call>"
CLOSE = "</tool_call>"
#: Characters of argument JSON per streamed fragment.
FRAGMENT_CHARS = 32


@dataclass(frozen=True)
class CallBlock:
    """One `<tool_call>` block as the model wrote it, and the call in it when it is one."""

    raw: str
    call: ToolCall | None
    #: False for a last block whose closing tag never came (the answer ended or was cut off inside it).
    closed: bool = True


Piece = str | CallBlock


@dataclass
class ParsedOutput:
    """A whole answer split into its text and its calls."""

    content: str
    calls: list[ToolCall] = field(default_factory=list)


def _arguments(value: Any) -> dict[str, Any] | None:
    if value is None:
        return {}
    if isinstance(value, str):
        # Some models (and OpenAI's wire format) give the arguments as a JSON string.
        try:
            value = json.loads(value) if value.strip() else {}
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def parse_call(body: str) -> ToolCall | None:
    """The call in the text between the tags, or None when it is not a JSON object with a name."""
    try:
        obj = json.loads(body)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    name = obj.get("name")
    arguments = _arguments(obj.get("arguments", obj.get("parameters")))
    if not isinstance(name, str) or not name.strip() or arguments is None:
        return None
    return ToolCall(name=name.strip(), arguments=arguments)


def _held_prefix(text: str, tag: str) -> int:
    """How many trailing characters of `text` could be the start of `tag` (kept until the next piece)."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


class ToolCallSplitter:
    """Splits streamed text into plain text and `<tool_call>` blocks as the pieces arrive.

    Text that may begin a tag is held back until it is decided; whitespace between or around calls is
    dropped, so an answer that only calls tools has no content.
    """

    def __init__(self) -> None:
        self._buf = ""
        self._inside = False
        self._blank = ""
        self._after_block = False
        self.blocks = 0

    def feed(self, text: str) -> list[Piece]:
        """The pieces that `text` completes."""
        self._buf += text
        out: list[Piece] = []
        while True:
            if self._inside:
                end = self._buf.find(CLOSE)
                if end < 0:
                    return out
                self._block(self._buf[:end], CLOSE, out)
                self._buf = self._buf[end + len(CLOSE) :]
                continue
            start = self._buf.find(OPEN)
            if start < 0:
                keep = _held_prefix(self._buf, OPEN)
                self._text(self._buf[: len(self._buf) - keep], out)
                self._buf = self._buf[len(self._buf) - keep :]
                return out
            self._text(self._buf[:start], out)
            self._buf = self._buf[start + len(OPEN) :]
            self._inside = True

    def finish(self) -> list[Piece]:
        """What is left at the end; an unclosed last block is still read as a call when it parses."""
        out: list[Piece] = []
        if self._inside:
            self._block(self._buf, "", out)
        else:
            self._text(self._buf, out)
        if self._blank and not self.blocks:
            out.append(self._blank)
        self._buf = self._blank = ""
        return out

    def _text(self, text: str, out: list[Piece]) -> None:
        if not text:
            return
        if self._after_block:
            # The line break after a closing tag belongs to the call, not to the text that follows.
            text = text.lstrip("\r\n")
        if not text.strip():
            self._blank += text
            return
        out.append(self._blank + text)
        self._blank = ""
        self._after_block = False

    def _block(self, body: str, close: str, out: list[Piece]) -> None:
        self._blank = ""
        self._after_block = True
        self.blocks += 1
        self._inside = False
        out.append(CallBlock(raw=OPEN + body + close, call=parse_call(body), closed=bool(close)))


def parse_tool_calls(text: str) -> ParsedOutput:
    """The calls in a complete answer and the text around them; broken blocks stay in the text."""
    splitter = ToolCallSplitter()
    content: list[str] = []
    calls: list[ToolCall] = []
    for piece in [*splitter.feed(text), *splitter.finish()]:
        if isinstance(piece, str):
            content.append(piece)
        elif piece.call is not None:
            calls.append(piece.call)
        else:
            content.append(piece.raw)
    return ParsedOutput(content="".join(content), calls=calls)


def call_deltas(call: ToolCall, index: int, size: int = FRAGMENT_CHARS) -> list[ToolCallDelta]:
    """The call as OpenAI streams it: id and name first, then the arguments JSON in fragments."""
    text = call.arguments_json()
    fragments = [text[i : i + size] for i in range(0, len(text), size)] or [""]
    first = ToolCallDelta(index=index, id=call.id, name=call.name, arguments=fragments[0])
    return [first, *(ToolCallDelta(index=index, arguments=f) for f in fragments[1:])]


def render_call(call: ToolCall) -> str:
    """A call written back the way the model writes it (for history in a prompt without tool support)."""
    body = json.dumps({"name": call.name, "arguments": call.arguments}, ensure_ascii=False)
    return f"{OPEN}\n{body}\n{CLOSE}"


def fill_tool_names(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """`messages` with each tool message's `name` taken from the assistant call it answers, where missing."""
    names: dict[str, str] = {}
    out: list[ChatMessage] = []
    for message in messages:
        for call in message.tool_calls:
            names[call.id] = call.name
        known = names.get(message.tool_call_id or "")
        if message.role == "tool" and not message.name and known:
            message = message.model_copy(update={"name": known})
        out.append(message)
    return out
