"""Send planned requests to CloudWatch Logs: retries under a deadline, streams and groups, concurrency.

This is the only module that does network I/O or starts threads. Each request of an export runs on a
sender thread while the export waits, so an export returns at its deadline whatever the endpoint does:
a request still waiting for an answer a moment later (``GRACE``) is abandoned, its events counted as
not delivered (and counted as delivered after all if the answer comes later). Once an export has spent its timeout
failing, later requests get one attempt each, none while an earlier attempt has not come back, and,
when attempts time out rather than fail, one per ``timeout``: an endpoint that accepts connections and
never answers costs one ``timeout`` at exit, not one per batch. Senders start one at a time, ``STAGGER``
apart, while requests still wait for one: up to ``max_concurrency`` for a slow endpoint, one for a quick one.

Sender threads stay, idle between exports, until shutdown (or until their exporter, never shut down,
is collected: idle, they hold it weakly): a thread that ends runs OpenSSL's cleanup for it, which holds
a lock of OpenSSL's for a moment; a fork in that moment (a gunicorn or multiprocessing worker started
just after an export) left the lock held in the child, whose first client then waited for it forever.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from otel_cw_exporter.encode.event import Event
from otel_cw_exporter.feedback import exporting
from otel_cw_exporter.send.client import INVALID_RESPONSE_KEY, register_hooks, sending_body
from otel_cw_exporter.send.groups import GroupSettings
from otel_cw_exporter.send.retry import HINTS, Backoff, InvalidResponseError, Verdict, classify, error_code
from otel_cw_exporter.send.wire import PLACEHOLDER_EVENTS, BodyBuffer
from otel_cw_exporter.telemetry import Telemetry

_logger = logging.getLogger("otel_cw_exporter")
#: Seconds an export waits past its deadline for an answer already on its way, before abandoning it:
#: so an export, a flush and an exit take at most ``timeout`` + GRACE, whatever the endpoint does.
GRACE = 1.0
#: Seconds a fork waits at most for a client being built in another thread (see Delivery.before_fork).
FORK_WAIT = 5.0
#: A failed attempt that took this long waited for an answer that did not come (not a quick refusal).
SLOW_FAILURE = 0.5
#: Seconds between starting one more sender while an export's requests still wait for one: a quick
#: endpoint is served by one thread (threads that only take turns on the interpreter cost CPU, about 10%
#: of an export to a local endpoint with four), a slow one by up to ``max_concurrency`` within moments.
STAGGER = 0.05


def _create_verdict(error: BaseException) -> Verdict:
    """How to treat a failed CreateLogStream/CreateLogGroup: a bad name or a missing group is final."""
    verdict = classify(error)
    return Verdict.FATAL if verdict in (Verdict.INVALID, Verdict.MISSING) else verdict


class Losses(Protocol):
    """Who hears of every event that will not be stored, with the events themselves (a spool keeps
    them, the integrity trail announces them), not only their count."""

    def lost(self, group: str, stream: str, events: Sequence[Event], reason: str) -> bool:
        """``events`` will not be stored for ``reason`` (a :data:`~telemetry.DROP_REASONS` name); True
        when they were kept for later (then they are not counted as dropped)."""
        ...

    def found(self, group: str, stream: str, events: Sequence[Event], reason: str, kept: bool) -> None:
        """``events``, reported lost for ``reason`` (and ``kept`` or not), were stored after all."""
        ...


@dataclass
class Request:
    group: str
    stream: str
    events: list[Event]
    entity: dict[str, Any] | None = None
    losses: Losses | None = None
    """Who hears of this request's losses instead of the delivery's own (the spool's replay: its events are
    kept already)."""


class _Job:
    """One request of one export. Its events are counted exactly once: as sent, rejected or dropped by
    its sender thread, or, when the export's time is up first, as dropped by the export itself."""

    __slots__ = ("abandoned", "done", "kept", "lock", "ok", "request", "settled", "unsettled")

    def __init__(self, request: Request) -> None:
        self.request = request
        self.lock = threading.RLock()
        self.unsettled = len(request.events)
        self.settled: list[Sequence[Event]] = []  # the parts the sender counted
        self.abandoned: str | None = None  # the reason its events were counted under, once abandoned
        self.kept = False  # whether the abandoned events were kept for later (see :class:`Losses`)
        self.done = False
        self.ok = True

    def settle(self, events: Sequence[Event]) -> bool:
        """Claim ``events`` for the sender to count; False when the export already counted them."""
        with self.lock:
            if self.abandoned is not None:
                return False
            self.unsettled -= len(events)
            self.settled.append(events)
            return True

    def abandon(self, reason: str) -> list[Event]:
        """The events still unsettled, now the export's to count (none when the job finished first)."""
        with self.lock:
            if self.done or self.abandoned is not None or not self.unsettled:
                return []
            self.abandoned = reason
            self.unsettled = 0
            settled = {id(event) for part in self.settled for event in part}
            return [event for event in self.request.events if id(event) not in settled]


