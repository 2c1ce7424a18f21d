"""Fair scheduling by API key through the official openai client: one agent's burst does not starve another."""

from __future__ import annotations

import asyncio

import httpx
import openai
import pytest

from tests.synapse.agent.fakes import ScriptedBackend
from tests.synapse.api.conftest import ServeFn
from tests.synapse.api.test_protection import wait_for


def _queued(url: str) -> int:
    return int(httpx.get(f"{url}/health").json()["queue"]["queued"])


def _started_by(backend: ScriptedBackend) -> list[str]:
    """Which key's request each generation served, in the order they started (the question names the key)."""
    return [messages[-1].content.split()[0] for messages, _, _ in backend.calls]


def test_key_b_is_not_starved_by_key_as_burst(serve: ServeFn) -> None:
    backend = ScriptedBackend(answer="ok")
    backend.gate.clear()
    server = serve(backend=backend, max_concurrent=1, queue_size=32)

    async def ask(client: openai.AsyncOpenAI, who: str, i: int) -> str:
        answer = await client.chat.completions.create(
            model="triz-agent",
            messages=[{"role": "user", "content": f"{who} question {i}"}],
            extra_body={"rag": {"mode": "off"}},
        )
        return answer.choices[0].message.content or ""

    async def scenario() -> list[str]:
        a = openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key="key-of-agent-a", max_retries=0)
        b = openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key="key-of-agent-b", max_retries=0)
        burst = [asyncio.create_task(ask(a, "A", i)) for i in range(12)]
        await asyncio.to_thread(wait_for, lambda: backend.active == 1 and _queued(server.url) == 11)
        late = [asyncio.create_task(ask(b, "B", i)) for i in range(2)]
        await asyncio.to_thread(wait_for, lambda: _queued(server.url) == 13)
        backend.gate.set()
        return list(await asyncio.gather(*burst, *late))

    answers = asyncio.run(scenario())
    assert answers == ["ok"] * 14
    order = _started_by(backend)
    assert sorted(order) == ["A"] * 12 + ["B"] * 2
    # A's first request was running when B's arrived; B's two start before A's last ten.
    last_b = max(i for i, who in enumerate(order) if who == "B")
    assert order[: last_b + 1].count("A") <= 2, order


@pytest.mark.asyncio
async def test_the_limiter_hands_free_places_round_robin_by_client() -> None:
    from synapse.api.limits import ConcurrencyLimiter

    limiter = ConcurrencyLimiter(2, 32)
    started: list[str] = []

    async def one(client: str) -> None:
        slot = limiter.reserve(client)
        await slot.acquire()
        started.append(client)
        await asyncio.sleep(0.01)
        slot.release()

    await asyncio.gather(*(one(c) for c in ["a"] * 6 + ["b"] * 3 + ["c"]))
    # The first two places went to a (nobody waited yet); from then on the clients take turns, the one
    # served longest ago first, and a's remaining three wait behind b's and c's.
    assert started == ["a", "a", "b", "c", "a", "b", "a", "b", "a", "a"]
    assert limiter.active == 0 and limiter.queued == 0


@pytest.mark.asyncio
async def test_a_cancelled_waiter_leaves_no_place_taken() -> None:
    from synapse.api.limits import ConcurrencyLimiter

    limiter = ConcurrencyLimiter(1, 4)
    held = limiter.reserve("a")
    await held.acquire()
    waiting = limiter.reserve("b")
    task = asyncio.create_task(waiting.acquire())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    waiting.release()
    held.release()
    assert limiter.active == 0 and limiter.queued == 0
    again = limiter.reserve("c")
    await asyncio.wait_for(again.acquire(), 1)
    assert limiter.active == 1
