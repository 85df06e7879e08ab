"""The encoder's fast path: the very bytes :class:`~otel_cw_exporter.encode.event.EventEncoder` writes, at a
third of the cost, for the records that make up a workload; every other record goes to that encoder.

An event is mostly made of parts that repeat from record to record: the resource, the level, the logger,
the message of a call site, its ``code.*`` fields, the span. Each is written once as JSON (and once
more as the request body's escaped form) and kept; a record then costs one JSON call for its ``extra``,
a scan of its ``extra`` strings for tokens, and the joining. With orjson the escaped forms of whole
events are not built (``Event.escaped`` stays empty): one orjson call escapes the request body faster.

Runs of records from one call site (:meth:`FastEncoder.chunks`) are checked and encoded together, in
C-level passes; what the usual run shares is checked by identity first (one logger, one span, one
second: the very same objects), by equality and exact type only when that fails. Each record keeps its
own ``extra`` keys, in its own order.

The rules that make the output identical:

- a part is kept only as JSON that :func:`~otel_cw_exporter.encode.jsonsafe.fragment` accepts, so the
  whole event is what the one-call encoder writes (the same tier: no ``null`` anywhere, no surrogates);
- caches are keyed on exact types and never on floats: ``1``, ``True`` and ``1.0`` are equal keys in
  Python and different JSON, and so are ``0.0`` and ``-0.0``;
- with redaction on, only strings can hold a token; every string of the record that the event shows
  (the message, the ``extra`` values, the ``code`` values) is checked with the redactor's own cheap
  test, and a record where anything might need scrubbing takes the full path. Keys the redactor calls
  secret are masked here exactly as the full path masks them;
- values that are not plain scalars (containers, objects, None, NaN), ``exception.*`` attributes,
  bodies that are not text and events over the size limit take the full path.

Not thread-safe on its own: the exporter encodes each batch on one thread.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from itertools import chain, repeat
from operator import attrgetter, contains, floordiv, is_, itemgetter
from typing import Any, NamedTuple

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.resources import Resource

from otel_cw_exporter.encode.event import Event, EventEncoder
from otel_cw_exporter.encode.jsonsafe import escape_json_text, fragment, orjson_active, sanitize
from otel_cw_exporter.encode.redaction import Redactor
from otel_cw_exporter.limits import EVENT_OVERHEAD, MAX_EVENT_BYTES
from otel_cw_exporter.records import ENVIRONMENT_RESOURCE_KEYS, NESTED_EXTRA_KEY, level_name

_MAX_ENTRIES = 1024
_SCALARS = (str, int, bool, float)  # exact types; None writes null, which the fragment check refuses
_NINETEEN_DIGITS = 10**18  # nanoseconds since the epoch from 2001-09-09 to 2286-11-20
_SEPARATOR = "\x1f"  # joins strings for one token scan: never part of a token, a name or a "=" / ":"
#: Records encoded together when they share their shape (most of a batch comes from a few call sites).
CHUNK = 256
_BETWEEN, _BETWEEN_ESCAPED = '},{"', '},{\\"'
_log_record = attrgetter("log_record")
_resource_of = attrgetter("resource")
_scope_of = attrgetter("instrumentation_scope")
_attributes_of = attrgetter("attributes")
_name_of = attrgetter("name")
_dict_of = attrgetter("_dict")
_dropped_of = attrgetter("dropped")
_nested_of = itemgetter(NESTED_EXTRA_KEY)
_timestamp_of = attrgetter("timestamp")
_severity_of = attrgetter("severity_text")
_body_of = attrgetter("body")
_trace_of = attrgetter("trace_id")
_span_of = attrgetter("span_id")
_event_name_of = attrgetter("event_name")
_seconds_of = itemgetter(slice(0, 10))
_micros_of = itemgetter(slice(10, 16))
_new_tuple = tuple.__new__  # tuple.__new__(Event, fields): an Event without its Python-level __new__
_START, _START_ESCAPED = '{"timestamp":"', '{\\"timestamp\\":\\"'
_text_of = itemgetter(0)
_escaped_of = itemgetter(1)


def _all_is(values: list[Any], first: Any) -> bool:
    """Every item of ``values`` is the very object ``first`` (one C-level pass, no equality asked)."""
    return all(map(is_, values, repeat(first, len(values))))


def _same(values: list[Any]) -> bool:
    """Every item of ``values`` is the same object, or of one exact type and equal: the same JSON."""
    first = values[0]
    return _all_is(values, first) or (len(set(map(type, values))) == 1 and values.count(first) == len(values))


class _Part(NamedTuple):
    """A piece of the event as JSON and as the request body's escaped form."""

    text: str
    escaped: str


