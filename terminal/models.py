"""The events of a streamed answer as the chat handles them; what they carry comes from synapse.client."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from synapse.client import TurnMeta, Usage


class MetaEvent(BaseModel):
    """The answer's metadata arrived (retrieval is over, tokens follow)."""

    kind: Literal["meta"] = "meta"
    meta: TurnMeta


class TokenEvent(BaseModel):
    """A piece of the answer's text."""

    kind: Literal["token"] = "token"
    text: str


class DoneEvent(BaseModel):
    """The answer is complete."""

    kind: Literal["done"] = "done"
    finish_reason: str = "stop"
    usage: Usage | None = None


StreamEvent = MetaEvent | TokenEvent | DoneEvent