class _Batch:
    """The jobs of one export, taken by its sender threads; closed when the export returns."""

    def __init__(self, jobs: list[_Job], changed: threading.Condition) -> None:
        self.jobs = jobs
        self._pending = list(reversed(jobs))
        self._changed = changed
        self.finished = 0
        self.closed = False

    def waiting(self) -> bool:
        """Whether some job waits for a sender (called under the condition's lock)."""
        return bool(self._pending) and not self.closed

    def take(self) -> _Job | None:
        with self._changed:
            if self.closed or not self._pending:
                return None
            return self._pending.pop()

    def finish(self, job: _Job) -> None:
        with job.lock:
            job.done = True
        with self._changed:
            self.finished += 1
            self._changed.notify_all()


class _Senders:
    """The sender threads' shared state: batches handed to them, how many wait idle, whether to end."""

    def __init__(self) -> None:
        self.work = threading.Condition()
        self.assigned: list[tuple[_Batch, float]] = []  # (batch, deadline), for the next idle sender
        self.idle = 0
        self.closed = False  # shutdown (or the delivery collected): idle senders end, busy ones after their batch

    def hand_over(self, batch: _Batch, deadline: float) -> bool:
        """Give ``batch`` to an idle sender; False when none is idle (the caller starts one)."""
        with self.work:
            self.assigned.append((batch, deadline))
            if self.idle >= len(self.assigned):  # an idle sender for each batch handed out
                self.work.notify()
                return True
            return False

    def take_back(self, batch: _Batch, deadline: float) -> bool:
        """Withdraw ``batch`` when no thread could be started; False when a sender took it already."""
        with self.work:
            if (batch, deadline) in self.assigned:
                self.assigned.remove((batch, deadline))
                return True
            return False

    def next(self) -> tuple[_Batch, float] | None:
        """The next batch for a sender thread, waiting idle for one; None when the thread should end."""
        with self.work:
            while not self.assigned:
                if self.closed:
                    return None
                self.idle += 1
                try:
                    self.work.wait()
                finally:
                    self.idle -= 1
            return self.assigned.pop(0)

    def close(self) -> None:
        with self.work:
            self.closed = True
            self.work.notify_all()


#: Request-body buffers kept idle for the next calls (each as large as the largest body it held, about
#: 1.2 MB for a full request): more calls in flight than this write into new memory.
_KEPT_BODIES = 4


