"""The one workload every contender gets: the application's Security event, emitted inside an active span.

``transactional.info("Added secret", extra={"extra": {...six fields...}})`` from a service whose
resource is ``service.name=integrates``, ``deployment.environment.name=production``: about 400 bytes
of JSON per event once the span ids, the resource and the stdlib bridge's ``code.*`` fields are in.
The helpers that build the reference JSON (for the bare floor and watchtower's formatter) live here
too, so that every contender ships the same fields.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.context import Context
from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor, ReadableLogRecord, ReadWriteLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

try:
    import orjson

    def dumps_bytes(value: Any) -> bytes:
        """orjson, turning SDK mappings (``BoundedAttributes``) into dicts."""
        return orjson.dumps(value, default=dict)

    SERIALIZER = "orjson"
except ImportError:  # the CI's test extra has no orjson: the floor falls back to the stdlib
    _FALLBACK = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=dict)

    def dumps_bytes(value: Any) -> bytes:
        """Stdlib json fallback when orjson is not installed."""
        return _FALLBACK.encode(value).encode("utf-8")

    SERIALIZER = "json"

LOGGER_NAME = "transactional"
MESSAGE = "Added secret"
RESOURCE_ATTRIBUTES: dict[str, str] = {"service.name": "integrates", "deployment.environment.name": "production"}
#: Exactly the two attributes (``Resource.create`` would add telemetry.sdk.*; the application's events have none).
RESOURCE = Resource(RESOURCE_ATTRIBUTES)
GROUP = "integrates"
STREAM = "transactional"
USERS = tuple(f"user{i}@example.com" for i in range(7))
#: Records per span: a new trace every so often, at no measurable cost per record.
RECORDS_PER_SPAN = 1000

_tracer_provider = TracerProvider()
TRACER = _tracer_provider.get_tracer("benchmark")


def extra_for(i: int) -> dict[str, Any]:
    """The application's nested ``extra`` for record ``i`` (a fresh dict per call, as the application makes one)."""
    return {
        "environment": "production",
        "user_email": USERS[i % 7],
        "log_type": "Security",
        "group_name": "unittesting",
        "resource_type": "GitRoot",
        "resource_id": f"{i:08x}",
    }


@contextmanager
def spans(total: int) -> Iterator[Callable[[int], None]]:
    """Yield ``rotate(i)``: call it before record ``i``; it starts a new active span every RECORDS_PER_SPAN."""
    state: dict[str, Any] = {"cm": None}

    def rotate(i: int) -> None:
        if i % RECORDS_PER_SPAN == 0:
            if state["cm"] is not None:
                state["cm"].__exit__(None, None, None)
            state["cm"] = TRACER.start_as_current_span("mutation")
            state["cm"].__enter__()

    try:
        yield rotate
    finally:
        if state["cm"] is not None:
            state["cm"].__exit__(None, None, None)


def emit_stdlib(logger: logging.Logger, start: int, count: int, rotate: Callable[[int], None]) -> None:
    """``count`` records through stdlib logging, the way the application logs."""
    info = logger.info
    for i in range(start, start + count):
        rotate(i)
        info(MESSAGE, extra={"extra": extra_for(i)})


def emit_api(logger: Any, start: int, count: int, rotate: Callable[[int], None]) -> None:
    """``count`` records through the OTel Logs API (the current context supplies the span)."""
    emit = logger.emit
    for i in range(start, start + count):
        rotate(i)
        emit(
            timestamp=time.time_ns(),
            severity_number=SeverityNumber.INFO,
            severity_text="INFO",
            body=MESSAGE,
            attributes={"extra": extra_for(i)},
        )


class _Collect(LogRecordProcessor):
    """Keeps what ``BatchLogRecordProcessor.on_emit`` would queue, to build export batches beforehand."""

    def __init__(self) -> None:
        self.records: list[ReadableLogRecord] = []

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        api_record = copy.copy(log_record.log_record)
        api_record.context = Context()
        self.records.append(
            ReadableLogRecord(
                log_record=api_record,
                resource=log_record.resource or RESOURCE,
                instrumentation_scope=log_record.instrumentation_scope,
                limits=log_record.limits,
            )
        )

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def build_records(count: int, bridge: Callable[[LoggerProvider], logging.Handler]) -> list[ReadableLogRecord]:
    """``count`` ReadableLogRecords exactly as the SDK hands them to an exporter, via the stdlib bridge."""
    collect = _Collect()
    provider = LoggerProvider(resource=RESOURCE, shutdown_on_exit=False)
    provider.add_log_record_processor(collect)
    logger = logging.Logger(LOGGER_NAME, logging.INFO)  # not registered: nothing else sees these
    logger.addHandler(bridge(provider))
    with spans(count) as rotate:
        emit_stdlib(logger, 0, count, rotate)
    return collect.records


class IsoClock:
    """ISO-8601 UTC with microseconds; the per-second prefix cached (the least any encoder should do)."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def iso(self, ns: int) -> str:
        second, rest = divmod(ns, 1_000_000_000)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{rest // 1000:06d}Z"


def fields_from_otel(record: ReadableLogRecord, clock: IsoClock) -> dict[str, Any]:
    """The event-schema fields of an OTel record, with no defensive work at all (the floor's encoder)."""
    log_record = record.log_record
    extra: dict[str, Any] = {}
    code: dict[str, Any] = {}
    for key, value in (log_record.attributes or {}).items():
        if key.startswith("code."):
            code[key[5:]] = value
        elif key == "extra" and isinstance(value, Mapping):
            extra.update(value)
        else:
            extra[key] = value
    scope = record.instrumentation_scope
    fields: dict[str, Any] = {
        "timestamp": clock.iso(log_record.timestamp or 0),
        "level": log_record.severity_text,
        "message": log_record.body,
        "logger": scope.name if scope is not None else "",
        "extra": extra,
    }
    if code:
        fields["code"] = code
    if log_record.trace_id:
        fields["trace_id"] = format(log_record.trace_id, "032x")
        fields["span_id"] = format(log_record.span_id or 0, "016x")
    fields["resource"] = RESOURCE_ATTRIBUTES
    return fields


def fields_from_stdlib(record: logging.LogRecord, clock: IsoClock) -> dict[str, Any]:
    """The same fields straight from a stdlib record and the current span (floor and watchtower)."""
    fields: dict[str, Any] = {
        "timestamp": clock.iso(int(record.created * 1e9)),
        "level": record.levelname,
        "message": record.getMessage(),
        "logger": record.name,
        "extra": dict(getattr(record, "extra", None) or {}),
        "code": {"file.path": record.pathname, "function.name": record.funcName, "line.number": record.lineno},
    }
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        fields["trace_id"] = format(context.trace_id, "032x")
        fields["span_id"] = format(context.span_id, "016x")
    fields["resource"] = RESOURCE_ATTRIBUTES
    return fields
