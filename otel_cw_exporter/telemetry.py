"""What the exporter did, as counters anyone can read, OTel metrics, and warnings that cannot flood.

Every event not stored is counted under one reason, and said: at most one warning per reason per
minute, each giving every event dropped since the one before, and, when some were left unsaid by
then, one line at shutdown with the totals.
Records the application logged through our entry points that never reached an exporter (the SDK
refused them, or ``cloudwatch_log`` ran before ``setup()``) belong to no exporter: they are counted for
the whole process (:func:`records_not_exported`) and said the same way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from otel_cw_exporter import alerts

#: Why an event was not stored. Every dropped event is counted under exactly one of these.
DROP_REASONS = (
    "too_old",  # older than 14 days: left out before sending, or rejected by CloudWatch
    "too_new",  # more than 2 hours ahead
    "expired",  # older than the log group's retention (CloudWatch said so)
    "too_large",  # could not be made to fit (never expected: events are truncated first)
    "rejected",  # CloudWatch refused the event itself (InvalidParameter isolated to it)
    "retry_budget",  # retryable errors until the export's timeout ran out
    "non_retryable",  # an error no retry can fix (access denied, missing group, bad credentials)
    "shutdown",  # export called after shutdown, or logged after the LoggerProvider shut down
    "encoding_error",  # the record could not be encoded at all (never expected)
    "spool_evicted",  # kept in the spool, then evicted to the dead-letter file (its size bound, or 14 days old)
    "queue_full",  # the SDK's BatchLogRecordProcessor dropped it before the exporter saw it (its queue was full)
)
#: Why a record the application logged never reached an exporter, counted per process.
PROCESS_REASONS = (
    "emit_error",  # the SDK refused a record our entry points handed it (never expected)
    "no_pipeline",  # cloudwatch_log was called before setup(): nothing to send it to
    "exit_pending",  # cloudwatch_log calls still waiting for their user's token check when the exit's drain ended
)

_process_lock = threading.Lock()
_process_dropped = dict.fromkeys(PROCESS_REASONS, 0)
_process_warned: dict[str, float] = {}
_process_unsaid: dict[str, int] = {}


def lost_before_export(reason: str, amount: int = 1, detail: str = "") -> None:
    """Count records the application logged that never reached an exporter, and say so (once a minute)."""
    now = time.monotonic()
    with _process_lock:
        _process_dropped[reason] += amount
        last = _process_warned.get(reason)
        if last is not None and now - last < 60.0:
            return
        _process_warned[reason] = now
        total = _process_dropped[reason]
    alerts.warn("%d log record(s) not exported since start, reason %s%s", total, reason, detail)


def warn_for_process(key: str, message: str, *args: object) -> None:
    """A warning of no exporter's (a call's mistake, say), once a minute per ``key``; the next one says
    how many were left unsaid meanwhile."""
    now = time.monotonic()
    with _process_lock:
        last = _process_warned.get(key)
        if last is not None and now - last < 60.0:
            _process_unsaid[key] = _process_unsaid.get(key, 0) + 1
            return
        _process_warned[key] = now
        unsaid = _process_unsaid.pop(key, 0)
    if unsaid:
        message += " (and %d more like it in the minute before)"
        args = (*args, unsaid)
    alerts.warn(message, *args)


def records_not_exported() -> Mapping[str, int]:
    """Records logged in this process through our entry points that no exporter ever saw, by reason
    (:data:`PROCESS_REASONS`); only reasons that happened."""
    with _process_lock:
        return MappingProxyType({reason: n for reason, n in _process_dropped.items() if n})


@dataclass(frozen=True)
class ExporterStats:
    """A read-only snapshot of the exporter's counters since it was built (per process)."""

    events_sent: int = 0
    requests: int = 0
    retries: int = 0
    throttles: int = 0
    events_truncated: int = 0
    events_filtered: int = 0
    events_ignored_feedback: int = 0
    rejected_entities: int = 0
    events_spooled: int = 0
    """Events kept in the spool (``spool_dir``) for later instead of dropped."""
    events_replayed: int = 0
    """Spooled events CloudWatch stored when the spool sent them again (also in ``events_sent``)."""
    events_evicted: int = 0
    """Spooled events evicted to the dead-letter file: the spool's size bound, or CloudWatch's 14 days."""
    events_dead_lettered: int = 0
    """Events written to the dead-letter file (evicted, or refused by CloudWatch for good)."""
    spool_bytes: int = 0
    """Bytes of events the spool holds now (gauge)."""
    spool_oldest_age: float = 0.0
    """Seconds since the oldest event the spool holds now was logged (gauge; 0 when empty)."""
    dropped: Mapping[str, int] = field(default_factory=dict)

    @property
    def events_dropped(self) -> int:
        return sum(self.dropped.values())


_COUNTERS = (
    "events_sent",
    "requests",
    "retries",
    "throttles",
    "events_truncated",
    "events_filtered",
    "events_ignored_feedback",
    "rejected_entities",
    "events_spooled",
    "events_replayed",
    "events_evicted",
    "events_dead_lettered",
)
#: The spool's gauges: the name in :class:`ExporterStats` and the OTel metric's unit.
_GAUGES = {"spool_bytes": "By", "spool_oldest_age": "s"}


