"""Plan PutLogEvents requests for one destination so that none can break an API limit.

Pure: events in, requests and counts out. Every event inside CloudWatch's time window lands in
exactly one request; requests are in time order, within 10,000 events, 1,048,576 bytes and 24 hours.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import accumulate
from operator import attrgetter, gt

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
_size_of = attrgetter("size")


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
    """Sort, drop what CloudWatch would reject, and cut into requests that respect every limit.

    C-level passes over the events (a batch is thousands of them): their times and sizes, one sort, and
    each request's end found by bisection in the running sums; a Python loop only for the rare event
    CloudWatch would reject.
    """
    oldest = now_ms - MAX_EVENT_AGE_MS
    newest = now_ms + MAX_EVENT_AHEAD_MS
    plan = Plan()
    keep = events if isinstance(events, list) else list(events)
    if not keep:
        return plan
    stamps = list(map(_by_time, keep))
    sizes = list(map(_size_of, keep))
    if min(stamps) < oldest or max(stamps) > newest or max(sizes) > min(MAX_EVENT_BYTES, max_bytes):
        keep = _leave_out(keep, plan, oldest, newest, max_bytes)
        stamps = list(map(_by_time, keep))
        sizes = list(map(_size_of, keep))
    if any(map(gt, stamps[:-1], stamps[1:])):  # not in time order yet (a stable sort, as before)
        order = sorted(range(len(keep)), key=stamps.__getitem__)
        keep = list(map(keep.__getitem__, order))
        stamps = list(map(stamps.__getitem__, order))
        sizes = list(map(sizes.__getitem__, order))

    # totals[j] - totals[i]: the bytes of events i..j-1 (sizes are positive: each counts its overhead)
    totals = [0, *accumulate(sizes)]
    count = len(keep)
    start = 0
    while start < count:
        end = min(
            count,
            start + max_events,
            bisect_right(totals, totals[start] + max_bytes, start + 1) - 1,
            bisect_left(stamps, stamps[start] + MAX_REQUEST_SPAN_MS, start + 1),
        )
        plan.requests.append(keep[start:end])
        start = end
    return plan


def _leave_out(events: list[Event], plan: Plan, oldest: int, newest: int, max_bytes: int) -> list[Event]:
    """The events CloudWatch would accept; the others counted and kept in ``plan`` by reason."""
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
    return keep
