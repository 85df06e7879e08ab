"""The five contenders, each built the way its users build it, all pointed at the same local sink.

- ``ours``: SDK + ``BatchLogRecordProcessor`` + ``CloudWatchLogRecordExporter`` (boto3 client on the sink).
- ``watchtower``: stdlib ``CloudWatchLogHandler(use_queues=True)`` with a JSON formatter (the setup this
  package replaces).
- ``otlp``: SDK + ``BatchLogRecordProcessor`` + ``OTLPLogExporter`` (protobuf over HTTP).
- ``noop``: SDK + ``BatchLogRecordProcessor`` + an exporter that does nothing: the pipeline's floor.
- ``floor``: no SDK: build the dict, ``orjson.dumps`` it, one HTTP POST per 10,000 events.

Every OTel pipeline gets the same processor settings (see :class:`Settings`), so differences are the exporters'.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import logging
import threading
import time
import urllib.request
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExporter, LogRecordExportResult

from benchmarks.workload import (
    GROUP,
    LOGGER_NAME,
    RESOURCE,
    RESOURCE_ATTRIBUTES,
    STREAM,
    IsoClock,
    dumps_bytes,
    fields_from_otel,
    fields_from_stdlib,
)

ALL = ("ours", "watchtower", "otlp", "noop", "floor")
#: Contenders run only when named (none since the proposals they prototyped are in the package).
EXTRA: tuple[str, ...] = ()
#: Fake credentials: the sink does not check signatures, but botocore signs every request as it would for AWS.
REGION = "us-east-1"
ACCESS_KEY = "benchmark"
SECRET_KEY = "benchmark"
#: Events per POST for the bare floor (the brief's "one HTTP POST per 10,000 events").
FLOOR_EVENTS_PER_POST = 10_000


def missing_dependency(name: str) -> str | None:
    """Why a contender cannot run here (a package is not installed), else None."""
    needs = {
        "ours": ("otel_cw_exporter", "boto3"),
        "watchtower": ("watchtower", "boto3"),
        "otlp": ("opentelemetry.exporter.otlp.proto.http",),
        "noop": (),
        "floor": (),
    }[name]
    for module in needs:
        try:
            found = importlib.util.find_spec(module)
        except ModuleNotFoundError:
            found = None
        if found is None:
            return f"{module} is not installed"
    return None


@dataclass(frozen=True)
class Settings:
    """Processor settings shared by every OTel pipeline (documented in the README)."""

    max_queue_size: int = 2048
    max_export_batch_size: int = 10_000
    schedule_delay_millis: float = 1000.0


class SinkClient:
    """Reads the sink's counters; all calls are rare (none inside a measured loop except ``wait``)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _call(self, path: str, method: str = "GET", timeout: float = 10.0) -> dict[str, Any]:
        request = urllib.request.Request(self.url + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            result: dict[str, Any] = json.loads(response.read())
            return result

    def stats(self, until_ms: float | None = None) -> dict[str, Any]:
        return self._call("/stats" + (f"?until_ms={until_ms}" if until_ms is not None else ""))

    def count(self) -> int:
        return int(self.stats()["events"])

    def wait(self, count: int, timeout: float = 120.0) -> int:
        """Block (in the sink, not polling here) until ``count`` events were accepted."""
        return int(self._call(f"/wait?count={count}&timeout={timeout}", timeout=timeout + 10)["events"])

    def reset(self) -> None:
        self._call("/reset", method="POST")


class LatencyLog:
    """(emit ms, delivery latency ms) pairs kept in-process, for contenders that never reach the sink."""

    def __init__(self) -> None:
        self.emitted_ms = array("d")
        self.latency_ms = array("d")
        self._lock = threading.Lock()

    def add(self, batch: Sequence[ReadableLogRecord]) -> None:
        now_ms = time.time() * 1000.0
        stamps = [(record.log_record.timestamp or 0) / 1e6 for record in batch]
        with self._lock:
            self.emitted_ms.extend(stamps)
            self.latency_ms.extend(now_ms - ts for ts in stamps)


class NoopExporter(LogRecordExporter):
    """Accepts every batch and does nothing, so a pipeline with it costs only the SDK's own work."""

    def __init__(self, latency: LatencyLog | None = None) -> None:
        self.count = 0
        self._latency = latency

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        self.count += len(batch)
        if self._latency is not None:
            self._latency.add(batch)
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class TimedExporter(LogRecordExporter):
    """Delegates to an exporter and adds up the CPU time of the thread that calls ``export``."""

    def __init__(self, inner: LogRecordExporter) -> None:
        self.inner = inner
        self.thread_cpu = 0.0
        self.exported = 0

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        start = time.thread_time()
        try:
            return self.inner.export(batch)
        finally:
            self.thread_cpu += time.thread_time() - start
            self.exported += len(batch)

    def shutdown(self) -> None:
        self.inner.shutdown()  # type: ignore[no-untyped-call]

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return bool(self.inner.force_flush(timeout_millis))


class FloorSender:
    """Buffers (timestamp, message) events and POSTs them as one PutLogEvents body per 10,000 (no signing)."""

    def __init__(self, sink_url: str, per_post: int = FLOOR_EVENTS_PER_POST) -> None:
        parts = urlsplit(sink_url)
        self._connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
        self._per_post = per_post
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.sent = 0

    def add(self, timestamp_ms: int, message: str) -> None:
        events = self._events
        events.append({"timestamp": timestamp_ms, "message": message})
        if len(events) >= self._per_post:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            events, self._events = self._events, []
            if not events:
                return
            body = dumps_bytes({"logGroupName": GROUP, "logStreamName": STREAM, "logEvents": events})
            self._connection.request(
                "POST",
                "/",
                body=body,
                headers={
                    "X-Amz-Target": "Logs_20140328.PutLogEvents",
                    "Content-Type": "application/x-amz-json-1.1",
                },
            )
            response = self._connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"sink answered {response.status}")
            self.sent += len(events)


