"""Reading an SDK log record the way the event reads it: its time, level, scope, attributes, environment.

The encoder writes these into the event; routes and name templates match and fill from them. Both read
them here, so a route on ``environment`` and the event's ``extra.environment`` can never disagree. Pure.
"""

from __future__ import annotations

import math
import operator
import time
from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord

#: Resource keys whose value stands in for ``extra.environment`` when the record has none.
ENVIRONMENT_RESOURCE_KEYS = ("deployment.environment.name", "deployment.environment")
#: The nested-attribute style of stdlib logging: ``logger.info(msg, extra={"extra": {...}})``.
NESTED_EXTRA_KEY = "extra"


def level_name(record: ReadableLogRecord) -> str:
    """``severity_text``, else the name of ``severity_number``: what ``filter level = "ERROR"`` reads."""
    log_record = record.log_record
    if log_record.severity_text:
        return log_record.severity_text
    if log_record.severity_number is not None:
        return log_record.severity_number.name
    return "UNSPECIFIED"


def scope_name(record: ReadableLogRecord) -> str:
    """The instrumentation scope's name: the stdlib logger's name through the bridge."""
    scope = record.instrumentation_scope
    return scope.name if scope is not None else ""


def _nanoseconds(value: Any) -> int | None:
    """A time in ns as an int: an int as it is (0 is none), a float (``time.time() * 1e9``, what the SDK
    does not check) rounded down, anything else none."""
    if type(value) is int:
        return value or None
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value else None
    try:
        return operator.index(value) or None  # an int-like (numpy's, say)
    except TypeError:
        return None


def timestamp_ns(record: ReadableLogRecord) -> int:
    """The record's time, else when it was observed, else now (a time that is not a number is none)."""
    log_record = record.log_record
    return _nanoseconds(log_record.timestamp) or _nanoseconds(log_record.observed_timestamp) or time.time_ns()


def attribute(record: ReadableLogRecord, key: str) -> Any:
    """An attribute, flat or inside the nested ``extra`` (nested wins, as in the event)."""
    attributes = record.log_record.attributes or {}
    nested = attributes.get(NESTED_EXTRA_KEY)
    if isinstance(nested, Mapping) and key in nested:
        return nested[key]
    return attributes.get(key)


def environment_of(record: ReadableLogRecord) -> Any:
    """The record's ``environment`` attribute, else the resource's deployment environment."""
    value = attribute(record, "environment")
    if value is not None:
        return value
    resource_attributes = record.resource.attributes if record.resource is not None else {}
    for key in ENVIRONMENT_RESOURCE_KEYS:
        if key in resource_attributes:
            return resource_attributes[key]
    return None
