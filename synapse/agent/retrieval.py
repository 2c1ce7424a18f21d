"""One retrieval call to CORTEX that never fails the turn: problems become warnings."""

from __future__ import annotations

import asyncio
import logging
import time

from pydantic import BaseModel, Field

from cortex.backend import CortexBackend
from cortex.errors import CortexError
from cortex.models import QueryRequest, QueryResult
from synapse.agent.models import RagMode
from synapse.lang import Lang

log = logging.getLogger("synapse.agent")


class Ask(BaseModel):
    """What one turn asks of CORTEX: the question, the mode, how many sources, and the profile's collections
    (None: every document)."""

    question: str
    mode: RagMode
    top_k: int
    lang: Lang
    collections: list[str] | None = None


class Retrieved(BaseModel):
    result: QueryResult | None
    mode: RagMode
    elapsed_ms: float
    warnings: list[str] = Field(default_factory=list)


async def retrieve(cortex: CortexBackend, ask: Ask, *, timeout_s: float) -> Retrieved:
    """Context and sources for the question; CORTEX down, slow or refusing gives no context and a warning."""
    if ask.mode == "off":
        return Retrieved(result=None, mode="off", elapsed_ms=0.0)
    start = time.perf_counter()
    text = ask.question.strip()
    if len(text) < 3:
        return Retrieved(result=None, mode="off", elapsed_ms=0.0, warnings=["retrieval skipped: question too short"])
    try:
        request = QueryRequest(
            query=text[:8000], mode=ask.mode, top_k=ask.top_k, lang=ask.lang, collections=ask.collections
        )
        result = await asyncio.wait_for(cortex.query(request), timeout_s)
    except asyncio.TimeoutError:
        warning = f"CORTEX did not answer within {timeout_s:g} s; answered without retrieval"
    except CortexError as exc:
        warning = f"CORTEX is unavailable, answered without retrieval: {exc}"
    except Exception as exc:  # an HTTP or storage failure must not cost the user the answer
        log.exception("retrieval failed")
        warning = f"retrieval failed, answered without it: {exc}"
    else:
        elapsed = (time.perf_counter() - start) * 1000
        return Retrieved(result=result, mode=result.mode, elapsed_ms=elapsed, warnings=list(result.warnings))
    log.warning(warning)
    return Retrieved(result=None, mode="off", elapsed_ms=(time.perf_counter() - start) * 1000, warnings=[warning])
