"""The whole pipeline over HTTP: LoggerProvider -> BatchLogRecordProcessor -> exporter -> local endpoint."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from otel_cw_exporter import CloudWatchLogRecordExporter
from otel_cw_exporter.limits import MAX_REQUEST_BYTES, MAX_REQUEST_EVENTS
from otel_cw_exporter.testing import LocalCloudWatchLogs
from tests.support import make_record

GROUP = "integrates"


RESOURCE = Resource.create({"service.name": "integrates", "deployment.environment.name": "production"})


@pytest.fixture
def pipeline(
    cloudwatch_logs: LocalCloudWatchLogs,
) -> Iterator[tuple[LoggerProvider, CloudWatchLogRecordExporter]]:
    exporter = CloudWatchLogRecordExporter(
        log_group_name=GROUP, log_stream_name="app", client=cloudwatch_logs.client(), create_log_group=True
    )
    provider = LoggerProvider(resource=RESOURCE, shutdown_on_exit=False)
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter, schedule_delay_millis=50))
    yield provider, exporter
    provider.shutdown()


def bridge(provider: LoggerProvider, name: str) -> logging.Logger:
    from opentelemetry.sdk._logs import LoggingHandler

    logger = logging.getLogger(name)
    logger.handlers = [LoggingHandler(logger_provider=provider)]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def test_api_and_stdlib_records_arrive_with_trace_resource_and_fields(
    cloudwatch_logs: LocalCloudWatchLogs, pipeline: tuple[LoggerProvider, CloudWatchLogRecordExporter]
) -> None:
    provider, exporter = pipeline
    tracer = TracerProvider().get_tracer("test")
    logger = bridge(provider, "transactional")
    with tracer.start_as_current_span("mutation") as span:
        context = span.get_span_context()
        provider.get_logger("graphql").emit(
            severity_number=SeverityNumber.INFO,
            severity_text="INFO",
            body="GraphQL mutation executed",
            attributes={"operation": "addSecret", "log_type": "Audit", "user_email": "a@x.com"},
        )
        logger.info(
            "Added secret",
            extra={
                "extra": {
                    "user_email": "jdoe@example.com",
                    "log_type": "Security",
                    "resource_type": "GitRoot",
                }
            },
        )
        try:
            raise KeyError("boom")
        except KeyError:
            logger.exception("failed", extra={"operation": "addSecret"})
    assert provider.force_flush()

    events = cloudwatch_logs.events(GROUP, "app")
    assert len(events) == 3
    by_message = {e["message"]: e for e in events}
    audit = by_message["GraphQL mutation executed"]
    security = by_message["Added secret"]
    error = by_message["failed"]
    for event in events:
        assert event["trace_id"] == format(context.trace_id, "032x")
        assert event["span_id"] == format(context.span_id, "016x")
        assert event["resource"]["service.name"] == "integrates"
        assert event["extra"]["environment"] == "production"
    assert audit["logger"] == "graphql" and audit["extra"]["log_type"] == "Audit"
    assert security["logger"] == "transactional"
    assert security["extra"]["user_email"] == "jdoe@example.com"
    assert security["extra"]["log_type"] == "Security"
    assert error["level"] == "ERROR"
    assert error["exception"]["type"] == "KeyError"
    assert "Traceback" in error["exception"]["stacktrace"]
    assert error["code"]["function.name"].startswith("test_")
    assert exporter.stats.events_sent == 3
    assert exporter.stats.events_dropped == 0


def test_seed_queries_select_the_right_events(
    cloudwatch_logs: LocalCloudWatchLogs, pipeline: tuple[LoggerProvider, CloudWatchLogRecordExporter]
) -> None:
    from otel_cw_exporter.testing.insights import run

    provider, _ = pipeline
    logger = bridge(provider, "transactional")
    logger.info(
        "Added secret",
        extra={"extra": {"user_email": "a@x.com", "log_type": "Security", "resource_type": "GitRoot"}},
    )
    logger.info(
        "GraphQL mutation executed",
        extra={"extra": {"user_email": "b@x.com", "log_type": "Audit", "operation": "addSecret"}},
    )
    logger.error("Mutation failed", extra={"extra": {"operation": "removeStakeholder", "log_type": "Audit"}})
    assert provider.force_flush()
    events = cloudwatch_logs.events(GROUP)

    security = run(
        """# Security events by user in the last 24h
