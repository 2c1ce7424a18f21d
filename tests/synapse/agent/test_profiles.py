"""Agent profiles: the TOML file, adapters resolved or refused, and a turn answered with the profile's model,
prompt, collections and RAG mode; `auto` picks the profile whose documents match the question."""

from __future__ import annotations

from pathlib import Path

import pytest

from cortex.models import QueryRequest, QueryResult, Source
from synapse.agent import AUTO_MODEL, BASE_AGENT, TRIZ_AGENT, ProfileError, ProfileRouter, ProfileSet, load_profiles
from synapse.agent.models import TurnRequest
from synapse.config import SynapseSettings
from synapse.llm import ChatMessage
from synapse.triz import TrizKnowledge
from tests.conftest import HashingEmbedder
from tests.synapse.agent.fakes import FakeCortex

SPORT_DOC = "Interval sprint training: 8 sprints of 200 m with 90 s rest builds speed endurance for runners."


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "profiles.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _lora(tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}-lora.gguf"
    path.write_bytes(b"GGUF")  # only its existence is checked here; the engine tests load real ones
    return path


def test_file_adds_profiles_and_adjusts_builtins(tmp_path: Path) -> None:
    lora = _lora(tmp_path, "sport")
    path = _write(
        tmp_path,
        f"""
[profiles.sport]
description = "sport coach"
adapter = "{lora}"
system.en = "You are a sport coach."
collections = ["sport"]
rag_mode = "naive"
analyzer = false

[profiles.triz-agent-base]
model = "llama3.2:3b"
""",
    )
    profiles = load_profiles(path)
    assert list(profiles) == [TRIZ_AGENT, BASE_AGENT, "sport"]
    sport = profiles["sport"]
    assert sport.collections == ["sport"] and sport.rag_mode == "naive" and not sport.analyzer
    assert sport.system == {"en": "You are a sport coach."}
    assert profiles[BASE_AGENT].model == "llama3.2:3b" and profiles[BASE_AGENT].role == "base"
    found = ProfileSet.load(SynapseSettings(profiles=path))
    assert found.served_adapters() == [("sport", lora)]
    assert found.adapters["sport"].ollama_model == "sport"
    assert found.models == (TRIZ_AGENT, BASE_AGENT, "sport", AUTO_MODEL)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[profiles.x]\nrag_mode = "deep"', "[profiles.x] rag_mode"),
        ('[profiles.x]\nadapter = "a.gguf"\nmodel = "m"', "give an adapter or a model, not both"),
        ('[profiles.x]\ncollections = ["Sport Docs"]', "bad collection name"),
        ('[profiles.x]\ncolour = "red"', "[profiles.x] colour"),
        ('[profiles.Auto]\nrole = "base"', "not a profile name"),
        ("profiles = 3", "'profiles' must be a table"),
        ("[profiles.x\n", "not valid TOML"),
    ],
)
def test_bad_profile_files_name_the_file_and_the_field(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ProfileError) as info:
        load_profiles(path)
    assert expected in info.value.message and str(path) in info.value.message
    assert info.value.status == 422


def test_missing_adapter_names_the_file_and_the_export_command(tmp_path: Path) -> None:
    path = _write(tmp_path, '[profiles.phys]\nadapter = "td010v2"\n')
    with pytest.raises(ProfileError) as info:
        ProfileSet.load(SynapseSettings(profiles=path), data_dir=tmp_path)
    expected = tmp_path / "exports" / "triz-td010v2-q4km" / "triz-td010v2-q4km-lora.gguf"
    assert str(expected) in info.value.message
    assert "synapse export td010v2 --mode adapter" in (info.value.hint or "")
    expected.parent.mkdir(parents=True)
    expected.write_bytes(b"GGUF")
    found = ProfileSet.load(SynapseSettings(profiles=path), data_dir=tmp_path)
    assert found.adapters["phys"].path == expected and found.adapters["phys"].ollama_model == "triz-td010v2-q4km"


def test_two_profiles_sharing_a_lora_load_it_once(tmp_path: Path) -> None:
    lora = _lora(tmp_path, "shared")
    path = _write(tmp_path, f'[profiles.a]\nadapter = "{lora}"\n[profiles.b]\nadapter = "{lora}"\nrole = "base"\n')
    found = ProfileSet.load(SynapseSettings(profiles=path))
    assert found.served_adapters() == [("a", lora)]
    assert found.adapters["b"].served == "a"


