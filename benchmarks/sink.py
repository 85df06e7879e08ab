"""A minimal local endpoint for the benchmark: PutLogEvents (JSON 1.1) and OTLP/HTTP logs, counted.

It runs in its own process so that parsing requests never costs CPU in the process being measured.
Every contender talks to the same sink on 127.0.0.1, which answers as cheaply as the protocols allow:

- ``POST /`` with ``X-Amz-Target: Logs_20140328.<Operation>``: PutLogEvents is parsed and its events
  counted (answer ``{"nextSequenceToken": ...}``, which watchtower reads); CreateLogGroup, CreateLogStream,
  DescribeLogGroups, DescribeLogStreams and PutRetentionPolicy get the smallest valid answer.
- ``POST /v1/logs``: an OTLP ``ExportLogsServiceRequest`` (protobuf), decoded to count its records.
- ``GET /stats[?until_ms=T]``: counts, and delivery-latency percentiles (accepted time minus the event's
  own timestamp) over the events whose timestamp is at most ``T``, and the last PutLogEvents message.
- ``GET /wait?count=N&timeout=S``: blocks until N events were accepted (no polling in the measured process).
- ``POST /reset``: forget everything.

Run ``python -m benchmarks.sink``: it prints ``PORT <n>`` on its first line and serves until killed.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from array import array
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_TARGET_PREFIX = "Logs_20140328."
_TIMESTAMP = re.compile(rb'"timestamp"\s*:\s*(\d+)')


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already-sorted values (None when there are none)."""
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


class Counter:
    """Thread-safe event counts and (emit ms, latency ms) pairs, with a condition for ``/wait``."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.events = 0
            self.requests = 0
            self.bytes = 0
            self.by_kind: dict[str, int] = {}
            self.emitted_ms = array("d")
            self.latency_ms = array("d")
            self.sample: str | None = None
            self.errors = 0

    def add(self, kind: str, body_bytes: int, timestamps_ms: list[float], sample: str | None = None) -> None:
        """Record one accepted request; latency is measured against the time it finished arriving."""
        now_ms = time.time() * 1000.0
        with self.lock:
            self.events += len(timestamps_ms)
            self.requests += 1
            self.bytes += body_bytes
            self.by_kind[kind] = self.by_kind.get(kind, 0) + len(timestamps_ms)
            self.emitted_ms.extend(timestamps_ms)
            self.latency_ms.extend(now_ms - ts for ts in timestamps_ms)
            if sample is not None:
                self.sample = sample
            self.lock.notify_all()

    def add_put_log_events(self, body: bytes) -> None:
        """Count a PutLogEvents body cheaply: its events' ``"timestamp": <digits>`` keys.

        Inside a JSON string every quote is escaped, so a message's own ``\\"timestamp\\":`` never
        matches. The first request after a reset is also fully parsed: it checks that count, and keeps
        one message as a sample of what the contender sends.
        """
        stamps = [float(match) for match in _TIMESTAMP.findall(body)]
        sample = None
        if self.sample is None:
            events = json.loads(body).get("logEvents") or []
            if len(events) != len(stamps):
                with self.lock:
                    self.errors += 1
            sample = events[-1].get("message") if events else None
        self.add("putlogevents", len(body), stamps, sample)

    def wait(self, count: int, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        with self.lock:
            while self.events < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.lock.wait(remaining)
            return self.events

    def stats(self, until_ms: float | None) -> dict[str, Any]:
        with self.lock:
            if until_ms is None:
                latencies = sorted(self.latency_ms)
            else:
                latencies = sorted(
                    lat for ts, lat in zip(self.emitted_ms, self.latency_ms, strict=True) if ts <= until_ms
                )
            return {
                "events": self.events,
                "requests": self.requests,
                "bytes": self.bytes,
                "by_kind": dict(self.by_kind),
                "latency_events": len(latencies),
                "latency_ms_p50": percentile(latencies, 0.50),
                "latency_ms_p99": percentile(latencies, 0.99),
                "latency_ms_max": latencies[-1] if latencies else None,
                "sample_message": self.sample,
                "count_errors": self.errors,
            }


COUNTER = Counter()


def _otlp_timestamps(body: bytes) -> list[float]:
    """Emit times (ms) of the records in an OTLP logs request; imported lazily (only OTLP needs it)."""
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    request = ExportLogsServiceRequest()
    request.ParseFromString(body)
    return [
        (record.time_unix_nano or record.observed_time_unix_nano) / 1e6
        for resource_logs in request.resource_logs
        for scope_logs in resource_logs.scope_logs
        for record in scope_logs.log_records
    ]


class Handler(BaseHTTPRequestHandler):
    """One request; HTTP/1.1 keep-alive so clients reuse their connection as they would with AWS."""

    protocol_version = "HTTP/1.1"
    server_version = "bench-sink"
    #: Headers and body go out in two writes: with Nagle on, the body waits for the client's delayed ACK (40 ms).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        """Silence: one line per request would cost more than the request."""

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, value: Any, status: int = 200) -> None:
        self._send(status, json.dumps(value).encode(), "application/x-amz-json-1.1")

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        if url.path == "/stats":
            until = float(query["until_ms"]) if "until_ms" in query else None
            self._json(COUNTER.stats(until))
        elif url.path == "/wait":
            events = COUNTER.wait(int(query.get("count", "0")), float(query.get("timeout", "60")))
            self._json({"events": events})
        else:
            self._json({"error": "unknown path"}, 404)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        if path == "/reset":
            COUNTER.reset()
            self._json({})
            return
        if path == "/v1/logs":
            COUNTER.add("otlp", len(body), _otlp_timestamps(body))
            self._send(200, b"", "application/x-protobuf")
            return
        target = self.headers.get("X-Amz-Target", "")
        operation = target[len(_TARGET_PREFIX) :] if target.startswith(_TARGET_PREFIX) else target
        payload: dict[str, Any] = json.loads(body) if body and operation != "PutLogEvents" else {}
        if operation == "PutLogEvents":
            COUNTER.add_put_log_events(body)
            self._json({"nextSequenceToken": "0"})
        elif operation == "DescribeLogGroups":
            name = payload.get("logGroupNamePrefix") or "group"
            self._json({"logGroups": [{"logGroupName": name}]})
        elif operation == "DescribeLogStreams":
            self._json({"logStreams": []})
        else:  # CreateLogGroup, CreateLogStream, PutRetentionPolicy, TagLogGroup...: accepted as is.
            self._json({})


def serve(port: int = 0) -> None:
    """Serve forever on 127.0.0.1 (only there: the benchmark never leaves the machine)."""
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever(poll_interval=0.5)


if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
