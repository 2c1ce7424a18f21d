"""A storage client for Chainlit's data layer that keeps elements (sources, cards, uploads) on local disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from chainlit.data.storage_clients.base import BaseStorageClient

from terminal.private import private_dir, write_private

#: Where the terminal serves stored elements; the route checks that the key belongs to the signed-in user.
FILES_ROUTE = "/terminal-files"


class LocalFileStorage(BaseStorageClient):
    """Stores each element under <root>/<object key>; without a storage client the data layer drops elements."""

    def __init__(self, root: Path) -> None:
        self.root = private_dir(Path(root)).resolve()

    def path_of(self, object_key: str) -> Path:
        """The file of an object key; refuses keys that would leave the root."""
        path = (self.root / object_key).resolve()
        if self.root not in path.parents:
            raise ValueError(f"object key outside the storage root: {object_key!r}")
        return path

    async def upload_file(
        self,
        object_key: str,
        data: bytes | str,
        mime: str = "application/octet-stream",
        overwrite: bool = True,
        content_disposition: str | None = None,
    ) -> dict[str, Any]:
        path = self.path_of(object_key)
        if path.exists() and not overwrite:
            return {"object_key": object_key, "url": await self.get_read_url(object_key)}
        private_dir(path.parent)
        write_private(path, data.encode("utf-8") if isinstance(data, str) else data)
        return {"object_key": object_key, "url": await self.get_read_url(object_key)}

    async def delete_file(self, object_key: str) -> bool:
        path = self.path_of(object_key)
        if not path.exists():
            return False
        path.unlink()
        return True

    async def get_read_url(self, object_key: str) -> str:
        return f"{FILES_ROUTE}/{quote(object_key)}"

    async def close(self) -> None:
        return None
