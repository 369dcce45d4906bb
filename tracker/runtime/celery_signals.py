"""What became of each Celery task, in one place: a debug line and a Prometheus counter
(`tracker_task_outcomes_total{task,outcome}`, tracker.common.observability)."""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import task_failure, task_retry, task_success

from tracker.common.observability import task_outcome_count

logger = logging.getLogger(__name__)


def task_outcome(*, task: str, outcome: str) -> None:
    """Called once per task run with its outcome: "success", "failure" or "retry"."""
    logger.debug("task %s: %s", task, outcome)
    task_outcome_count(task, outcome)


def _name(sender: Any) -> str:
    return str(getattr(sender, "name", sender))


@task_success.connect
def _on_success(sender: Any = None, **_: Any) -> None:
    task_outcome(task=_name(sender), outcome="success")


@task_failure.connect
def _on_failure(sender: Any = None, exception: BaseException | None = None, **_: Any) -> None:
    logger.error("task %s failed: %s: %s", _name(sender), type(exception).__name__, exception)
    task_outcome(task=_name(sender), outcome="failure")


@task_retry.connect
def _on_retry(sender: Any = None, reason: Any = None, **_: Any) -> None:
    task_outcome(task=_name(sender), outcome="retry")