class ScopedCortex(FakeCortex):
    """Answers from the TRIZ sources plus the documents of the collections a query names (all without any)."""

    def __init__(self, documents: dict[str, list[Source]]) -> None:
        super().__init__()
        self.documents = documents

    async def query(self, request: QueryRequest) -> QueryResult:
        picked = [c for c in self.documents if request.collections is None or c in request.collections]
        self.sources = [s for s in self.sources if s.kind != "document"] + [
            s for c in picked for s in self.documents[c]
        ]
        return await super().query(request)


def _sport_source() -> Source:
    return Source(id="doc:sport", kind="document", title="sprints.md", snippet=SPORT_DOC, score=0.8)


@pytest.mark.asyncio
async def test_a_profile_answers_with_its_model_prompt_and_collections(
    make_agent, backend, tmp_path: Path, kb: TrizKnowledge
) -> None:
    path = _write(
        tmp_path,
        '[profiles.sport]\nmodel = "sport-coach"\nsystem.en = "You coach runners."\n'
        'collections = ["sport"]\nrag_mode = "naive"\nanalyzer = false\n',
    )
    backend.models = (*backend.models, "sport-coach")
    agent = make_agent(profiles=path)
    agent.profiles = ProfileSet.load(agent.settings)
    agent.cortex = ScopedCortex({"sport": [_sport_source()], "physics": []})
    question = ChatMessage(role="user", content="how to run faster")
    plan = await agent.plan(TurnRequest(model="sport", messages=[question]))
    assert plan.model == "sport-coach" and plan.profile == "sport" and plan.route == "triz"
    assert plan.messages[0].content.startswith("You coach runners.")
    assert plan.triz is None and plan.retrieval.mode == "naive"
    query = agent.cortex.queries[-1]
    assert query.collections == ["sport"] and query.mode == "naive"
    assert [s.id for s in plan.sources if s.kind == "document"] == ["doc:sport"]


@pytest.mark.asyncio
async def test_auto_routes_a_question_about_a_profiles_documents_to_it(
    make_agent, tmp_path: Path, kb: TrizKnowledge
) -> None:
    path = _write(
        tmp_path,
        '[profiles.sport]\nrole = "base"\ndescription = "running coach"\ncollections = ["sport"]\n',
    )
    agent = make_agent(profiles=path)
    agent.profiles = ProfileSet.load(agent.settings)
    agent.cortex = ScopedCortex({"sport": [_sport_source()]})
    agent.router = ProfileRouter(HashingEmbedder(), kb, 0.45, agent.profiles.profiles)
    ask = "how many 200 m sprints with what rest for speed endurance?"
    plan = await agent.plan(TurnRequest(model=AUTO_MODEL, messages=[ChatMessage(role="user", content=ask)]))
    assert plan.profile == "sport" and plan.route_score is not None and plan.route_score >= 0.45
    assert agent.cortex.queries[-1].collections == ["sport"]
    triz_question = "segmentation of the object and composite materials"
    plan = await agent.plan(TurnRequest(model=AUTO_MODEL, messages=[ChatMessage(role="user", content=triz_question)]))
    assert plan.profile == TRIZ_AGENT
    plan = await agent.plan(TurnRequest(model=AUTO_MODEL, messages=[ChatMessage(role="user", content="pancakes")]))
    assert plan.profile == BASE_AGENT


def test_a_graph_mode_that_cannot_reach_the_collections_is_named(tmp_path: Path) -> None:
    from cortex.models import CortexHealth

    text = '[profiles.a]\ncollections = ["x"]\nrag_mode = "local"\n[profiles.b]\ncollections = ["y"]\n'
    path = _write(tmp_path, text)
    found = ProfileSet.load(SynapseSettings(profiles=path))
    base = {"status": "ok", "embedder": "e", "dim": 8, "documents": 1, "knowledge_version": "t", "storage": "file"}
    without_llm = CortexHealth(**base, graph_documents=False)  # type: ignore[arg-type]
    problems = found.mode_problems(without_llm, "mix")
    assert len(problems) == 1 and "profile 'a'" in problems[0] and "'naive' or 'mix'" in problems[0]
    assert found.mode_problems(without_llm, "hybrid")[1].startswith("profile 'b'")
    assert found.mode_problems(CortexHealth(**base, graph_documents=True), "local") == []  # type: ignore[arg-type]
