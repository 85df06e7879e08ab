"""Which lost events the spool keeps, and which go to the dead-letter file: by the reason they were lost.

Kept for later, what may pass: retryable errors until the export's timeout (throttling, 5xx, timeouts,
connection errors), errors a person fixes without touching the events (access denied, expired or
missing credentials, a missing log group: the names themselves are always valid, the router makes them
so), and events exported after shutdown. To the dead-letter file, what CloudWatch will never take:
refused events, too old, too new, too large, older than the group's retention.
"""

from __future__ import annotations

from collections.abc import Sequence

from otel_cw_exporter.encode.event import Event
from otel_cw_exporter.spool.spool import Spool

#: Drop reasons (:data:`~otel_cw_exporter.telemetry.DROP_REASONS`) whose events the spool keeps.
KEPT = frozenset({"retry_budget", "non_retryable", "shutdown"})
#: Drop reasons whose events CloudWatch will never store: dead-lettered (and still counted as dropped).
NEVER = frozenset({"rejected", "too_old", "too_new", "too_large", "expired"})


class SpoolLosses:
    """The :class:`~otel_cw_exporter.send.delivery.Losses` of an exporter with a spool: fresh events."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool

    def lost(self, group: str, stream: str, events: Sequence[Event], reason: str) -> bool:
        if reason in KEPT:
            return self.spool.keep(group, stream, events, reason)
        if reason in NEVER:
            self.spool.dead_lettered(group, stream, events, reason)
        return False

    def found(self, group: str, stream: str, events: Sequence[Event], reason: str, kept: bool) -> None:
        if kept:
            self.spool.forget(group, stream, events)
