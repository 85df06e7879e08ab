"""Bridge stdlib ``logging`` into OTel: a thin handler of our own.

The SDK's ``LoggingHandler`` is deprecated and ``opentelemetry-instrumentation-logging`` pins an API
version that fights the SDK's; this one is small, keeps both record styles (``extra={"extra": {...}}``
and ``extra={...}``) as attributes, and never feeds the exporter's own logging back into the pipeline.
Values keep the event's rules (a datetime in ISO-8601, an Enum by value, a set as a list, a dataclass as
an object; see :mod:`otel_cw_exporter.app.intake`), and ``log.info({"k": "v"})`` stores the mapping as
JSON, not its repr. It never raises into the application: a record that cannot be taken is counted.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from itertools import filterfalse
from typing import Any

from opentelemetry._logs import Logger, LoggerProvider, SeverityNumber, get_logger_provider
from opentelemetry.context import get_current

from otel_cw_exporter import feedback
from otel_cw_exporter.app import intake
from otel_cw_exporter.encode.jsonsafe import safe_str
from otel_cw_exporter.telemetry import lost_before_export

_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
}
_is_reserved = _RESERVED.__contains__
_TEXT = {"WARNING": "WARN", "CRITICAL": "FATAL"}


#: Severities already worked out, by stdlib level (a handful in any program; bounded all the same).
_SEVERITIES: dict[int, SeverityNumber] = {}


def severity_number(levelno: int) -> SeverityNumber:
    """The OTel severity of a stdlib level: DEBUG=5, INFO=9, WARNING=13, ERROR=17, CRITICAL=21, and between."""
    found = _SEVERITIES.get(levelno) if type(levelno) is int else None
    if found is None:
        found = _severity_number(levelno)
        if type(levelno) is int and len(_SEVERITIES) < 256:
            _SEVERITIES[levelno] = found
    return found


def _severity_number(levelno: int) -> SeverityNumber:
    if levelno <= logging.NOTSET:
        return SeverityNumber.UNSPECIFIED
    for base, first in (
        (logging.CRITICAL, 21),
        (logging.ERROR, 17),
        (logging.WARNING, 13),
        (logging.INFO, 9),
    ):
        if levelno >= base:
            return SeverityNumber(min(first + (levelno - base), first + 3))
    if levelno >= logging.DEBUG:
        return SeverityNumber(min(5 + levelno - logging.DEBUG, 8))
    return SeverityNumber(max(1, min(levelno, 4)))


class OTelHandler(logging.Handler):
    """Send stdlib records to an OTel ``LoggerProvider`` (the global one by default)."""

    def __init__(
        self,
        level: int | str = logging.NOTSET,
        logger_provider: LoggerProvider | None = None,
        *,
        code_attributes: bool = True,
        owns_provider: bool = False,
    ) -> None:
        super().__init__(level)
        self._provider = logger_provider
        self._code = code_attributes
        self._owns_provider = owns_provider
        self._loggers: dict[str, Logger] = {}

    def _logger(self, name: str) -> Logger:
        logger = self._loggers.get(name)
        if logger is None:
            provider = self._provider or get_logger_provider()
            logger = self._loggers[name] = provider.get_logger(name)
        return logger

    def attributes(self, record: logging.LogRecord) -> dict[str, Any]:
        fields = vars(record)
        # The keys the application added (``extra=``), found by a C-level pass over the record's ~22.
        added = list(filterfalse(_is_reserved, fields))
        attributes = {added[0]: fields[added[0]]} if len(added) == 1 else {key: fields[key] for key in added}
        if self._code:
            attributes["code.file.path"] = record.pathname
            attributes["code.function.name"] = record.funcName
            attributes["code.line.number"] = record.lineno
        if record.exc_info and record.exc_info[0] is not None:
            kind, value, tb = record.exc_info
            attributes["exception.type"] = kind.__name__
            attributes["exception.message"] = safe_str(value)
            try:
                attributes["exception.stacktrace"] = "".join(traceback.format_exception(kind, value, tb))
            except Exception:  # an exception whose own __str__ raises
                attributes["exception.stacktrace"] = f"{kind.__name__}: {safe_str(value)}"
        return attributes

    def body(self, record: logging.LogRecord) -> Any:
        """The formatted text; a mapping or list logged as is (``log.info({"k": "v"})``) stays structured."""
        msg = record.msg
        if (
            self.formatter is None
            and not record.args
            and type(msg) is not str
            and isinstance(msg, (Mapping, list, tuple))
        ):
            return msg
        try:
            return self.format(record) if self.formatter else record.getMessage()
        except Exception:  # a message whose __str__ raises, or arguments that do not fit the format
            return f"{safe_str(record.msg)} {safe_str(record.args)}".strip() if record.args else safe_str(record.msg)

    def emit(self, record: logging.LogRecord) -> None:
        if feedback.exporting_now() or feedback.is_otel_own(record):
            # Made by the exporter's own work, or the OTel SDK's own line about this very pipeline ("Queue
            # full, dropping Log."): sending it would loop, or count it among what it says was dropped.
            return
        try:
            logger = self._logger(record.name)
            fields = {
                "timestamp": int(record.created * 1e9),
                "context": get_current(),
                "severity_number": severity_number(record.levelno),
                "severity_text": _TEXT.get(record.levelname, record.levelname),
                "body": self.body(record),
                "attributes": self.attributes(record),
            }
        except Exception as error:  # never expected: our own reading of the record failed
            lost_before_export("emit_error", 1, f" (OTelHandler could not read a record: {type(error).__name__})")
            return
        intake.emit(logger, **fields)

    def flush(self) -> None:
        """Nothing to do: the processor owns the queue (``LoggerProvider.force_flush`` flushes it)."""

    def close(self) -> None:
        """A handler that built its own pipeline shuts it down (delivering what is queued)."""
        if self._owns_provider and self._provider is not None:
            shutdown = getattr(self._provider, "shutdown", None)
            if callable(shutdown):
                shutdown()
        super().close()
