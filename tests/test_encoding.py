"""The event JSON contract of event-schema.md, and its promise that any value encodes safely."""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import datetime as dt
import enum
import json
import math
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk.resources import Resource

from otel_cw_exporter.encode import jsonsafe
from otel_cw_exporter.encode.event import Event, EventEncoder, xray_trace_id
from otel_cw_exporter.records import level_name
from otel_cw_exporter.encode.jsonsafe import dumps
from otel_cw_exporter.limits import EVENT_OVERHEAD, MAX_EVENT_BYTES
from otel_cw_exporter.encode.truncation import MARK
from otel_cw_exporter.send.wire import put_log_events_body

from tests.support import make_record

TRACE = 0x0AF7651916CD43DD8448EB211C80319C
SPAN = 0xB7AD6B7169203331


def encode(record: Any, **options: Any) -> dict[str, Any]:
    event = EventEncoder(**options).encode(record)
    assert event.size == len(event.message.encode("utf-8")) + EVENT_OVERHEAD
    return json.loads(event.message)


def test_seed_security_event_matches_the_schema() -> None:
    record = make_record(
        "Added secret",
        {
            "extra": {
                "environment": "production",
                "user_email": "jdoe@example.com",
                "group_name": "unittesting",
                "resource_type": "GitRoot",
                "resource_id": "4039d098",
                "log_type": "Security",
            }
        },
        timestamp_ms=1795511702123,
        trace_id=TRACE,
        span_id=SPAN,
    )
    event = EventEncoder().encode(record)
    body = json.loads(event.message)
    assert event.timestamp == 1795511702123
    assert list(body) == [
        "timestamp",
        "level",
        "message",
        "logger",
        "extra",
        "trace_id",
        "span_id",
        "resource",
    ]
    assert body["timestamp"] == "2026-11-24T09:15:02.123000Z"
    assert body["level"] == "INFO"
    assert body["message"] == "Added secret"
    assert body["logger"] == "transactional"
    assert body["extra"]["user_email"] == "jdoe@example.com"
    assert body["extra"]["log_type"] == "Security"
    assert body["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert body["span_id"] == "b7ad6b7169203331"
    assert body["resource"]["service.name"] == "integrates"
    assert "xray_trace_id" not in body
    assert ", " not in event.message and ": " not in event.message  # compact


def test_flat_and_nested_extra_merge_nested_wins() -> None:
    body = encode(make_record("x", {"log_type": "Audit", "operation": "op", "extra": {"log_type": "Security"}}))
    assert body["extra"] == {"log_type": "Security", "operation": "op", "environment": "production"}


def test_environment_falls_back_to_the_resource_old_and_new_keys() -> None:
    old = Resource.create({"service.name": "s", "deployment.environment": "staging"})
    assert encode(make_record(resource=old))["extra"]["environment"] == "staging"
    assert encode(make_record(attributes={"environment": "dev"}))["extra"]["environment"] == "dev"
    none = Resource.create({"service.name": "s"})
    assert "environment" not in encode(make_record(resource=none))["extra"]


def test_exception_and_code_objects_stay_out_of_extra() -> None:
    body = encode(
        make_record(
            "boom",
            {
                "exception.type": "ZeroDivisionError",
                "exception.message": "division by zero",
                "exception.stacktrace": "Traceback...",
                "code.file.path": "/app/x.py",
                "code.function.name": "f",
                "code.line.number": 3,
                "user": "u",
            },
            severity_text="ERROR",
        )
    )
    assert body["exception"] == {
        "type": "ZeroDivisionError",
        "message": "division by zero",
        "stacktrace": "Traceback...",
    }
    assert body["code"] == {"file.path": "/app/x.py", "function.name": "f", "line.number": 3}
    assert body["extra"] == {"user": "u", "environment": "production"}
    assert body["level"] == "ERROR"


def test_xray_trace_id_on_request() -> None:
    body = encode(make_record(trace_id=TRACE, span_id=SPAN), xray_trace_id=True)
    assert body["xray_trace_id"] == "1-0af76519-16cd43dd8448eb211c80319c"
    assert xray_trace_id("5759e988bd862e3fe1be46a994272793") == "1-5759e988-bd862e3fe1be46a994272793"


def test_no_trace_fields_without_a_valid_span() -> None:
    body = encode(make_record(trace_id=TRACE, span_id=0))
    assert "trace_id" not in body and "span_id" not in body


def test_level_from_text_then_number() -> None:
    assert level_name(make_record(severity_text="WARN")) == "WARN"
    assert level_name(make_record(severity_text=None, severity_number=SeverityNumber.ERROR)) == "ERROR"
    assert level_name(make_record(severity_text=None, severity_number=None)) == "UNSPECIFIED"


def test_body_forms() -> None:
    assert encode(make_record(None))["message"] == ""
    assert encode(make_record({"a": [1, 2]}))["message"] == {"a": [1, 2]}
    assert encode(make_record(b"bytes"))["message"] == "bytes"


def test_event_name_and_timestamp_fallbacks() -> None:
    record = make_record(event_name="user.login")
    assert encode(record)["event_name"] == "user.login"
    record.log_record.timestamp = None
    assert EventEncoder().encode(record).timestamp == record.log_record.observed_timestamp // 1_000_000


class Color(enum.Enum):
    RED = "red"
    PAIR = (1, "b")


@dataclasses.dataclass
class Point:
    x: int
    y: float


class Exploding:
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def test_awkward_values_become_valid_readable_json() -> None:
    cycle: list[Any] = [1]
    cycle.append(cycle)
    deep: Any = "bottom"
    for _ in range(5000):
        deep = [deep]
    values = {
        "nan": math.nan,
        "inf": math.inf,
        "ninf": -math.inf,
        "bytes_utf8": "é".encode(),
        "bytes_bin": b"\xff\x00",
        "dt": dt.datetime(2026, 11, 24, 9, 15, tzinfo=dt.timezone.utc),
        "date": dt.date(2026, 11, 24),
        "dec": Decimal("1.10"),
        "uuid": uuid.UUID(int=1),
        "enum": Color.RED,
        "enum_pair": Color.PAIR,
        "set": {3, 1, 2},
        "tuple": (1, "a"),
        "dc": Point(1, 2.5),
        "exploding": Exploding(),
        "cycle": cycle,
        "deep": deep,
        "surrogate": "a\ud800b",
        "keys": {1: "int", None: "none", (1, 2): "tuple"},
    }
    body = encode(make_record("m\udfff", values))
    extra = body["extra"]
    assert extra["nan"] == "NaN" and extra["inf"] == "Infinity" and extra["ninf"] == "-Infinity"
    assert extra["bytes_utf8"] == "é"
    assert extra["bytes_bin"] == "base64:/wA="
    assert extra["dt"] == "2026-11-24T09:15:00+00:00"
    assert extra["date"] == "2026-11-24"
    assert extra["dec"] == "1.10"
    assert extra["uuid"] == "00000000-0000-0000-0000-000000000001"
    assert extra["enum"] == "red" and extra["enum_pair"] == [1, "b"]  # by value, whatever the value
    assert extra["set"] == [1, 2, 3]
    assert extra["tuple"] == [1, "a"]
    assert extra["dc"] == {"x": 1, "y": 2.5}
    assert extra["exploding"] == "<unprintable Exploding>"
    assert extra["cycle"] == [1, "<cycle>"]
    assert "<max depth>" in json.dumps(extra["deep"])
    assert extra["surrogate"] == "a\ufffdb"
    assert body["message"] == "m\ufffd"
    assert extra["keys"] == {"1": "int", "null": "none", "(1, 2)": "tuple"}


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.binary()
    | st.decimals()
    | st.datetimes()
    | st.uuids(),
    lambda children: st.lists(children) | st.dictionaries(st.text() | st.integers(), children) | st.tuples(children),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(body=json_values, attributes=st.dictionaries(st.text(), json_values, max_size=5))
def test_any_value_encodes_to_valid_json(body: Any, attributes: dict[str, Any]) -> None:
    event = EventEncoder().encode(make_record(body, attributes))
    parsed = json.loads(event.message)
    assert isinstance(parsed, dict)
    assert event.size == len(event.message.encode("utf-8")) + EVENT_OVERHEAD
    assert event.size <= MAX_EVENT_BYTES


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


@contextlib.contextmanager
def orjson_tier(enabled: bool) -> Iterator[None]:
    was = jsonsafe.use_orjson(enabled)
    try:
        yield
    finally:
        jsonsafe.use_orjson(was)


def test_the_orjson_tier_is_installed_for_the_suite() -> None:
    # The test extra installs orjson, so the fast tier is what the rest of this file exercises.
    assert jsonsafe._orjson is not None


@settings(max_examples=300, deadline=None)
@given(body=json_values, attributes=st.dictionaries(st.text(), json_values, max_size=5))
def test_the_orjson_and_stdlib_tiers_write_the_same_event(body: Any, attributes: dict[str, Any]) -> None:
    record = make_record(body, attributes)
    with orjson_tier(True):
        fast = EventEncoder().encode(record)
    with orjson_tier(False):
        slow = EventEncoder().encode(record)
    assert json.loads(fast.message) == json.loads(slow.message)
    assert fast.size == len(fast.message.encode("utf-8")) + EVENT_OVERHEAD
    assert (fast.timestamp, fast.truncated) == (slow.timestamp, slow.truncated)


def test_the_seed_event_is_byte_identical_in_both_tiers() -> None:
    record = make_record(
        "Added secret",
        {"extra": {"user_email": "jdoe@example.com", "log_type": "Security", "n": 3, "ok": True, "r": 0.5}},
        trace_id=TRACE,
        span_id=SPAN,
    )
    with orjson_tier(True):
        fast = EventEncoder().encode(record)
    with orjson_tier(False):
        slow = EventEncoder().encode(record)
    assert fast == slow


@pytest.mark.parametrize("enabled", [True, False], ids=["orjson", "stdlib"])
def test_nan_and_null_take_the_safe_tier(enabled: bool) -> None:
    # orjson writes NaN as null; the schema wants "NaN", and a real null must stay null.
    with orjson_tier(enabled):
        body = encode(make_record("m", {"nan": math.nan, "none": None, "inf": [math.inf]}))
    assert body["extra"] == {"nan": "NaN", "none": None, "inf": ["Infinity"], "environment": "production"}


@pytest.mark.parametrize("enabled", [True, False], ids=["orjson", "stdlib"])
def test_subclasses_are_written_as_their_base_type(enabled: bool) -> None:
    class Count(int):
        def __str__(self) -> str:
            return "not this"

    class Name(str):
        pass

    class Ordered(collections.OrderedDict):  # type: ignore[type-arg]
        pass

    with orjson_tier(enabled):
        body = encode(make_record("m", {"count": Count(7), "name": Name("x"), "ordered": Ordered(b=1)}))
    assert body["extra"]["count"] == 7 and body["extra"]["name"] == "x" and body["extra"]["ordered"] == {"b": 1}


@pytest.mark.parametrize("enabled", [True, False], ids=["orjson", "stdlib"])
def test_the_request_body_is_what_botocore_would_send(enabled: bool) -> None:
    events = [
        Event(1, '{"message":"é \\"q\\""}', 0, False),
        Event(2, "日本語 😀", 0, False),
    ]
    entity = {"keyAttributes": {"Type": "Service", "Name": "svc"}}
    with orjson_tier(enabled):
        body = put_log_events_body("g", "s", events, entity)
    assert json.loads(body) == {
        "logGroupName": "g",
        "logStreamName": "s",
        "logEvents": [{"timestamp": e.timestamp, "message": e.message} for e in events],
        "entity": entity,
    }
    assert "entity" not in json.loads(put_log_events_body("g", "s", events, None))


@pytest.mark.parametrize("enabled", [True, False], ids=["orjson", "stdlib"])
def test_integers_python_will_not_print_become_a_note(enabled: bool) -> None:
    # Python refuses str() of an int beyond 4,300 digits: the record must still encode.
    with orjson_tier(enabled):
        body = encode(make_record(10**5000, {"big": -(10**6000), "fine": 10**100}))
    assert body["message"] == "<int of 16610 bits>"
    assert body["extra"]["big"] == "<int of 19932 bits>" and body["extra"]["fine"] == 10**100
