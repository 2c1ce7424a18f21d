"""Documents: upload (multipart), list, one, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from starlette.datastructures import UploadFile as FormFile

from cortex.api.deps import CortexDep
from cortex.api.errors import error_responses
from cortex.errors import DocumentTooLargeError, TooManyFilesError
from cortex.models import COLLECTION_RULE, CollectionName, DocumentInfo, DocumentKind, DocumentState
from synapse.config import CortexSettings

router = APIRouter(prefix="/documents", tags=["documents"])


@router.post("", status_code=202, responses=error_responses(400, 409, 413, 415, 422))
async def upload(
    request: Request,
    cortex: CortexDep,
    file: Annotated[UploadFile, File(description=".txt, .md, .pdf or .docx; one file per request")],
    kind: Annotated[DocumentKind, Form()] = "document",
    tags: Annotated[str, Form(description="comma-separated")] = "",
    collection: Annotated[str, Form(description=f"the document's collection (empty: none); {COLLECTION_RULE}")] = "",
) -> DocumentInfo:
    # The RequestGuard has bounded the body; what FastAPI spooled of it is at most the limit plus slack.
    files = [value for _, value in (await request.form()).multi_items() if isinstance(value, FormFile)]
    if len(files) > 1:
        raise TooManyFilesError(
            f"the request carries {len(files)} files; CORTEX stores one file per request",
            "send each file in a POST /documents of its own, as the form field `file`",
        )
    settings: CortexSettings = request.app.state.settings  # as get_settings reads it: the route has the request
    limit = int(settings.max_upload_mb * 2**20)
    data = await file.read(limit + 1)  # never read more than the limit allows
    if len(data) > limit:
        raise DocumentTooLargeError(
            f"{file.filename or 'the upload'} is over the {settings.max_upload_mb:g} MiB limit",
            "split the file, or raise CORTEX_MAX_UPLOAD_MB",
        )
    tag_list = [t.strip() for t in tags.split(",") if t.strip()]
    name = file.filename or "upload.txt"
    return await cortex.add_document(name, data, kind=kind, tags=tag_list, collection=collection or None)


@router.get("", responses=error_responses(422))
async def list_documents(
    cortex: CortexDep,
    status: Annotated[list[DocumentState], Query(description="only documents in these states")] = [],  # noqa: B006
    collection: Annotated[CollectionName | None, Query(description="only the documents of this collection")] = None,
) -> list[DocumentInfo]:
    return await cortex.list_documents(status, collection)


@router.get("/{doc_id}", responses=error_responses(404, 422))
async def get_document(doc_id: str, cortex: CortexDep) -> DocumentInfo:
    return await cortex.get_document(doc_id)


@router.delete("/{doc_id}", status_code=204, responses=error_responses(400, 404, 422))
async def delete_document(doc_id: str, cortex: CortexDep) -> Response:
    await cortex.delete_document(doc_id)
    return Response(status_code=204)
