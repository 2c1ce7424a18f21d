"""A CORTEX process for the fault test: uploads documents and says when it is in the middle of them.

Run as `python -m tests.cortex.postgres.fault_child DATA_DIR URL STORE N`; it prints MID while embedding
the third batch of documents and waits a moment there, so the test can kill the database mid-ingestion
(and then this process, as a crash or an orchestrator's restart would).
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from cortex import Cortex
from synapse.embeddings import Vectors
from tests.conftest import HashingEmbedder
from tests.cortex.postgres.conftest import pg_settings


def document(i: int) -> bytes:
    return f"faultdoc {i}: the pump number {i} of line {i * 7} runs hot at {20 + i} degrees; coolant {i}.".encode()


class PausingEmbedder(HashingEmbedder):
    """Says MID and pauses while embedding the documents' third batch."""

    def __init__(self) -> None:
        super().__init__()
        self.doc_batches = 0

    def _encode(self, texts: list[str]) -> Vectors:
        if any("faultdoc" in t for t in texts):
            self.doc_batches += 1
            if self.doc_batches == 3:
                print("MID", flush=True)
                time.sleep(3)
        return super()._encode(texts)


async def main(data_dir: Path, url: str, store: str, n: int) -> None:
    settings = pg_settings(data_dir, url, store, parallel_documents=4)
    async with Cortex(settings, embedder=PausingEmbedder(), cache_dir=data_dir.parent / "cache") as cortex:
        await cortex.add_documents([(f"d{i}.txt", document(i)) for i in range(n)])
        print("QUEUED", flush=True)
        await cortex.wait_idle(300)
        print("IDLE", flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])))
