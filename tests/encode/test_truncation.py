"""An event over CloudWatch's 1 MB limit is cut so it fits and stays one JSON object."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.resources import Resource

from otel_cw_exporter.encode.event import EventEncoder
from otel_cw_exporter.encode.jsonsafe import dumps
from otel_cw_exporter.encode.truncation import MARK
from otel_cw_exporter.limits import EVENT_OVERHEAD, MAX_EVENT_BYTES
from tests.support import make_record


def test_oversized_message_is_cut_first_and_marked() -> None:
    big = "é" * 800_000  # 1.6 MB of UTF-8
    event = EventEncoder().encode(make_record(big, {"extra": {"log_type": "Security", "user_email": "u@x"}}))
    body = json.loads(event.message)
    assert event.size <= MAX_EVENT_BYTES
    assert event.size > MAX_EVENT_BYTES - 100  # cut just enough, not everything
    assert event.truncated and body["truncated"] is True
    assert body["message"].endswith(MARK)
    assert body["extra"]["log_type"] == "Security"  # small fields survive


def test_stack_trace_then_largest_extra_values_are_cut_next() -> None:
    record = make_record(
        "short",
        {
            "exception.stacktrace": "x" * 600_000,
            "payload": "y" * 600_000,
            "small": "keep me",
        },
    )
    body = json.loads(EventEncoder().encode(record).message)
    assert body["message"] == "short"
    assert body["exception"]["stacktrace"].endswith(MARK)
    assert body["extra"]["small"] == "keep me"
    assert len(dumps(body).encode()) + EVENT_OVERHEAD <= MAX_EVENT_BYTES


def test_escaped_text_is_measured_as_sent() -> None:
    # Quotes, newlines and control characters grow when escaped: the cut must count the escaped size.
    record = make_record('"\n\x01' * 400_000)
    event = EventEncoder().encode(record)
    assert event.size <= MAX_EVENT_BYTES
    assert json.loads(event.message)["message"].endswith(MARK)


def test_many_small_fields_too_large_together_still_fit() -> None:
    attributes = {f"k{i}": "v" * 50 for i in range(40_000)}
    event = EventEncoder().encode(make_record("m", attributes))
    body = json.loads(event.message)
    assert event.size <= MAX_EVENT_BYTES and body["truncated"] is True


def test_big_non_string_value_is_cut_as_text() -> None:
    event = EventEncoder().encode(make_record("m", {"rows": list(range(300_000))}))
    body = json.loads(event.message)
    assert isinstance(body["extra"]["rows"], str) and body["extra"]["rows"].endswith(MARK)
    assert event.size <= MAX_EVENT_BYTES


@settings(max_examples=25, deadline=None)
@given(
    size=st.integers(min_value=900_000, max_value=1_600_000),
    char=st.sampled_from(["a", "é", "日", "😀", '"', "\n"]),
)
def test_truncation_property_always_fits_and_parses(size: int, char: str) -> None:
    event = EventEncoder().encode(make_record(char * (size // len(char.encode()))))
    assert event.size <= MAX_EVENT_BYTES
    json.loads(event.message)


def test_resource_cache_is_not_cut_in_place() -> None:
    resource = Resource.create({"service.name": "s", "big": "r" * 1_100_000})
    encoder = EventEncoder()
    first = json.loads(encoder.encode(make_record("m", resource=resource)).message)
    assert first["resource"]["big"].endswith(MARK)
    again = encoder._resource(resource)[0]
    assert again["big"] == "r" * 1_100_000
