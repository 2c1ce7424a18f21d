"""How llama.cpp's OpenMP threads wait at the end of each graph node: set before llama_cpp loads libgomp.

With more than one decode thread every node of llama.cpp's graph ends in a barrier (a token of Qwen2.5-1.5B
crosses several hundred, and a LoRA adds 4 nodes per adapted projection). Measured on 2 cores (AMD EPYC,
shared), llama_decode with 2 threads, ms a token, adapter / merged:

- libgomp's default (spin ~300,000 rounds, ~3 ms, before sleeping): starves the event loop, CORTEX and
  any other process; SmolLM2 decoded at 4-5 tokens/s against 30-33 sleeping, on 2 busy cores.
- OMP_WAIT_POLICY=PASSIVE alone (sleep at once): 98.7 / 64.6 idle (the adapter 0.66x merged).
- PASSIVE with GOMP_SPINCOUNT=1000 (~10 us of spinning, then sleep): 45.2 / 40.8 idle (0.91x); the
  parallel bench's 8 clients on SmolLM2 at 70-90 tokens/s against 38-45 with PASSIVE alone. With one core
  taken by another process it costs: 139 / 103 against 83 / 74.

So threads spin briefly and then sleep. PASSIVE stays for the OpenMP runtimes that ignore GOMP_SPINCOUNT
(it is libgomp's), and it makes libgomp drop the spinning where its threads outnumber the CPUs (two
engines' teams on 2 cores). A user who sets either variable gets exactly what they set. Importing this
module applies it; `synapse.llm` imports it before anything else.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping

#: Spin rounds before a waiting thread sleeps (libgomp does ~100 a microsecond on the machines measured).
SPIN_COUNT = 1000

_POLICY = "OMP_WAIT_POLICY"
_SPIN = "GOMP_SPINCOUNT"


def wait_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """The variables to add to `environ`: none when the user chose either of them."""
    if environ.get(_POLICY) or environ.get(_SPIN):
        return {}
    return {_POLICY: "PASSIVE", _SPIN: str(SPIN_COUNT)}


def configure_wait_policy(environ: MutableMapping[str, str] | None = None) -> None:
    """Add the wait settings to the process environment (only effective before llama_cpp is imported)."""
    target = os.environ if environ is None else environ
    target.update(wait_settings(target))


configure_wait_policy()