class Telemetry:
    """Thread-safe counters, mirrored to OTel metrics when a ``MeterProvider`` is given."""

    def __init__(self, meter_provider: Any = None, warn_interval: float = 60.0) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(_COUNTERS, 0)
        self._dropped = dict.fromkeys(DROP_REASONS, 0)
        self._warn_interval = warn_interval
        self._last_warning: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}
        self._unreported: dict[str, int] = {}
        self._instruments: dict[str, Any] = {}
        self._gauges: Callable[[], Mapping[str, float]] | None = None
        if meter_provider is not None:
            meter = meter_provider.get_meter("otel_cw_exporter")
            for name in _COUNTERS:
                self._instruments[name] = meter.create_counter(
                    f"otel_cw_exporter.{name}", unit="1", description=f"CloudWatch exporter: {name}"
                )
            self._instruments["dropped"] = meter.create_counter(
                "otel_cw_exporter.events_dropped", unit="1", description="Events not stored, by reason"
            )
            for name, unit in _GAUGES.items():
                meter.create_observable_gauge(
                    f"otel_cw_exporter.{name}",
                    callbacks=[self._observer(name)],
                    unit=unit,
                    description=f"CloudWatch exporter: {name}",
                )

    def _observer(self, name: str) -> Callable[[Any], Iterable[Any]]:
        from opentelemetry.metrics import Observation

        def observe(_: Any) -> Iterable[Any]:
            gauges = self._gauges
            return [Observation(gauges().get(name, 0))] if gauges is not None else []

        return observe

    def observe(self, gauges: Callable[[], Mapping[str, float]]) -> None:
        """Where the gauges (:data:`_GAUGES`) are read, when the stats or the OTel reader ask."""
        self._gauges = gauges

    def after_fork(self) -> None:
        """A forked child counts its own work from zero ("since construction, in this process")."""
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(_COUNTERS, 0)
        self._dropped = dict.fromkeys(DROP_REASONS, 0)
        self._last_warning = {}
        self._suppressed = {}
        self._unreported = {}

    def add(self, name: str, amount: int = 1) -> None:
        if amount <= 0:
            return
        with self._lock:
            self._counts[name] += amount
        instrument = self._instruments.get(name)
        if instrument is not None:
            instrument.add(amount)

    def drop(self, reason: str, amount: int, detail: str = "") -> None:
        """Count dropped events and say so, at most once per interval per reason, with every event since."""
        if amount <= 0:
            return
        now = time.monotonic()
        with self._lock:
            self._dropped[reason] += amount
            self._unreported[reason] = self._unreported.get(reason, 0) + amount
            last = self._last_warning.get(f"drop:{reason}")
            due = last is None or now - last >= self._warn_interval
            if due:
                self._last_warning[f"drop:{reason}"] = now
                count = self._unreported.pop(reason)
        instrument = self._instruments.get("dropped")
        if instrument is not None:
            instrument.add(amount, {"reason": reason})
        if due:
            alerts.warn("dropped %d CloudWatch event(s), reason %s%s", count, reason, detail)

    def undrop(self, reason: str, amount: int) -> None:
        """Events counted as dropped that were stored after all (an answer that came after the deadline).

        The stats are corrected; the OTel counter, which only goes up, keeps what was dropped at the time.
        """
        with self._lock:
            taken = min(amount, self._dropped[reason])
            self._dropped[reason] -= taken
            if reason in self._unreported:
                self._unreported[reason] = max(0, self._unreported[reason] - taken)

    def final_report(self) -> None:
        """At shutdown, when some drops were not said yet (rate-limited): one line with the true totals."""
        with self._lock:
            dropped = {reason: n for reason, n in self._dropped.items() if n}
            unsaid = any(self._unreported.values())
            self._unreported.clear()
        if dropped and unsaid:
            total = sum(dropped.values())
            parts = ", ".join(f"{n} {reason}" for reason, n in sorted(dropped.items(), key=lambda item: -item[1]))
            alerts.warn("shutting down: %d CloudWatch event(s) were not stored since start (%s)", total, parts)

    def warn(self, key: str, message: str, *args: object) -> None:
        """A warning line, rate-limited per ``key``; suppressed repeats are counted in the next line."""
        now = time.monotonic()
        with self._lock:
            last = self._last_warning.get(key)
            if last is not None and now - last < self._warn_interval:
                self._suppressed[key] = self._suppressed.get(key, 0) + 1
                return
            self._last_warning[key] = now
            repeats = self._suppressed.pop(key, 0)
        if repeats:
            message += " (%d similar warning(s) suppressed)"
            args = (*args, repeats)
        alerts.warn(message, *args)

    def snapshot(self) -> ExporterStats:
        with self._lock:
            counts = dict(self._counts)
            dropped = {reason: n for reason, n in self._dropped.items() if n}
        gauges = self._gauges() if self._gauges is not None else {}
        return ExporterStats(
            **counts,
            spool_bytes=int(gauges.get("spool_bytes", 0)),
            spool_oldest_age=float(gauges.get("spool_oldest_age", 0.0)),
            dropped=MappingProxyType(dropped),
        )
