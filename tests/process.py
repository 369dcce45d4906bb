"""The tracker as a user runs it: `manage.py` commands in a child process, on their own database."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
# The suite's own database; children get their own, but on the same kind of server.
SUITE_DATABASE_URL = os.environ.get("DATABASE_URL", "")
ON_POSTGRESQL = SUITE_DATABASE_URL.startswith("postgres")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def tracker_env(workdir: Path, **overrides: str) -> dict[str, str]:
    """Environment for a child tracker: its own SQLite file, a secret key, fast polling."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "TRACKER_", "DATABASE_"))
    }
    env.update(
        DATABASE_URL=f"sqlite:///{workdir / 'tracker.sqlite3'}",
        TRACKER_VAR_DIR=str(workdir),
        DJANGO_SECRET_KEY="test-secret-key-for-child-processes-only",
        TRACKER_FETCH_INTERVAL="1",
        # Never the developer's .env (which `make run` writes at the repository root).
        TRACKER_ENV_FILE="/dev/null",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


@contextmanager
def postgres_database(
    *, server_url: str = SUITE_DATABASE_URL, prefix: str = "tracker_child"
) -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database on `server_url`'s server (the suite's),
    dropped afterwards."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    parts = urlsplit(server_url)
    admin = urlunsplit(parts._replace(path="/postgres", query=""))
    with psycopg.connect(admin, autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as db:
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(
    *args: str, env: Mapping[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class ManagedProcess:
    """A long-running `manage.py` command whose output is collected as it runs."""

    def __init__(self, *args: str, env: Mapping[str, str]) -> None:
        self.args = args
        self.env = dict(env)
        self.lines: list[str] = []
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> ManagedProcess:
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", *self.args],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._drain, daemon=True).start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Send `signum` and wait for the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signum)
        return self.proc.wait(timeout=timeout)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def count_records(workdir: Path) -> int:
    with sqlite3.connect(workdir / "tracker.sqlite3") as db:
        return int(db.execute("SELECT COUNT(*) FROM markets_record").fetchone()[0])


def record_keys(workdir: Path) -> set[tuple[int, str]]:
    with sqlite3.connect(workdir / "tracker.sqlite3") as db:
        return set(db.execute("SELECT metric_id, timestamp FROM markets_record").fetchall())
