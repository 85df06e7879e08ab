"""Encode one OTel log record as the CloudWatch event of ``event-schema.md``.

The event's field names are a contract with the queries people already run (``extra.log_type``,
``level``...): they are defined here and nowhere else.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, NamedTuple

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.resources import Resource

from otel_cw_exporter.encode.jsonsafe import clean, dumps_sized, sanitize, string_content, utf8_size
from otel_cw_exporter.encode.redaction import Redactor
from otel_cw_exporter.encode.truncation import fit
from otel_cw_exporter.limits import EVENT_OVERHEAD, MAX_EVENT_BYTES
from otel_cw_exporter.records import ENVIRONMENT_RESOURCE_KEYS, NESTED_EXTRA_KEY, level_name, timestamp_ns

# Where an attribute goes: ``extra``, ``exception``, ``code``, merged from the nested ``extra``, or masked.
_EXTRA, _EXCEPTION, _CODE, _NESTED, _SECRET, _CODE_SECRET = range(6)
#: Value types the redactor has nothing to walk in (strings are checked for tokens on the JSON text).
_PLAIN = frozenset({str, int, float, bool, type(None)})
_MAX_KINDS = 4096


class _EventFields(NamedTuple):
    timestamp: int
    """Milliseconds since the epoch."""
    message: str
    size: int
    """UTF-8 bytes of ``message`` plus CloudWatch's 26 bytes of overhead."""
    truncated: bool
    escaped: str = ""
    """``message`` as the inside of a JSON string (the request body's form), or "" for "escape it yourself"."""


class Event(_EventFields):
    """One PutLogEvents event, with what planning needs already measured.

    ``Event(timestamp, message, size, truncated)`` is complete: the request body escapes ``message``
    itself. The encoder also fills ``escaped``, which the body then only joins. Build a changed event
    with :func:`event_from` (or ``_replace``, which forgets ``escaped`` when ``message`` changes).
    """

    __slots__ = ()

    def _replace(self, /, **changes: Any) -> Event:
        if "message" in changes and "escaped" not in changes:
            changes["escaped"] = ""  # a new message: its old escaped form must not reach the wire
        return super()._replace(**changes)


def event_from(timestamp: int, message: str, truncated: bool = False) -> Event:
    """An event for ``message`` as it stands (rewritten after encoding, or read back from disk): its
    size measured, its request-body form filled in."""
    return Event(timestamp, message, utf8_size(message) + EVENT_OVERHEAD, truncated, string_content(message) or "")


def xray_trace_id(trace_id: str) -> str:
    """The X-Ray form of an OTel trace id: ``1-<8 hex>-<24 hex>``."""
    return f"1-{trace_id[:8]}-{trace_id[8:]}"


