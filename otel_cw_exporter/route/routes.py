"""Which log group and stream each record goes to.

Teams send Security and Audit events (``log_type``, often inside the nested ``extra``) to streams of
their own.

A record goes to exactly one destination: the first :class:`Route` whose conditions all hold picks it,
else the exporter's defaults. Copying an event to several streams would double its cost and make every
count over the group lie (one security event, two hits); who wants copies adds a second exporter.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord

from otel_cw_exporter.config import ConfigError, env_name
from otel_cw_exporter.encode.jsonsafe import safe_str
from otel_cw_exporter.route.templates import Kind, NameTemplate, record_field

#: Condition values may be these (or a list of them); they are compared as text, see :class:`Route`.
Scalar = str | int | float | bool | None
_SCALARS = (str, int, float, bool, type(None))
#: The stdlib bridge writes ``WARN`` and ``FATAL``; a route saying ``WARNING`` or ``CRITICAL`` means them.
_LEVEL_ALIASES = {"WARNING": "WARN", "CRITICAL": "FATAL"}
_ROUTE_KEYS = frozenset({"when", "log_group_name", "log_stream_name"})
_ROUTES_SOURCE = f"routes ({env_name('routes')})"


def _level(text: str) -> str:
    upper = text.upper()
    return _LEVEL_ALIASES.get(upper, upper)


def _template(text: str | None, kind: Kind, option: str) -> NameTemplate | None:
    """A compiled template, its errors prefixed with the option that holds it."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise ConfigError(f"{option}={text!r}: expected a string")
    try:
        return NameTemplate(text, kind)
    except ValueError as error:
        raise ConfigError(f"{option}={text!r}: {error}") from None


def _values(key: str, value: object) -> tuple[Scalar, ...] | Scalar:
    """One condition's value, normalised: a scalar, or a tuple of scalars (a str is one value)."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, Mapping) or not isinstance(value, Collection):
        raise ConfigError(
            f"when[{key!r}]={value!r}: expected a value (text, number, true/false, null) or a list of values"
        )
    items = list(value)
    if not isinstance(value, Sequence):  # a set: give it an order so equal routes print alike
        items.sort(key=safe_str)
    if not items:
        raise ConfigError(f"when[{key!r}] is an empty list: it can never match; list a value or drop the condition")
    for item in items:
        if not isinstance(item, _SCALARS):
            raise ConfigError(f"when[{key!r}] holds {item!r}: list only text, numbers, true/false or null")
    return tuple(items)


class _Condition:
    """``field`` is one of the values: compared as text, ``level`` without case, None meaning absent."""

    __slots__ = ("_matches_missing", "_normalize", "_read", "_texts")

    def __init__(self, key: str, value: tuple[Scalar, ...] | Scalar) -> None:
        try:
            self._read = record_field(key)
        except ValueError as error:
            raise ConfigError(f"when[{key!r}]: {error}") from None
        expected = value if isinstance(value, tuple) else (value,)
        self._normalize: Callable[[str], str] | None = _level if key == "level" else None
        self._matches_missing = any(item is None for item in expected)
        texts = (safe_str(item) for item in expected if item is not None)
        self._texts = frozenset(self._normalize(t) if self._normalize else t for t in texts)

    def holds(self, record: ReadableLogRecord) -> bool:
        found = self._read(record)
        if found is None:
            return self._matches_missing
        text = found if isinstance(found, str) else safe_str(found)
        if self._normalize is not None:
            text = self._normalize(text)
        return text in self._texts


@dataclass(frozen=True, repr=False)
class Route:
    """Records for which every condition of ``when`` holds go to this group and/or stream.

    ``when`` maps a field to a value or a list of values (any one matches; a str is one value):

    - an attribute key: flat or inside the nested ``extra`` (nested wins), else the resource's key of
      that name, as in name templates; ``attributes.KEY`` or ``resource.KEY`` to read one side only;
    - ``logger`` (the scope, i.e. the stdlib logger's name), ``environment`` (``extra.environment`` of the
      event: attribute, else the resource's deployment environment), ``level`` (the event's ``level``,
      without regard to case, ``WARNING`` and ``WARN`` alike, ``CRITICAL`` and ``FATAL`` alike).

    Values are compared as text (``500`` matches ``"500"``), case-sensitively except ``level``, as
    Insights' ``filter extra.log_type = "Security"`` does. ``None`` (JSON ``null``) matches a missing field.
    ``log_group_name``/``log_stream_name`` are name templates; the one left out stays the default.
    Mistakes raise :class:`~otel_cw_exporter.ConfigError` (a ``ValueError``) here, not at export.
    """

    when: Mapping[str, Any] = field(hash=False)
    log_group_name: str | None = None
    log_stream_name: str | None = None
    _conditions: tuple[_Condition, ...] = field(init=False, repr=False, compare=False)
    _group: NameTemplate | None = field(init=False, repr=False, compare=False)
    _stream: NameTemplate | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.when, Mapping):
            raise ConfigError(f"when={self.when!r}: expected a mapping of field to value(s)")
        if not self.when:
            raise ConfigError(
                "when is empty: the route would take every record and hide the routes after it; "
                "set the exporter's log_group_name/log_stream_name instead"
            )
        if self.log_group_name is None and self.log_stream_name is None:
            raise ConfigError(f"route when={dict(self.when)!r} sets neither log_group_name nor log_stream_name")
        when: dict[str, tuple[Scalar, ...] | Scalar] = {}
        for key, value in self.when.items():
            if not isinstance(key, str):
                raise ConfigError(f"when key {key!r}: expected a field name (text)")
            when[key] = _values(key, value)
        object.__setattr__(self, "when", MappingProxyType(when))
        object.__setattr__(self, "_conditions", tuple(_Condition(k, v) for k, v in when.items()))
        object.__setattr__(self, "_group", _template(self.log_group_name, "group", "log_group_name"))
        object.__setattr__(self, "_stream", _template(self.log_stream_name, "stream", "log_stream_name"))

    def __repr__(self) -> str:
        names = "".join(
            f", {name}={value!r}"
            for name, value in (("log_group_name", self.log_group_name), ("log_stream_name", self.log_stream_name))
            if value is not None
        )
        return f"Route(when={dict(self.when)!r}{names})"

    def matches(self, record: ReadableLogRecord) -> bool:
        """True when every condition holds for ``record``."""
        return all(condition.holds(record) for condition in self._conditions)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form :func:`routes_from_json` reads."""
        out: dict[str, Any] = {
            "when": {key: list(value) if isinstance(value, tuple) else value for key, value in self.when.items()}
        }
        if self.log_group_name is not None:
            out["log_group_name"] = self.log_group_name
        if self.log_stream_name is not None:
            out["log_stream_name"] = self.log_stream_name
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Route:
        """A route from its JSON form: ``{"when": {...}, "log_group_name": ..., "log_stream_name": ...}``."""
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"expected an object with 'when' and a log_group_name and/or log_stream_name, got {data!r}"
            )
        unknown = sorted(map(str, set(data) - _ROUTE_KEYS))
        if unknown:
            raise ConfigError(f"unknown keys {unknown}: a route has only 'when', 'log_group_name', 'log_stream_name'")
        if "when" not in data:
            raise ConfigError('missing \'when\': say which records the route takes, e.g. {"log_type": "Security"}')
        return cls(data["when"], data.get("log_group_name"), data.get("log_stream_name"))


