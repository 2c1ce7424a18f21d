"""The prompt's parts in the user's language: system text, numbered context, the TRIZ analysis."""

from __future__ import annotations

import re

from cortex.models import Source
from synapse.agent.models import TrizInfo
from synapse.lang import Lang

SYSTEM = {
    "en": (
        "You are a TRIZ engineering assistant. Solve the user's problem with TRIZ: name the technical "
        "or physical contradiction, apply the suggested inventive principles to this concrete case, and "
        "propose practical solutions. When you use the context, cite its sources by number, like [1]. "
        "If the context does not cover something, say so instead of inventing facts. Answer in English."
    ),
    "ru": (
        "Ты — инженерный ассистент по ТРИЗ. Решай задачу пользователя методами ТРИЗ: назови техническое "
        "или физическое противоречие, примени предложенные изобретательские приёмы к конкретной ситуации "
        "и предложи практические решения. Опираясь на контекст, ссылайся на источники по номеру, например [1]. "
        "Если в контексте чего-то нет, скажи об этом, а не выдумывай. Отвечай на русском языке."
    ),
}
PLAIN_SYSTEM = {
    "en": "You are a helpful engineering assistant. Answer in English.",
    "ru": "Ты — полезный инженерный ассистент. Отвечай на русском языке.",
}
CONTEXT_HEAD = {"en": "Context (numbered sources):", "ru": "Контекст (пронумерованные источники):"}
TRIZ_HEAD = {"en": "TRIZ analysis of the question:", "ru": "ТРИЗ-анализ вопроса:"}
_CONTRADICTION = {
    "en": "Technical contradiction: improving «{imp}» worsens «{wor}». Matrix principles: {pr}.",
    "ru": "Техническое противоречие: улучшение «{imp}» ухудшает «{wor}». Приёмы по матрице: {pr}.",
}
_NO_PRINCIPLES = {"en": "none in the matrix", "ru": "в матрице нет"}
_BLOCK = re.compile(r"\n\n(?=\[\d+\] )")


def system_text(lang: Lang, *, triz: bool = True) -> str:
    """The system prompt for the agent (TRIZ) or a plain assistant, in the user's language."""
    return (SYSTEM if triz else PLAIN_SYSTEM)[lang]


def context_blocks(context: str, sources: list[Source]) -> list[str]:
    """One numbered block per source: CORTEX's own context split at `[n] `, else built from the snippets."""
    blocks = _BLOCK.split(context.strip()) if context.strip() else []
    if len(blocks) == len(sources) and all(b.startswith(f"[{i}] ") for i, b in enumerate(blocks, 1)):
        return blocks
    return [f"[{i}] ({s.kind}) {s.title}\n{s.snippet}" for i, s in enumerate(sources, 1)]


def context_section(blocks: list[str], lang: Lang) -> str:
    return CONTEXT_HEAD[lang] + "\n\n" + "\n\n".join(blocks) if blocks else ""


def triz_section(triz: TrizInfo | None, lang: Lang) -> str:
    """The analyzer's contradictions with their principles, as lines the model can follow."""
    if triz is None or not triz.contradictions:
        return ""
    lines = [TRIZ_HEAD[lang]]
    for cand in triz.contradictions:
        principles = ", ".join(f"{p.id}. {p.name}" for p in cand.principles) or _NO_PRINCIPLES[lang]
        lines.append(
            "- " + _CONTRADICTION[lang].format(imp=cand.improving.name, wor=cand.worsening.name, pr=principles)
        )
    return "\n".join(lines)


def assemble_system(system: str, triz: str, context: str) -> str:
    return "\n\n".join(part for part in (system, triz, context) if part)
