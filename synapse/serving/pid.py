"""Which worker process answered: a response header, so clients and tests can see the load spread."""

from __future__ import annotations

import os

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PID_HEADER = "x-worker-pid"


class WorkerPidHeader:
    """ASGI middleware: every HTTP response carries `X-Worker-Pid` with the serving process's id."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_pid(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                headers.append((PID_HEADER.encode(), str(os.getpid()).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_pid)
