"""`synapse chat` and `synapse eval` through the real typer app (scripted backend, fake CORTEX)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from synapse.agent import Agent
from synapse.agent.evaluation import load_control_questions, principles_mentioned, render_markdown, run_eval
from synapse.cli import app
from synapse.config import SynapseSettings
from synapse.llm import Backends
from synapse.triz import Analysis, ContradictionAnalyzer, TrizKnowledge
from tests.synapse.agent.fakes import FakeCortex, ScriptedBackend
from tests.synapse.api.conftest import LiveServer

runner = CliRunner()
ANSWER = "Apply Segmentation and Composite materials; also principle 15. Dynamics helps."


@pytest.fixture(scope="module")
def analyzer(kb: TrizKnowledge) -> ContradictionAnalyzer:
    return ContradictionAnalyzer(kb, embedder=None)


def scripted_agent(analyzer: ContradictionAnalyzer, answer: str | None = ANSWER) -> Agent:
    settings = SynapseSettings(backend="ollama")
    backends = Backends({"ollama": ScriptedBackend(answer)}, ["ollama"])

    def analyze(problem: str, lang: str) -> Analysis:
        return analyzer.analyze(problem, lang=lang, top=2)

    return Agent(backends, FakeCortex(), settings, analyzer=analyze)


def test_chat_streams_from_a_running_synapse(analyzer: ContradictionAnalyzer) -> None:
    from synapse.api import create_app

    with LiveServer(create_app(SynapseSettings(api_keys="k"), agent=scripted_agent(analyzer))) as server:
        res = runner.invoke(
            app, ["chat", "How to cool a chip?", "--url", server.url, "--api-key", "k", "--rag", "naive"]
        )
        assert res.exit_code == 0, res.output
        assert ANSWER in res.stdout and "[1] 1. Segmentation (principle)" in res.output
        denied = runner.invoke(app, ["chat", "How to cool a chip?", "--url", server.url, "--api-key", "bad"])
        assert denied.exit_code != 0 and "401" in denied.output


def test_chat_refuses_an_unknown_rag_mode() -> None:
    res = runner.invoke(app, ["chat", "hi", "--rag", "deep"])
    assert res.exit_code == 2 and "unknown RAG mode" in res.output


def test_control_questions_ship_in_both_languages() -> None:
    qs = load_control_questions()
    assert len(qs) >= 10 and {q.lang for q in qs} == {"en", "ru"} and len({q.difficulty for q in qs}) == 3
    assert all(1 <= p <= 40 for q in qs for p in q.expected)


def test_principles_mentioned_by_name_or_number(kb: TrizKnowledge) -> None:
    assert principles_mentioned(ANSWER, [1, 40, 15, 8], kb) == [1, 40, 15]
    assert principles_mentioned("Используйте дробление и приём 35.", [1, 35, 2], kb) == [1, 35]


@pytest.mark.asyncio
async def test_eval_report_side_by_side(analyzer: ContradictionAnalyzer) -> None:
    qs = load_control_questions()[:2]
    report = await run_eval(scripted_agent(analyzer), qs, ["triz-agent", "triz-agent-base"], ["mix", "off"])
    assert len(report.rows) == 8 and all(r.error is None for r in report.rows)
    en = next(r for r in report.rows if r.question_id == "en-beam")
    ru = next(r for r in report.rows if r.question_id == "ru-beam")
    assert en.found == [1, 40, 15] and en.lang_ok and not ru.lang_ok
    text = render_markdown(report)
    assert "| triz-agent | mix |" in text and "triz-agent-base · RAG off" in text and "## ru-beam (ru, easy)" in text


def test_eval_command_writes_the_report(
    analyzer: ContradictionAnalyzer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import synapse.agent

    async def fake_create_agent(settings: SynapseSettings | None = None) -> Agent:
        return scripted_agent(analyzer, answer=None)

    monkeypatch.setattr(synapse.agent, "create_agent", fake_create_agent)
    out = tmp_path / "report.md"
    res = runner.invoke(
        app, ["eval", "--limit", "3", "--out", str(out), "--models", "triz-agent,qwen2.5:14b-instruct-q4_k_m"]
    )
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8")
    assert text.count("\n## ") == 4 and "qwen2.5:14b-instruct-q4_k_m · RAG mix" in text
    assert not list(tmp_path.glob(".report.md.*"))
    bad = runner.invoke(app, ["eval", "--rag", "mix,deep"])
    assert bad.exit_code == 2 and "deep" in bad.output


def test_chat_in_process_streams_and_lists_sources(
    analyzer: ContradictionAnalyzer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import synapse.agent

    async def fake_create_agent(settings: SynapseSettings | None = None) -> Agent:
        return scripted_agent(analyzer)

    monkeypatch.setattr(synapse.agent, "create_agent", fake_create_agent)
    res = runner.invoke(app, ["chat", "We want the boom stronger, but it gets heavier.", "--model", "triz-agent-base"])
    assert res.exit_code == 0, res.output
    assert ANSWER in res.stdout and "[3] 40. Composite materials (principle)" in res.output
    assert "model: qwen2.5:14b-instruct-q4_k_m via ollama" in res.output
