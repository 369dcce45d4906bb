"""A local SMTP server (aiosmtpd) that keeps the messages it is handed, for alert mail tests.

    with SMTPServer() as smtp:
        settings.EMAIL_PORT = smtp.port
        ...
        [message] = smtp.wait_for(1)

`refuse(code)` makes it refuse every recipient with that reply (550: no such mailbox; a 4xx
for "try again later").
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from email.message import EmailMessage
from types import TracebackType
from typing import Any, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

REPLIES = {
    550: "550 5.1.1 No such mailbox here",
    450: "450 4.2.0 Mailbox busy, try again later",
}


@dataclass(frozen=True)
class Delivered:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage


class _Handler:
    def __init__(self, server: SMTPServer) -> None:
        self.server = server

    async def handle_RCPT(
        self,
        smtp: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        refusal = self.server._refusal
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.server._deliver(Delivered(str(envelope.mail_from), tuple(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class _BoundController(Controller):
    """aiosmtpd's threaded controller on a socket bound beforehand: a free port, known at once."""

    def __init__(self, handler: Any, sock: socket.socket) -> None:
        host, port = sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port)
        self._sock = sock

    def _create_server(self) -> Awaitable[Any]:
        return self.loop.create_server(self._factory_invoker, sock=self._sock)


class SMTPServer:
    """An SMTP server on 127.0.0.1 and a free port. A context manager."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._messages: list[Delivered] = []
        self._refusal: str | None = None
        sock = socket.create_server(("127.0.0.1", 0))
        self.port: int = sock.getsockname()[1]
        self._controller = _BoundController(_Handler(self), sock)

    def __enter__(self) -> Self:
        self._controller.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._controller.stop()

    def refuse(self, code: int = 550) -> None:
        """Refuse every recipient from now on with `code` (550 or 450)."""
        self._refusal = REPLIES[code]

    @property
    def messages(self) -> list[Delivered]:
        with self._lock:
            return list(self._messages)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Delivered]:
        """The messages so far, once at least `count` have arrived."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self._messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{len(self._messages)} of {count} messages arrived in {timeout}s"
                    )
                self._lock.wait(left)
            return list(self._messages)

    def _deliver(self, delivered: Delivered) -> None:
        with self._lock:
            self._messages.append(delivered)
            self._lock.notify_all()
