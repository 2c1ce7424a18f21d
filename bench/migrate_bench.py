"""`synapse cortex migrate` against re-ingesting the same documents into PostgreSQL (the way without it).

    .venv/bin/python bench/migrate_bench.py                     # 2,000 documents, the offline embedder
    .venv/bin/python bench/migrate_bench.py --docs 500 --pg-url postgresql://user:pw@host:5432/db

Builds a file store from generated one-paragraph documents (bench/cortex_bench.py's corpus), migrates it
into PostgreSQL (a server the tests' helper starts, unless --pg-url), then ingests the same documents into
a new PostgreSQL store with the embedder: the reference, which is what moving a store costs without
migrate. Both PostgreSQL stores are then asked the same naive query to show they hold the same data.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cortex_bench import corpus  # noqa: E402
from cortex import Cortex, QueryRequest  # noqa: E402
from cortex.migrate import migrate  # noqa: E402
from synapse.config import CortexSettings  # noqa: E402


async def ingest(settings: CortexSettings, texts: list[str], cache: Path) -> tuple[float, Cortex]:
    cortex = Cortex(settings, cache_dir=cache)
    await cortex.start()  # the TRIZ graph (its vectors cached after the first build) is not timed
    t0 = time.perf_counter()
    await cortex.add_documents([(f"{i:05d}.txt", t.encode()) for i, t in enumerate(texts)])
    await cortex.wait_idle(24 * 3600)
    return time.perf_counter() - t0, cortex


async def run(n: int, url: str, work: Path, embedder: str) -> list[str]:
    texts = corpus(n)
    cache = work / "cache"
    file_settings = CortexSettings(data_dir=work / "file", embedder=embedder)  # type: ignore[call-arg]
    file_s, cortex = await ingest(file_settings, texts, cache)
    await cortex.aclose()

    store = f"bench_{uuid.uuid4().hex[:8]}"
    t0 = time.perf_counter()
    report = await migrate(file_settings, url, store=store)
    migrate_s = time.perf_counter() - t0

    ref_settings = CortexSettings(  # type: ignore[call-arg]
        data_dir=work / "reference",
        embedder=embedder,
        storage="postgres",
        postgres_url=url,
        postgres_workspace=f"{store}_ref",
    )
    ref_s, ref = await ingest(ref_settings, texts, cache)
    question = QueryRequest(query=texts[n // 2][:80], mode="naive", top_k=5)
    ref_top = [s.document for s in (await ref.query(question)).sources]
    await ref.aclose()
    migrated_settings = file_settings.model_copy(
        update={"storage": "postgres", "postgres_url": ref_settings.postgres_url, "postgres_workspace": store}
    )
    async with Cortex(migrated_settings, cache_dir=cache) as migrated:
        mig_top = [s.document for s in (await migrated.query(question)).sources]

    vectors = sum(c.source for c in report.counts if c.namespace.endswith("_vdb"))
    rows = sum(c.source for c in report.counts)
    return [
        f"{n:,} documents, embedder {embedder}; {rows:,} rows of which {vectors:,} vectors; "
        f"{report.vectors_compared} sampled vectors equal (max difference {report.max_vector_error:.1e})",
        "",
        "| route | seconds | documents/s |",
        "|---|---|---|",
        f"| file store ingest (for the record) | {file_s:.1f} | {n / file_s:.0f} |",
        f"| **migrate file -> PostgreSQL** | {migrate_s:.1f} | {n / migrate_s:.0f} |",
        f"| reference: ingest again into PostgreSQL | {ref_s:.1f} | {n / ref_s:.0f} |",
        "",
        f"migrate / reference: {migrate_s / ref_s:.2f}x the time; same top hits for a naive query: "
        f"{mig_top == ref_top} ({mig_top[:3]})",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--embedder", default="use-multilingual")
    parser.add_argument("--pg-url", default="", help="a PostgreSQL with pgvector (default: start one here)")
    parser.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="migrate-bench-"))
    shutil.rmtree(work / "file", ignore_errors=True)
    shutil.rmtree(work / "reference", ignore_errors=True)
    server = None
    url = args.pg_url
    if not url:
        from tests.pg_server import start_local_postgres

        server, line = start_local_postgres()
        if server is None:
            raise SystemExit(f"no PostgreSQL with pgvector: {line}; pass --pg-url")
        print(f"PostgreSQL: {line}", flush=True)
        url = server.url()
    try:
        for line in asyncio.run(run(args.docs, url, work, args.embedder)):
            print(line)
    finally:
        if server is not None:
            server.stop(remove=True)


if __name__ == "__main__":
    main()
