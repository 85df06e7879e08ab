"""Counts the records the SDK's batch processor drops before our exporter sees them.

``BatchLogRecordProcessor`` holds at most ``max_queue_size`` records (2,048 by default). A burst beyond
that while an export runs is dropped in ``emit``, and the SDK says so only in a warning on its own logger
(``Queue full, dropping Log.``, at most once per 20 s). In the usual setup that warning reaches no one:
the root logger's only handler is the OTel bridge, which refuses the SDK's own records, and a
``dictConfig`` disables the SDK's logger anyway. Thousands of audit events then vanish without a word.
So do the records logged after the processor shut down (``Shutdown called, ignoring Log.``, at INFO):
a server's threads still logging after SIGTERM, an ``atexit`` handler.

So the processor that feeds one of our exporters gets its metrics object wrapped: the SDK calls its
``drop_items`` for every record it drops, whatever logging is set to, and the wrapper tells the exporter
(which counts them, warns, and announces them in the integrity trail). The wrapper goes on the processor
when the exporter first sees it: at its first ``export`` (the processor is the caller) or, for a drop
before that, at the processor's line (a logging filter: the line comes just before ``drop_items``), and
at once where we build the processor (``setup()``). These are the SDK's private attributes: when they
are not there, nothing is wrapped and nothing breaks.
"""

from __future__ import annotations

import logging
import sys
import threading
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Any

from otel_cw_exporter import feedback

#: The logger the SDK's BatchProcessor warns on.
SDK_LOGGER = "opentelemetry.sdk._shared_internal"
#: The SDK's names for a drop (``drop_items``' ``error_type``): the queue was full (the default), or the
#: processor had shut down.
QUEUE_FULL = "queue_full"
AFTER_SHUTDOWN = "already_shutdown"
#: The SDK's lines just before those drops (``record.msg``; the argument is "Log").
_LINES = ("Queue full, dropping %s.", "Shutdown called, ignoring %s.")
#: How far up the stack the warning's filter looks for the processor's ``emit``.
_FRAMES = 12

#: What each exporter of ours is told: ``(exporter, records dropped, error_type, the queue's size or None)``.
OnDrop = Callable[[Any, int, str, "int | None"], None]
_exporters: weakref.WeakKeyDictionary[Any, OnDrop] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


class _CountingMetrics:
    """The processor's metrics object, telling our exporter of its drops first."""

    def __init__(self, inner: Any, processor: Any) -> None:
        self._inner = inner
        self._processor = weakref.ref(processor)

    def drop_items(self, count: int, error_type: str = QUEUE_FULL) -> None:
        try:
            _tell(self._processor(), count, error_type)
        except Exception:  # called inside the application's logging call: it never sees our trouble
            logging.getLogger(__name__).debug("could not count the SDK's drop", exc_info=True)
        finally:
            self._inner.drop_items(count, error_type)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _registered(exporter: Any) -> OnDrop | None:
    try:
        return _exporters.get(exporter) if exporter is not None else None
    except TypeError:  # not weakly referenceable, or not hashable: not ours
        return None


def _told(exporter: Any) -> tuple[Any, OnDrop] | None:
    """Which exporter of ours hears of ``exporter``'s drops, and how: itself, or the one a wrapper holds as
    ``exporter`` (zero-code's ``ZeroCodeLogRecordExporter``); any other object: None."""
    try:
        inner = getattr(exporter, "exporter", None) if exporter is not None else None
    except Exception:  # someone else's exporter, whose attribute raised: not ours
        inner = None
    for candidate in (exporter, inner):
        on_drop = _registered(candidate)
        if on_drop is not None:
            return candidate, on_drop
    return None


def _tell(processor: Any, count: int, error_type: str) -> None:
    told = _told(getattr(processor, "_exporter", None))
    if told is not None:
        size = getattr(processor, "_max_queue_size", None)
        told[1](told[0], count, error_type, size if isinstance(size, int) else None)


def watch(exporter: Any, on_drop: OnDrop) -> None:
    """Tell ``exporter`` (held weakly; ``on_drop`` must not hold it) of every record its processor drops."""
    sdk_logger = logging.getLogger(SDK_LOGGER)  # before our lock: logging takes its own
    with _lock:
        _exporters[exporter] = on_drop
        if not any(isinstance(existing, _OnDropLine) for existing in sdk_logger.filters):
            # First: the SDK's own DuplicateFilter stops every repeat of a line within 20 s.
            sdk_logger.filters.insert(0, _OnDropLine())


def attach(processor: Any) -> bool:
    """Wrap the metrics of ``processor`` (a ``BatchLogRecordProcessor`` or the SDK's ``BatchProcessor``
    inside it) when it feeds one of our exporters; True when it is wrapped (now or before)."""
    processor = getattr(processor, "_batch_processor", processor)
    if _told(getattr(processor, "_exporter", None)) is None:
        return False
    with _lock:
        metrics = getattr(processor, "_metrics", None)
        if isinstance(metrics, _CountingMetrics):
            return True
        if metrics is None or not callable(getattr(metrics, "drop_items", None)):
            return False
        processor._metrics = _CountingMetrics(metrics, processor)
        return True


def _sdk_self(frame: FrameType) -> Any:
    """The ``self`` of a frame of the SDK's code, else None. Only the SDK's frames are read: on Python
    before 3.13 reading ``f_locals`` keeps a copy of the frame's locals until the frame ends, and an
    application's frame (a test's, a main loop's) can live long after the objects it named."""
    module = frame.f_globals.get("__name__")
    if not isinstance(module, str) or not module.startswith("opentelemetry.sdk."):
        return None
    return frame.f_locals.get("self")


def attach_caller(frame: FrameType | None) -> bool:
    """From inside ``export`` or ``shutdown``: wrap the processor that called it (``frame`` is the
    caller's; a wrapper's frame or two between are passed over)."""
    for _ in range(3):
        if frame is None:
            return False
        if attach(_sdk_self(frame)):
            return True
        frame = frame.f_back
    return False


class _OnDropLine(logging.Filter):
    """On the SDK's logger: at a line saying a record is dropped, wrap the processor that says it (it
    drops just after); lets every record through unchanged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg in _LINES and record.args == ("Log",):
            try:
                # The line goes to the root logger's handlers next: an OTel bridge there must refuse
                # it (a bridge added since the last export has no filter yet), or the SDK's bridge,
                # warning of recursion on it, can recurse until RecursionError.
                feedback.guard_bridges()
                frame: FrameType | None = sys._getframe(1)
                for _ in range(_FRAMES):
                    if frame is None:
                        break
                    if frame.f_code.co_name == "emit" and attach(_sdk_self(frame)):
                        break
                    frame = frame.f_back
            except Exception:  # inside the application's logging call: it never sees our trouble
                logging.getLogger(__name__).debug("could not find the SDK's processor", exc_info=True)
        return True
