"""Parsing the records endpoint's query: window, interval, page size and cursor.

Every bad value becomes a 400 whose message says what to send instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core import signing
from rest_framework.exceptions import ValidationError

RANGES = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "1y": timedelta(days=365),
}
INTERVALS = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "1h": 3600,
    "4h": 14400,
    "1d": 86400,
}
# Like CoinGecko's market charts: the longer the window, the coarser the buckets.
AUTO_LADDER = ((timedelta(days=1), "5m"), (timedelta(days=90), "1h"))
AUTO_BEYOND = "1d"
DEFAULT_WINDOW = timedelta(hours=24)
MAX_LIMIT = 100_000  # a whole day at one-second sampling
CURSOR_SALT = "tracker.api.records-cursor"
UNIX_SECONDS = re.compile(r"^-?\d+(\.\d+)?$")


@dataclass(frozen=True)
class HistoryQuery:
    since: datetime
    until: datetime
    interval: str  # "raw" or a key of INTERVALS
    limit: int
    after: datetime | None  # where the page starts (exclusive for raw, inclusive for buckets)

    @property
    def width(self) -> int:
        return INTERVALS[self.interval]


def _moment(name: str, text: str) -> datetime:
    try:
        if UNIX_SECONDS.match(text):
            return datetime.fromtimestamp(float(text), UTC)
        moment = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        raise ValidationError(
            {name: f"Expected ISO 8601 (2024-01-31T12:00:00Z) or unix seconds, got {text!r}."}
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _choice(name: str, text: str, choices: list[str]) -> str:
    if text not in choices:
        raise ValidationError({name: f"Expected one of {', '.join(choices)}; got {text!r}."})
    return text


def _limit(text: str | None) -> int:
    if text is None:
        return MAX_LIMIT
    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise ValidationError({"limit": f"Expected a whole number from 1 to {MAX_LIMIT:,}."})
    return int(text)


def cursor_encode(after: datetime) -> str:
    return signing.dumps({"after": after.timestamp()}, salt=CURSOR_SALT, compress=True)


def _cursor(text: str) -> datetime:
    try:
        payload: Any = signing.loads(text, salt=CURSOR_SALT)
        return datetime.fromtimestamp(float(payload["after"]), UTC)
    except (signing.BadSignature, KeyError, TypeError, ValueError, OverflowError):
        raise ValidationError(
            {"cursor": "Not a cursor this server issued. Follow the Link header, or start again "
             "without a cursor."}
        ) from None  # fmt: skip


def history_query_parse(params: Any, *, now: datetime) -> HistoryQuery:
    """The window, interval, limit and cursor of a records request, validated."""
    until = _moment("until", params["until"]) if params.get("until") else now
    if params.get("range"):
        if params.get("since"):
            raise ValidationError({"range": "Give either since or range, not both."})
        span = RANGES[_choice("range", params["range"], list(RANGES))]
        since = until - span
    else:
        since = _moment("since", params["since"]) if params.get("since") else until - DEFAULT_WINDOW
    if since >= until:
        raise ValidationError({"since": "since must be before until."})
    interval = _choice("interval", params.get("interval", "raw"), ["raw", *INTERVALS, "auto"])
    if interval == "auto":
        span = until - since
        interval = next((step for bound, step in AUTO_LADDER if span <= bound), AUTO_BEYOND)
    after = _cursor(params["cursor"]) if params.get("cursor") else None
    return HistoryQuery(
        since=since, until=until, interval=interval, limit=_limit(params.get("limit")), after=after
    )
