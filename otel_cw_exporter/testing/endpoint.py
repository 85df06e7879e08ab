"""A local CloudWatch Logs endpoint for tests and demos: moto's server plus the checks AWS makes.

moto speaks the real HTTP API but does not enforce the request size, the event count, the event size
or the 24-hour span, and reports some rejected events wrongly. :class:`LocalCloudWatchLogs` puts a
small WSGI layer in front of it that does, so a request that would fail on AWS fails here too. It can
also inject faults (throttling, 5xx, slow answers) for tests of retries. moto has no Logs Insights
query definitions: the layer keeps them itself (PutQueryDefinition, DescribeQueryDefinitions,
DeleteQueryDefinition, with the real API's limits and answers).

Needs the ``local`` extra (``pip install 'otel-cw-exporter[local]'``).
"""

from __future__ import annotations

import io
import json
import re
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from otel_cw_exporter.limits import (
    EVENT_OVERHEAD,
    MAX_EVENT_AGE_MS,
    MAX_EVENT_AHEAD_MS,
    MAX_EVENT_BYTES,
    MAX_REQUEST_BYTES,
    MAX_REQUEST_EVENTS,
    MAX_REQUEST_SPAN_MS,
)
from otel_cw_exporter.testing.query_definitions import QUERY_DEFINITION_OPERATIONS, QueryDefinitions

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
_REGION_IN_AUTH = re.compile(r"Credential=[^/]+/\d+/([^/]+)/")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class Call:
    """One API call the endpoint received, as a fault rule sees it."""

    operation: str
    index: int
    """How many calls of this operation came before this one (0 for the first)."""
    payload: dict[str, Any]


@dataclass(frozen=True)
class Fault:
    """What to answer instead of the real thing. ``status=None`` answers normally after ``delay``."""

    code: str | None = "ThrottlingException"
    status: int | None = 400
    message: str = "injected fault"
    delay: float = 0.0
    after_store: bool = False
    """Do the real thing first (the events are stored), then answer with the fault (a 503, say): the
    answer is lost, so a retry stores the same events again."""
    reset_after_store: bool = False
    """Do the real thing first (the events are stored), then drop the connection without an answer, as
    a connection reset after CloudWatch stored a request does: the client cannot know."""


@dataclass(frozen=True)
class PutRecord:
    """A PutLogEvents request the endpoint accepted."""

    group: str
    stream: str
    events: int
    bytes: int


FaultRule = Callable[[Call], "Fault | None"]


class RequestQuota:
    """An account-wide request-rate quota, as CloudWatch enforces PutLogEvents': a :data:`FaultRule`.

    CloudWatch throttles PutLogEvents per account and region (requests per second, raisable in Service
    Quotas; the old limit of 5 per second per stream is gone), so every stream and every process of a
    fleet shares one quota. ``endpoint.inject(RequestQuota(10))`` lets at most 10 calls of ``operation``
    through in each second of ``clock`` (a fixed window of one whole second) and answers the rest with a
    ``ThrottlingException``, as AWS does. Other operations pass untouched. Thread-safe: the endpoint
    serves each request in its own thread.
    """

    def __init__(
        self, per_second: int, operation: str = "PutLogEvents", clock: Callable[[], float] = time.time
    ) -> None:
        if isinstance(per_second, bool) or not isinstance(per_second, int) or per_second < 1:
            raise ValueError(f"per_second must be a whole number of requests, at least 1, not {per_second!r}")
        self.per_second = per_second
        self.operation = operation
        self._clock = clock
        self._lock = threading.Lock()
        self._let_through: dict[int, int] = {}
        self._throttled = 0

    def __call__(self, call: Call) -> Fault | None:
        if call.operation != self.operation:
            return None
        second = int(self._clock())
        with self._lock:
            used = self._let_through.get(second, 0)
            if used >= self.per_second:
                self._throttled += 1
                return Fault("ThrottlingException", 400, "Rate exceeded")
            self._let_through[second] = used + 1
        return None

    @property
    def throttled(self) -> int:
        """Calls answered with ``ThrottlingException``."""
        with self._lock:
            return self._throttled

    @property
    def let_through(self) -> int:
        """Calls let through to be answered normally (one that breaks a limit still fails)."""
        with self._lock:
            return sum(self._let_through.values())

    def per_window(self) -> dict[int, int]:
        """Calls let through in each second that had any (whole seconds of the clock -> count)."""
        with self._lock:
            return dict(self._let_through)


def _answer(start_response: Callable[..., Any], status: int, answer: dict[str, Any]) -> list[bytes]:
    if status >= 400:
        return _error(start_response, status, str(answer["__type"]), str(answer.get("message", "")))
    body = json.dumps(answer).encode()
    start_response(
        "200 OK",
        [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(body)))],
    )
    return [body]


