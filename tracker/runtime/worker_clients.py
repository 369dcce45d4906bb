"""The exchange clients of a Celery worker: one per exchange and thread, kept from task to task.

A client loads its exchange's markets once (for 10,000 pairs, two requests and seconds of
parsing) and spaces its requests by the exchange's rate limit from one request to the next; a
new client in every task would load the markets again and start the spacing afresh. Each task
runs its coroutine on an event loop of its own, in a thread of its own (`async_to_sync`), so a
task takes its client in its own thread before that, and releases the client's connections
when it ends; the next task opens new ones.
"""

from __future__ import annotations

import threading
from typing import Any

from celery.signals import worker_process_init
from django.conf import settings

from tracker.exchanges import ExchangeClient

_local = threading.local()


def exchange_client(name: str, *, base_url: str) -> ExchangeClient:
    """This thread's client of the exchange `name` at `base_url`, made on first use. Raises
    UnsupportedExchange for an exchange id the library does not know. Not for a coroutine:
    `async_to_sync` runs each in a new thread."""
    clients: dict[tuple[str, str], ExchangeClient] = _local.__dict__.setdefault("clients", {})
    client = clients.get((name, base_url))
    if client is None:
        client = ExchangeClient(name, base_url=base_url, timeout=settings.TRACKER_EXCHANGE_TIMEOUT)
        clients[(name, base_url)] = client
    return client


def exchange_client_forget(name: str, *, base_url: str) -> None:
    """Make the next task start from a new client: after an interruption (a time limit) the
    kept one may still be in use by the coroutine that was cut short."""
    _local.__dict__.get("clients", {}).pop((name, base_url), None)


@worker_process_init.connect
def clients_forget(**_: Any) -> None:
    """A pool process starts with none: what it inherited belongs to the process it forked from."""
    _local.__dict__.pop("clients", None)
