"""Runs the `synapse` command line with the tests' fake embedder registered (as `test-hashing`).

The worker tests start real servers in other processes; the registration sits at import time so that
the process the master spawns to prepare the store (which imports this file again) has it too.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from synapse.embeddings import EMBEDDERS
from tests.conftest import HashingEmbedder

EMBEDDERS.register(HashingEmbedder.name, HashingEmbedder)

if __name__ == "__main__":
    from synapse.cli import main

    main()
