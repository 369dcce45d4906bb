"""Parsing the records endpoint's query: window, interval, page size and cursor.

Every bad value becomes a 400 whose message says what to send instead. The pieces other
paged endpoints share (a parameter's parser, `limit`, signed cursors) are public here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.core import signing
from rest_framework.exceptions import ValidationError

# (value, name for generated clients, length): the one table of each enum.
RANGE_TABLE = (
    ("1h", "ONE_HOUR", timedelta(hours=1)),
    ("24h", "ONE_DAY", timedelta(hours=24)),
    ("7d", "ONE_WEEK", timedelta(days=7)),
    ("30d", "THIRTY_DAYS", timedelta(days=30)),
    ("1y", "ONE_YEAR", timedelta(days=365)),
)
INTERVAL_TABLE = (  # the width in seconds
    ("1m", "ONE_MINUTE", 60),
    ("5m", "FIVE_MINUTES", 300),
    ("15m", "FIFTEEN_MINUTES", 900),
    ("1h", "ONE_HOUR", 3600),
    ("4h", "FOUR_HOURS", 14400),
    ("1d", "ONE_DAY", 86400),
)
RANGES = {value: length for value, _, length in RANGE_TABLE}
RANGE_NAMES = {value: name for value, name, _ in RANGE_TABLE}
INTERVALS = {value: width for value, _, width in INTERVAL_TABLE}
INTERVAL_NAMES = {"auto": "AUTO"} | {value: name for value, name, _ in INTERVAL_TABLE}
# Like CoinGecko's market charts: the longer the window, the coarser the buckets.
AUTO_LADDER = ((timedelta(days=1), "5m"), (timedelta(days=90), "1h"))
AUTO_BEYOND = "1d"
DEFAULT_WINDOW = timedelta(hours=24)
MAX_LIMIT = 100_000  # a whole day at one-second sampling
CURSOR_SALT = "tracker.api.records-cursor"
# The times a window may take. Before the epoch nothing was recorded (and SQL's integer division,
# which aligns buckets, truncates towards zero there); near datetime.max a UTC offset, a range
# or a bucket would step past what datetime can hold.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, tzinfo=UTC)
MOMENT_MAX_CHARS = 64  # longer than any ISO 8601 time or unix seconds worth reading
CURSOR_MAX_CHARS = 1000
UNIX_SECONDS = re.compile(r"-?[0-9]{1,20}(\.[0-9]{1,9})?", re.ASCII)
WHOLE_NUMBER = re.compile(r"[0-9]{1,9}", re.ASCII)  # str.isdigit would take "²" and "١٢"
MICROSECOND = Decimal("0.000001")


@dataclass(frozen=True)
class HistoryQuery:
    metric_id: int
    since: datetime
    until: datetime
    interval: str  # "raw" or a key of INTERVALS
    limit: int
    after: datetime | None  # where the page starts (exclusive for raw, inclusive for buckets)
    sliding: bool  # the window ends now (no until), so it moves on as time passes

    @property
    def width(self) -> int:
        return INTERVALS[self.interval]


class ParamError(Exception):
    """One query parameter's bad value: its name and what to send instead."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name, self.message = name, message


def shown(text: str) -> str:
    """The value as the client sent it, cut short: an error must not echo 5,000 digits."""
    return repr(text) if len(text) <= 40 else repr(text[:40]) + "..."


