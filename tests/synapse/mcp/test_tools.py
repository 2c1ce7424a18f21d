"""The five tools through the SDK's client (in memory): schemas, answers in EN and RU, errors with their fix."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import ClientSession
from mcp.types import CallToolResult, TextContent

from synapse.mcp import SynapseMCP, ToolDeps, build_server
from synapse.mcp.tools import text_name
from synapse.triz import Analysis
from tests.synapse.agent.fakes import FakeCortex
from tests.synapse.mcp.conftest import in_memory

TOOLS = ["triz_analyze", "matrix_lookup", "principle", "search_knowledge", "add_document"]


def call(server: SynapseMCP, name: str, arguments: dict[str, Any]) -> CallToolResult:
    async def work(session: ClientSession) -> CallToolResult:
        return await session.call_tool(name, arguments)

    return in_memory(server, work)


def text_of(result: CallToolResult) -> str:
    first = result.content[0]
    assert isinstance(first, TextContent)
    return first.text


def test_lists_the_five_tools_with_typed_schemas(server: SynapseMCP) -> None:
    async def work(session: ClientSession) -> Any:
        return (await session.list_tools()).tools

    tools = {tool.name: tool for tool in in_memory(server, work)}
    assert list(tools) == TOOLS
    for tool in tools.values():
        assert tool.description and tool.outputSchema and tool.annotations
    analyze = tools["triz_analyze"].inputSchema
    assert analyze["required"] == ["problem"]
    assert analyze["properties"]["lang"]["enum"] == ["auto", "en", "ru"]
    assert tools["principle"].inputSchema["properties"]["n"]["type"] == "integer"
    assert tools["search_knowledge"].inputSchema["properties"]["mode"]["enum"][0] == "naive"
    assert "sources" in tools["search_knowledge"].outputSchema["properties"]
    assert tools["add_document"].annotations.readOnlyHint is False
    assert tools["principle"].annotations.readOnlyHint is True


def test_triz_analyze_in_russian_and_english(server: SynapseMCP) -> None:
    ru = call(server, "triz_analyze", {"problem": "Балка должна быть прочнее, но тогда она становится тяжелее"})
    assert not ru.isError and ru.structuredContent is not None
    assert ru.structuredContent["lang"] == "ru"
    first = ru.structuredContent["contradictions"][0]
    assert first["improving"] == {"id": 14, "name": "Прочность"}
    assert first["principles"]
    cards = ru.structuredContent["principles"]
    assert 1 <= len(cards) <= 6 and cards[0]["lang"] == "ru" and cards[0]["sub_principles"]
    en = call(server, "triz_analyze", {"problem": "The beam must be stronger, but it gets heavier", "top": 1})
    assert en.structuredContent is not None and en.structuredContent["lang"] == "en"
    assert len(en.structuredContent["contradictions"]) == 1


def test_matrix_lookup_by_number_and_name(server: SynapseMCP) -> None:
    result = call(server, "matrix_lookup", {"improving": 14, "worsening": "вес подвижного", "lang": "auto"})
    assert not result.isError and result.structuredContent is not None
    assert result.structuredContent["lang"] == "ru"
    assert result.structuredContent["worsening"] == {"id": 1, "name": "Вес подвижного объекта"}
    assert [p["id"] for p in result.structuredContent["principles"]] == [1, 8, 40, 15]
    english = call(server, "matrix_lookup", {"improving": "strength", "worsening": "1", "lang": "en"})
    assert english.structuredContent is not None and english.structuredContent["improving"]["name"] == "Strength"


def test_principle_card(server: SynapseMCP) -> None:
    result = call(server, "principle", {"n": 1, "lang": "ru"})
    assert not result.isError and result.structuredContent is not None
    assert result.structuredContent["name"] == "Дробление"
    assert call(server, "principle", {"n": 40}).structuredContent["lang"] == "en"  # type: ignore[index]


@pytest.mark.parametrize(
    ("name", "arguments", "expected"),
    [
        ("principle", {"n": 41}, "unknown TRIZ principle: '41'. Fix: use a number from 1 to 40"),
        ("principle", {"n": "forty"}, "invalid arguments for principle: n: Input should be a valid integer"),
        ("matrix_lookup", {"improving": "strenght", "worsening": 1}, "Fix: did you mean: 14 Strength"),
        ("matrix_lookup", {"improving": 5, "worsening": 5}, "Fix: resolve it with the separation principles"),
        ("triz_analyze", {"problem": "   "}, "the problem text is empty. Fix: describe what should improve"),
        ("search_knowledge", {"query": "ab"}, "query: String should have at least 3 characters"),
        ("add_document", {"name": "a", "text": "x", "tags": ["a,b"]}, "tags.0: String should match pattern"),
        ("no_such_tool", {}, "Unknown tool: no_such_tool"),
    ],
)
def test_bad_input_is_a_tool_error_naming_the_fix(
    server: SynapseMCP, name: str, arguments: dict[str, Any], expected: str
) -> None:
    result = call(server, name, arguments)
    assert result.isError
    assert expected in text_of(result)
    assert "Traceback" not in text_of(result) and "errors.pydantic.dev" not in text_of(result)


def test_an_unexpected_failure_is_logged_and_answered_without_its_text(
    fake_cortex: FakeCortex, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(problem: str, lang: str, top: int) -> Analysis:
        raise RuntimeError("secret path /srv/private")

    server = build_server(ToolDeps(analyze=broken, cortex=lambda: fake_cortex))
    result = call(server, "triz_analyze", {"problem": "the beam must be stronger"})
    assert result.isError
    assert "internal error in triz_analyze (id " in text_of(result)
    assert "secret" not in text_of(result)
    assert any("secret path" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_search_knowledge_returns_sources_with_snippets(server: SynapseMCP, fake_cortex: FakeCortex) -> None:
    result = call(server, "search_knowledge", {"query": "lighter beams", "mode": "naive", "top_k": 2})
    assert not result.isError and result.structuredContent is not None
    sources = result.structuredContent["sources"]
    assert [s["id"] for s in sources] == ["triz:principle:1", "doc:1"]
    assert sources[1]["snippet"] == "Hollow beams are light."
    assert fake_cortex.queries[-1].mode == "naive" and fake_cortex.queries[-1].top_k == 2


def test_search_knowledge_when_cortex_is_down(server: SynapseMCP, fake_cortex: FakeCortex) -> None:
    fake_cortex.down = True
    result = call(server, "search_knowledge", {"query": "lighter beams"})
    assert result.isError and text_of(result) == "fake CORTEX is down. Fix: start it"


def test_add_document_stores_text_with_tags(server: SynapseMCP, fake_cortex: FakeCortex) -> None:
    result = call(server, "add_document", {"name": "Заметки", "text": "Полые балки легче.", "tags": ["балки", "b"]})
    assert not result.isError and result.structuredContent is not None
    assert result.structuredContent["name"] == "Заметки.md"
    assert result.structuredContent["tags"] == ["балки", "b"]
    _info, data = next(iter(fake_cortex.docs.values()))
    assert data.decode("utf-8") == "Полые балки легче."


def test_text_name_keeps_text_suffixes() -> None:
    assert text_name("a.txt") == "a.txt"
    assert text_name("a.MD") == "a.MD"
    assert text_name("a.pdf") == "a.pdf.md"
