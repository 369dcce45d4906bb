"""The server runs every request's sync code on one long-lived thread per process."""

from __future__ import annotations

import asyncio
import threading

import httpx
import pytest
from django.core.handlers.asgi import ASGIHandler
from django.core.signals import request_started

from tracker.common.asgi import SharedThreadASGIHandler

pytestmark = pytest.mark.django_db(transaction=True)


def threads_serving(handler: ASGIHandler, requests: int) -> set[threading.Thread]:
    seen: set[threading.Thread] = set()

    def note(**_: object) -> None:
        seen.add(threading.current_thread())  # objects: a dead thread's ident is reused

    async def ask() -> None:
        transport = httpx.ASGITransport(app=handler)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            for _ in range(requests):
                assert (await client.get("/api/v1/")).status_code == 200

    request_started.connect(note)
    try:
        asyncio.run(ask())
    finally:
        request_started.disconnect(note)
    return seen


def test_requests_share_one_thread_so_connections_are_kept(settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    assert len(threads_serving(SharedThreadASGIHandler(), 5)) == 1
    # Django's own handler starts a thread per request: what the shared one saves.
    assert len(threads_serving(ASGIHandler(), 5)) == 5