class FloorExporter(LogRecordExporter):
    """The bare floor as an exporter: dict per record, dumps, one POST per 10,000 events."""

    def __init__(self, sender: FloorSender) -> None:
        self._sender = sender
        self._clock = IsoClock()

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        add, clock = self._sender.add, self._clock
        for record in batch:
            fields = fields_from_otel(record, clock)
            add((record.log_record.timestamp or 0) // 1_000_000, dumps_bytes(fields).decode())
        self._sender.flush()
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self._sender.flush()
        return True


class FloorHandler(logging.Handler):
    """The bare floor for stdlib logging: no SDK, no queue, no thread; the POST runs in the caller."""

    def __init__(self, sender: FloorSender) -> None:
        super().__init__()
        self._sender = sender
        self._clock = IsoClock()

    def emit(self, record: logging.LogRecord) -> None:
        fields = fields_from_stdlib(record, self._clock)
        self._sender.add(int(record.created * 1000), dumps_bytes(fields).decode())

    def flush(self) -> None:
        self._sender.flush()


class FloorApi:
    """The bare floor for Logs-API-style calls: same keyword arguments as ``Logger.emit``, nothing else."""

    def __init__(self, sender: FloorSender) -> None:
        self._sender = sender
        self._clock = IsoClock()

    def emit(
        self,
        *,
        timestamp: int,
        severity_number: Any = None,
        severity_text: str | None = None,
        body: Any = None,
        attributes: dict[str, Any] | None = None,
    ) -> None:
        fields: dict[str, Any] = {
            "timestamp": self._clock.iso(timestamp),
            "level": severity_text,
            "message": body,
            "logger": LOGGER_NAME,
            "extra": dict((attributes or {}).get("extra") or {}),
        }
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            fields["trace_id"] = format(context.trace_id, "032x")
            fields["span_id"] = format(context.span_id, "016x")
        fields["resource"] = RESOURCE_ATTRIBUTES
        self._sender.add(timestamp // 1_000_000, dumps_bytes(fields).decode())


class JsonFormatter(logging.Formatter):
    """The replaced setup's ``"formatter": "json"`` for watchtower: the same fields, stdlib ``json``."""

    def __init__(self) -> None:
        super().__init__()
        self._clock = IsoClock()

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(fields_from_stdlib(record, self._clock), separators=(",", ":"), default=str)


def boto3_logs_client(sink_url: str) -> Any:
    """A plain boto3 ``logs`` client on the sink: what a user passes as ``client=`` / ``boto3_client=``."""
    import boto3

    return boto3.session.Session().client(
        "logs",
        endpoint_url=sink_url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


def stdlib_bridge(provider: LoggerProvider) -> logging.Handler:
    """The package's stdlib bridge (``OTelHandler``), used by every OTel contender alike."""
    from otel_cw_exporter.stdlib import OTelHandler

    return OTelHandler(logger_provider=provider)


def exporter_for(
    name: str, sink_url: str, latency: LatencyLog | None = None, options: dict[str, Any] | None = None
) -> LogRecordExporter:
    """The contender's exporter alone (for the exporter-own figure and for its pipeline); ``options`` are
    extra keyword arguments for ours (a TypeError when this version does not have one)."""
    if name == "ours":
        from otel_cw_exporter.exporter import CloudWatchLogRecordExporter

        return CloudWatchLogRecordExporter(
            log_group_name=GROUP,
            log_stream_name=STREAM,
            client=boto3_logs_client(sink_url),
            create_log_group=True,
            **(options or {}),
        )
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

        return OTLPLogExporter(endpoint=sink_url.rstrip("/") + "/v1/logs")
    if name == "noop":
        return NoopExporter(latency)
    if name == "floor":
        return FloorExporter(FloorSender(sink_url))
    raise ValueError(f"{name} has no OTel exporter")


class Pipeline:
    """A contender wired for an application: a stdlib logger, maybe an OTel logger, flush, a delivery count."""

    def __init__(self, name: str, sink_url: str, settings: Settings, *, track_latency: bool = False) -> None:
        self.name = name
        self.sink = SinkClient(sink_url)
        self.latency = LatencyLog() if track_latency else None
        self.timed: TimedExporter | None = None
        self.noop: NoopExporter | None = None
        self.api_logger: Any = None
        self._provider: LoggerProvider | None = None
        self._flushers: list[Callable[[], Any]] = []
        self._closers: list[Callable[[], Any]] = []
        self.logger = logging.getLogger(LOGGER_NAME)
        self.logger.handlers.clear()
        self.logger.setLevel(logging.INFO)
        self.logger.propagate = False

        if name == "watchtower":
            import watchtower

            handler = watchtower.CloudWatchLogHandler(
                log_group_name=GROUP,
                log_stream_name=STREAM,
                boto3_client=boto3_logs_client(sink_url),
                use_queues=True,
            )
            handler.setFormatter(JsonFormatter())
            self.logger.addHandler(handler)
            self._flushers.append(handler.flush)
            self._closers.append(handler.close)
        elif name == "floor":
            sender = FloorSender(sink_url)
            self.logger.addHandler(FloorHandler(sender))
            self.api_logger = FloorApi(sender)
            self._flushers.append(sender.flush)
        else:
            inner = exporter_for(name, sink_url, self.latency)
            if isinstance(inner, NoopExporter):
                self.noop = inner
            self.timed = TimedExporter(inner)
            provider = LoggerProvider(resource=RESOURCE, shutdown_on_exit=False)
            provider.add_log_record_processor(
                BatchLogRecordProcessor(
                    self.timed,
                    schedule_delay_millis=settings.schedule_delay_millis,
                    max_export_batch_size=settings.max_export_batch_size,
                    max_queue_size=max(settings.max_queue_size, settings.max_export_batch_size),
                )
            )
            self._provider = provider
            self.logger.addHandler(stdlib_bridge(provider))
            self.api_logger = provider.get_logger(LOGGER_NAME)
            self._flushers.append(provider.force_flush)
            self._closers.append(provider.shutdown)

    def flush(self) -> None:
        """Push out whatever is queued (the application's ``force_flush`` / ``handler.flush``)."""
        for flush in self._flushers:
            flush()

    def delivered(self) -> int:
        """Events accepted so far: by the sink, or by the do-nothing exporter."""
        if self.noop is not None:
            return self.noop.count
        return self.sink.count()

    def wait_delivered(self, count: int, timeout: float = 120.0) -> int:
        """Wait until ``count`` events were accepted; returns how many were."""
        if self.noop is None:
            return self.sink.wait(count, timeout)
        deadline = time.monotonic() + timeout
        while self.noop.count < count and time.monotonic() < deadline:
            time.sleep(0.002)
        return self.noop.count

    def close(self) -> None:
        for close in self._closers:
            close()
