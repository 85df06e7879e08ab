"""Keep the exporter's own logging (and botocore's, urllib3's) out of what it exports.

When the root logger is bridged to OTel, every log line botocore writes while we send a request would
become a record to send, whose sending writes more lines: a loop. While a thread is exporting we tag
the records those libraries create. The OTel bridge handlers on the root logger (ours,
opentelemetry-instrumentation-logging's, the SDK's) get a filter that refuses tagged records, so they
never enter the OTel pipeline, and the exporter drops any that another bridge forwarded. The lines
still reach the application's other handlers (a console, a file): only the loop is cut.

Refusing them at the handler also keeps the exit quiet: the last export runs after the SDK's processor
has shut down, and a botocore line forwarded then made the SDK log "Shutdown called, ignoring Log.",
which re-entered the bridge and made it warn about recursive logging. (When the bridges are the only
handlers, the exporter's own warnings still reach a person: :mod:`otel_cw_exporter.alerts`.)
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY, attach, detach, set_value

#: The attribute a tagged record carries (stdlib bridges copy record attributes into the OTel record).
MARKER = "otel_cw_exporter.internal"
#: Its value, checked by identity (``is``): this very object, made once per process. An application's own
#: data may hold the key (a request's JSON merged into ``extra``), and with a value that compared equal
#: an attacker could make the exporter take their own audit event for its logging and drop it. A copy of
#: the text (a formatter that prints every attribute shows it) is another object, and an attacker's
#: object is never asked to compare itself.
TOKEN = secrets.token_hex(16)
#: Loggers whose records made while exporting are ours.
PREFIXES = ("botocore", "boto3", "urllib3", "s3transfer", "otel_cw_exporter")

_state = threading.local()
_install_lock = threading.Lock()
_seen_loggers = -1


class _TagWhileExporting(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(_state, "exporting", False):
            setattr(record, MARKER, TOKEN)
        return True


_FILTER = _TagWhileExporting()

#: Modules whose handlers forward stdlib records into OTel (checked along a handler class's MRO): the
#: OTel packages' ``LoggingHandler`` and our ``OTelHandler``.
BRIDGE_MODULES = ("opentelemetry.", "otel_cw_exporter.app.stdlib")


def is_bridge(handler: logging.Handler) -> bool:
    """True for a handler that sends records into an OTel pipeline (not a console, file or socket)."""
    return any(cls.__module__.startswith(BRIDGE_MODULES) for cls in type(handler).__mro__)


def is_tagged(record: logging.LogRecord) -> bool:
    """True for a record made by the exporter's own work (tagged, or made on an exporting thread).

    It runs for every record a bridge handles: dict lookups, since ``getattr`` with a default raises
    and catches an ``AttributeError`` for each missing name (about 1 us a record).
    """
    return record.__dict__.get(MARKER) is TOKEN or bool(_state.__dict__.get("exporting"))


def is_otel_own(record: logging.LogRecord) -> bool:
    """A line of the OTel SDK's or instrumentations' own (``opentelemetry.*`` loggers): about the pipeline
    itself ("Queue full, dropping Log.", "detected recursive logging"), never to be sent through it."""
    name = record.name
    return name == "opentelemetry" or name.startswith("opentelemetry.")


class _RefuseTagged(logging.Filter):
    """On a bridge handler: refuse the exporter's own records and OTel's own lines (they still reach every
    other handler). The SDK's bridge warns of recursion on such a line, and a ``dictConfig`` naming the
    ``opentelemetry`` logger sent that warning back into the bridge until ``RecursionError``."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not is_tagged(record) and not is_otel_own(record)


_REFUSE = _RefuseTagged()


def guard_bridges() -> None:
    """Put the refusing filter on the root logger's bridge handlers (a few handlers: cheap at each export)."""
    for handler in logging.getLogger().handlers:
        if _REFUSE not in handler.filters and is_bridge(handler):
            handler.addFilter(_REFUSE)


def install() -> None:
    """Put the tagging filter on every logger of :data:`PREFIXES` (cheap when nothing changed)."""
    global _seen_loggers  # noqa: PLW0603 - a process-wide cache of the logger count
    guard_bridges()
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
    """True on a thread that is exporting right now (a dict lookup: it runs for every bridged record)."""
    return bool(_state.__dict__.get("exporting"))


def is_feedback(attributes: Mapping[str, Any] | None) -> bool:
    """True for a record tagged while exporting (the SDK's attribute mapping is read through its dict)."""
    if not attributes:
        return False
    plain: Mapping[str, Any] = getattr(attributes, "_dict", attributes)
    return plain.get(MARKER) is TOKEN
