"""Time, injected: code that needs "now" takes a Clock so tests can move it without sleeping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import overload

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@overload
def as_utc(moment: datetime) -> datetime: ...
@overload
def as_utc(moment: None) -> None: ...
def as_utc(moment: datetime | None) -> datetime | None:
    """A timestamp read by raw SQL, made aware: SQLite's driver hands them back naive, in UTC;
    PostgreSQL's aware already."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment
