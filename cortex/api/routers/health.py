"""GET /health (and HEAD): open to everyone, also while the key is required elsewhere."""

from __future__ import annotations

from fastapi import APIRouter

from cortex.api.deps import CortexDep
from cortex.models import CortexHealth

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(cortex: CortexDep) -> CortexHealth:
    return await cortex.health()
