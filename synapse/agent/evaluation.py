"""`synapse eval`: control questions against several models with RAG on and off, and a Markdown report."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, Field

from synapse.agent.connector import Agent
from synapse.agent.lang import detect_lang
from synapse.agent.models import RagMode
from synapse.agent.oneshot import AskOptions, ask
from synapse.errors import SynapseError
from synapse.lang import Lang
from synapse.triz import TrizKnowledge, load_knowledge
from synapse.triz.text import stems


class ControlQuestion(BaseModel):
    id: str
    lang: Lang
    difficulty: str
    question: str
    contradiction: list[int] | None = None
    expected: list[int] = Field(min_length=1)


class EvalRow(BaseModel):
    """One answer: a question asked of one model with one retrieval mode."""

    question_id: str
    model: str
    backend_model: str
    rag: RagMode
    answer: str
    expected: list[int]
    found: list[int]
    lang_ok: bool
    latency_s: float
    first_token_s: float | None
    tokens_per_s: float | None
    completion_tokens: int
    sources: int
    error: str | None = None


class EvalReport(BaseModel):
    models: list[str]
    rag_modes: list[RagMode]
    questions: list[ControlQuestion]
    rows: list[EvalRow]


def load_control_questions(path: Path | None = None) -> list[ControlQuestion]:
    """The shipped control questions, or those in `path` (same JSON layout)."""
    if path is None:
        text = resources.files("synapse.agent").joinpath("data/control_questions.json").read_text(encoding="utf-8")
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SynapseError(f"cannot read {path}: {exc}", "pass a JSON file like the shipped one") from exc
    try:
        data = json.loads(text)
        return [ControlQuestion.model_validate(q) for q in data["questions"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise SynapseError(
            f"bad control question file: {exc}", "see synapse/agent/data/control_questions.json"
        ) from exc


def principles_mentioned(answer: str, expected: list[int], kb: TrizKnowledge) -> list[int]:
    """Expected principles the answer names: by name (EN or RU, any word form) or as 'principle N' / 'приём N'."""
    words = set(stems(answer))
    low = answer.lower()
    found = []
    for pid in expected:
        principle = kb.principle(pid)
        by_name = any(
            (name_stems := stems(principle.name.get(lang))) and all(s in words for s in name_stems)
            for lang in ("en", "ru")
        )
        by_number = any(
            f"{word} {pid}" in low or f"{word} №{pid}" in low or f"{word} № {pid}" in low
            for word in ("principle", "принцип", "приём", "прием")
        )
        if by_name or by_number:
            found.append(pid)
    return found


async def run_eval(
    agent: Agent,
    questions: list[ControlQuestion],
    models: list[str],
    rag_modes: list[RagMode],
    *,
    max_tokens: int = 384,
    progress: Callable[[str], None] | None = None,
) -> EvalReport:
    """Every question against every model, with each retrieval mode; errors are recorded, not raised."""
    kb = load_knowledge()
    rows: list[EvalRow] = []
    for q in questions:
        for model in models:
            for rag in rag_modes:
                if progress is not None:
                    progress(f"{q.id} · {model} · rag {rag}")
                try:
                    answer = await ask(agent, q.question, AskOptions(model, rag, max_tokens, temperature=0.2))
                except SynapseError as exc:
                    rows.append(
                        EvalRow(
                            question_id=q.id,
                            model=model,
                            backend_model="-",
                            rag=rag,
                            answer="",
                            expected=q.expected,
                            found=[],
                            lang_ok=False,
                            latency_s=0.0,
                            first_token_s=None,
                            tokens_per_s=None,
                            completion_tokens=0,
                            sources=0,
                            error=str(exc),
                        )
                    )
                    continue
                rows.append(
                    EvalRow(
                        question_id=q.id,
                        model=model,
                        backend_model=answer.plan.model,
                        rag=rag,
                        answer=answer.text,
                        expected=q.expected,
                        found=principles_mentioned(answer.text, q.expected, kb),
                        lang_ok=bool(answer.text.strip()) and detect_lang(answer.text, q.lang) == q.lang,
                        latency_s=answer.total_s,
                        first_token_s=answer.first_token_s,
                        tokens_per_s=answer.tokens_per_s,
                        completion_tokens=answer.completion_tokens,
                        sources=len(answer.plan.sources),
                    )
                )
    return EvalReport(models=models, rag_modes=rag_modes, questions=questions, rows=rows)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|") or "—"


def render_markdown(report: EvalReport) -> str:
    """Summary per model and mode, then each question with the answers side by side."""
    kb = load_knowledge()
    variants = [(m, r) for m in report.models for r in report.rag_modes]
    lines = ["# SYNAPSE evaluation", "", "## Summary", ""]
    lines += ["| model | RAG | expected principles found | language match | mean latency, s | mean tokens/s | errors |"]
    lines += ["|---|---|---|---|---|---|---|"]
    for model, rag in variants:
        rows = [r for r in report.rows if r.model == model and r.rag == rag]
        ok = [r for r in rows if r.error is None]
        found = sum(len(r.found) for r in ok)
        expected = sum(len(r.expected) for r in rows)
        speeds = [r.tokens_per_s for r in ok if r.tokens_per_s]
        latency = sum(r.latency_s for r in ok) / len(ok) if ok else 0.0
        lines.append(
            f"| {model} | {rag} | {found}/{expected} | {sum(r.lang_ok for r in ok)}/{len(rows)} | {latency:.1f} | "
            f"{(sum(speeds) / len(speeds)) if speeds else 0:.1f} | {len(rows) - len(ok)} |"
        )
    for q in report.questions:
        names = ", ".join(f"{p}. {kb.principle(p).name.get(q.lang)}" for p in q.expected)
        lines += ["", f"## {q.id} ({q.lang}, {q.difficulty})", "", f"> {q.question}", "", f"Expected: {names}", ""]
        lines += ["| | " + " | ".join(f"{m} · RAG {r}" for m, r in variants) + " |"]
        lines += ["|---" * (len(variants) + 1) + "|"]
        cells: dict[str, list[str]] = {"answer": [], "principles found": [], "language": [], "latency / tok/s": []}
        for model, rag in variants:
            row = next((r for r in report.rows if r.question_id == q.id and r.model == model and r.rag == rag), None)
            if row is None or row.error:
                for key in cells:
                    cells[key].append(_cell(row.error if row and key == "answer" and row.error else "—"))
                continue
            cells["answer"].append(_cell(row.answer))
            cells["principles found"].append(", ".join(map(str, row.found)) or "none")
            cells["language"].append("ok" if row.lang_ok else "wrong")
            speed = f"{row.tokens_per_s:.1f}" if row.tokens_per_s else "—"
            cells["latency / tok/s"].append(f"{row.latency_s:.1f} s / {speed}")
        for key, values in cells.items():
            lines.append(f"| {key} | " + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"


def write_report(text: str, path: Path) -> Path:
    """Write the report atomically (a temporary file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
