"""The chat's behaviour: what happens on chat start, on a message, on settings and on resume (Chainlit API)."""

# Chainlit's API is only partly annotated.
# mypy: disallow-untyped-calls=False

from __future__ import annotations

import functools
import json
from contextlib import aclosing
from pathlib import Path
from typing import Any

import chainlit as cl
from chainlit.context import context
from chainlit.input_widget import Select, Slider
from chainlit.types import ThreadDict
from chainlit.utils import utc_now

from cortex.models import DocumentInfo
from synapse.client import RAG_MODES, RagMode, TurnMeta
from synapse.config import TerminalSettings
from synapse.lang import Lang
from terminal.client import DocumentClient, SynapseClient
from terminal.errors import TerminalError
from terminal.models import MetaEvent, TokenEvent
from terminal.profiles import PROFILES, STARTERS, profile_named, profiles_from_models
from terminal.render import (
    principles_card,
    retrieval_summary,
    source_body,
    source_name,
    sources_line,
    state_name,
    text,
    ui_lang,
    warnings_block,
)

#: How many earlier messages go with each turn (SYNAPSE trims further to fit its context).
HISTORY_MESSAGES = 20
AUTHOR = "Neuro-Terminal"


@functools.lru_cache(maxsize=1)
def settings() -> TerminalSettings:
    """The terminal's settings, read once per process."""
    return TerminalSettings()


def synapse_client() -> SynapseClient:
    s = settings()
    return SynapseClient(s.synapse_url, s.synapse_api_key.get_secret_value(), s.request_timeout_s)


def document_client() -> DocumentClient:
    s = settings()
    return DocumentClient(s.documents_url, s.documents_api_key.get_secret_value())


def current_lang() -> Lang:
    return ui_lang(getattr(context.session, "language", None))


def error_text(exc: TerminalError) -> str:
    """A failure as the chat shows it: what happened and how to fix it, no traceback."""
    hint = f"\n\n{exc.hint}" if exc.hint else ""
    return f"❌ {exc.message}{hint}"


# ---- chat profiles, starters, settings ----


async def chat_profiles(user: cl.User | None, language: str | None = None) -> list[cl.ChatProfile]:
    """SYNAPSE's agent profiles (the built-in two when SYNAPSE cannot be asked)."""
    lang = ui_lang(language)
    try:
        profiles = profiles_from_models(await synapse_client().models())
    except TerminalError:
        profiles = PROFILES
    return [
        cl.ChatProfile(name=p.name, markdown_description=p.description[lang], default=(i == 0))
        for i, p in enumerate(profiles)
    ]


async def starters(user: cl.User | None, language: str | None = None) -> list[cl.Starter]:
    return [cl.Starter(label=label, message=problem) for label, problem in STARTERS[ui_lang(language)]]


#: Said next to the RAG modes when CORTEX has no entity-extraction LLM (its graph holds the TRIZ knowledge alone).
GRAPH_ONLY_NOTE = (
    "local, global, hybrid: TRIZ graph only, not your documents (no CORTEX_LLM_MODEL) / "
    "только граф ТРИЗ, без ваших документов"
)


def _settings_widgets(model_ids: list[str], chosen: dict[str, Any], graph_documents: bool | None) -> list[Any]:
    model = chosen.get("model") if chosen.get("model") in model_ids else model_ids[0]
    mode = chosen.get("rag_mode") if chosen.get("rag_mode") in RAG_MODES else "mix"
    temperature = float(chosen.get("temperature", settings().temperature))
    note = GRAPH_ONLY_NOTE if graph_documents is False else None
    return [
        Select(id="model", label="Model / Модель", values=model_ids, initial_index=model_ids.index(str(model))),
        Select(
            id="rag_mode",
            label="RAG mode / Режим поиска",
            values=list(RAG_MODES),
            initial_value=str(mode),
            description=note,
        ),
        Slider(id="temperature", label="Temperature / Температура", initial=temperature, min=0, max=2, step=0.1),
    ]


async def _send_settings(chosen: dict[str, Any]) -> dict[str, Any]:
    """Offer the chat settings with SYNAPSE's models; when SYNAPSE is down, say so and offer the profile's model."""
    default_model = profile_named(cl.user_session.get("chat_profile")).model
    model_ids = [default_model]
    graph_documents: bool | None = None
    try:
        # Embedders (CORTEX's, listed for the embedding routes) cannot chat.
        listed = [m.id for m in await synapse_client().models() if m.extra.get("kind") != "embedding"]
        model_ids = [default_model, *(m for m in listed if m != default_model)]
        graph_documents = (await synapse_client().health()).graph_documents
    except TerminalError as exc:
        await cl.Message(content=error_text(exc), author=AUTHOR).send()
    values = {"model": default_model, "rag_mode": "mix", "temperature": settings().temperature, **chosen}
    widgets = _settings_widgets(model_ids, values, graph_documents)
    result: dict[str, Any] = await cl.ChatSettings(widgets).send()
    cl.user_session.set("settings", result)
    return result


async def on_chat_start() -> None:
    cl.user_session.set("history", [])
    await _send_settings({})


async def on_settings_update(values: dict[str, Any]) -> None:
    cl.user_session.set("settings", values)


async def on_chat_resume(thread: ThreadDict) -> None:
    """Rebuild the conversation that goes to SYNAPSE from the stored steps, and offer the settings again."""
    history: list[dict[str, str]] = []
    for step in thread.get("steps", []):
        kind = step.get("type")
        metadata = step.get("metadata") or {}
        if isinstance(metadata, str):
            metadata = json.loads(metadata or "{}")
        if kind == "user_message" and step.get("output"):
            history.append({"role": "user", "content": str(step["output"])})
        elif kind == "assistant_message" and "answer" in metadata:
            history.append({"role": "assistant", "content": str(metadata["answer"])})
    cl.user_session.set("history", history)
    saved = cl.user_session.get("chat_settings") or {}
    await _send_settings(dict(saved))


