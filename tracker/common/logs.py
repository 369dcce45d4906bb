"""`TRACKER_LOG_FORMAT=json`: one JSON object per log line, for a log shipper.

Each object has `time` (UTC, ISO 8601), `level`, `logger` and `message`; `request_id` inside a
request (the id the X-Request-ID response header carries, tracker.common.observability),
`task_id` inside a background task (Celery's current task, or `task_id_var` when set), and
`exception` with the traceback when there is one. No Django imports: the logging configuration
loads this before the apps.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
# For background work outside Celery's own task context; Celery's current task is read as well.
task_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("task_id", default=None)


def _task_id() -> str | None:
    task_id = task_id_var.get()
    if task_id is not None:
        return task_id
    state = sys.modules.get("celery._state")  # only when Celery is loaded: never imported here
    if state is None:
        return None
    task = state.get_current_task()
    request = getattr(task, "request", None)
    return getattr(request, "id", None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            line["request_id"] = request_id
        task_id = getattr(record, "task_id", None) or _task_id()
        if task_id:
            line["task_id"] = task_id
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)
