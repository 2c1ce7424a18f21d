"""Continuous batching over llama.cpp's low-level API: the engine behind LlamaCppBackend."""

from synapse.llm.batch.engine import BatchEngine
from synapse.llm.batch.native import NativeModel, Placement, SamplerSpec, Shape
from synapse.llm.batch.sequence import SequenceRequest, SequenceStream

__all__ = ["BatchEngine", "NativeModel", "Placement", "SamplerSpec", "SequenceRequest", "SequenceStream", "Shape"]
