"""The OTel ``LogRecordExporter``: encode each record, choose its destination, plan, deliver."""

from __future__ import annotations

import atexit
import json
import logging
import os
import sys
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry._logs import get_logger_provider
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.resources import Resource

from otel_cw_exporter import alerts, feedback, sdk_drops
from otel_cw_exporter.config import check_aws_variables, resolve
from otel_cw_exporter.encode.event import Event
from otel_cw_exporter.encode.fast import FastEncoder
from otel_cw_exporter.encode.redaction import Redactor
from otel_cw_exporter.limits import MAX_EVENT_BYTES
from otel_cw_exporter.records import timestamp_ns
from otel_cw_exporter.route.environments import EnvironmentAllowlist
from otel_cw_exporter.route.routes import Route, Router, routes_from_json
from otel_cw_exporter.send.client import client_factory
from otel_cw_exporter.send.delivery import GRACE, Delivery, Losses, Request
from otel_cw_exporter.send.groups import GroupSettings
from otel_cw_exporter.send.planning import plan_requests
from otel_cw_exporter.telemetry import ExporterStats, Telemetry
from otel_cw_exporter.trail.chain import RESERVE
from otel_cw_exporter.trail.writer import Writer

_logger = logging.getLogger("otel_cw_exporter")
#: What a drop warning says of the events planning left out, by reason.
_LEFT_OUT = {
    "too_old": " (older than 14 days)",
    "too_new": " (more than 2 hours ahead)",
    "too_large": "",
}


def _entity(resource: Resource) -> dict[str, Any]:
    """PutLogEvents' ``entity`` for the service described by the resource."""
    attributes = resource.attributes
    environment = attributes.get("deployment.environment.name") or attributes.get("deployment.environment")
    return {
        "keyAttributes": {
            "Type": "Service",
            "Name": str(attributes.get("service.name") or "unknown_service"),
            "Environment": str(environment or "generic:default"),
        },
        "attributes": {"PlatformType": "Generic"},
    }


def _final_words(ref: weakref.ReferenceType[CloudWatchLogRecordExporter]) -> None:
    exporter = ref()
    if exporter is not None and exporter._shutdown:
        exporter._telemetry.final_report()


def _closing_message(timestamp_ms: int, writer: str) -> str:
    """The encoded event a writer's closing record carries (its integrity fields are appended to it)."""
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(timestamp_ms / 1000)) + f".{timestamp_ms % 1000:03d}000Z"
    fields = {
        "timestamp": iso,
        "level": "INFO",
        "message": f"otel-cw-exporter: integrity writer {writer} closed",
        "logger": "otel_cw_exporter",
        "extra": {},
        "resource": {},
    }
    return json.dumps(fields, separators=(",", ":"))


class _Losses:
    """What the exporter does with events that will not be stored: the spool keeps what may pass (then
    nothing is lost yet), and the integrity trail announces the rest in the stream's next event."""

    def __init__(self, writer: Writer | None, spool: Losses | None) -> None:
        self.writer = writer
        self.spool = spool

    def lost(self, group: str, stream: str, events: Sequence[Event], reason: str) -> bool:
        if self.spool is not None and self.spool.lost(group, stream, events, reason):
            return True
        if self.writer is not None:
            self.writer.lost((group, stream), events, reason)
        return False

    def found(self, group: str, stream: str, events: Sequence[Event], reason: str, kept: bool) -> None:
        """Stored after all: out of the spool; an announcement already made stays (the verifier sees
        the events stored anyway)."""
        if self.spool is not None:
            self.spool.found(group, stream, events, reason, kept)


def _flush_global_provider() -> None:
    flush = getattr(get_logger_provider(), "force_flush", None)
    if callable(flush):
        flush()


def _flush_at_multiprocessing_exit(_: object) -> None:
    from multiprocessing.util import Finalize

    Finalize(None, _flush_global_provider, exitpriority=100)


