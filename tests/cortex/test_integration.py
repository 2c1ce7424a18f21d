"""The real offline embedder end to end: TRIZ answers from the matrix, documents found across languages.

One store per module and storage back end (the first TRIZ graph build embeds ~850 texts; the second back end
reuses the vectors cached by the first).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from cortex import Cortex, QueryRequest
from tests.cortex.conftest import cortex_settings

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]

EN_DOC = (
    "Field report on the milk delivery trucks. In winter the diesel engines of the trucks would not start in the "
    "morning because the oil thickened in the cold. The fleet installed small electric heaters in the engine "
    "blocks, connected to the depot's mains overnight, and the trucks now start at minus thirty degrees."
)
RU_DOC = (
    "Протокол совещания о сушке зерна. Зерно в сушилке пересыхало у горячей стенки и оставалось влажным в центре. "
    "Решили периодически переворачивать слой зерна лопастями и подавать тёплый воздух импульсами, после чего "
    "влажность выровнялась по всему объёму."
)


@pytest_asyncio.fixture(
    scope="module", loop_scope="module", params=["file", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def cortex(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> AsyncIterator[Cortex]:
    root = tmp_path_factory.mktemp("cortex-real")
    extra: dict[str, object] = {}
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        extra = {"storage": "postgres", "postgres_url": url, "postgres_workspace": f"real_{uuid.uuid4().hex[:12]}"}
    cache = tmp_path_factory.getbasetemp() / "cortex-real-cache"
    async with Cortex(cortex_settings(root / "data", **extra), cache_dir=cache) as store:
        await store.add_document("trucks.md", EN_DOC.encode())
        await store.add_document("grain.txt", RU_DOC.encode())
        await store.wait_idle(300)
        yield store


@pytest.mark.parametrize("mode", ["naive", "hybrid", "mix"])
@pytest.mark.parametrize(
    "query",
    ["How can a part be made lighter without losing its strength?", "Как сделать деталь легче, не потеряв прочность?"],
)
async def test_lighter_but_strong_brings_the_matrix_cell(cortex: Cortex, query: str, mode: str) -> None:
    result = await cortex.query(QueryRequest(query=query, mode=mode, top_k=10))
    cell_principles = {28, 27, 18, 40, 1, 8, 15}
    found = {int(s.id.rsplit(":", 1)[1]) for s in result.sources if s.kind == "principle"}
    assert found & cell_principles, [s.id for s in result.sources]


async def test_russian_question_finds_the_english_report(cortex: Cortex) -> None:
    result = await cortex.query(
        QueryRequest(query="Почему грузовики не заводились зимой по утрам?", mode="naive", top_k=5)
    )
    docs = [s.document for s in result.sources if s.kind == "document"]
    assert "trucks.md" in docs, [(s.kind, s.title) for s in result.sources]


async def test_english_question_finds_the_russian_minutes(cortex: Cortex) -> None:
    result = await cortex.query(QueryRequest(query="How was the grain dried evenly?", mode="mix", top_k=5))
    docs = [s.document for s in result.sources if s.kind == "document"]
    assert "grain.txt" in docs, [(s.kind, s.title) for s in result.sources]
