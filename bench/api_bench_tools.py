"""The tool rows of `api_bench.py`: a forced tool call and a JSON-schema answer, SYNAPSE against llama-cpp-python.

Each row is one non-streamed request through `synapse serve` (the official `openai` client) and, as the
reference, llama-cpp-python's own `Llama.create_chat_completion` in this process with the same prompt
messages (planned by the same agent from the same request body), the same GBNF grammar (built by SYNAPSE's
grammar code before the clock starts), greedy decoding, the same max_tokens and seed. SYNAPSE's own share
of the time to a complete answer is time(API) - plan time (reported by the server) - time(direct).

On a busy machine generation time moves by more than the 10 ms target from one run to the next, so each
row is also run with the model replayed: `create_completion` gives the chunks of a real run at a fixed
pace, to SYNAPSE's whole path served in this process and to llama-cpp-python's streamed chat completion;
the pace is not counted, and what is left on each side is the work around the model.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
from collections.abc import Iterator
from typing import Any

from rich.console import Console
from rich.table import Table

PROMPT = "We want the crane boom to be stronger, but reinforcing it makes it heavier. How can we resolve this?"
SEED = 7
_SHORT = {"type": "string", "maxLength": 40}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "matrix_lookup",
            "description": "Look up the TRIZ contradiction matrix: the inventive principles that improve one "
            "parameter without worsening another.",
            "parameters": {
                "type": "object",
                "properties": {"improving": _SHORT, "worsening": _SHORT},
                "required": ["improving", "worsening"],
                "additionalProperties": False,
            },
        },
    }
]
SCHEMA = {
    "type": "object",
    "properties": {
        "improving": _SHORT,
        "worsening": _SHORT,
        "principles": {"type": "array", "items": {"enum": list(range(1, 41))}, "minItems": 1, "maxItems": 3},
    },
    "required": ["improving", "worsening", "principles"],
    "additionalProperties": False,
}
#: What each row adds to the request body.
ROWS: dict[str, dict[str, Any]] = {
    # One call: with parallel calls allowed the grammar lets the demo model add calls until max_tokens.
    "tool call": {"tools": TOOLS, "tool_choice": "required", "parallel_tool_calls": False},
    "json schema": {
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "triz_answer", "schema": SCHEMA, "strict": True},
        }
    },
}


def request_body(row: str, mode: str, max_tokens: int) -> dict[str, Any]:
    return {
        "model": "triz-agent",
        "messages": [{"role": "user", "content": PROMPT}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "seed": SEED,
        "rag": {"mode": mode},
        **ROWS[row],
    }


async def plan_rows(modes: list[str], max_tokens: int) -> dict[tuple[str, str], Any]:
    """The plan SYNAPSE makes for each row's request body: the body goes through the router's own conversion."""
    from synapse.agent import create_agent
    from synapse.api.openai_request import turn_input
    from synapse.api.schemas_openai import ChatCompletionRequest
    from synapse.api.turns import build_turn
    from synapse.config import SynapseSettings

    settings = SynapseSettings()
    agent = await create_agent(settings)
    try:
        plans = {}
        for row in ROWS:
            for mode in modes:
                body = ChatCompletionRequest.model_validate(request_body(row, mode, max_tokens))
                plans[row, mode] = await agent.plan(build_turn(settings, turn_input(body)))
    finally:
        await agent.aclose()
    return plans


class Direct:
    """llama-cpp-python's own chat completion on the GGUF that SYNAPSE serves, with SYNAPSE's grammar.

    The Llama object is the one an embedded backend loads (same path, context, threads); its backend
    object also serves the replay server.
    """

    def __init__(self) -> None:
        from synapse.config import SynapseSettings
        from synapse.llm.llamacpp import LlamaCppBackend, embedded_config

        settings = SynapseSettings()
        self.backend = LlamaCppBackend(embedded_config(settings))
        asyncio.run(self.backend.start())
        self.llama = self.backend._llama
        if self.llama is None:
            raise SystemExit("the embedded backend did not load")
        assert self.backend._template is not None
        self.native = self.backend._template.native_tools

    def prepare(self, plan: Any) -> dict[str, Any]:
        """The create_chat_completion arguments for `plan`: the messages in the form SYNAPSE renders them."""
        from llama_cpp.llama_grammar import LlamaGrammar

        from synapse.llm.chat_template import _native, _written
        from synapse.llm.grammars import grammar_for
        from synapse.llm.output import plan_output
        from synapse.llm.tool_calls import fill_tool_names

        out = plan_output(plan.options)
        messages = fill_tool_names(plan.messages)
        opts = plan.options
        kwargs: dict[str, Any] = {
            "max_tokens": opts.max_tokens,
            "temperature": opts.temperature,
            "top_p": opts.top_p,
            "seed": opts.seed,
            "stop": opts.stop or None,
        }
        if self.native:
            kwargs["messages"] = [_native(m) for m in messages]
            kwargs["tools"] = [t.to_wire() for t in out.prompt_tools] or None
        else:
            kwargs["messages"] = _written(messages, out.prompt_tools)
        grammar = grammar_for(out)
        assert grammar is not None
        kwargs["grammar"] = LlamaGrammar.from_string(grammar, verbose=False)
        return kwargs

    def once(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        start = time.perf_counter()
        answer = self.llama.create_chat_completion(**kwargs)
        elapsed = (time.perf_counter() - start) * 1000
        usage = answer["usage"]
        text = answer["choices"][0]["message"]["content"] or ""
        return {
            "ms": elapsed,
            "prompt": usage["prompt_tokens"],
            "completion": usage["completion_tokens"],
            # SYNAPSE counts an answer's tokens by tokenizing its text again (as this does).
            "retokenized": len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False)),
            "text": text,
        }

    def streamed(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        start = time.perf_counter()
        pieces = [
            c["choices"][0]["delta"].get("content") or ""
            for c in self.llama.create_chat_completion(**kwargs, stream=True)
        ]
        return {"ms": (time.perf_counter() - start) * 1000, "text": "".join(pieces)}

    def close(self) -> None:
        asyncio.run(self.backend.aclose())


def api_once(client: Any, row: str, mode: str, max_tokens: int) -> dict[str, Any]:
    body = request_body(row, mode, max_tokens)
    rag = body.pop("rag")
    start = time.perf_counter()
    answer = client.chat.completions.create(**body, extra_body={"rag": rag})
    elapsed = (time.perf_counter() - start) * 1000
    message = answer.choices[0].message
    calls = [(c.function.name, json.loads(c.function.arguments)) for c in message.tool_calls or []]
    return {
        "ms": elapsed,
        "plan_ms": float((answer.model_extra or {})["retrieval"]["plan_ms"]),
        "prompt": answer.usage.prompt_tokens,
        "completion": answer.usage.completion_tokens,
        "text": message.content or "",
        "calls": calls,
        "finish": answer.choices[0].finish_reason,
    }


def same_answer(row: str, direct: dict[str, Any], api: dict[str, Any]) -> bool:
    """Whether both sides gave the same call or the same JSON (greedy decoding, same grammar)."""
    if row == "tool call":
        from synapse.llm.tool_calls import parse_tool_calls

        parsed = parse_tool_calls(direct["text"]).calls
        return [(c.name, c.arguments) for c in parsed] == api["calls"] and api["finish"] == "tool_calls"
    try:
        return bool(json.loads(direct["text"]) == json.loads(api["text"]))
    except ValueError:
        return False


def run_rows(
    url: str, key: str, plans: dict[tuple[str, str], Any], modes: list[str], runs: int, max_tokens: int
) -> dict[str, Any]:
    """Direct and API runs in pairs, who goes first alternating (the first pair of each row warms up); then
    the replayed rows."""
    direct = Direct()
    try:
        pairs = _pairs(direct, url, key, {k: p for k, p in plans.items() if k[1] in modes}, runs, max_tokens)
        replayed = replay_rows(direct, key, plans, max(runs, 20), max_tokens)
    finally:
        direct.close()
    return {"pairs": pairs, "replay": replayed}


def _pairs(
    direct: Direct, url: str, key: str, plans: dict[tuple[str, str], Any], runs: int, max_tokens: int
) -> dict[tuple[str, str], list[tuple[dict[str, Any], dict[str, Any]]]]:
    import openai

    out = {}
    with openai.OpenAI(base_url=f"{url}/v1", api_key=key, timeout=600, max_retries=0) as client:
        for (row, mode), plan in plans.items():
            kwargs = direct.prepare(plan)
            pairs = []
            for i in range(runs + 1):
                # The second of a pair runs right after the first's generation, with the machine in whatever
                # state it left: who goes first alternates.
                if i % 2:
                    a = api_once(client, row, mode, max_tokens)
                    d = direct.once(kwargs)
                else:
                    d = direct.once(kwargs)
                    a = api_once(client, row, mode, max_tokens)
                if i:
                    pairs.append((d, a))
            out[row, mode] = pairs
    return out


class Replay:
    """Stands in for the Llama object's create_completion: records one real run, then replays its chunks, one
    every `pace_s` as a model would give them (so each one crosses from the worker thread to the event loop
    on its own), counting the time spent waiting in `slept`."""

    def __init__(self, llama: Any, pace_s: float) -> None:
        self.llama = llama
        self.original = llama.create_completion
        self.pace_s = pace_s
        self.chunks: list[Any] | None = None
        self.slept = 0.0

    def __enter__(self) -> Replay:
        self.llama.create_completion = self
        return self

    def __exit__(self, *exc: object) -> None:
        del self.llama.create_completion

    def __call__(self, **kwargs: Any) -> Iterator[Any]:
        return self._record(kwargs) if self.chunks is None else self._replay(self.chunks)

    def _record(self, kwargs: dict[str, Any]) -> Iterator[Any]:
        chunks = []
        for chunk in self.original(**kwargs):
            chunks.append(chunk)
            yield chunk
        self.chunks = chunks

    def _replay(self, chunks: list[Any]) -> Iterator[Any]:
        for chunk in chunks:
            start = time.perf_counter()
            time.sleep(self.pace_s)
            self.slept += time.perf_counter() - start
            yield chunk


@contextlib.contextmanager
def serve_in_thread(direct: Direct, key: str) -> Iterator[str]:
    """SYNAPSE's app in this process on `direct`'s backend (CORTEX off, the same TRIZ analysis); yields its URL."""
    import threading

    import uvicorn

    from synapse.agent import Agent, UnavailableCortex
    from synapse.api import create_app
    from synapse.config import SynapseSettings
    from synapse.llm import Backends

    settings = SynapseSettings(api_keys=key)
    agent = Agent(Backends({"llamacpp": direct.backend}, ["llamacpp"]), UnavailableCortex("off", "off"), settings)
    server = uvicorn.Server(uvicorn.Config(create_app(settings, agent=agent), port=0, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)


def replay_rows(
    direct: Direct, key: str, plans: dict[tuple[str, str], Any], runs: int, max_tokens: int, pace_s: float = 0.01
) -> dict[str, list[tuple[dict[str, Any], dict[str, Any]]]]:
    """Each row with the model replayed (RAG off), in pairs: SYNAPSE's whole path in this process (HTTP, router,
    agent, embedded backend and its worker thread, prompt, grammar, parsing, validation) against
    llama-cpp-python's streamed create_chat_completion on the same chunks at the same pace. Server and client
    share this process and its GIL, so SYNAPSE's side is an upper bound."""
    import openai

    out = {}
    with (
        serve_in_thread(direct, key) as url,
        openai.OpenAI(base_url=f"{url}/v1", api_key=key, timeout=600, max_retries=0) as client,
    ):
        for row in ROWS:
            kwargs = direct.prepare(plans[row, "off"])
            pairs = []
            with Replay(direct.llama, pace_s) as replay:
                api_once(client, row, "off", max_tokens)  # the real run that is recorded
                for i in range(runs + 3):
                    replay.slept = 0.0
                    a = {**api_once(client, row, "off", max_tokens), "slept_ms": replay.slept * 1000}
                    replay.slept = 0.0
                    d = {**direct.streamed(kwargs), "slept_ms": replay.slept * 1000}
                    if i >= 3:  # warm-up
                        pairs.append((d, a))
            out[row] = pairs
    return out