def routes_from_json(text: str, *, source: str = _ROUTES_SOURCE) -> list[Route]:
    """Routes from their environment-variable form, a JSON list of :meth:`Route.to_dict` objects::

        [{"when": {"log_type": "Security"}, "log_stream_name": "security"},
         {"when": {"log_type": ["Audit", "Admin"]}, "log_group_name": "audit"}]

    Blank text means no routes. Errors name ``source`` and the route's index.
    """
    if not text.strip():
        return []
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{source}: not valid JSON ({error})") from None
    if isinstance(data, dict):
        raise ConfigError(f"{source}: expected a JSON list of routes; wrap the one route in [...]")
    if not isinstance(data, list):
        raise ConfigError(f"{source}: expected a JSON list of routes, got {type(data).__name__}")
    routes: list[Route] = []
    for index, item in enumerate(data):
        try:
            routes.append(Route.from_dict(item))
        except ConfigError as error:
            raise ConfigError(f"{source}: route [{index}]: {error}") from None
    return routes


def routes_to_json(routes: Sequence[Route]) -> str:
    """The JSON text :func:`routes_from_json` reads back, e.g. to hand routes to another process."""
    return json.dumps([route.to_dict() for route in routes], ensure_ascii=False)


class Router:
    """Record -> ``(log group, log stream)``; cheap: a precomputed pair when nothing varies per record."""

    __slots__ = ("_fixed", "_group", "_routes", "_stream")

    def __init__(
        self,
        log_group_name: str,
        log_stream_name: str,
        routes: Sequence[Route | Mapping[str, Any]] = (),
        *,
        sources: tuple[str, str] = ("log_group_name", "log_stream_name"),
    ) -> None:
        """``sources``: what errors name for the two names (the variables they came from, if they did)."""
        group = _template(log_group_name, "group", sources[0])
        stream = _template(log_stream_name, "stream", sources[1])
        if group is None or stream is None:
            raise ConfigError("log_group_name and log_stream_name are required")
        self._group, self._stream = group, stream
        compiled: list[Route] = []
        for index, route in enumerate(routes):
            try:
                compiled.append(route if isinstance(route, Route) else Route.from_dict(route))
            except ConfigError as error:
                raise ConfigError(f"routes[{index}]: {error}") from None
        self._routes = tuple(compiled)
        group_name, stream_name = group.constant, stream.constant
        self._fixed: tuple[str, str] | None = None
        if group_name is not None and stream_name is not None and not self._routes:
            self._fixed = (group_name, stream_name)

    @property
    def fixed(self) -> tuple[str, str] | None:
        """The one destination of every record when nothing varies per record, else None."""
        return self._fixed

    @property
    def routes(self) -> tuple[Route, ...]:
        return self._routes

    def destination(self, record: ReadableLogRecord, timestamp_ns: int) -> tuple[str, str]:
        """The first matching route's group and stream (each defaulting to the exporter's), else the defaults."""
        fixed = self._fixed
        if fixed is not None:
            return fixed
        group, stream = self._group, self._stream
        for route in self._routes:
            if route.matches(record):
                group = route._group or group
                stream = route._stream or stream
                break
        return group.render(record, timestamp_ns), stream.render(record, timestamp_ns)
