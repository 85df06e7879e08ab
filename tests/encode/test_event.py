"""The event JSON contract of event-schema.md: field names, order, sources."""

from __future__ import annotations

import json
import time

import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk.resources import Resource

from otel_cw_exporter.encode.event import EventEncoder, xray_trace_id
from otel_cw_exporter.encode.fast import FastEncoder
from otel_cw_exporter.records import level_name
from tests.support import SPAN, TRACE, encode, make_record


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


@pytest.mark.parametrize("encoder", [EventEncoder, FastEncoder])
def test_a_float_timestamp_is_read_and_one_that_is_no_number_falls_back(encoder: type[EventEncoder]) -> None:
    """``timestamp=time.time() * 1e9`` (the SDK does not check): read, not dropped as an encoding error;
    NaN, infinity or text: the time the SDK observed the record."""
    record = make_record(timestamp_ms=1_700_000_000_123)
    observed = record.log_record.observed_timestamp
    record.log_record.observed_timestamp = observed + 5_000_000_000  # 5 s later
    for value, expected_ms in [
        (1_700_000_000_123.0 * 1e6, 1_700_000_000_123),
        (1.7e18 + 456_789_000.7, 1_700_000_000_456),
        (float("nan"), 1_700_000_005_123),
        (float("inf"), 1_700_000_005_123),
        ("1700000000123000000", 1_700_000_005_123),
    ]:
        record.log_record.timestamp = value  # type: ignore[assignment]
        event = encoder().encode(record)
        assert event.timestamp == expected_ms, value
        second = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(expected_ms // 1000))
        assert json.loads(event.message)["timestamp"].startswith(f"{second}.{expected_ms % 1000:03d}"), value
