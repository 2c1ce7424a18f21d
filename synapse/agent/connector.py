"""The connector: retrieval and TRIZ analysis before generation, a prompt fitted to the model, sources after."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from cortex.backend import CortexBackend
from cortex.errors import CortexError
from synapse.agent.budget import FittedPrompt, PromptParts, fit_prompt
from synapse.agent.lang import detect_lang
from synapse.agent.memory import DialogueMemory
from synapse.agent.models import (
    AGENT_MODELS,
    BASE_AGENT,
    TRIZ_AGENT,
    RetrievalInfo,
    TrizInfo,
    TurnPlan,
    TurnRequest,
)
from synapse.agent.prompts import context_blocks, context_section, system_text, triz_section
from synapse.agent.retrieval import Retrieved, retrieve
from synapse.agent.routing import TrizRouter
from synapse.config import SynapseSettings
from synapse.errors import SynapseError
from synapse.lang import Lang
from synapse.llm import Backends, ChatMessage, ChatResult, LLMBackend, ModelInfo, StreamDelta
from synapse.llm.chat_template import tools_block
from synapse.triz import Analysis, analyze_problem

log = logging.getLogger("synapse.agent")
Analyzer = Callable[[str, str], Analysis]


class InvalidTurnError(SynapseError):
    """A conversation the agent cannot answer (no user question, or one followed by something other than tool calls
    and their results)."""

    status = 422


def question_index(messages: list[ChatMessage]) -> int:
    """Where the turn's question is: the last user message, followed by nothing or by an agent loop's
    assistant tool calls and tool results. Retrieval and the TRIZ analysis are keyed on it."""
    index = next((i for i in range(len(messages) - 1, -1, -1) if messages[i].role == "user"), None)
    if index is None or not messages[index].content.strip():
        raise InvalidTurnError(
            "the conversation has no user question" if index is None else "the user's question is empty",
            "end the messages list with the user's question (or with tool results after it)",
        )
    after = messages[index + 1 :]
    if after and (after[-1].role != "tool" or any(m.role not in ("assistant", "tool", "system") for m in after)):
        raise InvalidTurnError(
            "the last message must be the user's question, or a tool result answering the assistant's tool calls",
            "end the messages list with the user's question or with tool results",
        )
    return index


def _default_analyzer(problem: str, lang: str) -> Analysis:
    return analyze_problem(problem, lang=lang, top=2)


@dataclass
class _Gathered:
    """What planning found before the prompt is fitted: where to generate, the route, the context."""

    backend: LLMBackend
    model: str
    route: str
    route_score: float | None
    lang: Lang
    retrieved: Retrieved
    mode_requested: str
    triz: TrizInfo | None
    warnings: list[str]


def _system_and_triz(request: TurnRequest, found: _Gathered) -> tuple[str, str]:
    """The system text (the agent's own, then the caller's) and the TRIZ section; a raw call keeps the caller's."""
    caller_system = "\n\n".join(m.content for m in request.messages if m.role == "system" and m.content.strip())
    if found.route == "raw":
        return caller_system, ""
    system = system_text(found.lang, triz=found.route == "triz")
    if caller_system:
        system = f"{system}\n\n{caller_system}"
    return system, triz_section(found.triz, found.lang)


def _notes(found: _Gathered, fitted: FittedPrompt, sources: int) -> list[str]:
    notes = list(found.retrieved.warnings) + found.warnings + found.backend.warnings(found.model)
    if fitted.kept_blocks < sources:
        notes.append(f"{sources - fitted.kept_blocks} sources left out to fit the context window")
    if fitted.dropped_messages:
        notes.append(f"{fitted.dropped_messages} earlier messages left out to fit the context window")
    return notes


def _tools_text(request: TurnRequest) -> str:
    """The tools block the backend will add to the prompt, so the budget keeps room for it."""
    options = request.options
    return tools_block(options.tools) if options.tools and options.tool_choice.mode != "none" else ""


