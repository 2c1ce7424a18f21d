"""Check an exported GGUF against the unmerged peft model: logits, tensors and a chat that ends."""

from __future__ import annotations

import gc
import os
import resource
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from export.inputs import AdapterInfo, BaseModelInfo

VerifyMode = Literal["full", "quick", "none"]

# English, Russian and a ChatML turn: the three kinds of text the TRIZ model sees.
PROBES = [
    "The contradiction matrix suggests segmentation when the weight of a moving object",
    "Чтобы повысить прочность балки, не увеличивая её вес, инженеры",
    "<|im_start|>system\nYou solve engineering problems with TRIZ.<|im_end|>\n"
    "<|im_start|>user\nHow can a bridge be both light and strong?<|im_end|>\n<|im_start|>assistant\n",
]
CHAT_PROBE = "Name one inventive principle of TRIZ in one sentence."
TENSOR_SAMPLES = 6  # merged tensors the quick check compares


class VerifyBounds(BaseModel):
    """Limits beyond which an export counts as broken."""

    max_abs_logit_error_f32: float = 1e-3
    max_abs_logit_error_f16: float = 0.1
    min_top1_agreement: float = 0.7
    max_tensor_rel_error_f16: float = 2e-3  # half-precision rounding of the merged weights
    max_tensor_abs_error_f32: float = 1e-5
    require_stop: bool = True  # a real chat model must end its turn on its own
    chat_max_tokens: int = 96


class FileCheck(BaseModel):
    """The verdict on one GGUF file."""

    file: str
    kind: str
    max_abs_logit_error: float | None = None
    top1_agreement: float | None = None
    tensor_error: float | None = None
    tokenizer_agrees: bool | None = None
    chat_stopped: bool | None = None
    chat_tokens: int | None = None


class VerifyReport(BaseModel):
    """All verification figures of one export, with its own time and memory."""

    mode: VerifyMode
    files: list[FileCheck] = Field(default_factory=list)
    probes: int = 0
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    problems: list[str] = Field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if os.uname().sysname != "Darwin" else peak / 2**20