def report(console: Console, results: dict[str, Any], runs: int, max_tokens: int) -> None:
    table = Table(title=f"Time to a complete answer (non-streamed), {runs} pairs, max_tokens {max_tokens}")
    for col in ("row", "path", "RAG", "prompt tok", "completion tok", "same answer", "total ms", "plan ms"):
        table.add_column(col, justify="left" if col in ("row", "path", "RAG") else "right")
    for col in ("SYNAPSE share ms", "floor share ms", "vs target 10 ms"):
        table.add_column(col, justify="right")
    verdicts = []
    for (row, mode), pairs in results["pairs"].items():
        d0, a0 = pairs[0]
        same = all(same_answer(row, d, a) for d, a in pairs)
        d_ms = statistics.median(d["ms"] for d, _ in pairs)
        completion = f"{d0['completion']} (text {d0['retokenized']})"
        table.add_row(row, "direct", mode, str(d0["prompt"]), completion, "", f"{d_ms:.1f}", "", "", "", "")
        # Median of the per-pair differences (a pair shares the machine's load), and the difference of
        # the two sides' fastest runs: the load here only ever slows a run down.
        share = statistics.median(a["ms"] - a["plan_ms"] - d["ms"] for d, a in pairs)
        floor = min(a["ms"] - a["plan_ms"] for _, a in pairs) - min(d["ms"] for d, _ in pairs)
        table.add_row(
            row,
            "SYNAPSE",
            mode,
            str(a0["prompt"]),
            str(a0["completion"]),
            "yes" if same else "[red]no[/]",
            f"{statistics.median(a['ms'] for _, a in pairs):.1f}",
            f"{statistics.median(a['plan_ms'] for _, a in pairs):.1f}",
            f"{share:.1f}",
            f"{floor:.1f}",
            _verdict(share),
        )
        verdicts.append((f"{row}, RAG {mode}", share, "median of pairs"))
    for row, pairs in results["replay"].items():
        same = all(same_answer(row, d, a) for d, a in pairs)
        d_own = statistics.median(d["ms"] - d["slept_ms"] for d, _ in pairs)
        a_own = [a["ms"] - a["plan_ms"] - a["slept_ms"] for _, a in pairs]
        table.add_row(row, "direct, replayed", "off", "", "", "", f"{d_own:.1f}", "", "", "", "")
        share = statistics.median(a - (d["ms"] - d["slept_ms"]) for a, (d, _) in zip(a_own, pairs, strict=True))
        floor = min(a_own) - min(d["ms"] - d["slept_ms"] for d, _ in pairs)
        table.add_row(
            row,
            "SYNAPSE, replayed",
            "off",
            str(pairs[0][1]["prompt"]),
            str(pairs[0][1]["completion"]),
            "yes" if same else "[red]no[/]",
            f"{statistics.median(a['ms'] - a['slept_ms'] for _, a in pairs):.1f}",
            f"{statistics.median(a['plan_ms'] for _, a in pairs):.1f}",
            f"{share:.1f}",
            f"{floor:.1f}",
            _verdict(share),
        )
        verdicts.append((f"{row}, model replayed", share, f"median of {len(pairs)} pairs"))
    console.print(table)
    console.print(
        "completion tok: direct gives the tokens generated and, in brackets, its answer's text tokenized again, "
        "which is how SYNAPSE counts (grammar-constrained text is not always tokenized the way it was generated)"
    )
    console.print(
        "replayed: create_completion gives the chunks of a real run, one per 10 ms (the waits not counted), to "
        "SYNAPSE's whole path in this process (HTTP, router, agent, backend worker, prompt, grammar, parsing, "
        "validation; client and server share one GIL) and to llama-cpp-python's streamed create_chat_completion"
    )
    for what, share, how in verdicts:
        ok = share <= 10
        console.print(
            f"{what}: SYNAPSE adds {share:.1f} ms ({how}) to a complete answer beyond planning "
            f"(target ≤ 10) [{'green' if ok else 'red'}]{'ok' if ok else 'over'}[/]"
        )


def _verdict(share: float) -> str:
    ok = share <= 10
    return f"[{'green' if ok else 'red'}]{share / 10:.2f}× {'ok' if ok else 'over'}[/]"
