"""Serves stored elements (sources, cards, uploads) of resumed chats to the user they belong to."""

from __future__ import annotations

from typing import Annotated, Any

from chainlit.auth import get_current_user
from chainlit.server import app
from fastapi import Depends, HTTPException
from fastapi.responses import FileResponse
from fastapi.routing import APIRoute

from terminal.storage import FILES_ROUTE, LocalFileStorage


async def serve_element(object_key: str, user: Annotated[Any, Depends(get_current_user)]) -> FileResponse:
    """One stored element; object keys start with the owner's user id (Chainlit's data layer names them so)."""
    from terminal.handlers import settings

    user_id = getattr(user, "id", None)
    if not user_id or not object_key.startswith(f"{user_id}/"):
        raise HTTPException(status_code=404, detail="not found")
    storage = LocalFileStorage(settings().data_dir / "files")
    try:
        path = storage.path_of(object_key)
    except ValueError:
        raise HTTPException(status_code=404, detail="not found") from None
    if not path.is_file():
        raise HTTPException(status_code=404, detail="not found")
    return FileResponse(path)


def install_files_route() -> None:
    """Add the route in front of Chainlit's catch-all page route, once."""
    path = f"{FILES_ROUTE}/{{object_key:path}}"
    routes = app.router.routes
    if any(isinstance(r, APIRoute) and r.path == path for r in routes):
        return
    app.add_api_route(path, serve_element, methods=["GET"], include_in_schema=False)
    routes.insert(0, routes.pop())
