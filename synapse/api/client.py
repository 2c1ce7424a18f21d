"""A small client of a running SYNAPSE: one streamed chat over /v1/chat/completions (for `synapse chat --url`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import BaseModel, Field

from synapse.errors import SynapseError


class RemoteAnswer(BaseModel):
    text: str
    extras: dict[str, Any] = Field(default_factory=dict)
    usage: dict[str, Any] = Field(default_factory=dict)
    finish_reason: str | None = None


def stream_chat(
    url: str,
    question: str,
    *,
    api_key: str = "",
    model: str = "triz-agent",
    rag: str | None = None,
    max_tokens: int = 512,
    on_extras: Callable[[dict[str, Any]], None] | None = None,
    on_text: Callable[[str], None] | None = None,
    timeout_s: float = 600.0,
) -> RemoteAnswer:
    """Stream one answer from SYNAPSE at `url`; raises SynapseError with the server's message on failure."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": question}],
        "stream": True,
        "max_tokens": max_tokens,
    }
    if rag:
        body["rag"] = {"mode": rag}
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    parts: list[str] = []
    answer = RemoteAnswer(text="")
    try:
        with httpx.stream(
            "POST", url.rstrip("/") + "/v1/chat/completions", json=body, headers=headers, timeout=timeout_s
        ) as r:
            if r.status_code != 200:
                r.read()
                try:
                    message = r.json()["error"]["message"]
                except (ValueError, KeyError, TypeError):
                    message = r.text[:300]
                raise SynapseError(f"SYNAPSE answered {r.status_code}: {message}", "see `synapse serve` output")
            for line in r.iter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                event = json.loads(line[6:])
                if "error" in event:
                    raise SynapseError(f"generation failed: {event['error'].get('message')}")
                if "sources" in event:
                    answer.extras = {k: event[k] for k in ("sources", "warnings", "triz", "retrieval", "routing")}
                    if on_extras is not None:
                        on_extras(answer.extras)
                for choice in event.get("choices", []):
                    text = choice.get("delta", {}).get("content") or ""
                    if text:
                        parts.append(text)
                        if on_text is not None:
                            on_text(text)
                    answer.finish_reason = choice.get("finish_reason") or answer.finish_reason
                if event.get("usage"):
                    answer.usage = event["usage"]
    except httpx.HTTPError as exc:
        raise SynapseError(
            f"cannot reach SYNAPSE at {url}: {exc}", "start it with `synapse serve`, or check --url"
        ) from exc
    answer.text = "".join(parts)
    return answer
