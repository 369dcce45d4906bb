"""A local HTTP receiver for alert deliveries: a generic webhook, Slack or PagerDuty.

A threaded server on 127.0.0.1 (or HTTPS with a given certificate) that records every request
(method, path, headers, body) and answers as the service it plays. Switches make it answer
otherwise for the next N requests (or all): another status and body, late, or a redirect.

    with Receiver("slack") as slack:
        slack.answer(404, b"no_service", times=1)
        ...
        slack.wait_for(1, timeout=2)
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

KINDS = ("webhook", "slack", "pagerduty")


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    server_name: str | None  # the SNI name the client sent, over HTTPS

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int | None  # None: the service's own answer
    body: bytes
    content_type: str
    delay: float
    location: str | None
    remaining: int | None  # requests left to answer this way; None: all of them


class Receiver:
    """Records requests and answers them as `kind` would. A context manager."""

    def __init__(
        self,
        kind: str = "webhook",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; one of {KINDS}")
        self.kind = kind
        self._requests: list[Received] = []
        self._answers: list[Answer] = []
        self._lock = threading.Condition()
        # Set on stop: a delayed answer stops waiting, so no handler thread outlives the test.
        self._stopping = threading.Event()
        self._tls = tls
        self._server_names: dict[int, str | None] = {}  # id of a TLS socket -> its SNI
        if tls is not None:
            tls.sni_callback = self._remember_server_name
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- switches -----------------------------------------------------------------------------

    def answer(
        self,
        status: int,
        body: bytes = b"",
        *,
        times: int | None = None,
        content_type: str = "text/plain",
        delay: float = 0.0,
        location: str | None = None,
    ) -> None:
        """Answer the next `times` requests (all, if None) with `status` and `body`, after
        `delay` seconds. Switches queue: the first with requests left applies."""
        with self._lock:
            self._answers.append(Answer(status, body, content_type, delay, location, times))

    def fail(self, times: int, status: int = 500, body: bytes = b"internal error") -> None:
        """Fail the next `times` requests, then answer as the service again."""
        self.answer(status, body, times=times)

    def delay(self, seconds: float, *, times: int | None = None) -> None:
        """Answer as the service, but only after `seconds` (a timeout for a hasty client)."""
        with self._lock:
            self._answers.append(Answer(None, b"", "", seconds, None, times))

    def redirect(self, location: str, *, status: int = 302, times: int | None = None) -> None:
        self.answer(status, b"", times=times, location=location)

    def behave(self) -> None:
        """Forget every switch."""
        with self._lock:
            self._answers.clear()

    # --- observation --------------------------------------------------------------------------

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._requests)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """The requests so far, once at least `count` have arrived; AssertionError after
        `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{self.kind} receiver: {len(self._requests)} of {count} requests "
                        f"arrived in {timeout}s"
                    )
                self._lock.wait(left)
            return list(self._requests)

    # --- serving ------------------------------------------------------------------------------

    def _remember_server_name(
        self, sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, context: ssl.SSLContext
    ) -> None:
        self._server_names[id(sock)] = name

    def _record(self, received: Received) -> Answer | None:
        with self._lock:
            self._requests.append(received)
            self._lock.notify_all()
            for answer in self._answers:
                if answer.remaining is None:
                    return answer
                if answer.remaining > 0:
                    answer.remaining -= 1
                    return answer
            return None

    def _normal_answer(self, body: bytes) -> tuple[int, bytes, str]:
        """What the real service answers to a well-formed request."""
        if self.kind == "slack":
            return 200, b"ok", "text/html"
        if self.kind == "pagerduty":
            try:
                key = json.loads(body).get("dedup_key")
            except (ValueError, AttributeError):
                return (
                    400,
                    b'{"status":"invalid event","message":"Event object is invalid"}',
                    ("application/json"),
                )
            reply = {"status": "success", "message": "Event processed", "dedup_key": key}
            return 202, json.dumps(reply).encode(), "application/json"
        return 200, b"", "text/plain"

    def _wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)


def _handler_for(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self._serve()

        def do_GET(self) -> None:
            self._serve()

        def do_PUT(self) -> None:
            self._serve()

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            received = Received(
                method=self.command,
                path=self.path,
                headers={name.lower(): value for name, value in self.headers.items()},
                body=body,
                server_name=receiver._server_names.get(id(self.connection)),
            )
            answer = receiver._record(received)
            if answer is None:
                self._send(*receiver._normal_answer(body))
                return
            if answer.delay:
                receiver._wait(answer.delay)
            if answer.status is None:
                self._send(*receiver._normal_answer(body))
            else:
                self._send(answer.status, answer.body, answer.content_type, answer.location)

        def _send(
            self, status: int, payload: bytes, content_type: str, location: str | None = None
        ) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                if location is not None:
                    self.send_header("Location", location)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                pass  # the client gave up waiting (a timeout test); nothing to tell it

        def log_message(self, format: str, *args: Any) -> None:
            pass  # requests are recorded on the receiver instead

    return Handler
