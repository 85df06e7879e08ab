"""The spool's replay: one background thread that sends kept events again, oldest first, once delivery works.

It sends through the exporter's own delivery (its retries, its client, its group and stream creation),
planned by :func:`~otel_cw_exporter.send.planning.plan_requests` so every API limit holds, one request
at a time taken from the exporter's concurrency bound, and deletes events only once CloudWatch stored
them. It starts when the spool holds events at start (a previous run's, a dead process's) or after an
export succeeds while events are kept; while delivery fails it probes with one request, backing off
(``probe_base`` doubling up to ``probe_cap`` seconds), and a successful export wakes it at once.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence

from otel_cw_exporter.encode.event import Event
from otel_cw_exporter.feedback import exporting
from otel_cw_exporter.limits import MAX_REQUEST_BYTES, MAX_REQUEST_EVENTS
from otel_cw_exporter.send.delivery import Delivery, Request
from otel_cw_exporter.send.planning import plan_requests
from otel_cw_exporter.spool.files import spool_files
from otel_cw_exporter.spool.losses import NEVER
from otel_cw_exporter.spool.spool import ADOPT_INTERVAL, Spool, by_destination
from otel_cw_exporter.spool.store import Row, Store
from otel_cw_exporter.telemetry import Telemetry

#: Most events and bytes read from the spool per round (a few requests' worth).
ROUND_EVENTS = MAX_REQUEST_EVENTS
ROUND_BYTES = 4 * MAX_REQUEST_BYTES


class _Round:
    """The :class:`~otel_cw_exporter.send.delivery.Losses` of one round's requests: which of its events
    were not stored, and why (they are kept already: nothing is counted as dropped for a retryable loss)."""

    def __init__(self, spool: Spool) -> None:
        self._spool = spool
        self._lock = threading.Lock()
        self.kept: set[int] = set()
        self.never: list[tuple[list[Event], str]] = []

    def lost(self, group: str, stream: str, events: Sequence[Event], reason: str) -> bool:
        with self._lock:
            if reason in NEVER:
                self.never.append((list(events), reason))
                return False  # counted as dropped under its reason by the delivery
            self.kept.update(id(event) for event in events)
            return True

    def found(self, group: str, stream: str, events: Sequence[Event], reason: str, kept: bool) -> None:
        self._spool.forget(group, stream, events)  # an abandoned request was answered: stored after all


class Replay:
    """Sends the spool's events again from one daemon thread; stopped at shutdown; reset in a forked child."""

    def __init__(
        self,
        spool: Spool,
        delivery: Delivery,
        telemetry: Telemetry,
        *,
        timeout: float,
        probe_base: float = 1.0,
        probe_cap: float = 30.0,
    ) -> None:
        self._spool = spool
        self._delivery = delivery
        self._telemetry = telemetry
        self._timeout = timeout
        self._probe_base = probe_base
        self._probe_cap = probe_cap
        self._rng = random.Random()
        self._reset()

    def _reset(self) -> None:
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._looked = -float("inf")

    def after_fork(self) -> None:
        """A forked child has no replay thread (threads do not survive a fork): one starts when needed."""
        self._reset()

    def wake(self) -> None:
        """Delivery works (an export succeeded): send what is kept now. Cheap when nothing is."""
        thread = self._thread
        if thread is not None:
            self._wake.set()
            return
        if self._spool.has_events():
            self.start()
            return
        self._look()

    def probe_later(self) -> None:
        """Delivery failed and events were kept: start probing, the first probe after a backoff."""
        if self._thread is None and self._spool.has_events():
            self.start(first_pause=self._probe_base)

    def _look(self) -> None:
        now = time.monotonic()
        if now - self._looked >= ADOPT_INTERVAL:  # a process that died meanwhile may have left a file
            self._looked = now
            if self._spool.waiting():
                self.start()

    def start_if_waiting(self) -> None:
        """At start: replay when the directory holds files of earlier runs or dead processes."""
        if spool_files(self._spool.directory):
            self.start()

    def start(self, first_pause: float = 0.0) -> None:
        with self._start_lock:
            if self._thread is not None or self._stop.is_set():
                return
            thread = threading.Thread(target=self._run, args=(first_pause,), name="otel-cw-spool-replay", daemon=True)
            try:
                thread.start()
            except RuntimeError:  # no thread to be had (interpreter exit): the next start replays
                return
            self._thread = thread

    def stop(self, within: float) -> None:
        """End the thread: no round starts after this, and the one in progress is waited for ``within`` s."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, within))

    def _pause(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def _run(self, first_pause: float) -> None:
        failures = 0
        if first_pause:
            self._pause(self._rng.uniform(first_pause / 2, first_pause))
        with exporting():  # our own warnings must not come back as records
            while not self._stop.is_set():
                try:
                    self._spool.adopt()
                    self._spool.expire()
                    found = self._spool.chunk(ROUND_EVENTS, ROUND_BYTES)
                    if found is None:
                        failures = 0
                        self._pause(ADOPT_INTERVAL)
                        continue
                    if self.send(*found):
                        failures = 0
                        continue
                except Exception as error:  # never expected: say so, and try again later
                    self._telemetry.warn("spool-replay", "spool replay failed: %s: %s", type(error).__name__, error)
                failures += 1
                delay = min(self._probe_cap, self._probe_base * 2 ** min(failures - 1, 16))
                self._pause(self._rng.uniform(delay / 2, delay))

    def send(self, store: Store, rows: Sequence[Row]) -> bool:
        """One round: send ``rows`` of ``store``; True when every one of them was stored or given up."""
        kept: Sequence[Row] = rows  # should the round fail midway: all of them (a duplicate, never a loss)
        try:
            ok, kept = self._send(store, rows)
            return ok
        finally:
            self._spool.done(store, rows, kept)

    def _send(self, store: Store, rows: Sequence[Row]) -> tuple[bool, list[Row]]:
        """Whether every row was stored or given up, and the rows kept (neither)."""
        by_event = {id(row.event): row for row in rows}
        round_ = _Round(self._spool)
        requests: list[Request] = []
        now_ms = time.time_ns() // 1_000_000
        for (group, stream), events in by_destination(rows).items():
            plan = plan_requests(events, now_ms)
            for reason, left in plan.left.items():
                self._spool.discard(store, [by_event[id(e)] for e in left], reason, drop_reason=reason)
            requests.extend(Request(group, stream, part, None, round_) for part in plan.requests)
        sent = {id(event) for request in requests for event in request.events}
        self._delivery.send_all(requests, time.monotonic() + self._timeout, background=True)
        never = {id(event) for events, _ in round_.never for event in events}
        stored = [by_event[i] for i in sent if i not in round_.kept and i not in never]
        self._spool.delivered(store, [row.id for row in stored])
        self._telemetry.add("events_replayed", len(stored))
        for events, reason in round_.never:
            self._spool.discard(store, [by_event[id(e)] for e in events], reason, drop_reason=None)
        return not round_.kept, [row for row in rows if id(row.event) in round_.kept]
