"""Random Qwen2 bases and LoRA adapters built on the spot, for tests and benchmarks (no downloads)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from synapse.triz import load_knowledge

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHATML_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


class Qwen2Shape(BaseModel):
    """The sizes of a Qwen2 model; widths are multiples of 256 so k-quants need no fallback."""

    hidden: int = 256
    intermediate: int = 512
    layers: int = 2
    heads: int = 4
    kv_heads: int = 2
    vocab_target: int = 768  # tokens the tokenizer learns
    vocab_size: int | None = None  # rows of the embedding, padded past the tokenizer as real models are
    max_positions: int = 512
    tie_embeddings: bool = True


# Qwen2.5-1.5B-Instruct's real shapes; the tokenizer learns fewer tokens and the embedding is padded to 151,936.
QWEN25_1_5B = Qwen2Shape(
    hidden=1536, intermediate=8960, layers=28, heads=12, kv_heads=2, vocab_target=4096, vocab_size=151_936
)
TINY = Qwen2Shape()


def _corpus() -> list[str]:
    """Russian and English text to train a small byte-level BPE on: the shipped TRIZ texts."""
    kb = load_knowledge()
    texts: list[str] = []
    for p in kb.principles:
        texts += [p.description.en, p.description.ru, *(e.en for e in p.examples), *(e.ru for e in p.examples)]
    for q in kb.parameters:
        texts += [q.description.en, q.description.ru]
    return texts


def build_tokenizer(out_dir: Path, vocab_size: int) -> int:
    """Train a byte-level BPE with ChatML special tokens and save it as a Qwen2 tokenizer; returns its size."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=max(vocab_size - len(SPECIAL_TOKENS), 300),
        special_tokens=[],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=SPECIAL_TOKENS,
    )
    fast.chat_template = CHATML_TEMPLATE
    fast.save_pretrained(out_dir)
    # Qwen2's own files name the class so transformers and the exporter treat it like the real one.
    cfg_path = out_dir / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg.update({"tokenizer_class": "Qwen2TokenizerFast", "bos_token": None, "add_bos_token": False})
    cfg_path.write_text(json.dumps(cfg, ensure_ascii=False, indent=2), encoding="utf-8")
    return len(fast)


def build_random_qwen2(out_dir: Path, shape: Qwen2Shape = TINY, seed: int = 0, dtype: str = "float32") -> Path:
    """Write a randomly initialised Qwen2 causal LM (safetensors, config, tokenizer) to `out_dir`."""
    model = _random_model(out_dir, shape, seed)
    model.to(_torch_dtype(dtype)).save_pretrained(out_dir, safe_serialization=True)
    return out_dir


# A chat-ending model: the hidden coordinates that carry a token's "steps left" (level 1..4) signal.
_LEVEL_DIMS = (16, 80, 144, 208)
_LEVEL_IN = 1.0  # added to a token's embedding on its level's coordinate
_LEVEL_OUT = 2.0  # added to the output row of the token that follows a given level
TINY_STOPPING = TINY.model_copy(update={"tie_embeddings": False})


def build_stopping_qwen2(out_dir: Path, shape: Qwen2Shape = TINY_STOPPING, seed: int = 0) -> Path:
    """Write a random Qwen2 that ends every chat turn on its own after at most three tokens.

    Every token gets a level: 4 for tokens with a line break, else 1-3 by id. The embedding adds a
    fixed amount on one hidden coordinate per level, and the (untied) output matrix maps level L to
    one chosen token of level L-1, and level 1 to `<|im_end|>`. So after `<|im_start|>assistant\n`
    the greedy reply is three ordinary tokens and then the end of the turn. Everything else stays
    random, so logits still show any wrongly mapped tensor, and a merged adapter still moves them.
    """
    import torch

    if shape.tie_embeddings:
        raise ValueError("the chat-ending construction needs an untied output matrix")
    if shape.hidden <= max(_LEVEL_DIMS):
        raise ValueError(f"hidden size {shape.hidden} is too small for the level coordinates")
    model = _random_model(out_dir, shape, seed)
    vocab = json.loads((out_dir / "tokenizer.json").read_text(encoding="utf-8"))["model"]["vocab"]
    levels = {int(i): (4 if ("\u010a" in tok or "\u010d" in tok) else 1 + int(i) % 3) for tok, i in vocab.items()}
    # The reply's tokens: the first whole English word of each level, so the reply reads as text.
    words = sorted(int(i) for tok, i in vocab.items() if re.fullmatch(r"\u0120?[A-Za-z]{2,}", tok))
    follow = {lvl: next(i for i in words if levels[i] == lvl) for lvl in (1, 2, 3)}
    follow[0] = _token_id(out_dir, "<|im_end|>")
    with torch.no_grad():
        embed = model.get_input_embeddings().weight
        out = model.get_output_embeddings().weight
        for token, level in levels.items():
            embed[token, _LEVEL_DIMS[level - 1]] += _LEVEL_IN
        for level in (1, 2, 3, 4):
            out[follow[level - 1], _LEVEL_DIMS[level - 1]] += _LEVEL_OUT
    model.save_pretrained(out_dir, safe_serialization=True)
    return out_dir


def _torch_dtype(name: str) -> Any:
    import torch

    return getattr(torch, name)


def _random_model(out_dir: Path, shape: Qwen2Shape, seed: int) -> Any:
    """A float32 Qwen2ForCausalLM with random weights and its tokenizer saved in `out_dir`."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    out_dir.mkdir(parents=True, exist_ok=True)
    vocab = max(build_tokenizer(out_dir, shape.vocab_target), shape.vocab_size or 0)
    config = Qwen2Config(  # type: ignore[call-arg]  # rope_theta moved into rope_parameters in transformers 5
        vocab_size=vocab,
        hidden_size=shape.hidden,
        intermediate_size=shape.intermediate,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        num_key_value_heads=shape.kv_heads,
        max_position_embeddings=shape.max_positions,
        tie_word_embeddings=shape.tie_embeddings,
        rms_norm_eps=1e-6,
        rope_theta=1_000_000.0,
        bos_token_id=None,
        eos_token_id=_token_id(out_dir, "<|im_end|>"),
        pad_token_id=_token_id(out_dir, "<|endoftext|>"),
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    # Random init leaves norms at exactly 1 and biases at 0; perturb them so a wrong mapping shows.
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("norm.weight"):
                param.add_(torch.randn_like(param) * 0.1)
            elif name.endswith(".bias"):
                param.copy_(torch.randn_like(param) * 0.02)
    return model


def _token_id(tok_dir: Path, token: str) -> int:
    data: dict[str, Any] = json.loads((tok_dir / "tokenizer.json").read_text(encoding="utf-8"))
    for added in data.get("added_tokens", []):
        if added["content"] == token:
            return int(added["id"])
    return int(data["model"]["vocab"][token])


def build_random_lora(
    base_dir: Path, out_dir: Path, r: int = 8, alpha: int = 16, seed: int = 1, targets: list[str] | None = None
) -> Path:
    """Write a peft LoRA adapter with random, non-zero A and B matrices on the given modules."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    cfg = LoraConfig(
        r=r,
        lora_alpha=alpha,
        target_modules=targets or LORA_TARGETS,
        lora_dropout=0.0,
        init_lora_weights=False,  # B starts random instead of zero, so the merge changes the weights
        task_type="CAUSAL_LM",
    )
    peft_model = get_peft_model(model, cfg)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_" in name:
                param.mul_(0.5)
    peft_model.save_pretrained(str(out_dir))
    return out_dir
