"""Small builders for records and pipelines used across the tests."""

from __future__ import annotations

import time
from typing import Any

from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

RESOURCE = Resource.create({"service.name": "integrates", "deployment.environment.name": "production"})


def make_record(
    body: Any = "hello",
    attributes: dict[str, Any] | None = None,
    *,
    timestamp_ms: int | None = None,
    severity_text: str | None = "INFO",
    severity_number: SeverityNumber | None = SeverityNumber.INFO,
    resource: Resource = RESOURCE,
    logger: str = "transactional",
    trace_id: int = 0,
    span_id: int = 0,
    event_name: str | None = None,
) -> ReadableLogRecord:
    """A record as the SDK hands it to an exporter (attributes are not validated: anything goes)."""
    ts = (timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)) * 1_000_000
    record = LogRecord(
        timestamp=ts,
        observed_timestamp=ts,
        trace_id=trace_id,
        span_id=span_id,
        severity_text=severity_text,
        severity_number=severity_number,
        body=body,
        attributes=attributes or {},
        event_name=event_name,
    )
    return ReadableLogRecord(log_record=record, resource=resource, instrumentation_scope=InstrumentationScope(logger))
