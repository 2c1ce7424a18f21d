"""Request bodies at the boundary: the Content-Type each dialect accepts, and text that is valid Unicode.

JSON may spell a lone surrogate (`"\\ud800"`); Python decodes it into a str that no UTF-8 encoder takes,
so it would fail deep inside a backend or the tokenizer. It is refused here once, for every route.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from synapse.api.errors import ApiError, is_ollama_path

Handler = Callable[[Request], Coroutine[Any, Any, Response]]

# A \u escape of a surrogate, or UTF-8-looking bytes of one (json.loads decodes those with surrogatepass).
# Only a hint: pairs and escaped backslashes match too, and the walk below decides.
_MAYBE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")


def _bad_index(text: str) -> int | None:
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def _shown(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def find_invalid_text(data: Any) -> tuple[str, str] | None:
    """The first string (or key) in parsed JSON that is not valid Unicode: (its path, what is wrong)."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            at = _bad_index(value)
            if at is not None:
                return path or "body", f"the lone surrogate {_shown(value[at])} at character {at} is not Unicode"
        elif isinstance(value, dict):
            for key, item in reversed(list(value.items())):
                where = f"{path}.{key}" if path else key
                if _bad_index(key) is not None:
                    return _shown(where), "this key is not valid Unicode"
                stack.append((item, where))
        elif isinstance(value, list):
            stack.extend((item, f"{path}.{i}" if path else str(i)) for i, item in reversed(list(enumerate(value))))
    return None


def _media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))


def _read_as_json(request: Request) -> None:
    """Ollama reads every body as JSON whatever its Content-Type (curl -d sends a form type); so does SYNAPSE.

    Must run before anything reads `request.headers`: Starlette builds them from the scope once, lazily.
    """
    headers = [(k, v) for k, v in request.scope["headers"] if k != b"content-type"]
    request.scope["headers"] = [*headers, (b"content-type", b"application/json")]


def _require_json(request: Request) -> None:
    media_type = _media_type(request.headers.get("content-type"))
    if not _is_json(media_type):
        sent = f"Content-Type {media_type!r}" if media_type else "no Content-Type"
        raise ApiError(
            415,
            f"the body must be JSON; the request has {sent}",
            "unsupported_media_type",
            hint="send the header 'Content-Type: application/json'",
        )


async def check_body(request: Request) -> None:
    """Fix or refuse the Content-Type by dialect, then refuse text that is not Unicode (422 naming the field)."""
    body = await request.body()
    if not body:
        return  # validation reports the missing body
    if is_ollama_path(request.url.path):
        _read_as_json(request)
    else:
        _require_json(request)
    try:
        data = await request.json()  # cached on the request: FastAPI does not parse it again
    except UnicodeDecodeError as exc:
        raise ApiError(
            422,
            f"invalid request: the body is not valid UTF-8 (byte {exc.start})",
            "invalid_unicode",
            hint="send JSON encoded as UTF-8",
        ) from None
    except RecursionError:
        raise ApiError(422, "invalid request: the JSON is nested too deeply to read", "invalid_request") from None
    except ValueError:
        return  # not JSON: validation reports where
    if _MAYBE_SURROGATE.search(body) is None and body.isascii():
        return  # nothing in it can be a surrogate
    found = find_invalid_text(data)
    if found is not None:
        where, problem = found
        raise ApiError(
            422,
            f"invalid request: {where}: {problem}",
            "invalid_unicode",
            param=where,
            hint="send UTF-8 text; a surrogate escape is valid only as a pair",
        )


class CheckedRoute(APIRoute):
    """An APIRoute whose JSON body passes `check_body` before FastAPI parses and validates it."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def checked(request: Request) -> Response:
            await check_body(request)
            return await handler(request)

        return checked
