"""LightRAG keeps per-workspace state in module globals; a closed Cortex must leave none behind."""

from __future__ import annotations

from typing import Any

from cortex.errors import CortexError

_open: set[str] = set()


def claim(workspace: str, data_dir: str) -> None:
    """One open instance per store and process: LightRAG would share its in-memory state between them."""
    if workspace in _open:
        raise CortexError(
            f"the CORTEX store in {data_dir} is already open in this process",
            "use the open instance, or close it first (await cortex.aclose())",
        )
    _open.add(workspace)


def release(workspace: str) -> None:
    """Forget the workspace's shared in-memory data so a later instance (on another loop) loads from disk."""
    _open.discard(workspace)
    from lightrag.kg import shared_storage as ss  # type: ignore[import-untyped]

    prefix = f"{workspace}:"
    registries: list[Any] = [
        getattr(ss, name, None)
        for name in (
            "_shared_dicts",
            "_init_flags",
            "_update_flags",
            "_namespace_data_cache",
            "_pipeline_ingress_local",
            "_scan_job_store_local",
        )
    ]
    for registry in registries:
        if registry is None:
            continue
        for key in [k for k in list(registry.keys()) if isinstance(k, str) and k.startswith(prefix)]:
            registry.pop(key, None)
