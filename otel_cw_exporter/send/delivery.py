"""Send planned requests to CloudWatch Logs: retries under a deadline, streams and groups, concurrency.

This is the only module that does network I/O or starts threads.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from otel_cw_exporter.encode.event import Event
from otel_cw_exporter.feedback import exporting
from otel_cw_exporter.send.client import register_body_hook, sending_body
from otel_cw_exporter.send.groups import GroupSettings
from otel_cw_exporter.send.retry import HINTS, Backoff, Verdict, classify, error_code
from otel_cw_exporter.send.wire import PLACEHOLDER_EVENTS, put_log_events_body
from otel_cw_exporter.telemetry import Telemetry

_logger = logging.getLogger("otel_cw_exporter")


def _create_verdict(error: BaseException) -> Verdict:
    """How to treat a failed CreateLogStream/CreateLogGroup: a bad name or a missing group is final."""
    verdict = classify(error)
    return Verdict.FATAL if verdict in (Verdict.INVALID, Verdict.MISSING) else verdict


@dataclass
class Request:
    group: str
    stream: str
    events: list[Event]
    entity: dict[str, Any] | None = None


class Delivery:
    """Delivers requests; safe to call from several threads; reset in a forked child."""

    def __init__(
        self,
        client_factory: Callable[[], Any],
        telemetry: Telemetry,
        *,
        create_log_group: bool,
        create_log_stream: bool,
        group_settings: GroupSettings | None = None,
        max_concurrency: int = 4,
        backoff: Backoff | None = None,
    ) -> None:
        self._client_factory = client_factory
        self._telemetry = telemetry
        self._create_group = create_log_group
        self._create_stream = create_log_stream
        self._group_settings = group_settings or GroupSettings()
        self._max_concurrency = max(1, max_concurrency)
        self._backoff = backoff or Backoff()
        self._client: Any = None
        self._client_pid = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._cutoff = math.inf
        self._struggling = False
        self._in_flight = 0
        self._idle = threading.Condition(self._lock)

    # -- lifecycle ----------------------------------------------------------------------------------

    def client(self) -> Any:
        """The boto3 client of this process, built on first use (never shared across a fork)."""
        pid = os.getpid()
        client = self._client
        if client is not None and self._client_pid == pid:
            return client
        with self._lock:
            if self._client is None or self._client_pid != pid:
                client = self._client_factory()
                register_body_hook(client)
                self._client = client
                self._client_pid = pid
            return self._client

    def after_fork(self) -> None:
        """In a forked child: new locks, no in-flight work, and a new client on first use."""
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._in_flight = 0
        self._client = None
        self._stop = threading.Event()
        self._cutoff = math.inf
        self._struggling = False

    def stop(self, within: float = 0.0) -> None:
        """End every backoff sleep now; no attempt starts after ``within`` seconds from now."""
        self._cutoff = time.monotonic() + max(0.0, within)
        self._stop.set()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is in flight (True) or ``timeout`` seconds pass (False)."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self._idle:
            while self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    # -- sending ------------------------------------------------------------------------------------

    def send_all(self, requests: Sequence[Request], deadline: float) -> bool:
        """Send every request, concurrently up to the bound; True when none failed.

        No attempt starts after ``deadline``; one that started before it ends within the client's
        connect and read timeouts (for the client we build: a quarter and a half of ``timeout``).
        """
        if not requests:
            return True
        with self._busy():
            workers = min(len(requests), self._max_concurrency)
            if workers == 1:
                results = [self._deliver(request, deadline) for request in requests]  # every one, no short cut
                return all(results)
            return self._send_concurrently(requests, deadline, workers)

    @contextmanager
    def _busy(self) -> Iterator[None]:
        """Counts as in flight for :meth:`wait_idle` (shutdown and flush wait for it)."""
        with self._lock:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def _send_concurrently(self, requests: Sequence[Request], deadline: float, workers: int) -> bool:
        pending = list(reversed(requests))
        results: list[bool] = []
        take = threading.Lock()

        def work() -> None:
            while True:
                with take:
                    if not pending:
                        return
                    request = pending.pop()
                ok = self._deliver(request, deadline)
                with take:
                    results.append(ok)

        def helper() -> None:
            with exporting(), self._busy():
                work()

        threads = [threading.Thread(target=helper, name="otel-cw-sender", daemon=True) for _ in range(workers - 1)]
        for thread in threads:
            thread.start()
        work()
        for thread in threads:  # each ends within one attempt after the deadline; shutdown waits for it
            thread.join(max(0.0, deadline - time.monotonic()) + 1.0)
        return len(results) == len(requests) and all(results)

    def _deliver(self, request: Request, deadline: float) -> bool:
        """One request, split when CloudWatch says some events are invalid; True when all settled.

        Halving isolates each bad event in at most 2n - 1 calls; the deadline bounds it in time, and
        what it leaves unsent then is counted as ``retry_budget``, not as rejected.
        """
        parts = [request.events]
        ok = True
        where = f" in {request.group}/{request.stream}"
        while parts:
            events = parts.pop()
            verdict = self._put_with_retries(request, events, deadline)
            if verdict is None:
                continue
            if verdict is Verdict.INVALID:
                if len(events) > 1:
                    half = len(events) // 2
                    parts.extend((events[half:], events[:half]))
                else:
                    self._telemetry.drop("rejected", 1, where)
                continue
            ok = False
            reason = "non_retryable" if verdict is Verdict.FATAL else "retry_budget"
            self._telemetry.drop(reason, len(events) + sum(map(len, parts)), where)
            parts.clear()
        return ok

    def _put_with_retries(self, request: Request, events: list[Event], deadline: float) -> Verdict | None:
        """Put ``events`` (all or part of ``request``) until stored (None) or a verdict says stop."""
        group, stream = request.group, request.stream
        attempt = 0
        created = False
        while True:
            if time.monotonic() >= min(deadline, self._cutoff):
                return Verdict.RETRY  # no attempt starts after the export's deadline, or shutdown's
            try:
                response = self._put(request, events)
            except Exception as raised:
                error: BaseException = raised
                verdict = classify(error)
                if verdict is Verdict.MISSING:
                    if created:  # made a moment ago and not visible yet: back off like any transient error
                        verdict = Verdict.RETRY
                    else:
                        outcome, error = self._create_missing(group, stream, error)
                        if outcome is None:
                            created = True
                            continue
                        verdict = outcome
                if verdict is Verdict.FATAL:
                    self._explain(group, stream, error)
                    return Verdict.FATAL
                if verdict is Verdict.INVALID:
                    return verdict
                if verdict is Verdict.THROTTLED:
                    self._telemetry.add("throttles")
                if self._struggling:
                    return verdict  # an earlier export spent its timeout failing: one attempt per request
                delay = self._backoff.delay(attempt)
                attempt += 1
                if self._stop.is_set() or time.monotonic() + delay >= deadline:
                    self._struggling = True
                    self._telemetry.warn(
                        f"giveup:{group}:{stream}",
                        "giving up on %s/%s after %d attempt(s): %s",
                        group,
                        stream,
                        attempt,
                        error_code(error),
                    )
                    return verdict
                self._telemetry.add("retries")
                self._stop.wait(delay)
                continue
            self._struggling = False
            self._count_response(response, len(events))
            return None

    def _put(self, request: Request, events: list[Event]) -> Any:
        """One PutLogEvents call whose body we wrote (see :mod:`wire`); botocore signs and sends it."""
        client = self.client()
        kwargs: dict[str, Any] = {
            "logGroupName": request.group,
            "logStreamName": request.stream,
            "logEvents": list(PLACEHOLDER_EVENTS),
        }
        if request.entity:
            kwargs["entity"] = request.entity
        self._telemetry.add("requests")
        with sending_body(put_log_events_body(request.group, request.stream, events, request.entity)):
            return client.put_log_events(**kwargs)

    def _count_response(self, response: Any, count: int) -> None:
        rejected = response.get("rejectedLogEventsInfo") or {}
        too_new = count - rejected["tooNewLogEventStartIndex"] if "tooNewLogEventStartIndex" in rejected else 0
        too_old = rejected.get("tooOldLogEventEndIndex", -1) + 1
        expired = max(0, rejected.get("expiredLogEventEndIndex", -1) + 1 - too_old)
        self._telemetry.drop("too_new", too_new, " (rejected by CloudWatch)")
        self._telemetry.drop("too_old", too_old, " (rejected by CloudWatch)")
        self._telemetry.drop("expired", expired, " (older than the group's retention)")
        self._telemetry.add("events_sent", count - too_new - too_old - expired)
        if response.get("rejectedEntityInfo"):
            self._telemetry.add("rejected_entities")

    # -- groups and streams -------------------------------------------------------------------------

    def _create_missing(self, group: str, stream: str, error: BaseException) -> tuple[Verdict | None, BaseException]:
        """Create the stream, and the group when allowed and needed.

        None when the put may go again now; else how to treat it (a throttled create is retried
        after a backoff like a throttled put) and the error to report.
        """
        if not self._create_stream:
            return Verdict.FATAL, error
        client = self.client()
        try:
            client.create_log_stream(logGroupName=group, logStreamName=stream)
        except Exception as stream_error:
            code = error_code(stream_error)
            if code == "ResourceAlreadyExistsException":
                return None, error
            if code != "ResourceNotFoundException":
                return _create_verdict(stream_error), stream_error
            if not self._create_group:
                return Verdict.FATAL, stream_error
            verdict, group_error = self._create_log_group(group)
            if verdict is not None:
                return verdict, group_error or stream_error
            try:
                client.create_log_stream(logGroupName=group, logStreamName=stream)
            except Exception as retry_error:
                if error_code(retry_error) != "ResourceAlreadyExistsException":
                    return _create_verdict(retry_error), retry_error
        return None, error

    def _create_log_group(self, group: str) -> tuple[Verdict | None, BaseException | None]:
        """Create the group with its settings; (None, None) when it exists now."""
        client = self.client()
        settings = self._group_settings
        try:
            client.create_log_group(**settings.create_log_group_kwargs(group))
        except Exception as error:
            if error_code(error) == "ResourceAlreadyExistsException":
                return None, None  # someone else made it first: theirs, so its settings are theirs too
            return _create_verdict(error), error
        if settings.retention_days:
            try:
                client.put_retention_policy(logGroupName=group, retentionInDays=settings.retention_days)
            except Exception as error:
                self._telemetry.warn(
                    f"retention:{group}", "could not set retention on %s: %s", group, error_code(error)
                )
        return None, None

    def _explain(self, group: str, stream: str, error: BaseException) -> None:
        code = error_code(error)
        hint = HINTS.get(code, "check the exporter's configuration")
        operation = getattr(error, "operation_name", "")
        if code in ("AccessDeniedException", "AccessDenied") and operation:
            hint = f"grant logs:{operation} on log group {group!r} to this role or user"
        if code == "ResourceNotFoundException" and not self._create_stream:
            hint = "create the log stream, or pass create_log_stream=True"
        self._telemetry.warn(
            f"fatal:{code}:{group}:{stream}",
            "CloudWatch Logs refused events for log group %r, stream %r: %s (%s); %s",
            group,
            stream,
            code,
            str(error)[:300],
            hint,
        )
