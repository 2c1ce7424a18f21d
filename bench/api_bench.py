#!/usr/bin/env python3
"""SYNAPSE API benchmark: what the API adds to the embedded backend, then 32 streaming clients at once.

    .venv/bin/python bench/api_bench.py [--runs 5] [--max-tokens 64] [--clients 32] [--seconds 60] [--skip-tools]
    .venv/bin/python bench/api_bench.py --only-tools [--runs 5] [--tool-max-tokens 128] [--tool-rag off mix]

1. The reference: the embedded llama.cpp backend called directly, in process, with exactly the messages
   SYNAPSE would send (planned by the same agent), RAG off and RAG on (mix).
2. The same prompt through `synapse serve` (a separate process, API key on, streaming SSE), RAG off then on:
   time to first token (TTFT) at the client and tokens/s. SYNAPSE's own share of TTFT is
   TTFT(API) - plan time (retrieval + TRIZ analysis, reported by the server) - TTFT(direct).
3. Tool rows (`api_bench_tools.py`): a forced tool call and a JSON-schema answer, non-streamed, through
   synapse serve against llama-cpp-python's own `create_chat_completion` with the same prompt and grammar;
   SYNAPSE's share of the time to a complete answer. `--only-tools` runs these rows alone.
4. `--clients` concurrent streaming clients for `--seconds`: requests done, errors (429s counted apart:
   they are the queue limit working), p50/p95 TTFT, and the server's memory before and after.

CORTEX and SYNAPSE data go to a temporary folder; the demo model or SYNAPSE_GGUF is used.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import api_bench_tools
from synapse.client import (
    AsyncClient,
    ChatOptions,
    Client,
    ResponseError,
    StreamedAnswer,
    StreamError,
    UnreachableError,
    Usage,
)

PROMPT = "We want the crane boom to be stronger, but reinforcing it makes it heavier. How can we resolve this?"
KEY = "bench-key"
# Piped output (a log, `tee`) gets the full tables rather than 80 columns of cut-off headers.
console = Console() if sys.stdout.isatty() else Console(width=160)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# ---- 1. direct -------------------------------------------------------------------------------


async def plan_messages(max_tokens: int) -> dict[str, Any]:
    """The exact messages and options SYNAPSE sends for each retrieval mode (same agent, same settings)."""
    from synapse.agent import RagOptions, TurnRequest, create_agent
    from synapse.config import SynapseSettings
    from synapse.llm import ChatMessage, GenerationOptions

    agent = await create_agent(SynapseSettings())
    try:
        plans = {}
        for mode in ("off", "mix"):
            request = TurnRequest(
                messages=[ChatMessage(role="user", content=PROMPT)],
                rag=RagOptions(mode=mode),  # type: ignore[arg-type]
                options=GenerationOptions(max_tokens=max_tokens, temperature=0),
            )
            plans[mode] = await agent.plan(request)
    finally:
        await agent.aclose()
    return plans


async def direct_once(backend: Any, plan: Any) -> dict[str, float]:
    start = time.perf_counter()
    first = end = None
    completion = prompt = 0
    async for delta in backend.stream(plan.messages, plan.model, plan.options):
        if delta.content and first is None:
            first = time.perf_counter()
        if delta.done:
            end = time.perf_counter()
            completion, prompt = delta.completion_tokens, delta.prompt_tokens
    assert first is not None and end is not None
    return {"ttft_ms": (first - start) * 1000, "tps": (completion - 1) / max(end - first, 1e-9), "prompt": prompt}


# ---- 2. through the API ------------------------------------------------------------------------


async def one_stream(client: AsyncClient, mode: str, max_tokens: int) -> dict[str, Any]:
    options = ChatOptions(rag=mode, max_tokens=max_tokens, temperature=0)
    start = time.perf_counter()
    first = last = None
    answer = StreamedAnswer()
    try:
        async for chunk in client.stream_chat("triz-agent", [{"role": "user", "content": PROMPT}], options):
            if answer.add(chunk) and first is None:
                first = time.perf_counter()
            if chunk.usage is not None:
                last = time.perf_counter()
    except ResponseError as exc:
        return {"status": exc.status_code, "retry_after": 1.0 if exc.retry_after is None else exc.retry_after}
    except StreamError as exc:
        return {"status": 500, "error": exc.detail}
    if first is None or last is None or answer.meta is None or answer.meta.retrieval is None:
        return {"status": 500, "error": "no tokens"}
    usage = answer.usage or Usage()
    return {
        "status": 200,
        "ttft_ms": (first - start) * 1000,
        "tps": (usage.completion_tokens - 1) / max(last - first, 1e-9),
        "retrieval_ms": answer.meta.retrieval.elapsed_ms,
        "plan_ms": answer.meta.retrieval.plan_ms,
        "prompt_tokens": usage.prompt_tokens,
    }


async def compare_runs(url: str, plans: dict[str, Any], runs: int, max_tokens: int) -> dict[str, Any]:
    """Direct and API runs in pairs, so that load from elsewhere on the machine hits both alike."""
    from synapse.config import SynapseSettings
    from synapse.llm.llamacpp import LlamaCppBackend, embedded_config

    settings = SynapseSettings()
    backend = LlamaCppBackend(embedded_config(settings))
    await backend.start()
    out: dict[str, Any] = {"direct": {}, "api": {}}
    try:
        async with AsyncClient(url, api_key=KEY, timeout=600) as http:
            for mode in ("off", "mix"):
                direct, api = [], []
                for i in range(runs + 1):
                    # Who goes first alternates: the second of a pair runs right after the first's
                    # generation, with its caches and the machine's clock in whatever state it left them.
                    if i % 2:
                        r = await one_stream(http, mode, max_tokens)
                        d = await direct_once(backend, plans[mode])
                    else:
                        d = await direct_once(backend, plans[mode])
                        r = await one_stream(http, mode, max_tokens)
                    if r["status"] != 200:
                        raise SystemExit(f"request failed: {r}")
                    if i:  # the first round warms the caches
                        direct.append(d)
                        api.append(r)
                out["direct"][mode], out["api"][mode] = direct, api
    finally:
        await backend.aclose()
    return out


# ---- 3. load -----------------------------------------------------------------------------------


async def load(url: str, clients: int, seconds: float, max_tokens: int) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    ttfts: list[float] = []
    counts = {"done": 0, "rejected_429": 0, "errors": 0}
    errors: list[str] = []
    limits = httpx.Limits(max_connections=clients * 2, max_keepalive_connections=clients * 2)

    async def client(http: AsyncClient, n: int) -> None:
        while time.monotonic() < deadline:
            try:
                r = await one_stream(http, "mix" if n % 2 else "off", max_tokens)
            except UnreachableError as exc:
                counts["errors"] += 1
                errors.append(f"{type(exc).__name__}: {exc}")
                continue
            if r["status"] == 200:
                counts["done"] += 1
                ttfts.append(r["ttft_ms"])
            elif r["status"] == 429:
                counts["rejected_429"] += 1
                await asyncio.sleep(min(r.get("retry_after", 1.0), 2.0))
            else:
                counts["errors"] += 1
                errors.append(str(r))

    async with AsyncClient(url, api_key=KEY, timeout=600, limits=limits) as http:
        await asyncio.gather(*(client(http, n) for n in range(clients)))
    return {**counts, "ttft_p50": pct(ttfts, 0.5), "ttft_p95": pct(ttfts, 0.95), "error_samples": errors[:3]}


# ---- 4. the API alone ----------------------------------------------------------------------------


def api_alone(runs: int) -> tuple[float, float]:
    """TTFT through the HTTP API with a backend that answers at once and no retrieval: SYNAPSE's own cost.

    Server (uvicorn thread) and client share this process and its GIL, so this is an upper bound.
    """
    import threading
    from collections.abc import AsyncIterator, Sequence

    import uvicorn

    from synapse.agent import Agent, UnavailableCortex
    from synapse.api import create_app
    from synapse.config import SynapseSettings
    from synapse.llm import BackendHealth, Backends, ChatMessage, GenerationOptions, LLMBackend, ModelInfo, StreamDelta

    class Instant(LLMBackend):
        kind = "ollama"

        async def stream(
            self, messages: Sequence[ChatMessage], model: str, options: GenerationOptions
        ) -> AsyncIterator[StreamDelta]:
            for word in ("a", " b", " c"):
                yield StreamDelta(content=word)
            yield StreamDelta(done=True, finish_reason="stop", prompt_tokens=1, completion_tokens=3)

        async def health(self) -> BackendHealth:
            return BackendHealth(backend="ollama", status="ok", models=["m"])

        async def list_models(self) -> list[ModelInfo]:
            return [ModelInfo(name="m", backend="ollama")]

    settings = SynapseSettings(backend="ollama", api_keys=KEY)
    backends = Backends({"ollama": Instant()}, ["ollama"], triz_model="m", base_model="m")
    agent = Agent(backends, UnavailableCortex("off", "off"), settings, analyzer=None)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, agent=agent), port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    messages = [{"role": "user", "content": PROMPT}]
    ttfts = []
    with Client(f"http://127.0.0.1:{port}", api_key=KEY, timeout=60) as http:
        for _ in range(runs + 5):
            start = time.perf_counter()
            for chunk in http.stream_chat("triz-agent", messages, ChatOptions(rag="off")):
                if chunk.text == "a":
                    ttfts.append((time.perf_counter() - start) * 1000)
                # read to the end: a closed stream would count as a client disconnect
    server.should_exit = True
    thread.join(10)
    ttfts = ttfts[5:]
    return statistics.median(ttfts), min(ttfts)


# ---- main --------------------------------------------------------------------------------------


def report_plain(compared: dict[str, Any], args: argparse.Namespace) -> None:
    direct, through = compared["direct"], compared["api"]
    table = Table(title=f"TTFT and tokens/s, median of {args.runs} runs, {args.max_tokens} tokens")
    for col in (
        "path",
        "RAG",
        "prompt tok",
        "TTFT ms",
        "plan ms",
        "retrieval ms",
        "SYNAPSE share ms",
        "tokens/s",
        "vs direct",
    ):
        table.add_column(col, justify="right" if col not in ("path", "RAG") else "left")
    verdicts = []
    floors: list[tuple[str, float]] = []
    for mode in ("off", "mix"):
        d_ttft = statistics.median(r["ttft_ms"] for r in direct[mode])
        d_tps = statistics.median(r["tps"] for r in direct[mode])
        table.add_row(
            "direct", mode, str(int(direct[mode][0]["prompt"])), f"{d_ttft:.1f}", "", "", "", f"{d_tps:.1f}", "1.00"
        )
        t = through[mode]
        a_ttft = statistics.median(r["ttft_ms"] for r in t)
        a_plan = statistics.median(r["plan_ms"] for r in t)
        a_ret = statistics.median(r["retrieval_ms"] for r in t)
        a_tps = statistics.median(r["tps"] for r in t)
        # Each API run is paired with the direct run just before it (same load on the machine): the median
        # of the per-pair differences is SYNAPSE's share, the smallest one its floor.
        shares = [a["ttft_ms"] - a["plan_ms"] - d["ttft_ms"] for d, a in zip(direct[mode], t, strict=True)]
        share = statistics.median(shares)
        ratio = statistics.median(a["tps"] / d["tps"] for d, a in zip(direct[mode], t, strict=True))
        floors.append((mode, min(shares)))
        table.add_row(
            "SYNAPSE",
            mode,
            str(t[0]["prompt_tokens"]),
            f"{a_ttft:.1f}",
            f"{a_plan:.1f}",
            f"{a_ret:.1f}",
            f"{share:.1f}",
            f"{a_tps:.1f}",
            f"{ratio:.2f}",
        )
        verdicts.append((mode, share, ratio))
    console.print(table)
    alone_p50, alone_min = api_alone(max(args.runs, 20))
    console.print(
        f"the API alone (instant backend, no retrieval, client and server in one process): "
        f"TTFT p50 {alone_p50:.1f} ms, min {alone_min:.1f} ms"
    )
    console.print("smallest SYNAPSE share of one run: " + ", ".join(f"RAG {m} {v:.1f} ms" for m, v in floors))
    for mode, share, ratio in verdicts:
        console.print(
            f"RAG {mode}: SYNAPSE adds {share:.1f} ms (median of pairs) to TTFT beyond planning (target ≤ 10) "
            f"[{'green' if share <= 10 else 'red'}]{'ok' if share <= 10 else 'over'}[/]; tokens/s {ratio:.2f}× direct "
            f"(target ≥ 0.95) [{'green' if ratio >= 0.95 else 'red'}]{'ok' if ratio >= 0.95 else 'under'}[/]"
        )


def report_load(
    loaded: dict[str, Any], args: argparse.Namespace, rss_before: float | None, rss_after: float | None
) -> None:
    load_table = Table(
        title=f"{args.clients} concurrent streaming clients, {args.seconds:.0f} s, {args.load_max_tokens} tokens each"
    )
    for col in ("done", "429 (queue full)", "errors", "TTFT p50 ms", "TTFT p95 ms", "RSS before MiB", "RSS after MiB"):
        load_table.add_column(col, justify="right")
    load_table.add_row(
        str(loaded["done"]),
        str(loaded["rejected_429"]),
        str(loaded["errors"]),
        f"{loaded['ttft_p50']:.0f}",
        f"{loaded['ttft_p95']:.0f}",
        f"{rss_before or 0:.0f}",
        f"{rss_after or 0:.0f}",
    )
    console.print(load_table)
    if loaded["error_samples"]:
        console.print("error samples:", loaded["error_samples"])


def start_server(env_overrides: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    synapse = Path(sys.executable).with_name("synapse")
    server = subprocess.Popen(
        [str(synapse), "serve", "--port", str(port), "--log-level", "warning"],
        env={**os.environ, **env_overrides},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                return server, url
        except httpx.HTTPError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.terminate()
            raise SystemExit("synapse serve did not start")
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--load-max-tokens", type=int, default=16)
    parser.add_argument("--skip-load", action="store_true", help="Only the direct/API comparison.")
    parser.add_argument("--only-tools", action="store_true", help="Only the tool-call and JSON-schema rows.")
    parser.add_argument("--skip-tools", action="store_true", help="Without the tool-call and JSON-schema rows.")
    parser.add_argument("--tool-max-tokens", type=int, default=128)
    parser.add_argument("--tool-rag", nargs="+", default=["off", "mix"], choices=["off", "naive", "mix"])
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="synapse-bench-"))
    env_overrides = {
        "CORTEX_DATA_DIR": str(work / "cortex"),
        "SYNAPSE_DATA_DIR": str(work / "synapse"),
        "SYNAPSE_N_CTX": "2048",
        "SYNAPSE_API_KEYS": KEY,
    }
    os.environ.update(env_overrides)

    plain_rows, tool_rows = not args.only_tools, not args.skip_tools
    console.print("[bold]1.[/] planning the prompts with the agent (CORTEX in process)")
    plans = asyncio.run(plan_messages(args.max_tokens)) if plain_rows else {}
    tool_plans = (
        asyncio.run(api_bench_tools.plan_rows(["off", *(m for m in args.tool_rag if m != "off")], args.tool_max_tokens))
        if tool_rows
        else {}
    )

    server, url = start_server(env_overrides)
    compared: dict[str, Any] = {}
    tools: dict[Any, Any] = {}
    loaded: dict[str, Any] | None = None
    try:
        if plain_rows:
            console.print(
                "[bold]2.[/] the embedded backend directly and through synapse serve (SSE, API key), interleaved"
            )
            compared = asyncio.run(compare_runs(url, plans, args.runs, args.max_tokens))
        if tool_rows:
            console.print("[bold]3.[/] a forced tool call and a JSON-schema answer: llama-cpp-python and synapse serve")
            tools = api_bench_tools.run_rows(url, KEY, tool_plans, args.tool_rag, args.runs, args.tool_max_tokens)
        rss_before = rss_mib(server.pid)
        if plain_rows and not args.skip_load:
            console.print(f"[bold]4.[/] {args.clients} streaming clients for {args.seconds:.0f} s")
            loaded = asyncio.run(load(url, args.clients, args.seconds, args.load_max_tokens))
        rss_after = rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(30)

    if plain_rows:
        report_plain(compared, args)
    if tool_rows:
        api_bench_tools.report(console, tools, args.runs, args.tool_max_tokens)
    if hasattr(os, "getloadavg"):
        console.print(f"load average during the run: {os.getloadavg()[1]:.1f} on {os.cpu_count()} CPUs")
    if loaded is not None:
        report_load(loaded, args, rss_before, rss_after)


if __name__ == "__main__":
    main()
