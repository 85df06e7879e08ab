"""Log group and stream names built from each record: ``/app/{service.name}``, ``{log_type}/{date}``.

Other exporters only offer a fixed list of placeholders; here any resource or attribute key works.

Placeholders, looked up in this order:

- ``{logger}`` the instrumentation scope (the stdlib logger's name), ``{level}`` the event's ``level``,
  ``{environment}`` the event's ``extra.environment`` (attribute, else the resource's deployment
  environment), ``{pid}`` this process's id, ``{date}`` the event's UTC date (``%Y-%m-%d``) or
  ``{date:%Y/%m/%d}`` with any format made of the directives in :data:`DATE_DIRECTIVES`;
- ``{resource.KEY}`` only the resource; ``{attributes.KEY}`` only the record's attributes (flat, or
  inside a nested ``extra`` dict, as in ``logger.info(msg, extra={"extra": {...}})``, which wins as in the
  event);
- ``{KEY}`` anything else: the attribute first (it is the more specific), else the resource.
  ``{attributes.level}`` reaches an attribute that a special name above hides.

``{{`` and ``}}`` are literal braces. A value that is missing (or ``None`` or empty) becomes
``unknown-KEY`` (``KEY`` as written in the template), so a missing key shows in the name instead of
failing the export.

Literal text is checked once, at construction: a character CloudWatch refuses is a configuration
mistake and raises :class:`ValueError` saying what to change. Values from records are made valid at run
time instead: in group names every character outside ``[.-_/#A-Za-z0-9]`` becomes ``_``; in stream
names ``:``, ``*``, control characters and lone surrogates become ``_``. Names are cut to 512
characters, counted in UTF-16 code units (what AWS's services count; the same as ``len`` unless the
text holds characters beyond U+FFFF), and an empty result becomes ``unknown``.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from typing import Literal

from opentelemetry.sdk._logs import ReadableLogRecord

from otel_cw_exporter.encode.jsonsafe import safe_str
from otel_cw_exporter.limits import GROUP_NAME_EXTRA_CHARS, MAX_NAME_LENGTH, STREAM_NAME_FORBIDDEN_CHARS
from otel_cw_exporter.records import attribute, environment_of, level_name, scope_name

Kind = Literal["group", "stream"]
Getter = Callable[[ReadableLogRecord], object]

#: What a missing value becomes: ``unknown-`` followed by the key as written in the template.
MISSING_PREFIX = "unknown-"
#: What an empty name becomes.
EMPTY_NAME = "unknown"
#: Format of ``{date}`` without a format of its own.
DEFAULT_DATE_FORMAT = "%Y-%m-%d"
#: strftime directives ``{date:...}`` accepts: portable ones meaning a calendar date or a time of day.
#: Left out: locale-wide forms (``%c %x %X``), ``%f`` (one stream per microsecond), the zone (always
#: UTC here) and platform-only ones (``%-d``, ``%s``) that fail or differ elsewhere.
DATE_DIRECTIVES = "aAwdbBmyYjUWGuVHIpMS%"
RESOURCE_PREFIX = "resource."
ATTRIBUTES_PREFIX = "attributes."

_GROUP_INVALID = re.compile("[^A-Za-z0-9" + re.escape(GROUP_NAME_EXTRA_CHARS) + "]")
_STREAM_INVALID = re.compile("[" + re.escape(STREAM_NAME_FORBIDDEN_CHARS) + "\x00-\x1f\x7f\ud800-\udfff]")
_KIND_RULES = {
    "group": "a log group name may hold only ASCII letters, digits and . _ - / #",
    "stream": "a log stream name may not hold ':', '*' or control characters",
}
#: Seconds one ``{date}`` string stays valid, by the finest directive in its format.
_GRANULARITY = {"S": 1, "M": 60, "H": 3600, "I": 3600, "p": 3600}
_DAY = 86_400


def _units(text: str) -> int:
    """Length in UTF-16 code units."""
    if text.isascii():
        return len(text)
    return len(text) + sum(1 for char in text if char > "\uffff")


def _cut(text: str) -> str:
    """``text`` cut to at most 512 UTF-16 code units (never inside a character)."""
    if len(text) <= MAX_NAME_LENGTH // 2 or (text.isascii() and len(text) <= MAX_NAME_LENGTH):
        return text
    units = 0
    for index, char in enumerate(text):
        units += 2 if char > "\uffff" else 1
        if units > MAX_NAME_LENGTH:
            return text[:index]
    return text


def valid_group_name(text: str) -> str:
    """``text`` made into a log group name: invalid characters become ``_``, cut to 512, never empty."""
    return _cut(_GROUP_INVALID.sub("_", text[: MAX_NAME_LENGTH + 1])) or EMPTY_NAME


def valid_stream_name(text: str) -> str:
    """``text`` made into a log stream name: ``:``, ``*`` and controls become ``_``, cut to 512, never empty."""
    return _cut(_STREAM_INVALID.sub("_", text[: MAX_NAME_LENGTH + 1])) or EMPTY_NAME


def is_valid_group_name(text: str) -> bool:
    """1..512 characters of ``[.-_/#A-Za-z0-9]``: what CreateLogGroup and PutLogEvents accept."""
    return 1 <= len(text) <= MAX_NAME_LENGTH and _GROUP_INVALID.search(text) is None


def is_valid_stream_name(text: str) -> bool:
    """1..512 characters (UTF-16 units), none of them ``:``, ``*``, a control character or a lone surrogate."""
    return 1 <= _units(text) <= MAX_NAME_LENGTH and _STREAM_INVALID.search(text) is None


_SANITIZERS: dict[str, Callable[[str], str]] = {"group": valid_group_name, "stream": valid_stream_name}
_INVALID: dict[str, re.Pattern[str]] = {"group": _GROUP_INVALID, "stream": _STREAM_INVALID}


def _resource_value(record: ReadableLogRecord, key: str) -> object:
    resource = record.resource
    return resource.attributes.get(key) if resource is not None else None


def record_field(key: str) -> Getter:
    """How to read ``key`` from a record; the lookup shared by name templates and routes.

    ``logger``, ``level`` and ``environment`` are the event's fields of those names; ``resource.KEY``
    and ``attributes.KEY`` read only that side; any other key is the attribute, else the resource's.
    Raises :class:`ValueError` for an empty key.
    """
    if not key:
        raise ValueError("the key is empty")
    if key != key.strip():
        raise ValueError(f"the key {key!r} has spaces around it: write {key.strip()!r}")
    if key == "logger":
        return scope_name
    if key == "level":
        return level_name
    if key == "environment":
        return environment_of
    for prefix in (RESOURCE_PREFIX, ATTRIBUTES_PREFIX):
        if key.startswith(prefix) and not key[len(prefix) :]:
            raise ValueError(f"{key!r} names no key: write {prefix}KEY")
    if key.startswith(RESOURCE_PREFIX):
        resource_key = key[len(RESOURCE_PREFIX) :]
        return lambda record: _resource_value(record, resource_key)
    if key.startswith(ATTRIBUTES_PREFIX):
        attribute_key = key[len(ATTRIBUTES_PREFIX) :]
        return lambda record: attribute(record, attribute_key)

    def attribute_else_resource(record: ReadableLogRecord) -> object:
        value = attribute(record, key)
        return _resource_value(record, key) if value is None else value

    return attribute_else_resource


class _Date:
    """The event's UTC date (or time) in one format; the text is cached for as long as it holds."""

    def __init__(self, fmt: str, directives: str, sanitize: Callable[[str], str], missing: str) -> None:
        self._format = fmt
        self._sanitize = sanitize
        self._missing = missing
        finest = [_GRANULARITY[char] for char in directives if char in _GRANULARITY]
        self._seconds = min(finest, default=_DAY)
        self._cached: tuple[int, str] = (-1, "")  # one tuple: a reader never sees half an update

    def __call__(self, record: ReadableLogRecord, timestamp_ns: int) -> str:
        bucket = timestamp_ns // 1_000_000_000 // self._seconds
        cached = self._cached
        if cached[0] == bucket:
            return cached[1]
        try:
            text = time.strftime(self._format, time.gmtime(bucket * self._seconds))
        except (OverflowError, OSError, ValueError):
            return self._missing
        text = self._sanitize(text) if text else self._missing
        self._cached = (bucket, text)
        return text


def _parse_date_format(fmt: str) -> tuple[str, str]:
    """The literal text of ``fmt`` (to check like the template's) and its directive letters.

    Raises :class:`ValueError` for a directive we refuse: Python passes unknown ones through as text.
    """
    if not fmt:
        raise ValueError("{date:} has no format: write {date} for YYYY-MM-DD or e.g. {date:%Y/%m/%d}")
    literal: list[str] = []
    directives: list[str] = []
    index = 0
    while index < len(fmt):
        char = fmt[index]
        if char != "%":
            literal.append(char)
            index += 1
            continue
        if index + 1 == len(fmt):
            raise ValueError(f"{{date:{fmt}}} ends with a lone '%': write '%%' for a percent sign")
        directive = fmt[index + 1]
        if directive not in DATE_DIRECTIVES:
            allowed = " ".join("%" + c for c in DATE_DIRECTIVES)
            raise ValueError(f"{{date:{fmt}}}: '%{directive}' is not a strftime directive we accept; use {allowed}")
        if directive == "%":
            literal.append("%")
        else:
            directives.append(directive)
        index += 2
    return "".join(literal), "".join(directives)


def _check_literal(text: str, kind: Kind, where: str) -> None:
    found = _INVALID[kind].search(text)
    if found is not None:
        raise ValueError(
            f"{where} holds {found.group()!r}, and {_KIND_RULES[kind]}: remove it or use '_' or '-' instead"
        )


class NameTemplate:
    """A log group or stream name, constant or built from each record; see the module's docs.

    Construction raises :class:`ValueError` (the message says what to change); :meth:`render` never
    raises and always returns a valid name. A template without placeholders (most configurations) is
    :attr:`constant`, and render returns it without looking at the record.
    """

    __slots__ = ("_constant", "_head", "_steps", "kind", "template")

    def __init__(self, template: str, kind: Kind) -> None:
        if kind not in _SANITIZERS:
            raise ValueError(f"kind={kind!r}: expected 'group' or 'stream'")
        self.template = template
        self.kind: Kind = kind
        what = f"log {kind} name template {template!r}"
        if not template:
            raise ValueError(f"{what} is empty: give a name such as 'app' or a template such as '{{service.name}}'")
        sanitize = _SANITIZERS[kind]
        literals: list[str] = []  # literals[i] precedes getters[i]; one more literal than getters
        getters: list[Callable[[ReadableLogRecord, int], str]] = []
        chunk: list[str] = []
        literal_chars = 0
        index, end = 0, len(template)
        while index < end:
            char = template[index]
            if char == "}":
                if template.startswith("}}", index):
                    chunk.append("}")
                    index += 2
                    continue
                raise ValueError(f"{what}: '}}' at position {index} closes nothing: write '}}}}' for a literal brace")
            if char != "{":
                chunk.append(char)
                index += 1
                continue
            if template.startswith("{{", index):
                chunk.append("{")
                index += 2
                continue
            close = template.find("}", index + 1)
            reopen = template.find("{", index + 1)
            if close < 0 or 0 <= reopen < close:
                raise ValueError(
                    f"{what}: '{{' at position {index} is never closed: close it with '}}' "
                    "or write '{{' for a literal brace"
                )
            field = template[index + 1 : close]
            try:
                getter, date_literal = self._placeholder(field, sanitize)
            except ValueError as error:
                raise ValueError(f"{what}: {{{field}}}: {error}") from None
            _check_literal(date_literal, kind, f"{what}: the date format of {{{field}}}")
            literals.append("".join(chunk))
            literal_chars += _units(literals[-1]) + _units(date_literal)
            getters.append(getter)
            chunk = []
            index = close + 1
        literals.append("".join(chunk))
        literal_chars += _units(literals[-1])
        for text in literals:
            _check_literal(text, kind, what)
        if literal_chars > MAX_NAME_LENGTH:
            raise ValueError(
                f"{what} has {literal_chars} characters of literal text (in UTF-16 units, as AWS counts): "
                f"a log {kind} name holds at most {MAX_NAME_LENGTH}; shorten it"
            )
        self._head = literals[0]
        self._steps = tuple(zip(getters, literals[1:], strict=True))
        self._constant = None if getters else literals[0]

    @staticmethod
    def _placeholder(field: str, sanitize: Callable[[str], str]) -> tuple[Callable[[ReadableLogRecord, int], str], str]:
        """The getter of one placeholder, and the literal text of its date format (for checking)."""
        if not field:
            raise ValueError("an empty placeholder: name a key, e.g. {service.name}, or write {{}} for braces")
        name, colon, fmt = field.partition(":")
        if name == "date":
            if not colon:
                fmt = DEFAULT_DATE_FORMAT
            literal, directives = _parse_date_format(fmt)
            return _Date(fmt, directives, sanitize, sanitize(MISSING_PREFIX + "date")), literal
        if colon:
            raise ValueError("only {date:...} takes a format after ':'")
        if name == "pid":
            return lambda record, timestamp_ns: str(os.getpid()), ""
        read = record_field(name)
        missing = sanitize(MISSING_PREFIX + field)

        last: list[tuple[object, str]] = [(None, missing)]  # one entry: the same str object comes back

        def value(record: ReadableLogRecord, timestamp_ns: int) -> str:
            found = read(record)
            if found is None:
                return missing
            cached = last[0]
            if found is cached[0]:
                return cached[1]
            if not isinstance(found, str):
                text = safe_str(found)
                return sanitize(text[: MAX_NAME_LENGTH + 1]) if text else missing
            text = sanitize(found[: MAX_NAME_LENGTH + 1]) if found else missing
            last[0] = (found, text)
            return text

        return value, ""

    @property
    def is_constant(self) -> bool:
        """True when the template has no placeholders: every record gets :attr:`constant`."""
        return self._constant is not None

    @property
    def constant(self) -> str | None:
        """The name, when the template has no placeholders; else None."""
        return self._constant

    def render(self, record: ReadableLogRecord, timestamp_ns: int) -> str:
        """The name for ``record``, whose time is ``timestamp_ns`` (for ``{date}``); always valid."""
        if self._constant is not None:
            return self._constant
        parts = [self._head]
        for getter, literal in self._steps:
            parts.append(getter(record, timestamp_ns))
            parts.append(literal)
        return _cut("".join(parts))

    def __repr__(self) -> str:
        return f"NameTemplate({self.template!r}, kind={self.kind!r})"