def _error(start_response: Callable[..., Any], status: int, code: str, message: str) -> list[bytes]:
    body = json.dumps({"__type": code, "message": message}).encode()
    start_response(
        f"{status} Error",
        [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("x-amzn-ErrorType", code),
            ("Content-Length", str(len(body))),
        ],
    )
    return [body]


class _AwsRules:
    """The WSGI layer in front of moto: fault injection, the PutLogEvents limits, query definitions."""

    def __init__(self, app: WSGIApp, endpoint: LocalCloudWatchLogs) -> None:
        self._app = app
        self._endpoint = endpoint

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if not target.startswith("Logs_20140328."):
            return self._app(environ, start_response)
        operation = target.partition(".")[2]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            payload = {}
        fault = self._endpoint._fault_for(operation, payload)
        if fault is not None and not fault.after_store:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.reset_after_store:
                b"".join(self._handle(operation, payload, body, environ, _ignore))
                connection = environ.get("werkzeug.socket")
                if connection is not None:
                    connection.shutdown(socket.SHUT_RDWR)
                raise ConnectionResetError("injected: connection reset after the request was handled")
            if fault.status is not None and fault.code is not None:
                return _error(start_response, fault.status, fault.code, fault.message)
        if fault is None or not fault.after_store:
            return self._handle(operation, payload, body, environ, start_response)
        b"".join(self._handle(operation, payload, body, environ, _ignore))  # stored; now the answer is lost
        if fault.delay:
            time.sleep(fault.delay)
        return _error(start_response, fault.status or 500, fault.code or "InternalFailure", fault.message)

    def _handle(
        self,
        operation: str,
        payload: dict[str, Any],
        body: bytes,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
    ) -> Iterable[bytes]:
        region_match = _REGION_IN_AUTH.search(environ.get("HTTP_AUTHORIZATION", ""))
        region = region_match.group(1) if region_match else REGION
        if operation in QUERY_DEFINITION_OPERATIONS:
            status, answer = self._endpoint.query_definitions.handle(operation, payload, region)
            return _answer(start_response, status, answer)
        if operation != "PutLogEvents":
            return self._forward(environ, body, start_response)
        return self._put_log_events(environ, payload, region, start_response)

    def _forward(self, environ: dict[str, Any], body: bytes, start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        return self._app(environ, start_response)

    def _put_log_events(
        self,
        environ: dict[str, Any],
        payload: dict[str, Any],
        region: str,
        start_response: Callable[..., Any],
    ) -> Iterable[bytes]:
        events = payload.get("logEvents") or []
        invalid = _check_limits(events)
        if invalid:
            self._endpoint._count_invalid()
            return _error(start_response, 400, "InvalidParameterException", invalid)
        now = int(time.time() * 1000) + self._endpoint.clock_offset_ms
        retention = self._endpoint._retention_days(payload.get("logGroupName", ""), region)
        rejected: dict[str, int] = {}
        keep = []
        for index, event in enumerate(events):
            stamp = event["timestamp"]
            if stamp < now - MAX_EVENT_AGE_MS:
                rejected["tooOldLogEventEndIndex"] = index
            elif retention and stamp < now - retention * 86_400_000:
                rejected["expiredLogEventEndIndex"] = index
            elif stamp > now + MAX_EVENT_AHEAD_MS:
                rejected.setdefault("tooNewLogEventStartIndex", index)
            else:
                keep.append(event)
        if "tooOldLogEventEndIndex" in rejected and "expiredLogEventEndIndex" in rejected:
            rejected["expiredLogEventEndIndex"] = max(
                rejected["expiredLogEventEndIndex"], rejected["tooOldLogEventEndIndex"]
            )
        if keep and keep[-1]["timestamp"] - keep[0]["timestamp"] > MAX_REQUEST_SPAN_MS:
            self._endpoint._count_invalid()
            return _error(
                start_response,
                400,
                "InvalidParameterException",
                "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.",
            )
        forwarded = dict(payload, logEvents=keep)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
            captured["status"], captured["headers"] = status, headers

        answer = b"".join(self._forward(environ, json.dumps(forwarded).encode(), capture))
        if captured.get("status", "").startswith("200"):
            self._endpoint._record_put(payload, keep)
            response = json.loads(answer or b"{}")
            response.pop("rejectedLogEventsInfo", None)
            if rejected:
                response["rejectedLogEventsInfo"] = rejected
            if payload.get("entity") and self._endpoint.reject_entities:
                response["rejectedEntityInfo"] = {"errorType": "InvalidEntity"}
            answer = json.dumps(response).encode()
        headers = [(k, v) for k, v in captured.get("headers", []) if k.lower() != "content-length"]
        start_response(captured.get("status", "500 Error"), [*headers, ("Content-Length", str(len(answer)))])
        return [answer]


def _ignore(*_: Any) -> None:
    """A WSGI ``start_response`` for an answer that is thrown away."""


def _check_limits(events: list[dict[str, Any]]) -> str | None:
    """The message AWS would answer with, or None when the request is within every limit."""
    if len(events) > MAX_REQUEST_EVENTS:
        return f"1 validation error detected: logEvents has {len(events)} events, more than {MAX_REQUEST_EVENTS}"
    total = 0
    previous = None
    for event in events:
        message = event.get("message", "")
        size = len(message.encode("utf-8", "surrogatepass")) + EVENT_OVERHEAD
        if size > MAX_EVENT_BYTES:
            return f"Log event too large: {size} bytes, the maximum is {MAX_EVENT_BYTES}"
        if not message:
            return "1 validation error detected: message must have length at least 1"
        total += size
        if previous is not None and event["timestamp"] < previous:
            return "Log events in a single PutLogEvents request must be in chronological order."
        previous = event["timestamp"]
    if total > MAX_REQUEST_BYTES:
        return f"Upload too large: {total} bytes exceeds {MAX_REQUEST_BYTES} bytes"
    return None


class LocalCloudWatchLogs:
    """A CloudWatch Logs endpoint on 127.0.0.1 that fails where AWS would. Use as a context manager."""

    def __init__(self, port: int = 0) -> None:
        self._port = port
        self._server: Any = None
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._calls: dict[str, int] = {}
        self.puts: list[PutRecord] = []
        self.invalid_requests = 0
        #: Answer every PutLogEvents that carries an ``entity`` with a ``rejectedEntityInfo``.
        self.reject_entities = False
        #: Milliseconds the endpoint's clock is ahead of this machine's (negative: behind), for clock skew.
        self.clock_offset_ms = 0
        #: The Logs Insights query definitions (moto has none); ``page_size`` makes pages short.
        self.query_definitions = QueryDefinitions()

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> LocalCloudWatchLogs:
        """Listen on 127.0.0.1 (the port given, or a free one for 0) and serve in a thread.

        The socket is bound here, in the caller's thread, so a port already in use raises ``OSError``
        here (werkzeug would print to stderr and end its thread, leaving the caller waiting).
        """
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as error:  # pragma: no cover - exercised by the CLI's message
            raise RuntimeError(
                "the local CloudWatch Logs endpoint needs moto's server: pip install 'otel-cw-exporter[local]'"
            ) from error

        endpoint = self
        listener = socket.create_server(("127.0.0.1", self._port), backlog=128)
        failed: list[BaseException] = []

        class _Server(ThreadedMotoServer):
            def _server_entry(self) -> None:
                from moto.moto_server.werkzeug_app import (
                    DomainDispatcherApplication,
                    MotoRequestHandler,
                    create_backend_app,
                )
                from werkzeug.serving import make_server

                class _QuietHandler(MotoRequestHandler):
                    # One access-log line per request would, in a process that bridges the root
                    # logger to OTel, become a record to export: a request, a line, a request...
                    def log_request(self, *args: Any, **kwargs: Any) -> None:
                        pass

                app = _AwsRules(DomainDispatcherApplication(create_backend_app), endpoint)
                try:
                    self._server = make_server(
                        self._ip_address,
                        listener.getsockname()[1],
                        app,
                        True,
                        request_handler=_QuietHandler,
                        fd=listener.fileno(),
                    )
                except BaseException as error:  # the caller raises it: never a silent wait
                    failed.append(error)
                    self._server_ready_event.set()
                    return
                finally:
                    listener.close()  # make_server serves a duplicate of it
                self._server_ready_event.set()
                self._server.serve_forever()

        server = _Server(ip_address="127.0.0.1", port=self._port, verbose=False)
        server.start()
        if failed:
            raise failed[0]
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> LocalCloudWatchLogs:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        host, port = self._server.get_host_and_port()
        return f"http://{host}:{port}"

    @property
    def environ(self) -> dict[str, str]:
        """Variables that point boto3 (and so the exporter) at this endpoint."""
        return {
            "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": self.url,
            "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
        }

    def client(self, **config: Any) -> Any:
        """A boto3 CloudWatch Logs client for this endpoint; ``config`` goes to botocore's Config."""
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "logs",
            endpoint_url=self.url,
            region_name=REGION,
            config=Config(**config) if config else None,
            aws_access_key_id=CREDENTIALS["aws_access_key_id"],
            aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],
        )

    def reset(self) -> None:
        """Forget every group, stream, event, query definition, fault and counter."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass
        with self._lock:
            self._rules.clear()
            self._calls.clear()
            self.puts.clear()
            self.invalid_requests = 0
            self.reject_entities = False
            self.clock_offset_ms = 0
        self.query_definitions.clear()

    # -- faults -------------------------------------------------------------------------------------

    def inject(self, rule: FaultRule) -> None:
        """Add a rule: each call is offered to the rules in order; the first Fault returned is used."""
        with self._lock:
            self._rules.append(rule)

    def clear_faults(self) -> None:
        with self._lock:
            self._rules.clear()

    def calls(self, operation: str) -> int:
        """How many calls of ``operation`` arrived (faulted ones included)."""
        with self._lock:
            return self._calls.get(operation, 0)

    def _fault_for(self, operation: str, payload: dict[str, Any]) -> Fault | None:
        with self._lock:
            index = self._calls.get(operation, 0)
            self._calls[operation] = index + 1
            rules = list(self._rules)
        call = Call(operation, index, payload)
        for rule in rules:
            fault = rule(call)
            if fault is not None:
                return fault
        return None

    def _record_put(self, payload: dict[str, Any], kept: list[dict[str, Any]]) -> None:
        size = sum(len(e["message"].encode("utf-8", "surrogatepass")) + EVENT_OVERHEAD for e in kept)
        with self._lock:
            self.puts.append(
                PutRecord(payload.get("logGroupName", ""), payload.get("logStreamName", ""), len(kept), size)
            )

    def _count_invalid(self) -> None:
        with self._lock:
            self.invalid_requests += 1

    @staticmethod
    def _retention_days(group: str, region: str) -> int | None:
        from moto.logs.models import logs_backends

        found = logs_backends[ACCOUNT_ID][region].groups.get(group)
        return getattr(found, "retention_in_days", None) if found is not None else None

    # -- reading back -------------------------------------------------------------------------------

    def raw_events(self, group: str, stream: str | None = None) -> list[dict[str, Any]]:
        """Stored events as CloudWatch returns them (timestamp, message, ingestionTime, logStream)."""
        client = self.client()
        if stream is None:
            paginator = client.get_paginator("describe_log_streams")
            streams = [
                s["logStreamName"] for page in paginator.paginate(logGroupName=group) for s in page["logStreams"]
            ]
        else:
            streams = [stream]
        found: list[dict[str, Any]] = []
        for name in streams:
            for event in _stream_events(client, group, name):
                found.append(dict(event, logStream=name))
        found.sort(key=lambda event: event["timestamp"])
        return found

    def events(self, group: str, stream: str | None = None) -> list[dict[str, Any]]:
        """Stored events with their JSON message parsed, plus Insights' ``@`` fields."""
        parsed = []
        for event in self.raw_events(group, stream):
            message = json.loads(event["message"])
            parsed.append(
                {
                    **message,
                    "@timestamp": event["timestamp"],
                    "@message": event["message"],
                    "@logStream": event["logStream"],
                    "@log": group,
                }
            )
        return parsed

    def rewrite_events(
        self,
        group: str,
        stream: str,
        edit: Callable[[list[tuple[int, str]]], list[tuple[int, str]]],
        region: str = REGION,
    ) -> None:
        """Replace a stream's stored events by ``edit``'s answer to them (``(timestamp ms, message)`` pairs,
        in stored order): delete, change or insert events as someone with write access to the store
        could, for tests of what an integrity trail proves. CloudWatch itself has no such call."""
        from moto.logs.models import LogEvent, logs_backends

        found = logs_backends[ACCOUNT_ID][region].groups[group].streams[stream]
        with self._lock:
            ingestion = {event.message: event.ingestion_time for event in found.events}
            now = int(time.time() * 1000)
            found.events = [
                LogEvent(ingestion.get(message, now), {"timestamp": timestamp, "message": message})
                for timestamp, message in edit([(event.timestamp, event.message) for event in found.events])
            ]

    def streams(self, group: str) -> list[str]:
        paginator = self.client().get_paginator("describe_log_streams")
        return [s["logStreamName"] for page in paginator.paginate(logGroupName=group) for s in page["logStreams"]]


def _stream_events(client: Any, group: str, stream: str) -> Iterator[dict[str, Any]]:
    token = None
    while True:
        kwargs: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
        if token:
            kwargs["nextToken"] = token
        page = client.get_log_events(**kwargs)
        yield from page["events"]
        if not page["events"] or page.get("nextForwardToken") == token:
            return
        token = page.get("nextForwardToken")
