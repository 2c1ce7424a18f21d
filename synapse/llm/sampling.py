"""The sampling a model runs with when a request leaves it open: the export's record, or built-in defaults."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from synapse.llm.models import GenerationOptions

log = logging.getLogger("synapse.llm")

#: The file `synapse export` writes next to its GGUF (export/pipeline.py MANIFEST); its `sampling` holds
#: the base model's generation_config.json values under Ollama's names.
EXPORT_MANIFEST = "manifest.json"


class Sampling(BaseModel):
    """Sampling parameters under Ollama's names; None leaves one to the next source."""

    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=0)
    repeat_penalty: float | None = Field(default=None, gt=0.0)

    def over(self, base: Sampling) -> Sampling:
        """These values where set, `base`'s elsewhere."""
        mine = self.model_dump(exclude_none=True)
        return base.model_copy(update=mine)


#: What SYNAPSE used before models brought their own (and llama.cpp's top_k 40, no repetition penalty).
FALLBACK_TEMPERATURE = 0.3
FALLBACK_TOP_P = 0.95
FALLBACK = Sampling(temperature=FALLBACK_TEMPERATURE, top_p=FALLBACK_TOP_P, top_k=40, repeat_penalty=1.0)
# SmolLM2-135M's generation_config.json has no sampling values; greedy without a penalty it repeats one
# phrase for a whole answer ("Что делать?" 30 times for the README's crane question). 1.2 was the lowest
# value tried (1.1, 1.2, 1.3) that left no 4-gram twice; temperature and top_p as its model card suggests.
DEMO = Sampling(temperature=0.2, top_p=0.9, top_k=40, repeat_penalty=1.2)


def export_sampling(gguf: Path) -> Sampling | None:
    """The sampling recorded by the export that wrote `gguf`, if its manifest lies next to it."""
    manifest = gguf.parent / EXPORT_MANIFEST
    if not manifest.is_file():
        return None
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8")).get("sampling")
        return Sampling.model_validate(recorded) if isinstance(recorded, dict) else None
    except (OSError, ValueError, ValidationError) as exc:  # a damaged manifest must not stop serving
        log.warning("ignoring the sampling in %s: %s", manifest, exc)
        return None


def model_sampling(gguf: Path, demo: bool) -> Sampling:
    """The defaults of the model in `gguf`: its export's record, the demo's, or FALLBACK; all fields set."""
    own = DEMO if demo else export_sampling(gguf)
    return own.over(FALLBACK) if own is not None else FALLBACK


def request_sampling(options: GenerationOptions, defaults: Sampling) -> Sampling:
    """The request's own values, the model's defaults where it sent none."""
    sent = Sampling(
        temperature=options.temperature,
        top_p=options.top_p,
        top_k=options.top_k,
        repeat_penalty=options.repeat_penalty,
    )
    return sent.over(defaults)