def _fit(request: TurnRequest, found: _Gathered) -> TurnPlan:
    """The plan: the prompt fitted to the model's window, with the sources and the notes that it kept."""
    messages = request.messages
    start = question_index(messages)
    result = found.retrieved.result
    sources = list(result.sources) if result else []
    system, triz_text = _system_and_triz(request, found)
    parts = PromptParts(
        system=system,
        triz=triz_text,
        blocks=context_blocks(result.context, sources) if result else [],
        context_head=lambda kept: context_section(kept, found.lang),
        history=[m for m in messages[:start] if m.role != "system"],
        turn=[m for m in messages[start:] if m.role != "system"],
        backend_text=_tools_text(request),
    )
    fitted = fit_prompt(
        parts,
        window=found.backend.context_window(found.model),
        max_tokens=request.options.max_tokens,
        count=found.backend.count_tokens,
    )
    out_messages = fitted.messages
    if found.route == "raw" and not system and not fitted.kept_blocks:
        out_messages = out_messages[1:]  # a raw call without system text keeps the caller's messages as sent
    kept_sources = sources[: fitted.kept_blocks]
    return TurnPlan(
        request_model=request.model,
        backend=found.backend.kind,
        model=found.model,
        route=found.route,  # type: ignore[arg-type]
        lang=found.lang,
        messages=out_messages,
        options=request.options.model_copy(update={"max_tokens": fitted.max_tokens}),
        sources=kept_sources,
        warnings=_notes(found, fitted, len(sources)),
        triz=found.triz,
        retrieval=RetrievalInfo(
            mode=found.retrieved.mode,
            mode_requested=found.mode_requested,  # type: ignore[arg-type]
            elapsed_ms=round(found.retrieved.elapsed_ms, 2),
            count=len(kept_sources),
        ),
        prompt_tokens=fitted.tokens,
        dropped_messages=fitted.dropped_messages,
        dropped_sources=len(sources) - fitted.kept_blocks,
        route_score=found.route_score,
        conversation=list(messages),
        conversation_id=request.conversation_id,
    )


