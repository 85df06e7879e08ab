"""Keep the exporter's own logging (and botocore's, urllib3's) out of what it exports.

When the root logger is bridged to OTel, every log line botocore writes while we send a request would
become a record to send, whose sending writes more lines: a loop. While a thread is exporting we tag
the records those libraries create; the exporter drops tagged records. The lines still reach the
application's other handlers (a console, a file): only the loop is cut.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, set_value

#: The attribute a tagged record carries (stdlib bridges copy record attributes into the OTel record).
MARKER = "otel_cw_exporter.internal"
#: Loggers whose records made while exporting are ours.
PREFIXES = ("botocore", "boto3", "urllib3", "s3transfer", "otel_cw_exporter")

_state = threading.local()
_install_lock = threading.Lock()
_seen_loggers = -1


class _TagWhileExporting(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(_state, "exporting", False):
            setattr(record, MARKER, True)
        return True


_FILTER = _TagWhileExporting()


def install() -> None:
    """Put the tagging filter on every logger of :data:`PREFIXES` (cheap when nothing changed)."""
    global _seen_loggers  # noqa: PLW0603 - a process-wide cache of the logger count
    manager = logging.Logger.manager
    if len(manager.loggerDict) == _seen_loggers:
        return
    with _install_lock:
        loggers = dict(manager.loggerDict)
        for name, logger in loggers.items():
            if isinstance(logger, logging.Logger) and name.startswith(PREFIXES) and _FILTER not in logger.filters:
                logger.addFilter(_FILTER)
        root_ours = logging.getLogger("otel_cw_exporter")
        if _FILTER not in root_ours.filters:
            root_ours.addFilter(_FILTER)
        _seen_loggers = len(loggers)


@contextmanager
def exporting() -> Iterator[None]:
    """Mark this thread as exporting, and tell OTel instrumentations to stay quiet."""
    previous = getattr(_state, "exporting", False)
    _state.exporting = True
    token = attach(set_value(_SUPPRESS_INSTRUMENTATION_KEY, True))
    try:
        yield
    finally:
        detach(token)
        _state.exporting = previous


def exporting_now() -> bool:
    """True on a thread that is exporting right now."""
    return bool(getattr(_state, "exporting", False))


def is_feedback(attributes: Mapping[str, Any] | None) -> bool:
    """True for a record tagged while exporting (the SDK's attribute mapping is read through its dict)."""
    if not attributes:
        return False
    plain: Mapping[str, Any] = getattr(attributes, "_dict", attributes)
    return plain.get(MARKER) is True