class CloudWatchLogRecordExporter(LogRecordExporter):
    """Ships OTel log records to CloudWatch Logs as JSON events.

    Use it with the SDK's ``BatchLogRecordProcessor``. Nothing touches the network until the first
    export. Options not given as arguments come from ``OTEL_EXPORTER_CLOUDWATCH_LOGS_*`` variables.
    """

    def __init__(
        self,
        *,
        log_group_name: str | None = None,
        log_stream_name: str | None = None,
        client: Any = None,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        create_log_group: bool | None = None,
        create_log_stream: bool | None = None,
        timeout: float | None = None,
        max_concurrency: int | None = None,
        xray_trace_id: bool | None = None,
        routes: Sequence[Route] | str | None = None,
        environments: Sequence[str] | frozenset[str] | set[str] | None = None,
        retention_days: int | None = None,
        tags: Mapping[str, str] | None = None,
        kms_key_id: str | None = None,
        entity: bool | None = None,
        redact_keys: Sequence[str] | frozenset[str] | set[str] | None = None,
        integrity: bool | None = None,
        integrity_key: str | bytes | None = None,
        integrity_key_file: str | None = None,
        spool_dir: str | os.PathLike[str] | None = None,
        spool_max_bytes: int | str | None = None,
        dead_letter_max_bytes: int | str | None = None,
        meter_provider: Any = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        arguments = dict(locals())
        for name in ("self", "client", "meter_provider", "environ", "__class__"):
            arguments.pop(name, None)
        self.config = config = resolve(arguments, environ)
        if client is None:  # the client we build reads boto3's variables: a bad one fails now, not at export
            check_aws_variables(config, os.environ)
        route_list = routes_from_json(config.routes) if isinstance(config.routes, str) else list(config.routes)
        names = (config.source("log_group_name"), config.source("log_stream_name"))
        self._router = Router(config.log_group_name, config.log_stream_name, route_list, sources=names)
        self._allowlist = EnvironmentAllowlist(config.environments) if config.environments else None
        redactor = Redactor() if config.redact_keys is None else Redactor(keys=tuple(config.redact_keys))
        self._writer = Writer(config.integrity_secret()) if config.integrity else None
        self._encoder = FastEncoder(
            xray_trace_id=config.xray_trace_id,
            redactor=redactor,
            max_event_bytes=MAX_EVENT_BYTES - (RESERVE if self._writer is not None else 0),
        )
        self._telemetry = Telemetry(meter_provider)
        self._spool: Any = None  # a Spool when spool_dir is set (imported then only: sqlite3 costs)
        self._replay: Any = None
        losses: Losses | None = None
        if config.spool_dir is not None:
            from otel_cw_exporter.spool.files import prepare
            from otel_cw_exporter.spool.losses import SpoolLosses
            from otel_cw_exporter.spool.spool import Spool

            directory = prepare(config.spool_dir, config.source("spool_dir"))
            self._spool = Spool(
                directory,
                self._telemetry,
                max_bytes=config.spool_max_bytes,
                dead_letter_max_bytes=config.dead_letter_max_bytes,
                on_evicted=self._on_spool_evicted,
            )
            losses = SpoolLosses(self._spool)
        self._losses = _Losses(self._writer, losses)
        sdk_drops.watch(self, type(self)._on_sdk_drop)
        self._processor_found = False
        # Records logged after shutdown are counted then, after the shutdown's line: their totals are
        # said at exit, when some were left unsaid (rate-limited).
        atexit.register(_final_words, weakref.ref(self))
        self._delivery = Delivery(
            client_factory(client, config),
            self._telemetry,
            create_log_group=config.create_log_group,
            create_log_stream=config.create_log_stream,
            group_settings=GroupSettings.of(config),
            max_concurrency=config.max_concurrency,
            losses=self._losses,
        )
        if self._spool is not None:
            from otel_cw_exporter.spool.replay import Replay

            self._replay = Replay(self._spool, self._delivery, self._telemetry, timeout=config.timeout)
            self._replay.start_if_waiting()  # a previous run's events, or a dead process's
        self._entities: dict[int, tuple[Resource, dict[str, Any]]] = {}
        self._shutdown = False
        self._mp_hooked = False
        if hasattr(os, "register_at_fork"):
            ref = weakref.ref(self)

            def _after_fork_in_child() -> None:
                exporter = ref()
                if exporter is not None:
                    exporter._after_fork()

            def _before_fork() -> None:
                exporter = ref()
                if exporter is not None:
                    exporter._before_fork()

            os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)

    def _after_fork(self) -> None:
        self._delivery.after_fork()
        self._telemetry.after_fork()
        if self._writer is not None:  # a forked child is a writer of its own: never the parent's sequence
            self._writer.renew()
        if self._spool is not None:
            self._spool.after_fork()  # the child keeps its own file, never the parent's
            self._replay.after_fork()

    def _on_spool_evicted(self, group: str, stream: str, events: Sequence[Event], reason: str) -> None:
        """Events the spool had kept and evicted or dead-lettered (``spool_evicted``, or CloudWatch's reason
        when a replay was refused): already counted as dropped and written to the dead-letter file; the
        integrity trail announces them in the stream's next event."""
        if self._writer is not None:
            self._writer.lost((group, stream), events, reason)

    def _on_sdk_drop(self, count: int, error_type: str, queue_size: int | None) -> None:
        """Records the SDK's processor dropped before we saw them (its queue was full, or it had shut
        down): counted and said (on the application's thread, inside its logging call; the warning is
        kept out of the pipeline by :func:`alerts.warn`), and a full queue's announced in the trail."""
        if error_type == sdk_drops.AFTER_SHUTDOWN:
            self._telemetry.drop("shutdown", count, " (logged after the LoggerProvider shut down)")
            return
        size = f"of {queue_size} " if queue_size is not None else ""
        self._telemetry.drop(
            "queue_full",
            count,
            f" (the SDK's BatchLogRecordProcessor dropped them: its queue {size}was full while an export ran;"
            " raise OTEL_BLRP_MAX_QUEUE_SIZE or max_queue_size, or the batch size so exports keep up)",
        )
        if self._writer is not None:
            self._writer.lost_unnumbered(None, count, "queue_full")

    def _before_fork(self) -> None:
        self._delivery.before_fork()
        # multiprocessing's children leave through os._exit, skipping atexit (and so the provider's
        # shutdown). Its own after-fork hook runs in the child after it clears finalizers: from
        # there, flush the global provider when the child's work is done.
        mp_util = sys.modules.get("multiprocessing.util")
        if mp_util is not None and not self._mp_hooked:
            self._mp_hooked = True
            mp_util.register_after_fork(self, _flush_at_multiprocessing_exit)

    @property
    def writer_id(self) -> str | None:
        """This process's integrity writer id (``integrity.writer`` in its events); None when integrity is off."""
        return None if self._writer is None else self._writer.id

    @property
    def stats(self) -> ExporterStats:
        """Counters since construction (in this process): sent, retried, dropped by reason..."""
        return self._telemetry.snapshot()

    # -- the LogRecordExporter contract -------------------------------------------------------------

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        """Deliver a batch within ``timeout`` seconds; never raises."""
        if self._shutdown:
            if self._spool is None:
                self._telemetry.drop("shutdown", len(batch), " (export after shutdown)")
                if self._writer is not None:
                    self._writer.lost_unnumbered(None, len(batch), "shutdown")
            else:  # kept for the next start
                with feedback.exporting():
                    for request in self._requests(batch):
                        self._delivery.lose(request, request.events, "shutdown", " (export after shutdown)")
            return LogRecordExportResult.FAILURE
        deadline = time.monotonic() + self.config.timeout
        if not self._processor_found:  # the SDK's processor calls us: count what it drops from now on
            self._processor_found = sdk_drops.attach_caller(sys._getframe(1))
        with feedback.exporting():  # our own error line too must not come back as a record
            try:
                feedback.install()
                requests = self._requests(batch)
                ok = self._delivery.send_all(requests, deadline)
                if self._replay is not None and requests:
                    if ok:
                        self._replay.wake()  # delivery works: send what was kept now
                    else:
                        self._replay.probe_later()  # events were kept: probe, with backoff
            except Exception as error:  # never expected: say so, count nothing twice, never raise
                _logger.debug("otel-cw-exporter: unexpected error while exporting", exc_info=True)
                alerts.warn("unexpected error while exporting: %s: %s", type(error).__name__, error)
                return LogRecordExportResult.FAILURE
        return LogRecordExportResult.SUCCESS if ok else LogRecordExportResult.FAILURE

    def _requests(self, batch: Sequence[ReadableLogRecord]) -> list[Request]:
        telemetry = self._telemetry
        by_destination: dict[tuple[str, str], list[Event]] = {}
        ignored = filtered = truncated = 0
        entity: dict[str, Any] | None = None
        router, encode, allowlist = self._router, self._encoder.encode, self._allowlist
        fixed = router.fixed
        writer = self._writer
        resource: Resource | None = None
        # One destination and no filter: runs of records that share a shape are encoded together.
        runs = self._encoder.chunks(batch, feedback.MARKER) if fixed and allowlist is None else ((None, batch),)
        for made, records in runs:
            if made is not None and fixed:
                if made:
                    resource = records[-1].resource
                    if self.config.entity and entity is None:
                        entity = self._entity_for(records[0].resource)
                events = by_destination.get(fixed)
                if events is None:
                    by_destination[fixed] = events = []
                events.extend(made)
                continue
            for record in records:
                destination: tuple[str, str] | None = None
                try:
                    if feedback.is_feedback(record.log_record.attributes):
                        ignored += 1
                        continue
                    if allowlist is not None and not allowlist.allows(record):
                        filtered += 1
                        continue
                    destination = fixed or router.destination(record, timestamp_ns(record))
                    event = encode(record)
                    if self.config.entity and entity is None:
                        entity = self._entity_for(record.resource)
                except Exception:
                    telemetry.drop("encoding_error", 1)
                    if writer is not None:
                        writer.lost_unnumbered(destination, 1, "encoding_error")
                    continue
                resource = record.resource
                truncated += event.truncated
                events = by_destination.get(destination)
                if events is None:
                    by_destination[destination] = events = []
                events.append(event)
        telemetry.add("events_ignored_feedback", ignored)
        telemetry.add("events_filtered", filtered)
        telemetry.add("events_truncated", truncated)

        now_ms = time.time_ns() // 1_000_000
        requests: list[Request] = []
        attributes: Mapping[str, Any] = resource.attributes if resource is not None else {}
        for (group, stream), encoded in by_destination.items():
            events = encoded if writer is None else writer.stamp((group, stream), encoded, attributes)
            plan = plan_requests(events, now_ms)
            for reason, left in plan.left.items():  # to the dead-letter file too, when there is a spool
                self._delivery.lose(Request(group, stream, left, entity), left, reason, _LEFT_OUT[reason])
            requests.extend(Request(group, stream, part, entity) for part in plan.requests)
        return requests

    def _entity_for(self, resource: Resource | None) -> dict[str, Any] | None:
        if resource is None:
            return None
        cached = self._entities.get(id(resource))
        if cached is None or cached[0] is not resource:
            cached = (resource, _entity(resource))
            self._entities = {id(resource): cached}
        return cached[1]

    def _close_writer(self, within: float) -> None:
        """Write each stream's closing event (its last sequence number), so a cut tail shows."""
        writer = self._writer
        assert writer is not None
        now_ms = time.time_ns() // 1_000_000
        requests = []
        for group, stream in writer.destinations:
            event = writer.close((group, stream), now_ms, _closing_message(now_ms, writer.id))
            if event is not None:
                requests.append(Request(group, stream, [event], None))
        if not requests:
            return
        # An answer may take GRACE past the deadline: the whole shutdown stays within its time.
        deadline = time.monotonic() + max(0.0, min(within - GRACE, self.config.timeout))
        with feedback.exporting():
            try:
                self._delivery.send_all(requests, deadline)
            except Exception as error:  # never expected: say so, never raise from shutdown
                alerts.warn("could not write the integrity trail's closing events: %s: %s", type(error).__name__, error)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Wait for requests still in flight; the processor hands us its queue through ``export``."""
        return self._delivery.wait_idle(timeout_millis / 1000)

    def shutdown(self, timeout_millis: float = 30000) -> None:
        """Refuse new batches, end backoff sleeps now, and wait (bounded) for requests in flight.

        No request starts after ``timeout_millis``; one in progress then ends within the client's timeouts.
        """
        if self._shutdown:
            return
        self._shutdown = True
        if not self._processor_found:  # never exported: records logged after this are counted all the same
            self._processor_found = sdk_drops.attach_caller(sys._getframe(1))
        within = timeout_millis / 1000
        ends = time.monotonic() + within
        if self._writer is not None:
            if self._spool is not None:
                self._spool.defer_bound()  # an eviction after the closing events could not be announced
            self._close_writer(within)
        if self._replay is not None:
            self._replay.stop(0.0)
        self._delivery.stop(ends - time.monotonic())
        self._delivery.wait_idle(ends - time.monotonic())
        if self._replay is not None:
            self._replay.stop(max(0.0, ends - time.monotonic()))
            self._spool.close()  # what it holds is replayed at the next start
        with feedback.exporting():
            self._telemetry.final_report()
