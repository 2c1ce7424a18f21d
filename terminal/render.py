"""Texts the chat shows: retrieval summary, warnings, the principles card, sources; English and Russian."""

from __future__ import annotations

import re

from synapse.client import RetrievalFacts, SourceItem, TrizSummary
from synapse.lang import Lang

_TEXTS: dict[str, dict[Lang, str]] = {
    "retrieval": {"en": "Retrieval", "ru": "Поиск в базе знаний"},
    "retrieval_off": {"en": "retrieval off", "ru": "поиск выключен"},
    "retrieval_line": {
        "en": "mode {mode} · {ms} ms · {count} sources",
        "ru": "режим {mode} · {ms} мс · источников: {count}",
    },
    "sources": {"en": "Sources", "ru": "Источники"},
    "card_title": {"en": "TRIZ analysis", "ru": "Анализ ТРИЗ"},
    "improving": {"en": "Improving", "ru": "Улучшается"},
    "worsening": {"en": "Worsening", "ru": "Ухудшается"},
    "principles": {"en": "Principles", "ru": "Принципы"},
    "no_contradiction": {"en": "No technical contradiction recognised.", "ru": "Техническое противоречие не найдено."},
    "warning": {"en": "Warning", "ru": "Внимание"},
    "origin": {"en": "Origin", "ru": "Откуда"},
    "page": {"en": "page", "ru": "стр."},
    "score": {"en": "score", "ru": "сходство"},
    "upload": {"en": "Uploading {name}", "ru": "Загрузка {name}"},
    "ingest_state": {"en": "{name}: {state}", "ru": "{name}: {state}"},
    "ingest_done": {"en": "{name}: processed, {chunks} chunks", "ru": "{name}: обработан, фрагментов: {chunks}"},
    "ingest_failed": {"en": "{name}: failed: {error}", "ru": "{name}: ошибка: {error}"},
    "docs_ready": {
        "en": "The document is in the knowledge base. Ask about it.",
        "ru": "Документ добавлен в базу знаний. Задайте вопрос о нём.",
    },
    "error": {"en": "Something went wrong", "ru": "Что-то пошло не так"},
}

_KIND: dict[str, dict[Lang, str]] = {
    "principle": {"en": "TRIZ principle", "ru": "принцип ТРИЗ"},
    "parameter": {"en": "TRIZ parameter", "ru": "параметр ТРИЗ"},
    "matrix": {"en": "contradiction matrix", "ru": "матрица противоречий"},
    "separation": {"en": "separation principle", "ru": "принцип разделения"},
    "document": {"en": "your document", "ru": "ваш документ"},
    "dialogue": {"en": "earlier dialogue", "ru": "прошлый диалог"},
}

_STATES: dict[str, dict[Lang, str]] = {
    "pending": {"en": "queued", "ru": "в очереди"},
    "processing": {"en": "processing", "ru": "обрабатывается"},
    "processed": {"en": "processed", "ru": "обработан"},
    "failed": {"en": "failed", "ru": "ошибка"},
}


def ui_lang(language: str | None) -> Lang:
    """The interface language from a browser locale such as 'ru-RU' or 'en-US'."""
    return "ru" if (language or "").lower().startswith("ru") else "en"


def text(key: str, lang: Lang, **values: object) -> str:
    return _TEXTS[key][lang].format(**values)


def state_name(state: str, lang: Lang) -> str:
    return _STATES.get(state, {}).get(lang, state)


def retrieval_summary(facts: RetrievalFacts | None, lang: Lang) -> str:
    """One line for the retrieval step: mode, time, number of sources."""
    if facts is None or facts.mode == "off":
        return text("retrieval_off", lang)
    return text("retrieval_line", lang, mode=facts.mode, ms=round(facts.elapsed_ms), count=facts.count)


def warnings_block(warnings: list[str], lang: Lang) -> str:
    """Warnings as a quoted block above the answer, so nobody misses them."""
    if not warnings:
        return ""
    label = text("warning", lang)
    return "".join(f"> ⚠️ **{label}:** {w}\n" for w in warnings) + "\n"


def principles_card(triz: TrizSummary | None, lang: Lang) -> str | None:
    """The contradiction and its principles as a compact Markdown card; None when there is no analysis."""
    if triz is None:
        return None
    if not triz.contradictions:
        return triz.message or text("no_contradiction", lang)
    rows: list[str] = []
    for item in triz.contradictions[:3]:
        rows.append(
            f"- {text('improving', lang)}: **{item.improving.id}. {item.improving.name}** · "
            f"{text('worsening', lang)}: **{item.worsening.id}. {item.worsening.name}**"
        )
        if item.principles:
            names = ", ".join(f"{p.id}. {p.name}" for p in item.principles)
            rows.append(f"  - {text('principles', lang)}: {names}")
    return "\n".join(rows)


_UNSAFE = re.compile(r"[\[\]()*_`#<>|\\]+")


def source_name(index: int, source: SourceItem) -> str:
    """A short, unique, Markdown-safe element name; the chat links it where it appears in the text."""
    title = _UNSAFE.sub(" ", source.title or source.document or source.id)
    title = " ".join(title.split())
    if len(title) > 60:
        title = title[:57].rstrip() + "…"
    return f"{index}. {title}"


def source_body(source: SourceItem, lang: Lang) -> str:
    """What the side panel shows for one source: title, snippet, origin."""
    origin = _KIND.get(source.kind, {}).get(lang, source.kind)
    if source.document:
        origin += f" — {source.document}"
    if source.page is not None:
        origin += f", {text('page', lang)} {source.page}"
    lines = [f"### {source.title or source.id}", "", source.snippet.strip(), ""]
    lines.append(f"*{text('origin', lang)}: {origin} · {text('score', lang)} {source.score:.2f}*")
    return "\n".join(lines)


def sources_line(names: list[str], lang: Lang) -> str:
    """The closing line that names every source, which turns each name into a link to its side panel."""
    if not names:
        return ""
    return f"\n\n**{text('sources', lang)}:** " + " · ".join(names)