fields @timestamp, extra.user_email, message, extra.resource_type
| filter extra.log_type = "Security"
| sort @timestamp desc
| limit 100""",
        events,
    )
    assert [(r["extra.user_email"], r["message"], r["extra.resource_type"]) for r in security] == [
        ("a@x.com", "Added secret", "GitRoot")
    ]
    errors = run(
        """#Errors in critical operations
fields @timestamp, message, extra.operation
| filter level = "ERROR"
| sort @timestamp desc | limit 50""",
        events,
    )
    assert [(r["message"], r["extra.operation"]) for r in errors] == [("Mutation failed", "removeStakeholder")]


def test_large_mixed_batch_every_valid_record_stored_exactly_once(
    cloudwatch_logs: LocalCloudWatchLogs,
) -> None:
    """Over 10,000 records and 1 MiB, multi-byte text, 1.5 MB bodies, 30 hours in random order, odd values."""
    rng = random.Random(7)
    now = int(time.time() * 1000)
    hour = 3_600_000
    exporter = CloudWatchLogRecordExporter(
        log_group_name=GROUP, log_stream_name="bulk", client=cloudwatch_logs.client(), create_log_group=True
    )
    provider = LoggerProvider(resource=RESOURCE, shutdown_on_exit=False)
    provider.add_log_record_processor(
        BatchLogRecordProcessor(
            exporter, max_queue_size=20_000, max_export_batch_size=20_000, schedule_delay_millis=60_000
        )
    )
    logger = provider.get_logger("bulk")
    valid = 0
    for i in range(12_500):
        stamp = now - rng.randrange(0, 30 * hour)
        body: Any = f"événement {i} 日本語 " + "x" * rng.randrange(0, 200)
        if i % 2500 == 0:
            body = "é" * 750_000  # 1.5 MB of UTF-8: must be cut, still stored
        attributes = {"i": i, "nan": float("nan"), "blob": b"\xff\xfe", "extra": {"log_type": "Security"}}
        logger.emit(timestamp=stamp * 1_000_000, body=body, attributes=attributes, severity_text="INFO")
        valid += 1
    for i in range(12_500, 12_510):  # too old, then too new
        stamp = now - 15 * 24 * hour if i < 12_505 else now + 3 * hour
        logger.emit(timestamp=stamp * 1_000_000, body="outside", attributes={"i": i})
    assert provider.force_flush()
    provider.shutdown()

    events = cloudwatch_logs.events(GROUP, "bulk")
    seen = [e["extra"]["i"] for e in events]
    assert len(seen) == valid == len(set(seen))
    assert set(seen) == set(range(valid))
    truncated = [e for e in events if e.get("truncated")]
    assert len(truncated) == 5
    assert all(e["message"].endswith("...[truncated]") for e in truncated)
    stats = exporter.stats
    assert stats.events_sent == valid
    assert stats.dropped == {"too_old": 5, "too_new": 5}
    assert stats.events_truncated == 5
    assert cloudwatch_logs.invalid_requests == 0
    puts = cloudwatch_logs.puts
    assert all(p.events <= MAX_REQUEST_EVENTS and p.bytes <= MAX_REQUEST_BYTES for p in puts)
    total = sum(p.bytes for p in puts)
    assert total > MAX_REQUEST_BYTES * 5
    print(f"large batch: {valid} records stored in {len(puts)} requests, {total} bytes")


def test_export_directly_returns_a_result_and_counts(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    exporter = CloudWatchLogRecordExporter(
        log_group_name=GROUP, log_stream_name="direct", client=cloudwatch_logs.client(), create_log_group=True
    )
    assert exporter.export([make_record("one"), make_record("two")]) is LogRecordExportResult.SUCCESS
    assert [e["message"] for e in cloudwatch_logs.events(GROUP, "direct")] == ["one", "two"] or sorted(
        e["message"] for e in cloudwatch_logs.events(GROUP, "direct")
    ) == ["one", "two"]
    exporter.shutdown()
    assert exporter.export([make_record("late")]) is LogRecordExportResult.FAILURE
    assert exporter.stats.dropped == {"shutdown": 1}
