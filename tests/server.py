"""The API served the way users serve it: `manage.py runtracker` in a child process."""

from __future__ import annotations

import socket
from collections.abc import Mapping

from tests.process import ManagedProcess, free_port
from tests.waiting import wait_until


class TrackerServer(ManagedProcess):
    """`runtracker` on a free local port; entering waits until it accepts connections."""

    def __init__(self, *, env: Mapping[str, str], command: str = "runtracker") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(command, "--host", "127.0.0.1", "--port", str(self.port), env=env)

    def __enter__(self) -> TrackerServer:
        super().__enter__()
        wait_until(self._listening, timeout=60, what=f"the server on port {self.port}")
        return self

    def _listening(self) -> bool:
        if not self.alive():
            raise AssertionError(f"the server exited:\n{self.output}")
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            return False
        return True
