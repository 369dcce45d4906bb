"""Django's ASGI handler, with every request's synchronous code on the process's one sync thread.

Django's own handler opens a `ThreadSensitiveContext` per request, so each request's sync
middleware and views run in a thread made for that request: a thread started and joined per
request, and a database connection opened (and its PRAGMAs run) per request, since Django keeps
connections per thread. Without the per-request context, asgiref runs all of them on one
long-lived thread per process: connections persist (CONN_MAX_AGE), nothing is started per
request, and async views (Server-Sent Events) still run on the event loop beside it. Sync work
of a process is thus serial, as in a sync WSGI worker: scale with processes (WEB_CONCURRENCY).

The middleware chain is built in sync mode and called in one piece on that thread. Built in
async mode, as Django's handler builds it, each middleware's hooks are hopped to the thread and
back on their own (and WhiteNoise, sync only, hops back the other way), a dozen thread
hand-offs per request that cost more than the request itself. An async view (Server-Sent
Events) then starts on the event loop through the sync chain; its streamed body is sent from
the event loop, never holding the thread.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponseBase


class SharedThreadASGIHandler(ASGIHandler):
    # A cached answer goes out in one message instead of 64 KB pieces (a day of records is
    # about 550 KB): one write to the socket instead of nine.
    chunk_size = 2**22

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        await self.handle(scope, receive, send)

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)
