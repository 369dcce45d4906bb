"""Django's SQLite backend, with connections kept only while their file is the one on disk.

Kept connections (CONN_MAX_AGE) save each request a connect and its PRAGMAs. But an open
SQLite connection holds on to its file: moved away, deleted or replaced (a restore), the
connection would go on reading, and writing, the old one. Django's health check
(CONN_HEALTH_CHECKS) asks `is_usable` before a kept connection serves a new request; here that
compares the file at the configured path with the one the connection opened, by device and
inode: one `stat`, a microsecond or two. A different or missing file closes the connection,
and the next one opens what is there now, or fails (a 503, tracker.api.unavailable).
"""

from __future__ import annotations

import os
from typing import Any

from django.db.backends.sqlite3 import base


def _file_identity(path: object) -> tuple[int, int] | None:
    try:
        found = os.stat(str(path))
    except OSError:
        return None
    return found.st_dev, found.st_ino


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        self._opened_file = _file_identity(self.settings_dict["NAME"])
        return connection

    def is_usable(self) -> bool:
        if self.is_in_memory_db():
            return True
        opened = getattr(self, "_opened_file", None)
        return opened is not None and _file_identity(self.settings_dict["NAME"]) == opened
