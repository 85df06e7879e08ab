"""Cut an event that is too large for CloudWatch so it fits and stays one valid JSON object.

Biggest string fields go first, in the order a reader misses them least: the message, the stack trace,
then the largest ``extra`` values, then anything else; an event made of very many small values has
whole sections cut to text instead. Each cut value ends with :data:`MARK` and the event gets
``"truncated": true``. Nothing is dropped for size.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from otel_cw_exporter.encode.jsonsafe import dumps, encoded_size, utf8_size

MARK = "...[truncated]"
_MARK_SIZE = len(MARK)
#: Values smaller than this are not cut one by one; their section is cut whole if need be.
_SMALL = 256
_FLAG_SIZE = len(',"truncated":true')


def _cut(value: Any, current: int, reduce_by: int) -> str:
    """A prefix of ``value`` (as text) whose JSON literal is ``reduce_by`` bytes below ``current``."""
    text = value if isinstance(value, str) else dumps(value)
    target = current - reduce_by - _MARK_SIZE
    if target <= 2:  # the two quotes
        return MARK
    low, high = 0, len(text)
    # Largest prefix whose literal fits the target; escapes and multi-byte text make this non-linear.
    while low < high:
        mid = (low + high + 1) // 2
        if encoded_size(text[:mid]) <= target:
            low = mid
        else:
            high = mid - 1
    return text[:low] + MARK


def _places(fields: dict[str, Any]) -> Iterator[tuple[dict[str, Any], str]]:
    """Where to cut, in order; generated lazily because earlier cuts change the sizes."""
    yield fields, "message"
    exception = fields.get("exception")
    if isinstance(exception, dict):
        yield exception, "stacktrace"
    for name in ("extra", "resource", "exception", "code"):
        container = fields.get(name)
        if isinstance(container, dict):
            sizes = {key: utf8_size(dumps(value)) for key, value in container.items()}
            for key in sorted(sizes, key=lambda key: -sizes[key]):
                if sizes[key] < _SMALL:
                    break
                yield container, key
    for name in ("extra", "resource", "exception", "code", "message", "logger", "event_name", "level"):
        yield fields, name


def _minimal(fields: dict[str, Any], limit: int) -> str:
    """Last resort, never expected: the fields every reader needs, with the message cut to fit."""
    keep = {key: fields[key] for key in ("timestamp", "level", "logger") if isinstance(fields.get(key), str)}
    keep = {key: value if len(value) < 256 else value[:256] + MARK for key, value in keep.items()}
    keep["message"] = ""
    keep["truncated"] = True
    room = limit - utf8_size(dumps(keep))
    message = fields.get("message", "")
    keep["message"] = _cut(message, utf8_size(dumps(message)), utf8_size(dumps(message)) - room + 2)
    return dumps(keep)


def fit(fields: dict[str, Any], text: str, limit: int) -> str:
    """Cut ``fields`` in place until its JSON text takes at most ``limit`` UTF-8 bytes; return the text."""
    size = utf8_size(text)
    if size <= limit:
        return text
    fields["truncated"] = True
    size += _FLAG_SIZE
    for container, key in _places(fields):
        if size <= limit:
            break
        if key not in container:
            continue
        value = container[key]
        current = utf8_size(dumps(value))
        replacement = _cut(value, current, size - limit)
        saved = current - utf8_size(dumps(replacement))
        if saved > 0:
            container[key] = replacement
            size -= saved
    text = dumps(fields)
    return text if utf8_size(text) <= limit else _minimal(fields, limit)
