"""Continuous batching over llama.cpp's low-level API (not yet the production path of LlamaCppBackend)."""

from synapse.llm.batch.engine import BatchEngine
from synapse.llm.batch.native import NativeModel, SamplerSpec
from synapse.llm.batch.sequence import SequenceRequest, SequenceStream

__all__ = ["BatchEngine", "NativeModel", "SamplerSpec", "SequenceRequest", "SequenceStream"]
