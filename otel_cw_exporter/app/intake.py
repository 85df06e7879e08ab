"""What the application hands to the SDK: values cleaned by our rules first, and never an exception back.

The SDK copies a record's attributes itself: it turns a datetime, an Enum, a set or a dataclass into its
``str()``, and raises on a dict that contains itself, nesting past Python's recursion limit or an object
whose ``__str__`` raises, so the record is lost before any exporter sees it. Every entry point of ours
(:class:`~otel_cw_exporter.OTelHandler`, ``cloudwatch_log``, the loggers of the provider ``setup()``
builds) cleans values with :func:`otel_cw_exporter.encode.jsonsafe.clean` first, so the README's value
rules hold whichever way a record comes in. A record the SDK still refuses is counted
(``emit_error``) and said, never raised into the application.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from opentelemetry._logs import Logger, LogRecord
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.util.types import Attributes

from otel_cw_exporter.encode.jsonsafe import CLEAN_SCALARS, clean, safe_str
from otel_cw_exporter.telemetry import lost_before_export

_STR = {str}


def clean_attributes(attributes: Mapping[Any, Any] | None) -> dict[str, Any] | None:
    """Attributes with every value :func:`clean` and every key text (the very same dict when it already was)."""
    if not attributes:
        return None if attributes is None else {}
    if type(attributes) is dict and set(map(type, attributes)) == _STR:
        cleaned: dict[str, Any] | None = None
        for key, value in attributes.items():
            if type(value) in CLEAN_SCALARS:
                continue
            made = clean(value)
            if made is not value:
                if cleaned is None:
                    cleaned = dict(attributes)
                cleaned[key] = made
        return attributes if cleaned is None else cleaned
    try:
        items = list(attributes.items())
    except Exception:
        return {"attributes": f"<unreadable {type(attributes).__name__}>"}
    return {key if isinstance(key, str) else safe_str(key): clean(value) for key, value in items}


def emit(logger: Logger, **fields: Any) -> bool:
    """``logger.emit(**fields)`` with attributes and body cleaned first; False (counted) when it still failed."""
    try:
        if "attributes" in fields:
            fields["attributes"] = clean_attributes(fields["attributes"])
        if "body" in fields:
            fields["body"] = clean(fields["body"])
        logger.emit(**fields)
    except Exception as error:
        lost_before_export(
            "emit_error", 1, f" (the SDK refused a record: {type(error).__name__}: {safe_str(error)[:200]})"
        )
        return False
    return True


class SafeLogger(Logger):
    """An SDK logger whose ``emit`` cleans values first and never raises (see the module docstring)."""

    def __init__(self, inner: Logger, name: str, version: str | None, schema_url: str | None) -> None:
        super().__init__(name, version, schema_url)
        self._inner = inner

    def emit(self, record: LogRecord | None = None, **fields: Any) -> None:
        if record is None:
            emit(self._inner, **fields)
            return
        try:
            record.attributes = clean_attributes(record.attributes)
            record.body = clean(record.body)
        except Exception:  # a record object that will not be changed: the SDK may still take it
            pass
        try:
            self._inner.emit(record)
        except Exception as error:
            lost_before_export("emit_error", 1, f" (the SDK refused a record: {type(error).__name__})")

    def enabled(self, **kwargs: Any) -> bool:
        try:
            return bool(self._inner.enabled(**kwargs))
        except Exception:
            return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class SafeLoggerProvider(LoggerProvider):
    """The SDK's ``LoggerProvider`` whose loggers are :class:`SafeLogger`: what ``setup()`` builds."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._safe_loggers: dict[tuple[str, str | None, str | None], SafeLogger] = {}
        self._safe_lock = threading.Lock()

    def get_logger(
        self,
        name: str,
        version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes = None,
    ) -> Logger:
        inner = super().get_logger(name, version, schema_url, attributes)
        if attributes is not None:
            return SafeLogger(inner, name, version, schema_url)
        key = (name, version, schema_url)
        found = self._safe_loggers.get(key)
        if found is None or found._inner is not inner:
            with self._safe_lock:
                found = self._safe_loggers[key] = SafeLogger(inner, name, version, schema_url)
        return found
