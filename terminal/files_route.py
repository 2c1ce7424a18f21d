"""Serves stored elements (sources, cards, uploads) of resumed chats to the user they belong to."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException
from fastapi.responses import FileResponse

from terminal.chainlit_compat import add_route_first, current_user
from terminal.storage import FILES_ROUTE, LocalFileStorage


def owned_file(storage: LocalFileStorage, user_id: str, object_key: str) -> Path | None:
    """The file of `object_key` if, once resolved (`..`, symlinks), it lies in the user's own folder."""
    owner = (storage.root / user_id).resolve()
    if owner.parent != storage.root:  # an id with a separator or `..` names no folder of its own
        return None
    try:
        path = storage.path_of(object_key)
    except ValueError:
        return None
    # Starlette has already URL-decoded the path (%2e%2e, %2f), so the check sees what the disk would.
    if owner not in path.parents or not path.is_file():
        return None
    return path


async def serve_element(object_key: str, user: Annotated[Any, Depends(current_user)]) -> FileResponse:
    """One stored element; object keys start with the owner's user id (Chainlit's data layer names them so)."""
    from terminal.handlers import settings

    user_id = str(getattr(user, "id", None) or "")
    path = owned_file(LocalFileStorage(settings().data_dir / "files"), user_id, object_key) if user_id else None
    if path is None:
        raise HTTPException(status_code=404, detail="not found")
    return FileResponse(path)


def install_files_route() -> None:
    """Add the route in front of Chainlit's catch-all page route, once."""
    add_route_first(f"{FILES_ROUTE}/{{object_key:path}}", serve_element, ["GET"])
