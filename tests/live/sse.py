"""A Server-Sent Events client for tests: reads a stream on a thread, parsing events as a
browser's EventSource does, so a test waits for what it expects with a deadline."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from tests.waiting import wait_until


@dataclass(frozen=True)
class Event:
    """One dispatched block: `event` is "" for a block with no data (an `id:` line alone)."""

    event: str
    data: str
    id: str | None  # the block's own `id:` field, if it had one

    def json(self) -> Any:
        return json.loads(self.data)


class SSEClient:
    """GET `url` and keep reading: `events`, `comments`, `last_event_id` as an EventSource
    would keep it, `status` and `headers` of the answer (and `body` when it is no stream)."""

    def __init__(self, url: str, *, headers: Mapping[str, str] | None = None) -> None:
        self.url = url
        self.request_headers = {"Accept": "text/event-stream", **(headers or {})}
        self.events: list[Event] = []
        self.comments: list[str] = []
        self.retry: int | None = None
        self.last_event_id: str | None = None
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.body = b""
        self.ended = threading.Event()
        self._answered = threading.Event()
        self._conn: http.client.HTTPConnection | None = None
        self._thread = threading.Thread(target=self._read, daemon=True)

    def __enter__(self) -> SSEClient:
        self._thread.start()
        if not self._answered.wait(30):
            raise AssertionError(f"no answer from {self.url} within 30 s")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        conn = self._conn
        if conn is not None and conn.sock is not None:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)  # wakes the reading thread
        self._thread.join(timeout=10)

    def of(self, kind: str) -> list[Event]:
        return [e for e in list(self.events) if e.event == kind]

    def wait_for(self, condition: Callable[[], Any], *, timeout: float, what: str) -> Any:
        def check() -> Any:
            value = condition()
            if not value and self.ended.is_set():
                raise AssertionError(f"the stream ended while waiting for {what}")
            return value

        return wait_until(check, timeout=timeout, what=what)

    def _read(self) -> None:
        parts = urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=60)
        self._conn = conn
        try:
            conn.request(
                "GET",
                parts.path + (f"?{parts.query}" if parts.query else ""),
                headers=self.request_headers,
            )
            response = conn.getresponse()
            self.status = response.status
            self.headers = {k.lower(): v for k, v in response.getheaders()}
            if not self.headers.get("content-type", "").startswith("text/event-stream"):
                self.body = response.read()
                return
            self._answered.set()
            self._parse(response)
        except (OSError, http.client.HTTPException):
            pass
        finally:
            self._answered.set()
            self.ended.set()
            conn.close()

    def _parse(self, response: http.client.HTTPResponse) -> None:
        kind, block_id = "", None
        data: list[str] = []
        while line := response.readline():
            text = line.decode().rstrip("\n").rstrip("\r")
            if not text:
                if block_id is not None:
                    self.last_event_id = block_id
                if data or block_id is not None:
                    self.events.append(
                        Event(kind or ("message" if data else ""), "\n".join(data), block_id)
                    )
                kind, data, block_id = "", [], None
            elif text.startswith(":"):
                self.comments.append(text[1:].strip())
            else:
                name, _, value = text.partition(":")
                value = value.removeprefix(" ")
                if name == "event":
                    kind = value
                elif name == "data":
                    data.append(value)
                elif name == "id":
                    block_id = value
                elif name == "retry":
                    self.retry = int(value)