def reference_logits(base: BaseModelInfo, adapter: AdapterInfo | None) -> tuple[list[list[int]], list[np.ndarray]]:
    """Token ids and float32 logits of every probe from the unmerged peft model (or the plain base)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base.path)
    model: Any = AutoModelForCausalLM.from_pretrained(base.path, dtype=torch.float32)
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter.path)
    model.eval()
    ids: list[list[int]] = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in PROBES]
    logits = []
    with torch.no_grad():
        for seq in ids:
            logits.append(model(torch.tensor([seq])).logits[0].numpy().astype(np.float32))
    del model
    gc.collect()
    return ids, logits


def _llama(path: Path, n_ctx: int = 512, lora: Path | None = None) -> Any:
    from llama_cpp import GGML_TYPE_F32, Llama

    # An F32 KV cache keeps llama.cpp's own rounding out of the comparison.
    return Llama(
        model_path=str(path),
        lora_path=None if lora is None else str(lora),
        n_ctx=n_ctx,
        logits_all=True,
        verbose=False,
        n_threads=os.cpu_count(),
        type_k=GGML_TYPE_F32,
        type_v=GGML_TYPE_F32,
    )


def check_logits(
    file: tuple[Path, str],
    reference: tuple[list[list[int]], list[np.ndarray]],
    bounds: VerifyBounds,
    lora: Path | None = None,
) -> tuple[FileCheck, list[str]]:
    """Compare llama.cpp's logits for the probe ids with the reference, plus one chat that must end.

    `file` is (path, kind) and `reference` the probe ids and logits of `reference_logits`. With
    `lora`, llama.cpp applies that LoRA GGUF on top of the file (the adapter mode's pair).
    """
    (path, kind), (ids, ref) = file, reference
    llm = _llama(path, lora=lora)
    label = path.name if lora is None else f"{path.name} + {lora.name}"
    errors, agree, total = [], 0, 0
    for seq, expected in zip(ids, ref, strict=True):
        llm.reset()
        llm.eval(seq)
        got = np.asarray(llm.scores[: len(seq)], dtype=np.float32)
        errors.append(float(np.abs(got - expected).max()))
        agree += int((got.argmax(axis=1) == expected.argmax(axis=1)).sum())
        total += len(seq)
    same_tokens = all(
        llm.tokenize(p.encode(), add_bos=False, special=True) == seq for p, seq in zip(PROBES, ids, strict=True)
    )
    llm.reset()
    reply = llm.create_chat_completion(
        messages=[{"role": "user", "content": CHAT_PROBE}], max_tokens=bounds.chat_max_tokens, temperature=0.0
    )
    choice = reply["choices"][0]
    check = FileCheck(
        file=label,
        kind=kind,
        max_abs_logit_error=max(errors),
        top1_agreement=agree / max(total, 1),
        tokenizer_agrees=same_tokens,
        chat_stopped=choice["finish_reason"] == "stop",
        chat_tokens=int(reply["usage"]["completion_tokens"]),
    )
    del llm
    gc.collect()
    problems = []
    if kind in ("F32", "F16"):
        limit = bounds.max_abs_logit_error_f32 if kind == "F32" else bounds.max_abs_logit_error_f16
        if check.max_abs_logit_error is not None and check.max_abs_logit_error > limit:
            problems.append(f"{label}: max abs logit error {check.max_abs_logit_error:.3g} > {limit:g}")
    elif check.top1_agreement is not None and check.top1_agreement < bounds.min_top1_agreement:
        problems.append(f"{label}: top-1 agreement {check.top1_agreement:.2f} < {bounds.min_top1_agreement:.2f}")
    if bounds.require_stop and not check.chat_stopped:
        problems.append(f"{label}: the chat did not end within {bounds.chat_max_tokens} tokens (stop tokens?)")
    if not same_tokens:
        problems.append(f"{label}: llama.cpp tokenizes the probes differently from the Hugging Face tokenizer")
    return check, problems


def check_tensors(
    file: tuple[Path, str],
    base: BaseModelInfo,
    adapter: AdapterInfo,
    bounds: VerifyBounds,
    merged: bool = True,
) -> tuple[FileCheck, list[str]]:
    """Quick check: a sample of merged tensors in the GGUF (path, kind) against W + scale * B @ A from the sources.

    `merged=False` checks a base-only GGUF (adapter mode) against W itself.
    """
    import torch
    from gguf import GGUFReader, get_tensor_name_map
    from safetensors import safe_open

    from export.merge import ARCHS

    path, kind = file
    samples = TENSOR_SAMPLES
    names = get_tensor_name_map(ARCHS[base.arch], base.layers)
    gguf_tensors = {t.name: t for t in GGUFReader(path).tensors}
    chosen = sorted(adapter.pairs)[:: max(1, len(adapter.pairs) // samples)][:samples]
    worst = 0.0
    for hf_name in chosen:
        pair = adapter.pairs[hf_name]
        with safe_open(str(base.tensors[hf_name].file), framework="pt") as fb:
            w = fb.get_tensor(hf_name).to(torch.float32)
        if merged:
            with safe_open(str(adapter.file), framework="pt") as fa:
                b, a = fa.get_tensor(pair.b_key).float(), fa.get_tensor(pair.a_key).float()
                w.addmm_(b, a, alpha=pair.scale)
        expected = w.numpy()
        gguf_name = names.get_name(hf_name, try_suffixes=(".weight",))
        if gguf_name is None or gguf_name not in gguf_tensors:
            return FileCheck(file=path.name, kind=kind), [f"{path.name}: tensor for {hf_name} is missing"]
        stored = np.asarray(gguf_tensors[gguf_name].data, dtype=np.float32)
        diff = float(np.abs(stored.reshape(expected.shape) - expected).max())
        worst = max(worst, diff / float(np.abs(expected).max()) if kind == "F16" else diff)
    limit = bounds.max_tensor_rel_error_f16 if kind == "F16" else bounds.max_tensor_abs_error_f32
    what = "merged tensors differ from W + scale*B*A" if merged else "base tensors differ from W"
    problems = [f"{path.name}: {what} by {worst:.3g} > {limit:g}"] if worst > limit else []
    return FileCheck(file=path.name, kind=kind, tensor_error=worst), problems


def check_lora_gguf(path: Path, base: BaseModelInfo, adapter: AdapterInfo) -> tuple[FileCheck, list[str]]:
    """Quick check of a LoRA GGUF: llama.cpp's metadata, and every A and B exactly as in the adapter."""
    import gguf
    from safetensors.torch import load_file

    from export.lora_gguf import gguf_alpha, lora_tensor_names

    reader = gguf.GGUFReader(path)
    problems = []

    def field(key: str) -> object:
        f = reader.get_field(key)
        return None if f is None else f.contents()

    expected_meta = {
        gguf.Keys.General.TYPE: gguf.GGUFType.ADAPTER,
        gguf.Keys.General.ARCHITECTURE: base.arch,
        gguf.Keys.Adapter.TYPE: "lora",
    }
    for key, value in expected_meta.items():
        if field(key) != value:
            problems.append(f"{path.name}: {key} is {field(key)!r}, llama.cpp needs {value!r}")
    alpha = field(gguf.Keys.Adapter.LORA_ALPHA)
    if not isinstance(alpha, float) or abs(alpha - gguf_alpha(adapter)) > 1e-6 * gguf_alpha(adapter):
        problems.append(f"{path.name}: adapter.lora.alpha is {alpha!r}, expected {gguf_alpha(adapter):g}")
    stored = {t.name: t for t in reader.tensors}
    source = load_file(str(adapter.file))
    worst = 0.0
    for hf_weight, pair in adapter.pairs.items():
        for gguf_name, src_key in zip(lora_tensor_names(base, hf_weight), (pair.a_key, pair.b_key), strict=True):
            want = source[src_key].float().numpy()
            if gguf_name not in stored:
                problems.append(f"{path.name}: {gguf_name} is missing")
                continue
            data = np.asarray(stored[gguf_name].data)
            # An f16 file holds each value rounded to half precision: exact means equal to that rounding.
            want = want.astype(data.dtype).astype(np.float32)
            got = data.astype(np.float32)
            if got.size != want.size:
                problems.append(f"{path.name}: {gguf_name} has {got.size} values, the adapter {want.size}")
                continue
            worst = max(worst, float(np.abs(got.reshape(want.shape) - want).max()))
    if worst > 0.0:
        problems.append(f"{path.name}: LoRA matrices differ from the adapter by {worst:.3g}")
    if len(stored) != 2 * len(adapter.pairs):
        problems.append(f"{path.name}: {len(stored)} tensors where {2 * len(adapter.pairs)} were expected")
    return FileCheck(file=path.name, kind="LoRA", tensor_error=worst), problems


def verify_export(
    mode: VerifyMode,
    base: BaseModelInfo,
    adapter: AdapterInfo | None,
    files: list[tuple[Path, str]],
    bounds: VerifyBounds | None = None,
    lora: Path | None = None,
) -> VerifyReport:
    """Verify the exported files ((path, kind) with kind F32, F16 or a quant name) in the given mode.

    With `lora` (adapter mode) the files are base-only GGUFs and each is checked with that LoRA
    GGUF applied by llama.cpp, against the same unmerged peft model.
    """
    bounds = bounds or VerifyBounds()
    report = VerifyReport(mode=mode)
    if mode == "none":
        return report
    start = time.perf_counter()
    checks: list[tuple[FileCheck, list[str]]] = []
    if mode == "quick":
        if adapter is not None:
            if lora is not None:
                checks.append(check_lora_gguf(lora, base, adapter))
            for path, kind in files:
                if kind in ("F32", "F16"):
                    checks.append(check_tensors((path, kind), base, adapter, bounds, merged=lora is None))
    else:
        reference = reference_logits(base, adapter)
        report.probes = len(reference[0])
        for file in files:
            checks.append(check_logits(file, reference, bounds, lora=lora))
    for check, problems in checks:
        report.files.append(check)
        report.problems += problems
    report.seconds = time.perf_counter() - start
    report.peak_rss_mb = peak_rss_mb()
    return report
