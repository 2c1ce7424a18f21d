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
from synapse.agent.models import TRIZ_AGENT, RagMode, RetrievalInfo, TrizInfo, TurnPlan, TurnRequest
from synapse.agent.profile_set import ProfileSet
from synapse.agent.profiles import AUTO_MODEL, Profile
from synapse.agent.prompts import context_blocks, context_section, system_text, triz_section
from synapse.agent.retrieval import Ask, Retrieved, retrieve
from synapse.agent.routing import ProfileRouter
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


async def _no_analysis() -> tuple[TrizInfo | None, list[str]]:
    return None, []


def _default_analyzer(problem: str, lang: str) -> Analysis:
    return analyze_problem(problem, lang=lang, top=2)


@dataclass
class _Gathered:
    """What planning found before the prompt is fitted: where to generate, the route, the context."""

    backend: LLMBackend
    model: str
    profile: Profile | None
    route_score: float | None
    lang: Lang
    retrieved: Retrieved
    mode_requested: str
    triz: TrizInfo | None
    warnings: list[str]

    @property
    def route(self) -> str:
        """triz or base (the profile's role), raw for a backend model called by name."""
        return self.profile.role if self.profile is not None else "raw"


def _system_and_triz(request: TurnRequest, found: _Gathered) -> tuple[str, str]:
    """The system text (the agent's own, then the caller's) and the TRIZ section; a raw call keeps the caller's."""
    caller_system = "\n\n".join(m.content for m in request.messages if m.role == "system" and m.content.strip())
    if found.profile is None:
        return caller_system, ""
    system = found.profile.system.get(found.lang) or system_text(found.lang, triz=found.route == "triz")
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
        profile=found.profile.name if found.profile is not None else None,
        collections=found.profile.collections if found.profile is not None else None,
        conversation=list(messages),
        conversation_id=request.conversation_id,
    )


