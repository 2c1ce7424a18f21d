"""CORTEX fixtures: stores on the fake embedder, sample documents in both languages, PDF and DOCX files."""

from __future__ import annotations

import io
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from cortex import Cortex
from synapse.config import CortexSettings
from tests.conftest import HashingEmbedder
from tests.pg_server import PostgresForTests, postgres_fixture

EN_BRACKET = (
    "Our foundry team reduced the mass of the aluminium suspension bracket by casting an internal lattice of ribs. "
    "The hollow lattice keeps the stiffness of the bracket while the casting uses forty percent less metal, "
    "and the finished part passed the same fatigue test as the solid design."
)
RU_COOLING = (
    "Для охлаждения серверной стойки мы используем жидкостный контур с теплообменником на крыше здания. "
    "Насосы включаются только при превышении температуры, поэтому ночью контур почти не потребляет электроэнергию."
)


def make_pdf(pages: list[str]) -> bytes:
    """A real PDF with one line of Helvetica text per page, written with pypdf's object model."""
    from pypdf import PdfWriter
    from pypdf.generic import ContentStream, DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    font_ref = writer._add_object(font)
    for text in pages:
        page = writer.add_blank_page(width=612, height=792)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font_ref})}
        )
        safe = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 10 Tf 40 700 Td ({safe}) Tj ET".encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(ContentStream(stream, writer))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx(paragraphs: list[str]) -> bytes:
    import docx

    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def cortex_settings(data_dir: Path, **overrides: object) -> CortexSettings:
    return CortexSettings(data_dir=data_dir, **overrides)  # type: ignore[arg-type]


@pytest.fixture
def fresh_dir(tmp_path: Path) -> Path:
    return tmp_path / "cortex-data"


@pytest_asyncio.fixture
async def cortex(fresh_dir: Path, tmp_path: Path) -> AsyncIterator[Cortex]:
    """A new store on the fake embedder (the TRIZ graph builds in well under a second)."""
    async with Cortex(cortex_settings(fresh_dir), embedder=HashingEmbedder(), cache_dir=tmp_path / "cache") as c:
        yield c


# ---- both storage back ends ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresForTests]:
    """PostgreSQL with pgvector: CORTEX_TEST_POSTGRES_URL, else a server started here (none: skip; in CI: fail)."""
    yield from postgres_fixture()


@pytest.fixture(scope="session")
def postgres_url(postgres: PostgresForTests) -> str:
    return postgres.url


StoreSettings = Callable[..., CortexSettings]


@pytest.fixture(params=["file", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage(request: pytest.FixtureRequest) -> str:
    """The storage back end a test runs on (tests that take it run on both)."""
    return str(request.param)


@pytest.fixture
def store_settings(storage: str, request: pytest.FixtureRequest, fresh_dir: Path) -> StoreSettings:
    """Makes settings for a store on the test's back end; on PostgreSQL the store has a name of its own."""
    extra: dict[str, object] = {}
    if storage == "postgres":
        extra = {
            "storage": "postgres",
            "postgres_url": request.getfixturevalue("postgres_url"),
            "postgres_workspace": f"t{uuid.uuid4().hex[:12]}",
        }

    def make(data_dir: Path = fresh_dir, **overrides: object) -> CortexSettings:
        return cortex_settings(data_dir, **{**extra, **overrides})

    return make


@pytest_asyncio.fixture
async def cortex_store(store_settings: StoreSettings, tmp_path: Path) -> AsyncIterator[Cortex]:
    """A new store on the fake embedder, on each storage back end."""
    async with Cortex(store_settings(), embedder=HashingEmbedder(), cache_dir=tmp_path / "cache") as c:
        yield c