# ---- one turn ----


def _chosen() -> tuple[str, RagMode, float]:
    values: dict[str, Any] = cl.user_session.get("settings") or {}
    model = str(values.get("model") or profile_named(cl.user_session.get("chat_profile")).model)
    mode = values.get("rag_mode", "mix")
    rag_mode: RagMode = mode if mode in RAG_MODES else "mix"
    temperature = float(values.get("temperature", settings().temperature))
    return model, rag_mode, temperature


async def _finish_step(step: cl.Step, output: str, *, error: bool = False) -> None:
    # Sent once, complete: the data layer persists each send/update in its own task, and a create racing an
    # update can store the empty first version over the finished one.
    step.output = output
    step.is_error = error
    step.end = utc_now()
    await step.send()


def _decorations(meta: TurnMeta, lang: Lang) -> tuple[list[Any], str]:
    """The elements an answer carries (principles card inline, sources on the side) and its closing line."""
    elements: list[Any] = []
    card = principles_card(meta.triz, lang)
    if card:
        elements.append(cl.Text(name=text("card_title", lang), content=card, display="inline"))
    names: list[str] = []
    for index, source in enumerate(meta.sources, start=1):
        name = source_name(index, source)
        names.append(name)
        elements.append(cl.Text(name=name, content=source_body(source, lang), display="side"))
    return elements, sources_line(names, lang)


async def answer_turn(question: str) -> cl.Message:
    """Send the question with the conversation to SYNAPSE and stream the answer into the chat."""
    lang = current_lang()
    model, rag_mode, temperature = _chosen()
    history: list[dict[str, str]] = cl.user_session.get("history") or []
    messages = [*history[-HISTORY_MESSAGES:], {"role": "user", "content": question}]

    answer = cl.Message(content="", author=AUTHOR)
    # A message takes the running handler as its parent, a step made without `async with` none: give the step the
    # same parent, or the UI shows it apart from (and below) the answer.
    step = cl.Step(name=text("retrieval", lang), type="retrieval", show_input=False, parent_id=answer.parent_id)
    step.start = utc_now()
    raw: list[str] = []
    meta = TurnMeta()
    step_open = True
    try:
        stream = synapse_client().stream_chat(
            messages, model=model, rag_mode=rag_mode, temperature=temperature, user=context.session.thread_id
        )
        async with aclosing(stream):
            async for event in stream:
                if isinstance(event, MetaEvent):
                    meta = event.meta
                    await _finish_step(step, retrieval_summary(meta.retrieval, lang))
                    step_open = False
                    # Streamed messages carry no time until sent; the UI orders by it.
                    answer.created_at = utc_now()
                    block = warnings_block(meta.warnings, lang)
                    if block:
                        await answer.stream_token(block)
                elif isinstance(event, TokenEvent):
                    raw.append(event.text)
                    await answer.stream_token(event.text)
    except TerminalError as exc:
        if step_open:
            await _finish_step(step, exc.message, error=True)
            answer.created_at = utc_now()
        answer.content = (answer.content + "\n\n" if answer.content else "") + error_text(exc)
        answer.metadata = {"error": exc.message}
        await answer.send()
        return answer

    reply = "".join(raw)
    elements, closing = _decorations(meta, lang)
    answer.content += closing
    answer.elements = elements
    answer.metadata = {
        "answer": reply,
        "model": model,
        "rag_mode": rag_mode,
        "warnings": meta.warnings,
        "retrieval": meta.retrieval.model_dump() if meta.retrieval else None,
    }
    # The stream showed the text; sending persists the finished message (once) with its elements.
    await answer.send()
    history.extend([{"role": "user", "content": question}, {"role": "assistant", "content": reply}])
    cl.user_session.set("history", history)
    return answer


# ---- documents ----


async def ingest_file(name: str, path: Path, mime: str) -> DocumentInfo | None:
    """Upload one attached file to CORTEX and follow its processing in a step; None if it failed."""
    lang = current_lang()
    s = settings()
    client = document_client()
    async with client, cl.Step(name=text("upload", lang, name=name), type="tool", show_input=False) as step:
        try:
            document = await client.upload(name, path.read_bytes(), mime)
            step.output = text("ingest_state", lang, name=name, state=state_name(document.status, lang))
            await step.update()

            async def show(latest: DocumentInfo) -> None:
                step.output = text("ingest_state", lang, name=name, state=state_name(latest.status, lang))
                await step.update()

            document = await client.wait(document, timeout_s=s.ingest_timeout_s, on_change=show)
        except TerminalError as exc:
            step.is_error = True
            step.output = error_text(exc)
            return None
        if document.status == "failed":
            step.is_error = True
            step.output = text("ingest_failed", lang, name=name, error=document.error or "?")
            return None
        step.output = text("ingest_done", lang, name=name, chunks=document.chunks)
        return document


async def on_message(message: cl.Message) -> None:
    """Attached files go to CORTEX first; then the question, if any, goes to SYNAPSE."""
    files = [e for e in (message.elements or []) if getattr(e, "path", None)]
    ingested = 0
    for element in files:
        name = element.name or Path(str(element.path)).name
        if await ingest_file(name, Path(str(element.path)), element.mime or "application/octet-stream"):
            ingested += 1
    question = (message.content or "").strip()
    if question:
        await answer_turn(question)
    elif ingested:
        await cl.Message(content=text("docs_ready", current_lang()), author=AUTHOR).send()
