"""POST /query: context and sources, no generation."""

from __future__ import annotations

from fastapi import APIRouter

from cortex.api.deps import CortexDep
from cortex.models import QueryRequest, QueryResult

router = APIRouter(prefix="/query", tags=["query"])


@router.post("")
async def query(request: QueryRequest, cortex: CortexDep) -> QueryResult:
    return await cortex.query(request)