class Agent:
    """One chat turn: plan (retrieve, analyse, route, fit) then generate; used by every API dialect and the CLI."""

    def __init__(
        self,
        backends: Backends,
        cortex: CortexBackend,
        settings: SynapseSettings | None = None,
        *,
        analyzer: Analyzer | None = _default_analyzer,
        router: TrizRouter | None = None,
        memory: DialogueMemory | None = None,
    ) -> None:
        self.backends = backends
        self.cortex = cortex
        self.settings = settings or SynapseSettings()
        self.analyzer = analyzer
        self.router = router
        self.memory = memory

    # ---- planning ------------------------------------------------------------------------------

    def analyze_now(self, problem: str, lang: str, top: int | None = None) -> Analysis | None:
        """The analyzer's answer on this thread (`top` is honoured by the default analyzer)."""
        if self.analyzer is None:
            return None
        if top is not None and self.analyzer is _default_analyzer:
            return analyze_problem(problem, lang=lang, top=top)
        return self.analyzer(problem, lang)

    async def _analyze(self, question: str, lang: Lang) -> tuple[TrizInfo | None, list[str]]:
        if self.analyzer is None:
            return None, []
        try:
            analysis = await asyncio.to_thread(self.analyzer, question, lang)
        except SynapseError as exc:
            return None, [f"TRIZ analysis skipped: {exc}"]
        found = [c for c in analysis.candidates if c.principles]
        return TrizInfo(contradictions=found, lang=analysis.lang, message=analysis.message), []

    async def plan(self, request: TurnRequest) -> TurnPlan:
        """Everything before generation; raises BackendUnavailableError (503) or InvalidTurnError (422)."""
        started = time.perf_counter()
        messages = request.messages
        question = messages[question_index(messages)]
        agent = request.model in AGENT_MODELS
        if agent:
            backend = await self.backends.pick()
        else:
            backend = await self.backends.backend_for_model(request.model)
        lang: Lang = self.settings.lang if self.settings.lang != "auto" else detect_lang(question.content)
        rag = request.rag
        mode = (rag.mode if rag and rag.mode else None) or (self.settings.rag_mode if agent else "off")
        top_k = (rag.top_k if rag and rag.top_k else None) or self.settings.top_k

        retrieval_task = retrieve(
            self.cortex,
            question.content,
            mode=mode,
            top_k=top_k,
            lang=lang,
            timeout_s=self.settings.retrieval_timeout_s,
        )
        if agent:
            retrieved, (triz, triz_warnings) = await asyncio.gather(
                retrieval_task, self._analyze(question.content, lang)
            )
        else:
            retrieved, triz, triz_warnings = await retrieval_task, None, []

        route: str = "raw"
        route_score = None
        if agent:
            route = "base" if request.model == BASE_AGENT else "triz"
            if request.model == TRIZ_AGENT and self.router is not None:
                has_tc = bool(triz and triz.contradictions)
                route, route_score = await self.router.decide(question.content, has_contradiction=has_tc)
            model = self.backends.model_for(backend, "triz" if route == "triz" else "base")
        else:
            model = request.model
        gathered = _Gathered(backend, model, route, route_score, lang, retrieved, mode, triz, triz_warnings)
        plan = _fit(request, gathered)
        plan.retrieval.plan_ms = round((time.perf_counter() - started) * 1000, 2)
        return plan

    # ---- generation ----------------------------------------------------------------------------

    async def stream(self, plan: TurnPlan) -> AsyncIterator[StreamDelta]:
        """The answer's deltas; a finished answer is remembered when memory is on."""
        backend = self.backends.backends[plan.backend]
        parts: list[str] = []
        stream = backend.stream(plan.messages, plan.model, plan.options)
        try:
            async for delta in stream:
                if delta.content:
                    parts.append(delta.content)
                yield delta
                if delta.done and self.memory is not None and plan.route != "raw" and not delta.tool_calls:
                    self.memory.remember(plan.conversation, "".join(parts), plan.conversation_id)
        finally:
            await stream.aclose()  # type: ignore[attr-defined]

    async def complete(self, plan: TurnPlan) -> ChatResult:
        """The whole answer at once."""
        parts: list[str] = []
        final = StreamDelta(done=True, finish_reason="stop")
        async for delta in self.stream(plan):
            parts.append(delta.content)
            if delta.done:
                final = delta
        return ChatResult(
            content="".join(parts),
            model=plan.model,
            tool_calls=final.tool_calls,
            finish_reason=final.finish_reason or "stop",
            prompt_tokens=final.prompt_tokens,
            completion_tokens=final.completion_tokens,
            warnings=plan.warnings,
        )

    # ---- information -----------------------------------------------------------------------------

    async def raw_models(self) -> list[ModelInfo]:
        return await self.backends.raw_models()

    async def cortex_health(self) -> dict[str, object]:
        try:
            health = await asyncio.wait_for(self.cortex.health(), 5)
        except (CortexError, asyncio.TimeoutError) as exc:
            return {"status": "down", "detail": str(exc)}
        except Exception:
            # /health is open to anyone: an unexpected error's text (paths, internals) goes to the log only.
            log.exception("CORTEX health check failed")
            return {"status": "down", "detail": "the CORTEX health check failed; the server log has the details"}
        return {"status": health.status, **health.model_dump()}

    async def start(self) -> None:
        """Start the backends (idempotent: create_agent already did for the agents it builds)."""
        await self.backends.start()

    async def aclose(self) -> None:
        if self.memory is not None:
            await self.memory.drain()
        await self.backends.aclose()
        await self.cortex.aclose()


async def create_agent(settings: SynapseSettings | None = None) -> Agent:
    """The agent the settings describe: backends started, CORTEX opened, routing and memory if enabled."""
    from synapse.agent.cortex_link import open_cortex
    from synapse.llm import build_backends

    settings = settings or SynapseSettings()
    backends = build_backends(settings)
    cortex_task = asyncio.create_task(open_cortex(settings))
    await backends.start()
    cortex = await cortex_task
    router = None
    if settings.routing:
        from synapse.embeddings import get_embedder
        from synapse.triz import load_knowledge

        router = TrizRouter(get_embedder(settings.embedder), load_knowledge(), settings.routing_threshold)
    memory = DialogueMemory(cortex) if settings.memory else None
    agent = Agent(backends, cortex, settings, router=router, memory=memory)
    # Build the analyzer (phrase index, cached vectors) now, once, rather than inside the first chat.
    from synapse.triz import default_analyzer

    await asyncio.to_thread(default_analyzer)
    return agent
