"""Planning PutLogEvents requests: every valid event in exactly one request, no request over a limit."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from otel_cw_exporter.encode.event import Event
from otel_cw_exporter.limits import (
    MAX_EVENT_AGE_MS,
    MAX_EVENT_AHEAD_MS,
    MAX_EVENT_BYTES,
    MAX_REQUEST_BYTES,
    MAX_REQUEST_EVENTS,
    MAX_REQUEST_SPAN_MS,
)
from otel_cw_exporter.send.planning import plan_requests

NOW = 1_795_511_702_000
HOUR = 3_600_000


def event(timestamp: int, size: int = 100, tag: int = 0) -> Event:
    return Event(timestamp, f"{tag}", size, False)


def check(
    requests: list[list[Event]], max_events: int = MAX_REQUEST_EVENTS, max_bytes: int = MAX_REQUEST_BYTES
) -> None:
    for request in requests:
        assert 1 <= len(request) <= max_events
        assert sum(e.size for e in request) <= max_bytes
        stamps = [e.timestamp for e in request]
        assert stamps == sorted(stamps)
        assert stamps[-1] - stamps[0] < MAX_REQUEST_SPAN_MS


times = st.integers(min_value=NOW - MAX_EVENT_AGE_MS - 10 * HOUR, max_value=NOW + MAX_EVENT_AHEAD_MS + 10 * HOUR)
sizes = st.integers(min_value=27, max_value=MAX_EVENT_BYTES + 10)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(times, sizes), max_size=400), st.integers(1, 50), st.integers(2_000, 3_000_000))
def test_every_valid_event_in_exactly_one_request_within_limits(
    spec: list[tuple[int, int]], max_events: int, max_bytes: int
) -> None:
    events = [event(t, s, i) for i, (t, s) in enumerate(spec)]
    plan = plan_requests(events, NOW, max_events=max_events, max_bytes=min(max_bytes, MAX_REQUEST_BYTES))
    check(plan.requests, max_events, min(max_bytes, MAX_REQUEST_BYTES))
    planned = [e for request in plan.requests for e in request]
    assert len(planned) == len({e.message for e in planned})  # no event twice
    valid = [
        e
        for e in events
        if NOW - MAX_EVENT_AGE_MS <= e.timestamp <= NOW + MAX_EVENT_AHEAD_MS
        and e.size <= min(max_bytes, MAX_REQUEST_BYTES)
    ]
    assert sorted(e.message for e in planned) == sorted(e.message for e in valid)
    assert len(planned) + plan.left_out == len(events)
    # Requests follow each other in time: the whole plan is one sorted sequence.
    flat = [e.timestamp for e in planned]
    assert flat == sorted(flat)


def test_counts_too_old_and_too_new() -> None:
    events = [
        event(NOW - MAX_EVENT_AGE_MS - 1),
        event(NOW - MAX_EVENT_AGE_MS),
        event(NOW + MAX_EVENT_AHEAD_MS),
        event(NOW + MAX_EVENT_AHEAD_MS + 1),
        event(NOW, MAX_EVENT_BYTES + 1),
    ]
    plan = plan_requests(events, NOW)
    assert (plan.too_old, plan.too_new, plan.too_large) == (1, 1, 1)
    assert sum(len(r) for r in plan.requests) == 2


def test_ten_thousand_events_per_request() -> None:
    plan = plan_requests([event(NOW, 27, i) for i in range(25_001)], NOW)
    assert [len(r) for r in plan.requests] == [10_000, 10_000, 5_001]


def test_bytes_per_request() -> None:
    plan = plan_requests([event(NOW, 300_000, i) for i in range(7)], NOW)
    assert [len(r) for r in plan.requests] == [3, 3, 1]
    exact = plan_requests([event(NOW, MAX_REQUEST_BYTES // 4, i) for i in range(8)], NOW)
    assert [len(r) for r in exact.requests] == [4, 4]


def test_thirty_hour_spread_in_random_order_splits_at_24_hours() -> None:
    stamps = [NOW - 30 * HOUR + i * HOUR for i in range(31)]
    shuffled = stamps[::2] + stamps[1::2]
    plan = plan_requests([event(t, 100, i) for i, t in enumerate(shuffled)], NOW)
    check(plan.requests)
    assert len(plan.requests) == 2
    assert sum(len(r) for r in plan.requests) == 31


def test_empty_batch_plans_nothing() -> None:
    plan = plan_requests([], NOW)
    assert plan.requests == [] and plan.left_out == 0
