"""One migration at a time per database, across processes.

`make server` and `make scheduler` started together on a fresh database both migrate it; without
a lock both create the same tables and one fails. PostgreSQL: a session-level advisory lock on a
connection of its own. SQLite: an exclusive `flock` on a file next to the database file.
"""

from __future__ import annotations

import fcntl
import logging
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connections

logger = logging.getLogger(__name__)

# Any 64-bit number other programs on the same PostgreSQL are unlikely to choose.
ADVISORY_KEY = zlib.crc32(b"crypto-tracker migrate")


@contextmanager
def migration_lock(*, alias: str = "default") -> Iterator[None]:
    connection = connections[alias]
    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "postgresql":
        with _advisory_lock(alias):
            yield
    elif connection.vendor == "sqlite" and name != ":memory:" and "mode=memory" not in name:
        with _file_lock(Path(name + ".migrate-lock")):
            yield
    else:
        yield


@contextmanager
def _advisory_lock(alias: str) -> Iterator[None]:
    # A connection of its own: the lock lives as long as its session, whatever migrate does
    # with the default connection.
    holder = connections[alias].copy()
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [ADVISORY_KEY])
        try:
            yield
        finally:
            with holder.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [ADVISORY_KEY])
    finally:
        holder.close()


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.info("another process is migrating %s; waiting for it", path.stem)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
