"""Records the SDK's batch processor drops because its queue is full, announced in the trail.

The SDK says so only in a warning (``Queue full, dropping ...``) on its own logger, shown once per 20 s
(its DuplicateFilter): a filter placed before that one counts every drop for every live integrity
writer, as a drop of no known stream. It cannot tell whose
processor dropped the record, so with several pipelines in one process each writer announces them all.
"""

from __future__ import annotations

import logging
import threading
import weakref

from otel_cw_exporter.trail.writer import Writer

#: The logger the SDK's BatchProcessor warns on.
SDK_LOGGER = "opentelemetry.sdk._shared_internal"
REASON = "queue_full"

_writers: weakref.WeakSet[Writer] = weakref.WeakSet()
_lock = threading.Lock()


class _QueueFull(logging.Filter):
    """Counts the SDK's queue-full warnings; lets every record through unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "Queue full, dropping %s." and record.args == ("Log",):
            for writer in list(_writers):
                writer.lost_unnumbered(None, 1, REASON)
        return True


def watch(writer: Writer) -> None:
    """Announce the SDK's queue-full drops in ``writer``'s next event, as long as it lives."""
    with _lock:
        _writers.add(writer)
        sdk_logger = logging.getLogger(SDK_LOGGER)
        if not any(isinstance(existing, _QueueFull) for existing in sdk_logger.filters):
            # First: the SDK's own DuplicateFilter stops every repeat of a line within 20 s.
            sdk_logger.filters.insert(0, _QueueFull())