def _part(text: str) -> _Part:
    return _Part(text, escape_json_text(text))


class _Shape(NamedTuple):
    """What the encoder does with one tuple of attribute keys (records of a call site share it)."""

    extra_keys: tuple[tuple[str, bool], ...]  # (key, secret) in attribute order, the nested key included
    nested_only: bool  # the nested ``extra`` is the only key feeding ``extra``
    code: Any  # itemgetter of the ``code.*`` values (None without)
    code_names: tuple[tuple[str, bool], ...]  # (name without ``code.``, secret)
    codes: dict[tuple[Any, ...], tuple[tuple[type, ...], _Part | None]]  # code values -> (their types, part)


class _Resource(NamedTuple):
    resource: Resource | None
    part: _Part  # ``,"resource":{...}``
    environment: Any  # the value for ``extra.environment`` (None: none)
    usable: bool  # its JSON can sit in a fast event


class FastEncoder:
    """Record -> :class:`Event`, byte-identical to :class:`EventEncoder` (which it falls back to)."""

    def __init__(
        self,
        *,
        xray_trace_id: bool = False,
        redactor: Redactor | None = None,
        max_event_bytes: int = MAX_EVENT_BYTES,
    ) -> None:
        self.reference = EventEncoder(xray_trace_id=xray_trace_id, redactor=redactor, max_event_bytes=max_event_bytes)
        self._redactor = redactor if redactor is not None and redactor.active else None
        self._xray = xray_trace_id
        self._limit = max_event_bytes - EVENT_OVERHEAD
        # The full path masks a secret ``environment`` key only when it walks: never take it then.
        self._env_secret = self._redactor is not None and self._redactor.is_secret("environment")
        self._shapes: dict[tuple[Any, ...], _Shape | None] = {}
        self._nested: dict[tuple[Any, ...], tuple[bool, bool] | None] = {}  # keys -> (has a secret, has env)
        self._plain: dict[frozenset[Any], bool] = {}  # extra keys -> all text, none secret
        self._heads: dict[tuple[str, str, str], _Part | None] = {}
        self._names: dict[str, _Part | None] = {}
        self._span: tuple[int, int, _Part] = (0, 0, _Part("", ""))
        self._spans: dict[tuple[int, int], _Part] = {}
        self._resource: _Resource | None = None
        self._second = -1
        self._prefix = ""

    # -- the parts, each built once ----------------------------------------------------------------------

    def _shape(self, keys: tuple[Any, ...]) -> _Shape | None:
        redactor = self._redactor
        extra: list[tuple[str, bool]] = []
        code_keys: list[str] = []
        code_names: list[tuple[str, bool]] = []
        for key in keys:
            if type(key) is not str or key.startswith("exception."):
                return None
            if key.startswith("code."):
                code_keys.append(key)
                code_names.append((key[5:], redactor is not None and redactor.is_secret(key[5:])))
            elif key == NESTED_EXTRA_KEY:
                extra.append((key, False))
            else:
                extra.append((key, redactor is not None and redactor.is_secret(key)))
        getter: Any = None
        if code_keys:
            getter = itemgetter(*code_keys) if len(code_keys) > 1 else (lambda items, k=code_keys[0]: (items[k],))
        nested_only = extra == [(NESTED_EXTRA_KEY, False)]
        return _Shape(tuple(extra), nested_only, getter, tuple(code_names), {})

    def _nested_info(self, keys: tuple[Any, ...]) -> tuple[bool, bool] | None:
        redactor = self._redactor
        if any(type(key) is not str for key in keys):
            return None
        secret = redactor is not None and any(redactor.is_secret(key) for key in keys)
        return secret, "environment" in keys

    def _plain_keys(self, keys: set[Any]) -> bool:
        """``extra`` keys a run can take as they are: text, and none the redactor calls secret."""
        frozen = frozenset(keys)
        known = self._plain.get(frozen)
        if known is None:
            redactor = self._redactor
            known = all(type(key) is str for key in frozen) and not (
                redactor is not None and any(redactor.is_secret(key) for key in frozen)
            )
            if len(self._plain) >= _MAX_ENTRIES:
                self._plain.clear()
            self._plain[frozen] = known
        return known

    def _resource_part(self, resource: Resource | None) -> _Resource:
        if resource is None:
            attributes: dict[str, Any] = {}
        else:
            attributes = sanitize(dict(resource.attributes))
            if self._redactor is not None:
                attributes = self._redactor.redact(attributes)
        environment = next((attributes[key] for key in ENVIRONMENT_RESOURCE_KEYS if key in attributes), None)
        text = fragment(attributes)
        usable = text is not None and (environment is None or fragment(environment) is not None)
        return _Resource(resource, _part(f',"resource":{text}}}' if text is not None else ""), environment, usable)

    def _head(self, level: str, body: str, logger: str) -> _Part | None:
        """``","level":...,"message":...,"logger":...,"extra":`` for one call site, or None (full path)."""
        redactor = self._redactor
        if redactor is not None and redactor.might_need_scrubbing(body):
            return None
        level_json, body_json, logger_json = fragment(level), fragment(body), fragment(logger)
        if level_json is None or body_json is None or logger_json is None:
            return None
        return _part(f'","level":{level_json},"message":{body_json},"logger":{logger_json},"extra":')

    def _code(self, shape: _Shape, values: tuple[Any, ...]) -> _Part | None:
        code: dict[str, Any] = {}
        redactor = self._redactor
        strings: list[str] = []
        for (name, secret), value in zip(shape.code_names, values, strict=True):
            if secret and redactor is not None:
                code[name] = redactor.mask
                continue
            if type(value) not in _SCALARS:
                return None
            if type(value) is str:
                strings.append(value)
            code[name] = value
        if redactor is not None and redactor.might_need_scrubbing(_SEPARATOR.join(strings)):
            return None
        text = fragment(code)
        return None if text is None else _part(f',"code":{text}')

    def _span_part(self, trace_id: Any, span_id: Any) -> _Part:
        """``,"trace_id":...,"span_id":...`` (and the X-Ray form) for a span; nothing without one."""
        if not (span_id and trace_id):
            return _Part("", "")
        trace_hex = format(trace_id, "032x")
        text = f',"trace_id":"{trace_hex}","span_id":"{format(span_id, "016x")}"'
        if self._xray:
            text += f',"xray_trace_id":"1-{trace_hex[:8]}-{trace_hex[8:]}"'
        return _part(text)

    def _name(self, event_name: str) -> _Part | None:
        text = fragment(event_name)
        return None if text is None else _part(f',"event_name":{text}')

    def _iso(self, ns: int) -> str | None:
        second, rest = divmod(ns, 1_000_000_000)
        if second != self._second:
            try:
                prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            except (OverflowError, OSError, ValueError):
                return None
            self._second, self._prefix = second, prefix
        return f"{self._prefix}.{rest // 1000:06d}Z"

    # -- one record --------------------------------------------------------------------------------------

    def encode(self, record: ReadableLogRecord) -> Event:
        """The event of ``record``: through the fast path when it applies, else through :attr:`reference`."""
        try:
            event = self._fast(record)
        except Exception:  # anything odd about the record: the full path knows what to do (or to raise)
            event = None
        return event if event is not None else self.reference.encode(record)

    def _fast(self, record: ReadableLogRecord) -> Event | None:
        log_record = record.log_record
        ns = log_record.timestamp or log_record.observed_timestamp
        if type(ns) is not int or ns <= 0:
            return None
        attributes = log_record.attributes
        items = getattr(attributes, "_dict", attributes) or {}
        if type(items) is not dict:
            return None
        keys = tuple(items)
        shapes = self._shapes
        if keys in shapes:
            shape = shapes[keys]
        else:
            if len(shapes) >= _MAX_ENTRIES:
                shapes.clear()
            shape = shapes[keys] = self._shape(keys)
        if shape is None:
            return None
        redactor = self._redactor

        # extra, built as the full path builds it (same order, same masking)
        resource = self._resource
        if resource is None or resource.resource is not record.resource:
            resource = self._resource = self._resource_part(record.resource)
        if not resource.usable:
            return None
        extra: dict[str, Any]
        if shape.nested_only:
            nested = items[NESTED_EXTRA_KEY]
            if type(nested) is not dict:
                return None
            nkeys = tuple(nested)
            info = self._nested.get(nkeys)
            if info is None:
                info = self._nested_info(nkeys)
                if info is None:
                    return None
                if len(self._nested) >= _MAX_ENTRIES:
                    self._nested.clear()
                self._nested[nkeys] = info
            if info[0]:  # a secret key inside: the general build masks it
                extra = self._extra(shape, items)
            elif info[1] or resource.environment is None:
                extra = nested
            else:
                extra = dict(nested)
        else:
            extra = self._extra(shape, items)
        if resource.environment is not None and "environment" not in extra:
            if self._env_secret:
                return None
            if extra is items.get(NESTED_EXTRA_KEY):
                extra = dict(extra)
            extra["environment"] = resource.environment
        values = extra.values()
        try:
            strings = _SEPARATOR.join(values)
        except TypeError:  # not all text: each value must be a plain scalar
            texts = []
            for value in values:
                kind = type(value)
                if kind is str:
                    texts.append(value)
                elif kind not in _SCALARS:
                    return None
            strings = _SEPARATOR.join(texts)
        if redactor is not None and redactor.might_need_scrubbing(strings):
            return None
        extra_json = fragment(extra)
        if extra_json is None:
            return None

        # the parts that repeat
        level = log_record.severity_text or level_name(record)
        body = log_record.body
        if body is None:
            body = ""
        scope = record.instrumentation_scope
        logger = scope.name if scope is not None else ""
        if type(body) is not str or type(level) is not str or type(logger) is not str:
            return None
        head_key = (level, body, logger)
        heads = self._heads
        if head_key in heads:
            head = heads[head_key]
        else:
            if len(heads) >= _MAX_ENTRIES:
                heads.clear()
            head = heads[head_key] = self._head(level, body, logger)
        if head is None:
            return None

        code_text = code_escaped = ""
        if shape.code is not None:
            values_of_code = shape.code(items)
            types = tuple(map(type, values_of_code))
            codes = shape.codes
            cached = codes.get(values_of_code)
            if cached is not None and cached[0] == types:
                code = cached[1]
            else:
                code = self._code(shape, values_of_code)
                if float not in types:  # 0.0 and -0.0 are one key: floats are never cached
                    if len(codes) >= _MAX_ENTRIES:
                        codes.clear()
                    codes[values_of_code] = (types, code)
            if code is None:
                return None
            code_text, code_escaped = code

        span_text = span_escaped = ""
        trace_id, span_id = log_record.trace_id, log_record.span_id
        if span_id and trace_id:
            span = self._span
            if span[0] != trace_id or span[1] != span_id:
                span = self._span = (trace_id, span_id, self._span_part(trace_id, span_id))
            span_text, span_escaped = span[2]

        tail_text, tail_escaped = resource.part
        event_name = log_record.event_name
        dropped = record.dropped_attributes
        if event_name or dropped:
            tail_text, tail_escaped = tail_text[:-1], tail_escaped[:-1]  # reopen the object
            if event_name:
                if type(event_name) is not str:
                    return None
                names = self._names
                if event_name not in names:
                    if len(names) >= _MAX_ENTRIES:
                        names.clear()
                    names[event_name] = self._name(event_name)
                name = names[event_name]
                if name is None:
                    return None
                tail_text += name.text
                tail_escaped += name.escaped
            if dropped:
                if type(dropped) is not int:
                    return None
                tail_text += f',"dropped_attributes":{dropped}'
                tail_escaped += f',\\"dropped_attributes\\":{dropped}'
            tail_text += "}"
            tail_escaped += "}"

        iso = self._iso(ns)
        if iso is None:
            return None
        head_text, head_escaped = head
        text = f'{{"timestamp":"{iso}{head_text}{extra_json}{code_text}{span_text}{tail_text}'
        size = len(text) if text.isascii() else len(text.encode("utf-8"))
        if size > self._limit:
            return None
        escaped = (
            ""  # orjson escapes the whole request body in one pass, faster than joining these
            if orjson_active()
            else (
                f'{{\\"timestamp\\":\\"{iso}{head_escaped}{escape_json_text(extra_json)}'
                f"{code_escaped}{span_escaped}{tail_escaped}"
            )
        )
        return Event(ns // 1_000_000, text, size + EVENT_OVERHEAD, False, escaped)

    # -- many records at once ----------------------------------------------------------------------------

    def chunks(
        self, records: Sequence[ReadableLogRecord], skip_key: str | None = None
    ) -> Iterator[tuple[list[Event] | None, Sequence[ReadableLogRecord]]]:
        """``(events, records)`` for each run of up to :data:`CHUNK` records: their events when they share
        one shape (then none holds ``skip_key``, none failed), else None: encode those one by one."""
        for start in range(0, len(records), CHUNK):
            chunk = records[start : start + CHUNK]
            try:
                events = self._chunk(chunk, skip_key)
            except Exception:  # anything unusual: record by record, where the full path decides
                events = None
            yield events, chunk

    def _chunk(self, records: Sequence[ReadableLogRecord], skip_key: str | None) -> list[Event] | None:
        """The events of records that share everything but their time, ``extra`` and span, else None.

        Every check is a C-level pass over the chunk (``map``, ``set``, ``join``); the parts that repeat
        are the fast path's own, so the bytes are the ones :meth:`encode` writes record by record.
        """
        n = len(records)
        if n < 8:
            return None
        log_records = list(map(_log_record, records))
        resources = list(map(_resource_of, records))
        scopes = list(map(_scope_of, records))
        scope = scopes[0]
        if scope is None or not _all_is(resources, resources[0]):
            return None
        if _all_is(scopes, scope):  # one logger (the usual case): its name once
            loggers = {scope.name}
        else:
            loggers = set(map(_name_of, scopes))  # AttributeError for a record without a scope
            if len(loggers) != 1:
                return None
        attributes = list(map(_attributes_of, log_records))
        kinds = set(map(type, attributes))
        if kinds == {BoundedAttributes}:
            if set(map(_dropped_of, attributes)) != {0}:
                return None
            dicts = list(map(_dict_of, attributes))
        elif kinds == {dict}:
            dicts = attributes
        else:
            return None
        keys = tuple(dicts[0])
        if list(map(tuple, dicts)).count(keys) != n:  # equal tuples of keys: no hashing of each
            return None
        if skip_key is not None and skip_key in keys:
            return None
        shape = self._shapes.get(keys)
        if shape is None or not shape.nested_only:  # the first records of a shape go one by one
            return None
        resource = self._resource
        if resource is None or resource.resource is not resources[0]:
            resource = self._resource = self._resource_part(resources[0])
        if not resource.usable:
            return None

        nested = list(map(_nested_of, dicts))
        if set(map(type, nested)) != {dict}:
            return None
        # Each record's own ``extra`` keys, in its own order (its JSON is its own): none may be a secret,
        # and with an environment in the resource each must have its own (else the full path adds one).
        if not self._plain_keys(set().union(*nested)):
            return None
        if resource.environment is not None and not all(map(contains, nested, repeat("environment", n))):
            return None
        strings = _SEPARATOR.join(chain.from_iterable(map(dict.values, nested)))  # TypeError unless all text
        redactor = self._redactor
        if redactor is not None and redactor.might_need_scrubbing(strings):
            return None
        listed = fragment(nested)  # one call for the chunk: '[{"k":"v",...},{"k":"v",...}]'
        if listed is None or not listed.startswith('[{"'):
            return None

        severities = list(map(_severity_of, log_records))
        bodies = list(map(_body_of, log_records))
        names = list(map(_event_name_of, log_records))
        if not (_same(severities) and _same(bodies) and _same(names)):
            return None
        level, body, event_name = severities[0], bodies[0], names[0]
        (logger,) = loggers
        if type(level) is not str or not level or type(body) is not str or type(logger) is not str:
            return None
        head = self._heads.get((level, body, logger))
        if head is None:
            return None
        name = _Part("", "")
        if event_name:
            found = self._names.get(event_name) if type(event_name) is str else None
            if found is None:
                return None
            name = found

        code = _Part("", "")
        if shape.code is not None:
            codes = list(map(shape.code, dicts))
            values = codes[0]
            if codes.count(values) != n:
                return None
            # Equal is the same JSON only without bool or float (a getter gives a tuple, for one key too).
            if not set(map(type, chain.from_iterable(codes))) <= {str, int}:
                return None
            cached = shape.codes.get(values)
            if cached is None or cached[0] != tuple(map(type, values)) or cached[1] is None:
                return None
            code = cached[1]

        traces = list(map(_trace_of, log_records))
        span_ids = list(map(_span_of, log_records))
        if _all_is(traces, traces[0]) and _all_is(span_ids, span_ids[0]):  # one span (the usual case)
            if type(traces[0]) is not int or type(span_ids[0]) is not int:
                return None
            pairs = {(traces[0], span_ids[0])}
        else:
            if not set(map(type, chain(traces, span_ids))) <= {int}:
                return None
            pairs = set(zip(traces, span_ids, strict=True))
        spans = self._spans
        for pair in pairs:
            if pair not in spans:
                if len(spans) >= _MAX_ENTRIES:
                    spans.clear()
                spans[pair] = self._span_part(*pair)
        span = spans[next(iter(pairs))]
        span_parts = list(map(spans.__getitem__, zip(traces, span_ids, strict=True))) if len(pairs) > 1 else None

        stamps = list(map(_timestamp_of, log_records))
        if set(map(type, stamps)) != {int}:
            return None
        low, high = min(stamps), max(stamps)
        if low < _NINETEEN_DIGITS or high >= 10 * _NINETEEN_DIGITS:  # 2001 to 2286: ten digits of seconds
            return None
        digits = list(map(str, stamps))
        prefixes: dict[str, str] = {}
        if low // 1_000_000_000 == high // 1_000_000_000:  # one second (the usual case): its prefix is cached
            if self._iso(low) is None:
                return None
            prefixes[digits[0][:10]] = self._prefix + "."
        else:
            for second in set(map(_seconds_of, digits)):
                prefixes[second] = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(int(second)))
        # Every value is text, where a '"' is always escaped: '},{"' only ever stands between two records.
        inner = listed[3:-2]
        extras = inner.split(_BETWEEN)
        # With orjson the request body escapes every message in one pass: no escaped forms to build here.
        escaping = not orjson_active()
        escaped_extras = escape_json_text(inner).split(_BETWEEN_ESCAPED) if escaping else extras
        if len(extras) != n or len(escaped_extras) != n:
            return None
        tail = _Part(resource.part.text[:-1] + name.text + "}", resource.part.escaped[:-1] + name.escaped + "}")
        head_text, head_escaped = "Z" + head.text + '{"', "Z" + head.escaped + '{\\"'
        code = _Part("}" + code.text, "}" + code.escaped)
        # Five pieces a record: the time's second (cached) and its fraction, the head, extra, the rest.
        rest = _Part(code.text + tail.text, code.escaped + tail.escaped)
        if span_parts is None:
            rest = _Part(code.text + span.text + tail.text, code.escaped + span.escaped + tail.escaped)
        starts: Any
        escaped_starts: Any
        if len(prefixes) == 1:
            (date,) = prefixes.values()
            starts, escaped_starts = repeat(_START + date, n), repeat(_START_ESCAPED + date, n)
        else:
            dates = list(map(prefixes.__getitem__, map(_seconds_of, digits)))
            starts, escaped_starts = map(_START.__add__, dates), map(_START_ESCAPED.__add__, dates)
        micros = list(map(_micros_of, digits))
        pieces: tuple[Any, ...] = (starts, micros, repeat(head_text, n), extras, repeat(rest.text, n))
        escaped_pieces: tuple[Any, ...] = (
            escaped_starts,
            micros,
            repeat(head_escaped, n),
            escaped_extras,
            repeat(rest.escaped, n),
        )
        if span_parts is not None:  # more than one span in the run: their parts before the rest
            rest = _Part(code.text, code.escaped)
            pieces = (*pieces[:4], repeat(code.text, n), map(_text_of, span_parts), repeat(tail.text, n))
            escaped_pieces = (
                *escaped_pieces[:4],
                repeat(code.escaped, n),
                map(_escaped_of, span_parts),
                repeat(tail.escaped, n),
            )
        messages = list(map("".join, zip(*pieces, strict=True)))
        escaped = map("".join, zip(*escaped_pieces, strict=True)) if escaping else repeat("", n)
        if inner.isascii() and head_text.isascii() and code.text.isascii() and tail.text.isascii():
            sizes = list(map(len, messages))
        else:
            sizes = list(map(len, map(str.encode, messages)))
        if max(sizes) > self._limit:
            return None
        return list(
            map(
                _new_tuple,
                repeat(Event, n),
                zip(
                    map(floordiv, stamps, repeat(1_000_000, n)),
                    messages,
                    map(int.__add__, sizes, repeat(EVENT_OVERHEAD, n)),
                    repeat(False, n),
                    escaped,
                    strict=True,
                ),
            )
        )

    def _extra(self, shape: _Shape, items: dict[str, Any]) -> dict[str, Any]:
        """``extra`` from flat keys and the nested mapping, masked as the full path masks it."""
        redactor = self._redactor
        mask = redactor.mask if redactor is not None else None
        extra: dict[str, Any] = {}
        nested: Any = None
        for key, secret in shape.extra_keys:
            value = items[key]
            if secret:
                extra[key] = mask
            elif key == NESTED_EXTRA_KEY and isinstance(value, dict):
                nested = value
            elif key == NESTED_EXTRA_KEY and not isinstance(value, _SCALARS):
                raise _NotFast
            else:
                extra[key] = value
        if nested is not None:
            if type(nested) is not dict:
                raise _NotFast
            for key, value in nested.items():
                if type(key) is not str:
                    raise _NotFast
                if redactor is not None and redactor.is_secret(key):
                    extra[key] = mask
                else:
                    extra[key] = value
        return extra


class _NotFast(Exception):
    """Raised inside the fast path for a record the full path must take."""