class _Clock:
    """ISO-8601 UTC with microseconds; the per-second prefix is cached because records come in bursts."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def iso(self, ns: int) -> str:
        second, rest = divmod(ns, 1_000_000_000)
        if second != self._second:
            try:
                prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            except (OverflowError, OSError, ValueError):
                return str(ns)
            self._second, self._prefix = second, prefix
        return f"{self._prefix}.{rest // 1000:06d}Z"


class EventEncoder:
    """Record -> :class:`Event`. Pure apart from small caches; never raises on odd values."""

    def __init__(
        self,
        *,
        xray_trace_id: bool = False,
        redactor: Redactor | None = None,
        max_event_bytes: int = MAX_EVENT_BYTES,
    ) -> None:
        self._xray = xray_trace_id
        self._redactor = redactor if redactor is not None and redactor.active else None
        self._scrub = self._redactor is not None
        self._limit = max_event_bytes - EVENT_OVERHEAD
        self._clock = _Clock()
        self._kinds: dict[str, int] = {}
        self._secret: dict[str, bool] = {}  # nested ``extra`` keys: secret or not
        self._span: tuple[int, int, str, str] = (0, 0, "", "")  # records come in bursts of one span
        # id(resource) -> (resource, attributes dict, environment); one provider means one entry.
        self._resources: dict[int, tuple[Resource, dict[str, Any], Any]] = {}

    def _resource(self, resource: Resource | None) -> tuple[dict[str, Any], Any]:
        if resource is None:
            return {}, None
        cached = self._resources.get(id(resource))
        if cached is not None and cached[0] is resource:
            return cached[1], cached[2]
        attributes = sanitize(dict(resource.attributes))
        if self._redactor is not None:  # once per resource: a secret in a resource attribute never leaves
            attributes = self._redactor.redact(attributes)
        environment = next(
            (attributes[key] for key in ENVIRONMENT_RESOURCE_KEYS if key in attributes),
            None,
        )
        if len(self._resources) >= 16:
            self._resources.clear()
        self._resources[id(resource)] = (resource, attributes, environment)
        return attributes, environment

    def _kind(self, key: str) -> int:
        """Which part of the event an attribute key feeds; keys repeat, so each is classified once."""
        kind = self._kinds.get(key)
        if kind is None:
            if key.startswith("exception."):
                kind = _EXCEPTION
            elif key.startswith("code."):
                secret = self._redactor is not None and self._redactor.is_secret(key[5:])
                kind = _CODE_SECRET if secret else _CODE
            elif key == NESTED_EXTRA_KEY:
                kind = _NESTED
            elif self._redactor is not None and self._redactor.is_secret(key):
                kind = _SECRET
            else:
                kind = _EXTRA
            if len(self._kinds) >= _MAX_KINDS:
                self._kinds.clear()
            self._kinds[key] = kind
        return kind

    def _is_secret(self, key: Any) -> bool:
        secret = self._secret.get(key) if type(key) is str else None
        if secret is None:
            secret = self._redactor is not None and self._redactor.is_secret(key)
            if type(key) is str:
                if len(self._secret) >= _MAX_KINDS:
                    self._secret.clear()
                self._secret[key] = secret
        return secret

    def fields(self, record: ReadableLogRecord, ns: int) -> dict[str, Any]:
        """The event as a dict, in the schema's field order; ``ns`` is the record's time.

        Values under secret keys are masked here; values that hold containers are walked by the
        redactor; raw tokens inside plain strings are looked for in :meth:`encode`, on the JSON text.
        """
        log_record = record.log_record
        attributes = log_record.attributes
        # The SDK's BoundedAttributes is a Mapping whose Python-level __iter__/__getitem__ cost more than
        # the rest of this loop: read the dict it wraps when there is one.
        items = getattr(attributes, "_dict", attributes) or {}
        extra: dict[str, Any] = {}
        nested: Any = None
        exception: dict[str, Any] = {}
        code: dict[str, Any] = {}
        kinds = self._kinds
        redactor = self._redactor
        deep = False  # a value holds a container: the redactor must walk it
        for key, value in items.items():
            kind = kinds.get(key) if type(key) is str else None
            if kind is None:
                kind = self._kind(key) if type(key) is str else (_SECRET if self._is_secret(key) else _EXTRA)
            if kind == _EXTRA:
                extra[key] = value
                if type(value) not in _PLAIN:
                    deep = True
            elif kind == _CODE:
                code[key[5:]] = value
                if type(value) not in _PLAIN:
                    deep = True
            elif kind == _CODE_SECRET:
                code[key[5:]] = redactor.mask if redactor is not None else value
            elif kind == _EXCEPTION:
                exception[key[10:]] = value
                if type(value) not in _PLAIN:
                    deep = True
            elif kind == _SECRET:
                extra[key] = redactor.mask if redactor is not None else value
            elif isinstance(value, Mapping):
                nested = value
            else:
                extra[key] = value
                if type(value) not in _PLAIN:
                    deep = True
        if nested is not None:
            if redactor is None:
                extra.update(nested)
            else:
                secrets = self._secret
                for key, value in nested.items():
                    secret = secrets.get(key) if type(key) is str else None
                    if secret is None:
                        secret = self._is_secret(key)
                    if secret:
                        extra[key] = redactor.mask
                        continue
                    extra[key] = value
                    if type(value) not in _PLAIN:
                        deep = True
        resource, environment = self._resource(record.resource)
        if environment is not None and "environment" not in extra:
            extra["environment"] = environment
        body = log_record.body
        if redactor is not None:
            if deep or type(body) not in _PLAIN:
                # Made of JSON types first, so the walk sees inside objects (a dataclass's fields, say).
                body = redactor.redact(clean(body))
                extra = redactor.redact(clean(extra))
                if code:
                    code = redactor.redact(clean(code))
            if exception:  # rare, so always walked: its keys are checked too
                exception = redactor.redact(clean(exception))
        scope = record.instrumentation_scope
        fields: dict[str, Any] = {
            "timestamp": self._clock.iso(ns),
            "level": log_record.severity_text or level_name(record),
            "message": "" if body is None else body,
            "logger": scope.name if scope is not None else "",
            "extra": extra,
        }
        if exception:
            fields["exception"] = exception
        if code:
            fields["code"] = code
        trace_id, span_id = log_record.trace_id, log_record.span_id
        if span_id and trace_id:
            cached = self._span
            if cached[0] != trace_id or cached[1] != span_id:
                cached = self._span = (trace_id, span_id, format(trace_id, "032x"), format(span_id, "016x"))
            fields["trace_id"] = cached[2]
            fields["span_id"] = cached[3]
            if self._xray:
                fields["xray_trace_id"] = xray_trace_id(cached[2])
        fields["resource"] = resource
        if log_record.event_name:
            fields["event_name"] = log_record.event_name
        dropped = record.dropped_attributes
        if dropped:
            fields["dropped_attributes"] = dropped
        return fields

    def encode(self, record: ReadableLogRecord) -> Event:
        ns = timestamp_ns(record)
        fields = self.fields(record, ns)
        text, size = dumps_sized(fields)
        redactor = self._redactor
        if redactor is not None and redactor.might_need_scrubbing(text):
            # Some string may hold a token or a secret ``name=value``: the redactor's full walk finds it.
            changed = False
            for name in ("message", "extra", "exception", "code"):
                if name in fields:
                    before = fields[name]
                    fields[name] = redactor.redact(before)
                    changed = changed or fields[name] is not before
            if changed:
                text, size = dumps_sized(fields)
        if size > self._limit:
            fields["resource"] = dict(fields["resource"])  # the cached dict must not be cut in place
            text = fit(fields, text, self._limit)
            size = utf8_size(text)
        return Event(ns // 1_000_000, text, size + EVENT_OVERHEAD, "truncated" in fields)