def iso_utc(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def moment_parse(name: str, text: str) -> datetime:
    expected = f"Expected ISO 8601 (2024-01-31T12:00:00Z) or unix seconds, got {shown(text)}."
    # fromisoformat reads "10:00:00\x00junk" as 10:00:00: only printable ASCII goes in.
    if len(text) > MOMENT_MAX_CHARS or not (text.isascii() and text.isprintable()):
        raise ParamError(name, expected)
    try:
        if UNIX_SECONDS.fullmatch(text):
            micro = int((Decimal(text) / MICROSECOND).to_integral_value(ROUND_HALF_EVEN))
            if not _micros(EARLIEST) <= micro <= _micros(LATEST):
                raise OverflowError
            moment = EARLIEST + timedelta(microseconds=micro)
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            moment = moment.astimezone(UTC)  # past datetime.max with a negative offset
    except ValueError:
        raise ParamError(name, expected) from None
    except OverflowError:
        moment = None
    if moment is None or not EARLIEST <= moment <= LATEST:
        raise ParamError(
            name,
            f"Expected a time from {iso_utc(EARLIEST)} to {iso_utc(LATEST)}, got {shown(text)}.",
        )
    return moment


def _micros(moment: datetime) -> int:
    """Microseconds since the epoch, exactly (a float timestamp rounds near year 9999)."""
    return (moment - EARLIEST) // timedelta(microseconds=1)


def choice_parse(name: str, text: str, choices: list[str]) -> str:
    if text not in choices:
        raise ParamError(name, f"Expected one of {', '.join(choices)}; got {shown(text)}.")
    return text


def limit_parse(text: str, *, maximum: int = MAX_LIMIT) -> int:
    if not WHOLE_NUMBER.fullmatch(text) or not 1 <= int(text) <= maximum:
        raise ParamError("limit", f"Expected a whole number from 1 to {maximum:,}.")
    return int(text)


def _param(params: Any, name: str) -> str | None:
    """The parameter's (last) value; None when absent. An empty value is refused, not ignored."""
    if name not in params:
        return None
    text = str(params.get(name))
    if text == "":
        raise ParamError(name, f"Empty. Give a value for {name}, or leave it out.")
    return text


def params_parse(params: Any, parsers: dict[str, Callable[[str], Any]]) -> dict[str, Any]:
    """The parameters given, each read by its parser (which raises ParamError); absent ones
    are left out. Every bad one is named in one 400."""
    errors: dict[str, list[str]] = {}
    found: dict[str, Any] = {}
    for name, parse in parsers.items():
        try:
            text = _param(params, name)
            if text is not None:
                found[name] = parse(text)
        except ParamError as bad:
            errors.setdefault(bad.name, []).append(bad.message)
    if errors:
        raise ValidationError(errors)
    return found


def cursor_sign(payload: dict[str, Any], *, salt: str) -> str:
    """A cursor carrying `payload`, signed so that a client cannot forge or alter it."""
    return signing.dumps(payload, salt=salt, compress=True)


def cursor_unsign(text: str, *, salt: str, refused: str) -> Any:
    """The payload of a cursor this server signed with `salt`; ParamError("cursor", refused)
    for anything else."""
    if len(text) > CURSOR_MAX_CHARS or not text.isascii():
        raise ParamError("cursor", refused)
    try:
        return signing.loads(text, salt=salt)
    except signing.BadSignature:
        raise ParamError("cursor", refused) from None


def cursor_encode(query: HistoryQuery, after: datetime) -> str:
    """A signed cursor that continues `query` (same metric, interval and window) after `after`."""
    payload = {
        "m": query.metric_id,
        "i": query.interval,
        "s": _micros(query.since),
        "u": _micros(query.until),
        "a": _micros(after),
    }
    return cursor_sign(payload, salt=CURSOR_SALT)


BAD_CURSOR = (
    "Not a cursor this server issued for this metric, interval and window. Follow the Link "
    "header, or start again without a cursor."
)


def _cursor_payload(text: str) -> dict[str, Any]:
    """What a cursor this server signed says: metric, interval, window and position."""
    payload = cursor_unsign(text, salt=CURSOR_SALT, refused=BAD_CURSOR)
    try:
        fields = {name: payload[name] for name in ("m", "i", "s", "u", "a")}
        for name in ("s", "u", "a"):
            fields[name] = int(fields[name])
            EARLIEST + timedelta(microseconds=fields[name])  # in range, or OverflowError
    except (KeyError, TypeError, ValueError, OverflowError):
        raise ParamError("cursor", BAD_CURSOR) from None
    return fields


def _cursor(
    payload: dict[str, Any], *, metric_id: int, interval: str, since: datetime, until: datetime
) -> datetime:
    """Where the page continues, if the cursor belongs to this metric, interval and window."""
    bound = (payload["m"], payload["i"], payload["s"], payload["u"])
    if bound != (metric_id, interval, _micros(since), _micros(until)):
        raise ParamError("cursor", BAD_CURSOR)
    if not payload["s"] <= payload["a"] <= payload["u"]:
        raise ParamError("cursor", BAD_CURSOR)
    return EARLIEST + timedelta(microseconds=payload["a"])


RAW_ONLY = ("raw",)
BUCKET_INTERVALS = tuple(INTERVAL_NAMES)  # auto first: the default


def auto_interval(length: timedelta) -> str:
    """The interval `auto` stands for over a window of `length`."""
    return next((step for bound, step in AUTO_LADDER if length <= bound), AUTO_BEYOND)


def window_slides(params: Any) -> bool:
    """Whether a history request's window ends now: neither `until` nor a cursor (which
    carries the end of the window it pages through) pins it. Known before any parsing, so a
    conditional request is answered first; `history_query_parse` agrees for every valid one."""
    return "until" not in params and "cursor" not in params


def history_query_parse(
    params: Any,
    *,
    metric_id: int,
    now: datetime,
    intervals: tuple[str, ...] = RAW_ONLY,
) -> HistoryQuery:
    """The window, interval, limit and cursor of a records or buckets request, validated.

    `intervals` are the ones the endpoint serves; the first is the default.

    Each parameter is checked on its own first, so one answer names every bad one; then the
    window they make together.
    """
    errors: dict[str, list[str]] = {}

    def parsed(name: str, parse: Any) -> Any:
        try:
            text = _param(params, name)
            return None if text is None else parse(text)
        except ParamError as bad:
            errors.setdefault(bad.name, []).append(bad.message)
            return None

    until = parsed("until", lambda t: moment_parse("until", t))
    since = parsed("since", lambda t: moment_parse("since", t))
    span = parsed("range", lambda t: RANGES[choice_parse("range", t, list(RANGES))])
    interval = parsed("interval", lambda t: choice_parse("interval", t, list(intervals)))
    limit = parsed("limit", limit_parse)
    cursor = parsed("cursor", _cursor_payload)
    if errors:
        raise ValidationError(errors)

    # A window ending now was pinned when its first page was served: the cursor carries its
    # end, so the next page is asked for with the same parameters as the first, plus cursor.
    if until is None and cursor is not None:
        until = EARLIEST + timedelta(microseconds=cursor["u"])
    sliding = window_slides(params)
    until = until or now
    try:
        if span is not None:
            if since is not None:
                raise ParamError("range", "Give either since or range, not both.")
            since = until - span
            if since < EARLIEST:
                raise ParamError("range", f"until - range starts before {iso_utc(EARLIEST)}.")
        elif since is None:
            since = until - DEFAULT_WINDOW
            if since < EARLIEST:
                raise ParamError(
                    "until", f"The default window (24 hours before until) starts before "
                    f"{iso_utc(EARLIEST)}; give since as well."
                )  # fmt: skip
        if since >= until:
            raise ParamError("since", "since must be before until.")
        interval = interval or intervals[0]
        if interval == "auto":
            interval = auto_interval(until - since)
        after = None
        if cursor is not None:
            after = _cursor(
                cursor, metric_id=metric_id, interval=interval, since=since, until=until
            )
    except ParamError as bad:
        raise ValidationError({bad.name: [bad.message]}) from None
    return HistoryQuery(
        metric_id=metric_id,
        since=since,
        until=until,
        interval=interval,
        limit=limit or MAX_LIMIT,
        after=after,
        sliding=sliding,
    )