def _sender(ref: weakref.ref[Delivery], senders: _Senders) -> None:
    """A sender thread: the batches handed to it, one after the other, idle in between (holding its
    delivery only weakly), until shutdown or until the delivery is collected."""
    while True:
        assigned = senders.next()
        delivery = ref()
        if assigned is None or delivery is None:
            return
        delivery._send(*assigned)
        del delivery, assigned  # idle, the thread keeps neither the delivery nor the batch alive


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
        losses: Losses | None = None,
        hints: Mapping[str, str] | None = None,
    ) -> None:
        """``hints``: what to do about an error code, said with it, over :data:`HINTS` (a command line
        names its own options)."""
        self._client_factory = client_factory
        self._hints = {**HINTS, **(hints or {})}
        self._telemetry = telemetry
        self._losses = losses
        self._create_group = create_log_group
        self._create_stream = create_log_stream
        self._group_settings = group_settings or GroupSettings()
        self._max_concurrency = max(1, max_concurrency)
        self._backoff = backoff or Backoff()
        self._client: Any = None
        self._client_pid = 0
        self._reset_state()

    def _reset_clients(self) -> None:
        self._client_lock = threading.Lock()
        self._built = threading.Condition()
        self._building = False

    def _reset_state(self) -> None:
        self._reset_clients()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._cutoff = math.inf
        self._struggling = False
        self._in_flight = 0  # export calls in progress (what flush and shutdown wait for)
        self._background = 0  # background sends (the spool's replay) in progress: one sender each
        self._calls = 0  # AWS calls waiting for an answer, abandoned ones included
        self._senders = _Senders()
        self._bodies: list[BodyBuffer] = []  # idle request-body buffers, for the next calls
        # Idle senders hold the delivery weakly: one never shut down is still collected, and its idle
        # senders then end.
        weakref.finalize(self, self._senders.close)
        self._last_call = -math.inf  # when the latest PutLogEvents started
        self._slow_failure = False  # the latest failure took a long wait (no answer), not a quick refusal

    # -- lifecycle ----------------------------------------------------------------------------------

    def client(self) -> Any:
        """The boto3 client of this process, built on first use (never shared across a fork)."""
        pid = os.getpid()
        client = self._client
        if client is not None and self._client_pid == pid:
            return client
        # Built under its own lock, not the delivery's: an export waiting for its deadline never waits
        # for a build (slow on a busy machine: botocore makes SSL contexts).
        with self._client_lock:
            if self._client is None or self._client_pid != pid:
                self._building = True
                try:
                    client = self._client_factory()
                    register_hooks(client)
                finally:
                    with self._built:
                        self._building = False
                        self._built.notify_all()
                self._client = client
                self._client_pid = pid
            return self._client

    def before_fork(self, within: float = FORK_WAIT) -> None:
        """Before a fork: let a client being built finish (bounded). A fork in the middle of it can leave
        OpenSSL's locks held in the child, where the next client then never gets built."""
        deadline = time.monotonic() + within
        with self._built:
            while self._building:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._built.wait(remaining)

    def after_fork(self) -> None:
        """In a forked child: new locks, no in-flight work, and a new client on first use."""
        self._client = None
        self._reset_state()

    def stop(self, within: float = 0.0) -> None:
        """End every backoff sleep now; no attempt starts, and no export waits, after ``within`` seconds."""
        self._cutoff = time.monotonic() + max(0.0, within)
        self._stop.set()
        with self._changed:
            self._changed.notify_all()
        self._senders.close()  # idle senders end now; one still sending ends after its batch

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no export is in progress (True) or ``timeout`` seconds pass (False)."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self._idle:
            while self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    # -- sending ------------------------------------------------------------------------------------

    def send_all(self, requests: Sequence[Request], deadline: float, *, background: bool = False) -> bool:
        """Send every request, concurrently up to the bound; True when every event was settled.

        A ``background`` send (the spool's replay) uses one sender, taken from the bound of the exports
        running meanwhile (which keep at least one): both together stay within ``max_concurrency``.

        Returns by ``deadline`` + :data:`GRACE` (or by shutdown's cutoff, if sooner) whatever the
        endpoint does: no attempt starts after the deadline, and requests still waiting for an answer
        then are abandoned, their events counted as not delivered.
        """
        if not requests:
            return True
        with self._busy():
            if time.monotonic() >= min(deadline, self._cutoff):
                self._drop_all(requests, "retry_budget", " (no time left to send them)")
                return False
            if self._struggling and (
                self._calls or (self._slow_failure and time.monotonic() - self._last_call < deadline - time.monotonic())
            ):
                # The endpoint has not answered an earlier attempt, or its last ones timed out: another
                # would only wait as long. One attempt per export's timeout probes it meanwhile.
                self._drop_all(requests, "retry_budget", " (not sent: the endpoint is not answering)")
                return False
            jobs = [_Job(request) for request in requests]
            batch = _Batch(jobs, self._changed)
            if background:
                with self._lock:
                    self._background += 1
                wanted = 1
            else:
                wanted = min(len(jobs), max(1, self._max_concurrency - self._background))
            try:
                self._start_senders(batch, deadline, 1)
                return self._wait_for(batch, jobs, deadline, wanted)
            finally:
                if background:
                    with self._lock:
                        self._background -= 1

    def _wait_for(self, batch: _Batch, jobs: list[_Job], deadline: float, wanted: int) -> bool:
        """Wait for the batch until the deadline (and GRACE), starting more senders (up to ``wanted``,
        ``STAGGER`` apart) while jobs still wait for one; then what is left is the export's to count."""
        started, next_start = 1, time.monotonic() + STAGGER
        with self._changed:
            while batch.finished < len(jobs):
                # No attempt starts after the deadline; one already waiting for its answer gets a
                # little longer (GRACE), then is abandoned.
                now = time.monotonic()
                ends = min(deadline + GRACE, self._cutoff)
                if now >= ends:
                    break
                if started < wanted and now < deadline and batch.waiting():  # one more sender soon
                    if now >= next_start:
                        started = started + 1 if self._start_sender(batch, deadline) else wanted
                        next_start = now + STAGGER
                        continue
                    ends = min(ends, next_start)
                self._changed.wait(ends - now)
            batch.closed = True
        ok = True
        reason = "retry_budget"  # retryable trouble (or none yet) until the time ran out
        for job in jobs:
            with job.lock:
                left = job.abandon(reason)
                if left:  # under the job's lock: a late answer waits until the loss is recorded
                    job.kept = self.lose(job.request, left, reason, " (no answer before the export's deadline)")
            ok = ok and job.ok and not left
        return ok

    def lose(self, request: Request, events: Sequence[Event], reason: str, detail: str = "") -> bool:
        """Events of ``request`` that will not be stored: kept by :class:`Losses` (True) or counted as dropped."""
        if not events:
            return False
        losses = request.losses or self._losses
        if losses is not None and losses.lost(request.group, request.stream, events, reason):
            return True
        self._telemetry.drop(reason, len(events), f" in {request.group}/{request.stream}{detail}")
        return False

    def _drop_all(self, requests: Sequence[Request], reason: str, detail: str) -> None:
        for request in requests:
            self.lose(request, request.events, reason, detail)

    @contextmanager
    def _busy(self) -> Iterator[None]:
        """Counts as in progress for :meth:`wait_idle` (shutdown and flush wait for it)."""
        with self._lock:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    @contextmanager
    def _calling(self) -> Iterator[None]:
        """Counts an AWS call waiting for its answer (an abandoned one too, until it comes back)."""
        with self._lock:
            self._calls += 1
        try:
            yield
        finally:
            with self._lock:
                self._calls -= 1

    def _start_senders(self, batch: _Batch, deadline: float, count: int) -> None:
        for _ in range(count):
            if not self._start_sender(batch, deadline):  # no thread to be had (interpreter exit, a limit)
                self._send(batch, deadline)  # send from here
                return

    def _start_sender(self, batch: _Batch, deadline: float) -> bool:
        """One more sender for ``batch``: an idle one, else a new thread; False when none is to be had
        (those running go on)."""
        senders = self._senders
        if senders.hand_over(batch, deadline):
            return True
        thread = threading.Thread(target=_sender, args=(weakref.ref(self), senders), name="otel-cw-sender", daemon=True)
        try:
            thread.start()
        except RuntimeError:
            return not senders.take_back(batch, deadline)  # False unless an idle sender took it meanwhile
        return True

    def _send(self, batch: _Batch, deadline: float) -> None:
        with exporting():
            while True:
                job = batch.take()
                if job is None:
                    return
                try:
                    job.ok = self._deliver(job, deadline)
                except BaseException:  # never expected; the job's events must still be counted
                    job.ok = False
                    self.lose(
                        job.request, job.abandon("non_retryable"), "non_retryable", " (unexpected error while sending)"
                    )
                    _logger.debug("otel-cw-exporter: unexpected error while sending", exc_info=True)
                finally:
                    batch.finish(job)

    def _deliver(self, job: _Job, deadline: float) -> bool:
        """One request, split when CloudWatch says some events are invalid; True when all settled.

        Halving isolates each bad event in at most 2n - 1 calls; the deadline bounds it in time, and
        what it leaves unsent then is counted as ``retry_budget``, not as rejected.
        """
        request = job.request
        parts = [request.events]
        ok = True
        while parts:
            events = parts.pop()
            verdict, response = self._put_with_retries(request, events, deadline)
            if verdict is None:
                if not job.settle(events):
                    self._found_late(job, events)
                self._count_response(request, events, response)
                continue
            if verdict is Verdict.INVALID:
                if len(events) > 1:
                    half = len(events) // 2
                    parts.extend((events[half:], events[:half]))
                elif job.settle(events):
                    self.lose(request, events, "rejected")
                continue
            ok = False
            reason = "non_retryable" if verdict is Verdict.FATAL else "retry_budget"
            left = [event for part in (events, *reversed(parts)) for event in part]
            if job.settle(left):
                self.lose(request, left, reason)
            parts.clear()
        return ok

    def _found_late(self, job: _Job, events: Sequence[Event]) -> None:
        """The answer for events the export already counted as not delivered came after all."""
        with job.lock:  # the export records the loss under this lock: it is recorded by now
            reason, kept = job.abandoned, job.kept
        if reason is None:
            return
        losses = job.request.losses or self._losses
        if kept and losses is not None:
            losses.found(job.request.group, job.request.stream, events, reason, kept)
            return
        self._telemetry.undrop(reason, len(events))
        if losses is not None:
            losses.found(job.request.group, job.request.stream, events, reason, kept)

    def _put_with_retries(self, request: Request, events: list[Event], deadline: float) -> tuple[Verdict | None, Any]:
        """Put ``events`` (all or part of ``request``) until stored (None and the answer) or a verdict says stop."""
        group, stream = request.group, request.stream
        attempt = 0
        created = False
        while True:
            if time.monotonic() >= min(deadline, self._cutoff):
                return Verdict.RETRY, None  # no attempt starts after the export's deadline, or shutdown's
            started = time.monotonic()
            try:
                response = self._put(request, events, deadline)
                if response is None:  # the client took until the deadline to build: no attempt now
                    return Verdict.RETRY, None
            except Exception as raised:
                error: BaseException = raised
                verdict = classify(error)
                self._slow_failure = time.monotonic() - started >= SLOW_FAILURE
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
                    return Verdict.FATAL, None
                if verdict is Verdict.INVALID:
                    return verdict, None
                if verdict is Verdict.THROTTLED:
                    self._telemetry.add("throttles")
                if isinstance(error, InvalidResponseError):
                    self._telemetry.warn(f"invalid-response:{group}", "%s; check endpoint_url and any proxy", error)
                if self._struggling:
                    return verdict, None  # an earlier export spent its timeout failing: one attempt per request
                delay = self._backoff.delay(attempt)
                attempt += 1
                if self._stop.is_set() or time.monotonic() + delay >= min(deadline, self._cutoff):
                    self._struggling = True
                    self._telemetry.warn(
                        f"giveup:{group}:{stream}",
                        "stopped retrying %s/%s after %d attempt(s), the last %s: %s"
                        " (what was not stored is said next: kept in the spool, or dropped)",
                        group,
                        stream,
                        attempt,
                        error_code(error),
                        "shutting down" if self._stop.is_set() else "the export's time is up",
                    )
                    return verdict, None
                self._telemetry.add("retries")
                self._stop.wait(delay)
                continue
            self._struggling = False
            return None, response

    def _put(self, request: Request, events: list[Event], deadline: float = math.inf) -> Any:
        """One PutLogEvents call whose body we wrote (see :mod:`wire`); botocore signs and sends it.

        None, and no call, when building the client (its first use; a second or more on a busy machine)
        took until ``deadline`` or shutdown's cutoff: no attempt starts after them.
        """
        client = self.client()
        if time.monotonic() >= min(deadline, self._cutoff):
            return None
        kwargs: dict[str, Any] = {
            "logGroupName": request.group,
            "logStreamName": request.stream,
            "logEvents": list(PLACEHOLDER_EVENTS),
        }
        if request.entity:
            kwargs["entity"] = request.entity
        self._telemetry.add("requests")
        self._last_call = time.monotonic()
        bodies = self._bodies
        try:
            buffer = bodies.pop()  # list.pop and append are atomic: no lock for the pool
        except IndexError:
            buffer = BodyBuffer()
        try:
            with sending_body(buffer.write(request.group, request.stream, events, request.entity)), self._calling():
                response = client.put_log_events(**kwargs)
        finally:
            if len(bodies) < _KEPT_BODIES:
                bodies.append(buffer)
        problem = response.get(INVALID_RESPONSE_KEY)
        if problem:
            raise InvalidResponseError(str(problem))
        return response

    def _count_response(self, request: Request, events: Sequence[Event], response: Any) -> None:
        count = len(events)
        rejected = response.get("rejectedLogEventsInfo") or {}
        if not rejected:
            self._telemetry.add("events_sent", count)
        else:
            new_from = min(count, max(0, rejected.get("tooNewLogEventStartIndex", count)))
            old_to = min(new_from, max(0, rejected.get("tooOldLogEventEndIndex", -1) + 1))
            expired_to = min(new_from, max(old_to, rejected.get("expiredLogEventEndIndex", -1) + 1))
            self.lose(request, events[new_from:], "too_new", " (rejected by CloudWatch)")
            self.lose(request, events[:old_to], "too_old", " (rejected by CloudWatch)")
            self.lose(request, events[old_to:expired_to], "expired", " (older than the group's retention)")
            self._telemetry.add("events_sent", count - (count - new_from) - expired_to)
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
            with self._calling():
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
                with self._calling():
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
            with self._calling():
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
        hint = self._hints.get(code, "check the exporter's configuration")
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