class Agent:
    """One chat turn: plan (retrieve, analyse, route, fit) then generate; used by every API dialect and the CLI."""

    def __init__(  # noqa: PLR0913 - each collaborator is injectable, as the tests and create_agent build them
        self,
        backends: Backends,
        cortex: CortexBackend,
        settings: SynapseSettings | None = None,
        *,
        analyzer: Analyzer | None = _default_analyzer,
        router: ProfileRouter | None = None,
        memory: DialogueMemory | None = None,
        profiles: ProfileSet | None = None,
    ) -> None:
        self.backends = backends
        self.cortex = cortex
        self.settings = settings or SynapseSettings()
        self.analyzer = analyzer
        self.router = router
        self.memory = memory
        self.profiles = profiles or ProfileSet()

    @property
    def agent_models(self) -> tuple[str, ...]:
        """The models that go through the agent: every profile, and `auto` when a router can pick one."""
        models = self.profiles.models
        return models if self.router is not None else tuple(m for m in models if m != AUTO_MODEL)

    def profile_model(self, profile: Profile, backend: LLMBackend) -> str:
        """The backend's model for a profile: its own model, its adapter's, or the one for its role."""
        if profile.model is not None:
            return profile.model
        adapter = self.profiles.adapters.get(profile.name)
        if adapter is not None:
            return adapter.served if backend.kind == "llamacpp" else adapter.ollama_model
        return self.backends.model_for(backend, profile.role)

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
        question = request.messages[question_index(request.messages)].content
        lang: Lang = self.settings.lang if self.settings.lang != "auto" else detect_lang(question)
        if request.model not in self.agent_models:
            gathered = await self._plan_raw(request, question, lang)
        else:
            gathered = await self._plan_agent(request, question, lang)
        plan = _fit(request, gathered)
        plan.retrieval.plan_ms = round((time.perf_counter() - started) * 1000, 2)
        return plan

    def _mode(self, request: TurnRequest, profile: Profile | None) -> RagMode:
        rag = request.rag
        if rag is not None and rag.mode:
            return rag.mode
        if profile is None:
            return "off"
        return profile.rag_mode or self.settings.rag_mode

    def _ask(self, request: TurnRequest, question: str, lang: Lang, profile: Profile | None) -> Ask:
        rag = request.rag
        top_k = (rag.top_k if rag and rag.top_k else None) or self.settings.top_k
        collections = profile.collections if profile is not None else None
        return Ask(
            question=question, mode=self._mode(request, profile), top_k=top_k, lang=lang, collections=collections
        )

    async def _plan_raw(self, request: TurnRequest, question: str, lang: Lang) -> _Gathered:
        """A backend model called by name: the caller's prompt, retrieval only when the request asks for it."""
        backend = await self.backends.backend_for_model(request.model)
        ask = self._ask(request, question, lang, None)
        retrieved = await retrieve(self.cortex, ask, timeout_s=self.settings.retrieval_timeout_s)
        return _Gathered(backend, request.model, None, None, lang, retrieved, ask.mode, None, [])

    async def _plan_agent(self, request: TurnRequest, question: str, lang: Lang) -> _Gathered:
        """A profile (or `auto`): analysis and routing, retrieval in the chosen profile's scope. With the profile
        known up front (no routing), the analysis and the retrieval run at once."""
        backend = await self.backends.pick()
        timeout = self.settings.retrieval_timeout_s
        known = self._known_profile(request.model)
        if known is not None:
            ask = self._ask(request, question, lang, known)
            analysis = self._analyze(question, lang) if known.analyzer else _no_analysis()
            (triz, warnings), retrieved = await asyncio.gather(analysis, retrieve(self.cortex, ask, timeout_s=timeout))
            profile, score = known, None
        else:
            triz, warnings = await self._analyze(question, lang)
            name, score = await self._route(request.model, question, lang, triz)
            profile = self.profiles.profiles[name]
            triz = triz if profile.analyzer else None
            ask = self._ask(request, question, lang, profile)
            retrieved = await retrieve(self.cortex, ask, timeout_s=timeout)
        model = self.profile_model(profile, backend)
        return _Gathered(backend, model, profile, score, lang, retrieved, ask.mode, triz, warnings)

    def _known_profile(self, model: str) -> Profile | None:
        """The profile a request names, unless routing decides (`auto`, `triz-agent` with SYNAPSE_ROUTING)."""
        if self.router is not None and (model == AUTO_MODEL or (model == TRIZ_AGENT and self.settings.routing)):
            return None
        return self.profiles.profiles[model] if model != AUTO_MODEL else self.profiles.profiles[TRIZ_AGENT]

    async def _route(self, model: str, question: str, lang: Lang, triz: TrizInfo | None) -> tuple[str, float | None]:
        """The profile that answers: `auto` picks among all, `triz-agent` may hand over to the baseline."""
        assert self.router is not None
        has_tc = bool(triz and triz.contradictions)
        if model == TRIZ_AGENT:
            return await self.router.decide(question, has_contradiction=has_tc, among=[TRIZ_AGENT])
        documents = await self._documents(question, lang)
        return await self.router.decide(question, has_contradiction=has_tc, documents=documents)

    async def _documents(self, question: str, lang: Lang) -> dict[str, list[str]]:
        """For `auto`: the snippets each profile with collections finds in them, so a question about a profile's
        documents goes to that profile."""
        scoped = [p for p in self.profiles.profiles.values() if p.collections]
        if not scoped:
            return {}

        async def snippets(profile: Profile) -> list[str]:
            ask = Ask(question=question, mode="naive", top_k=4, lang=lang, collections=profile.collections)
            found = await retrieve(self.cortex, ask, timeout_s=self.settings.retrieval_timeout_s)
            sources = found.result.sources if found.result is not None else []
            return [s.snippet for s in sources if s.kind == "document" and s.snippet.strip()]

        found = await asyncio.gather(*(snippets(p) for p in scoped))
        return {p.name: texts for p, texts in zip(scoped, found, strict=True)}

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


async def _check_profile_modes(agent: Agent) -> None:
    """Say at start which profile's RAG mode cannot reach its documents on this CORTEX."""
    try:
        health = await asyncio.wait_for(agent.cortex.health(), 5)
    except (CortexError, asyncio.TimeoutError):
        return  # a CORTEX that is not up yet is reported by /health; its answers will carry the warning
    for problem in agent.profiles.mode_problems(health, agent.settings.rag_mode):
        log.warning(problem)


async def create_agent(settings: SynapseSettings | None = None) -> Agent:
    """The agent the settings describe: profiles and their adapters, backends started, CORTEX opened, the
    profile router, and memory if enabled. A profile whose adapter is missing fails here, naming the file."""
    from synapse.agent.cortex_link import open_cortex
    from synapse.embeddings import get_embedder
    from synapse.llm import build_backends
    from synapse.triz import load_knowledge

    settings = settings or SynapseSettings()
    profiles = ProfileSet.load(settings)
    backends = build_backends(settings, adapters=profiles.served_adapters())
    cortex_task = asyncio.create_task(open_cortex(settings))
    await backends.start()
    cortex = await cortex_task
    # The router loads its embedder and embeds its references on first use: nothing until a question is routed.
    router = ProfileRouter(
        lambda: get_embedder(settings.embedder), load_knowledge(), settings.routing_threshold, profiles.profiles
    )
    memory = DialogueMemory(cortex) if settings.memory else None
    agent = Agent(backends, cortex, settings, router=router, memory=memory, profiles=profiles)
    await _check_profile_modes(agent)
    # Build the analyzer (phrase index, cached vectors) now, once, rather than inside the first chat.
    from synapse.triz import default_analyzer

    await asyncio.to_thread(default_analyzer)
    return agent
