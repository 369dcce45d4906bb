"""An ASGI wrapper that refuses request bodies over a size, before anything stores them.

Django's ASGI handler spools the whole body to a temporary file before any middleware or view
runs, and uvicorn sets no limit: without this, any client could fill the disk with one request
to any path. A declared `Content-Length` over the limit is answered 413 at once; a body that
streams past the limit (chunked, or lying about its length) is cut off with a 413 as soon as
it does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return

        seen = 0
        refused = False

        async def bounded_receive() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    refused = True
                    await self._refuse(send)
                    return {"type": "http.disconnect"}  # the application stops reading
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:  # the 413 has been answered already
                await send(message)

        await self.app(scope, bounded_receive, guarded_send)

    async def _refuse(self, send: Send) -> None:
        body = b'{"detail":"The request body is larger than %d bytes."}' % self.max_bytes
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
