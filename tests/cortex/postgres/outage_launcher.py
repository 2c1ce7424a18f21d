"""Runs the `synapse` command line with a fake embedder that takes a while over the outage test's documents.

`test-slow-hashing` is the tests' hashing embedder, pausing on each batch that holds an `outagedoc` text,
so that the documents uploaded just before the database goes away are still being processed when it does.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from synapse.embeddings import EMBEDDERS, Vectors
from tests.conftest import HashingEmbedder

PAUSE_S = 2.0


class SlowHashingEmbedder(HashingEmbedder):
    name = "test-slow-hashing"

    def _encode(self, texts: list[str]) -> Vectors:
        if any("outagedoc" in t for t in texts):
            time.sleep(PAUSE_S)  # in the embedding thread: the server keeps answering meanwhile
        return super()._encode(texts)


EMBEDDERS.register(SlowHashingEmbedder.name, SlowHashingEmbedder)

if __name__ == "__main__":
    from synapse.cli import main

    main()
