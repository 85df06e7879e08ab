"""Plan PutLogEvents requests for one destination so that none can break an API limit.

Pure: events in, requests and counts out. Every event inside CloudWatch's time window lands in
exactly one request; requests are in time order, within 10,000 events, 1,048,576 bytes and 24 hours.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import attrgetter

from otel_cw_exporter.encode.event import Event
from otel_cw_exporter.limits import (
    MAX_EVENT_AGE_MS,
    MAX_EVENT_AHEAD_MS,
    MAX_EVENT_BYTES,
    MAX_REQUEST_BYTES,
    MAX_REQUEST_EVENTS,
    MAX_REQUEST_SPAN_MS,
)

_by_time = attrgetter("timestamp")


@dataclass
class Plan:
    """Requests to send (each a time-ordered list of events) and the events left out, by reason."""

    requests: list[list[Event]] = field(default_factory=list)
    too_old: int = 0
    too_new: int = 0
    too_large: int = 0
    left: dict[str, list[Event]] = field(default_factory=dict)
    """The events left out, by reason (``too_old``, ``too_new``, ``too_large``): a spool dead-letters them."""

    @property
    def left_out(self) -> int:
        return self.too_old + self.too_new + self.too_large


def plan_requests(
    events: Iterable[Event],
    now_ms: int,
    *,
    max_events: int = MAX_REQUEST_EVENTS,
    max_bytes: int = MAX_REQUEST_BYTES,
) -> Plan:
    """Sort, drop what CloudWatch would reject, and cut into requests that respect every limit."""
    oldest = now_ms - MAX_EVENT_AGE_MS
    newest = now_ms + MAX_EVENT_AHEAD_MS
    plan = Plan()
    keep: list[Event] = []
    for event in events:
        if event.timestamp < oldest:
            plan.too_old += 1
            plan.left.setdefault("too_old", []).append(event)
        elif event.timestamp > newest:
            plan.too_new += 1
            plan.left.setdefault("too_new", []).append(event)
        elif event.size > MAX_EVENT_BYTES or event.size > max_bytes:
            plan.too_large += 1
            plan.left.setdefault("too_large", []).append(event)
        else:
            keep.append(event)
    keep.sort(key=_by_time)

    current: list[Event] = []
    size = 0
    first = 0
    for event in keep:
        if current and (
            len(current) >= max_events
            or size + event.size > max_bytes
            or event.timestamp - first >= MAX_REQUEST_SPAN_MS
        ):
            plan.requests.append(current)
            current = []
        if not current:
            size = 0
            first = event.timestamp
        current.append(event)
        size += event.size
    if current:
        plan.requests.append(current)
    return plan
