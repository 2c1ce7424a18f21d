"""The store check: the document list against LightRAG's stores, and the repair."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from cortex.api.deps import CortexDep
from cortex.api.errors import error_responses
from cortex.models import CheckReport

router = APIRouter(tags=["maintenance"])


class CheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    repair: bool = False


@router.post("/check", responses=error_responses(400, 413, 422))
async def check(request: CheckRequest, cortex: CortexDep) -> CheckReport:
    """What `synapse cortex check` reports; with `repair`, incomplete documents are processed again and
    rows that belong to no document are removed."""
    return await cortex.check(request.repair)
