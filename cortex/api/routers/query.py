"""POST /query: context and sources, no generation."""

from __future__ import annotations

from fastapi import APIRouter, Response

from cortex.api.deps import CortexDep
from cortex.api.errors import error_responses
from cortex.models import QueryRequest, QueryResult

router = APIRouter(prefix="/query", tags=["query"])


@router.post("", response_model=QueryResult, responses=error_responses(400, 413, 422))
async def query(request: QueryRequest, cortex: CortexDep) -> Response:
    result = await cortex.query(request)
    # Serialised once by pydantic: FastAPI would validate the model again and encode it a second way.
    return Response(content=result.model_dump_json(), media_type="application/json")
