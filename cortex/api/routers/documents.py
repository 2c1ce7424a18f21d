"""Documents: upload (multipart), list, one, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile

from cortex.api.deps import CortexDep, SettingsDep
from cortex.errors import DocumentTooLargeError
from cortex.models import DocumentInfo, DocumentKind, DocumentState

router = APIRouter(prefix="/documents", tags=["documents"])

MULTIPART_SLACK = 64 * 1024  # form fields and boundaries around the file


async def refuse_oversized(request: Request, settings: SettingsDep) -> None:
    """Refuse by Content-Length before the body is read and spooled to disk."""
    declared = request.headers.get("content-length", "")
    limit = int(settings.max_upload_mb * 2**20)
    if declared.isdigit() and int(declared) > limit + MULTIPART_SLACK:
        raise DocumentTooLargeError(
            f"the upload is {int(declared) / 2**20:.1f} MiB, over the {settings.max_upload_mb:g} MiB limit",
            "split the file, or raise CORTEX_MAX_UPLOAD_MB",
        )


@router.post("", status_code=202, dependencies=[Depends(refuse_oversized)])
async def upload(
    cortex: CortexDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description=".txt, .md, .pdf or .docx")],
    kind: Annotated[DocumentKind, Form()] = "document",
    tags: Annotated[str, Form(description="comma-separated")] = "",
) -> DocumentInfo:
    limit = int(settings.max_upload_mb * 2**20)
    data = await file.read(limit + 1)  # never read more than the limit allows
    if len(data) > limit:
        raise DocumentTooLargeError(
            f"{file.filename or 'the upload'} is over the {settings.max_upload_mb:g} MiB limit",
            "split the file, or raise CORTEX_MAX_UPLOAD_MB",
        )
    tag_list = [t.strip() for t in tags.split(",") if t.strip()]
    return await cortex.add_document(file.filename or "upload.txt", data, kind=kind, tags=tag_list)


@router.get("")
async def list_documents(
    cortex: CortexDep,
    status: Annotated[list[DocumentState], Query(description="only documents in these states")] = [],  # noqa: B006
) -> list[DocumentInfo]:
    return await cortex.list_documents(status)


@router.get("/{doc_id}")
async def get_document(doc_id: str, cortex: CortexDep) -> DocumentInfo:
    return await cortex.get_document(doc_id)


@router.delete("/{doc_id}", status_code=204)
async def delete_document(doc_id: str, cortex: CortexDep) -> Response:
    await cortex.delete_document(doc_id)
    return Response(status_code=204)
