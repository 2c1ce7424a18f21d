"""Write a Hugging Face byte-level BPE tokenizer (Qwen2, Llama-3 style) into GGUF metadata."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gguf

from export.errors import ExportInputError

# llama.cpp picks its pre-tokenizer regex by this name; Qwen2 models use the "qwen2" split.
PRE_TOKENIZER = {"qwen2": "qwen2", "llama": "llama-bpe"}


def add_vocab(writer: gguf.GGUFWriter, model_dir: Path, n_vocab: int, arch: str) -> int:
    """Add tokens, types, merges, special ids and the chat template; returns the number of real tokens."""
    path = model_dir / "tokenizer.json"
    if not path.is_file():
        raise ExportInputError(f"tokenizer.json not found in {model_dir}", "the base model directory is incomplete")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    model = data.get("model", {})
    if model.get("type") != "BPE":
        raise ExportInputError(
            f"tokenizer type {model.get('type')!r} is not byte-level BPE", "only BPE tokenizers export"
        )
    by_id: dict[int, tuple[str, int]] = {int(i): (tok, int(gguf.TokenType.NORMAL)) for tok, i in model["vocab"].items()}
    for added in data.get("added_tokens", []):
        kind = gguf.TokenType.CONTROL if added.get("special") else gguf.TokenType.USER_DEFINED
        by_id[int(added["id"])] = (added["content"], int(kind))
    real = len(by_id)
    if max(by_id) >= n_vocab:
        raise ExportInputError(
            f"the tokenizer has token id {max(by_id)} but the model's vocab_size is {n_vocab}",
            "tokenizer and weights do not belong together",
        )
    tokens: list[str] = []
    types: list[int] = []
    for i in range(n_vocab):
        # The embedding matrix is usually padded past the tokenizer; llama.cpp needs a name for every row.
        tok, ttype = by_id.get(i, (f"[PAD{i}]", int(gguf.TokenType.UNUSED)))
        tokens.append(tok)
        types.append(ttype)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(PRE_TOKENIZER[arch])
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    special = gguf.SpecialVocab(model_dir, load_merges=True, n_vocab=n_vocab)
    if special.chat_template is None and (model_dir / "chat_template.jinja").is_file():
        special.chat_template = (model_dir / "chat_template.jinja").read_text(encoding="utf-8")
    if not special.merges:
        raise ExportInputError("tokenizer.json has no BPE merges", "the tokenizer file is incomplete")
    special.add_to_gguf(writer, quiet=True)
    return real
