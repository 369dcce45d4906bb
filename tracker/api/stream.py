"""`GET /api/v1/stream`: new records as they are ingested, over Server-Sent Events.

The request goes through DRF like any other (authentication, `PublicRead`, throttles, JSON
errors); the answer is an endless `text/event-stream` fed by this process's hub
(tracker.live.ticks), sent from the event loop without holding the server's sync thread.
A client that disconnects is cancelled by Django's ASGI handler, which closes the generator:
nothing of it is left behind.

Events:
- `records`, with an `id`: data is a JSON list of `{"metric", "timestamp", "value"}`, the
  records of one tick (of the metrics asked for with `?metrics=`);
- `reset`: data is `{"reason": "..."}`; what the client holds may miss ticks (it fell behind,
  its `Last-Event-ID` is too old or from another run, the feed broke), so it should reload
  what it shows; the stream goes on live;
- a `: keepalive` comment after TRACKER_STREAM_HEARTBEAT seconds without anything else.

A connection lasts TRACKER_STREAM_MAX_AGE seconds at most: then the server ends it, after an
`id:` of where the client is. An EventSource reconnects by itself a few seconds later with
that id as `Last-Event-ID` and misses nothing, and the new request is authenticated again: a
signed-out user, a deleted token or a deactivated account stops receiving within that time.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import orjson
from django.conf import settings
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from tracker.accounts.permissions import PublicRead
from tracker.live.relay import ticks_follow
from tracker.live.ticks import MARK, RECORDS, Entry, Hub

from .history import shown

RETRY_MS = 3000  # how long a browser's EventSource waits before it reconnects
METRICS_MAX = 1000
RESUME_LOST = (
    "Last-Event-ID {id} is older than the ticks this server keeps, or from another run of the "
    "stream: reload what you show"
)
FELL_BEHIND = "the connection fell behind the ticks this server keeps: reload what you show"


class EventStreamRenderer(BaseRenderer):
    """Lets content negotiation accept `text/event-stream`; the view streams the body itself,
    and errors are rendered as JSON (tracker.api.errors)."""

    media_type = "text/event-stream"
    format = "event-stream"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        return b""


def metrics_parse(text: str | None) -> frozenset[int] | None:
    """`?metrics=1,2` as a set of ids; None (every metric) when the parameter is absent."""
    if text is None:
        return None
    parts = text.split(",")
    if len(parts) > METRICS_MAX:
        raise ValidationError({"metrics": [f"At most {METRICS_MAX} metric ids; got {len(parts)}."]})
    ids = set()
    for part in parts:
        part = part.strip()
        if not (part.isascii() and part.isdigit() and len(part) <= 18 and int(part) > 0):
            raise ValidationError(
                {
                    "metrics": [
                        f"Expected metric ids separated by commas, such as 1,2; got {shown(text)}."
                    ]
                }
            )
        ids.add(int(part))
    return frozenset(ids)


def _event(entry: Entry, metrics: frozenset[int] | None) -> bytes | None:
    """The entry as an SSE event for this client; None when none of its records are wanted."""
    if entry.kind == MARK:
        return None
    data = entry.data
    if entry.kind == RECORDS and metrics is not None:
        if metrics.isdisjoint(entry.metric_ids):
            return None
        data = b"[" + b",".join(f for m, f in entry.records if m in metrics) + b"]"
    return b"id: %s\nevent: %s\ndata: %s\n\n" % (entry.id.encode(), entry.kind.encode(), data)


def _reset(reason: str, entry: Entry) -> bytes:
    data = orjson.dumps({"reason": reason})
    return b"id: %s\nevent: reset\ndata: %s\n\n" % (entry.id.encode(), data)


async def stream_events(
    *,
    follow: Callable[[], Hub],
    metrics: frozenset[int] | None,
    last_event_id: str | None,
    heartbeat: float,
    max_age: float = math.inf,
) -> AsyncIterator[bytes]:
    """The SSE body: a resume (or a reset) from `last_event_id`, then every tick as it comes,
    for `max_age` seconds.

    A filtered client skips ticks with none of its metrics; its position still moves, and
    goes out as a bare `id:` line with the next heartbeat (or at the end), so a resume does
    not start from further back than needed (and does not find itself too old). `follow`
    gives the hub, and is called when the body starts: a response nobody reads starts no feed.
    """
    ends = time.monotonic() + max_age
    hub = follow()
    newest = hub.newest
    head = [b"retry: %d\n" % RETRY_MS]
    position = hub.position(last_event_id) if last_event_id else None
    if position is None:
        position = newest.serial
        if last_event_id:
            head.append(_reset(RESUME_LOST.format(id=shown(last_event_id)), newest))
        else:
            head.append(b"id: %s\n\n" % newest.id.encode())
    else:
        head.append(b"\n")
    yield b"".join(head)
    unsent: str | None = None  # the position's id, when no event told the client of it
    while not hub.closed:
        left = ends - time.monotonic()
        if left <= 0:
            if unsent:
                yield b"id: %s\n\n" % unsent.encode()
            return
        entries = hub.read(after=position)
        if entries is None:
            newest = hub.newest
            position, unsent = newest.serial, None
            yield _reset(FELL_BEHIND, newest)
            continue
        if entries:
            parts = []
            for entry in entries:
                event = _event(entry, metrics)
                if event is None:
                    unsent = entry.id
                else:
                    parts.append(event)
                    unsent = None
            position = entries[-1].serial
            if parts:
                yield b"".join(parts)
                continue
        if not await hub.wait(after=position, seconds=min(heartbeat, left)):
            if left <= heartbeat:
                continue  # the end, not a quiet spell
            yield (b"id: %s\n\n" % unsent.encode() if unsent else b"") + b": keepalive\n\n"
            unsent = None


class StreamView(APIView):
    """New records as they are ingested, over Server-Sent Events (`text/event-stream`).

    Each tick is an event `records` whose data is a JSON list of `{"metric", "timestamp",
    "value"}` and whose `id` can be sent back as `Last-Event-ID` (browsers do so when they
    reconnect) to receive every tick after it, within the last minutes. When that is not
    possible the stream sends an event `reset` (data `{"reason": "..."}`: reload what you show)
    and goes on live. A `: keepalive` comment comes after 15 seconds without anything else.
    The server ends a connection after 10 minutes, after an `id:` of where the client is; an
    EventSource reconnects with it and misses nothing. Not for generated clients.
    """

    permission_classes = [PublicRead]
    renderer_classes = [EventStreamRenderer]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "metrics",
                str,
                description=(
                    "Only the records of these metrics: ids separated by commas, such as `1,2` "
                    f"(at most {METRICS_MAX}). Unknown ids are accepted and never sent."
                ),
            ),
            OpenApiParameter(
                "Last-Event-ID",
                str,
                location=OpenApiParameter.HEADER,
                description="The id of the last event received: the stream resumes after it.",
            ),
        ],
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                response=OpenApiTypes.STR,
                description=(
                    "An endless stream of events: `records` (a JSON list of `{metric, "
                    "timestamp, value}`, with an `id`), `reset` (`{reason}`: reload) and "
                    "`: keepalive` comments."
                ),
            )
        },
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        metrics = metrics_parse(request.query_params.get("metrics"))
        body = stream_events(
            follow=ticks_follow,
            metrics=metrics,
            last_event_id=request.headers.get("Last-Event-ID") or None,
            heartbeat=settings.TRACKER_STREAM_HEARTBEAT,
            max_age=settings.TRACKER_STREAM_MAX_AGE,
        )
        response = StreamingHttpResponse(body, content_type="text/event-stream; charset=utf-8")
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
        return response
