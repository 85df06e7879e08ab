"""Turn any Python value into JSON text that is valid, whatever the application logged.

Three tiers, each taken only when the one before refuses: orjson when it is installed (the ``fast``
extra; about 5 us less per event), the stdlib encoder with a ``default`` hook, and, when that fails too
(NaN, a cycle, absurd nesting, keys that are not strings), one walk that rebuilds the value from safe
parts. orjson refuses by itself what needs the slower tiers (lone surrogates, integers beyond 64 bits,
keys that are not strings, deep nesting), except NaN and infinities, which it writes as ``null``: its
output is kept only when it holds no ``null`` at all. The tiers give the same JSON values and the same
bytes, but for the spelling of some floats (orjson's ``1e-7`` and ``0.00001``, the stdlib's ``1e-07`` and
``1e-05``).
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as _dt
import json
import math
import re
from collections.abc import Mapping, Sequence, Set
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID


def _load_orjson() -> Any:
    """orjson when installed (the ``fast`` extra), else None."""
    try:
        import orjson
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    return orjson


_orjson: Any = _load_orjson()

#: Nesting deeper than this is replaced by a marker string (the SDK itself allows any depth).
MAX_DEPTH = 64
#: Python refuses to print integers of more than 4,300 digits (about 14,000 bits): those become a note.
_MAX_INT_BITS = 14_000
_SURROGATES = re.compile("[\ud800-\udfff]")


def safe_str(value: object) -> str:
    """``str(value)``, else ``repr(value)``, else a marker: an object's own methods may raise."""
    for convert in (str, repr):
        try:
            text = convert(value)
            if isinstance(text, str):
                return text
        except Exception:
            continue
    return f"<unprintable {type(value).__name__}>"


def bytes_text(data: bytes) -> str:
    """Bytes as text: UTF-8 when valid, otherwise base64 (prefixed so a reader can tell)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(data).decode("ascii")


def _convert(value: Any) -> Any:
    """The JSON-able stand-in for a value the stdlib encoder does not know."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes_text(bytes(value))
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (Decimal, UUID)):
        return str(value)
    if isinstance(value, Set):
        items = list(value)
        with contextlib.suppress(TypeError):  # mixed types keep their order
            items.sort()
        return items
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: getattr(value, field.name, None) for field in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return dict(value.items())
    if isinstance(value, Sequence) and not isinstance(value, str):
        return list(value)
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {safe_str(value)}"
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):  # subclasses, which orjson hands here: as the stdlib writes them
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str.__str__(value)
    return safe_str(value)


def _default(value: Any) -> Any:
    try:
        return _convert(value)
    except Exception:
        return safe_str(value)


_ENCODER = json.JSONEncoder(
    ensure_ascii=False,
    allow_nan=False,
    check_circular=True,
    separators=(",", ":"),
    default=_default,
)
_PLAIN_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _float(value: float) -> float | str:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _key(key: object) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, (bool, int, float)):
        return _PLAIN_ENCODER.encode(_float(key) if isinstance(key, float) else key).strip('"')
    converted = _default(key)
    return converted if isinstance(converted, str) else safe_str(key)


def sanitize(value: Any, _depth: int = 0, _path: frozenset[int] = frozenset()) -> Any:
    """A copy of ``value`` made only of JSON types, with NaN, cycles and depth made harmless."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return value if value.bit_length() < _MAX_INT_BITS else f"<int of {value.bit_length()} bits>"
    if isinstance(value, float):
        return _float(value)
    if _depth >= MAX_DEPTH:
        return "<max depth>"
    ident = id(value)
    if ident in _path:
        return "<cycle>"
    try:
        if isinstance(value, Mapping):
            inner = _path | {ident}
            return {_key(k): sanitize(v, _depth + 1, inner) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            inner = _path | {ident}
            return [sanitize(v, _depth + 1, inner) for v in value]
        converted = _default(value)
    except Exception:
        return f"<unserializable {type(value).__name__}>"
    if isinstance(converted, str):
        return converted
    return sanitize(converted, _depth + 1, _path | {ident})


_JSON_SCALARS = (str, bool, type(None))
#: Exact types :func:`clean` returns as they are, whatever they hold (bytes stay bytes): a caller with
#: many values may skip the call for these.
CLEAN_SCALARS = frozenset({str, bool, type(None), bytes})
_STR = {str}


def _is_clean(value: Any, depth: int) -> bool:
    """Whether ``value`` is already made only of JSON types (and bytes) that :func:`sanitize` would keep."""
    kind = type(value)
    if kind in _JSON_SCALARS or kind is bytes:
        return True
    if kind is int:
        return bool(value.bit_length() < _MAX_INT_BITS)
    if kind is float:
        return math.isfinite(value)
    if depth >= MAX_DEPTH:
        return False
    if kind is dict:
        return all(type(k) is str and _is_clean(v, depth + 1) for k, v in value.items())
    if kind is list or kind is tuple:
        return all(_is_clean(v, depth + 1) for v in value)
    return False


def clean(value: Any) -> Any:
    """``value`` as the event would show it, made of types anyone can take: the very same object when it
    already is (the common case, checked without copying), else :func:`sanitize`'s copy. Bytes stay bytes.

    The SDK's own attribute cleaning turns a datetime, Enum, set or dataclass into its ``str()`` and
    raises on cycles, deep nesting or a failing ``__str__``: values go through this before the SDK.
    """
    kind = type(value)
    if kind in CLEAN_SCALARS:  # the usual values first, without a call
        return value
    if kind is dict and set(map(type, value.values())) <= CLEAN_SCALARS and set(map(type, value)) == _STR:
        return value  # ``extra={"extra": {...}}`` of text: one pass over its values and one over its keys
    try:
        if _is_clean(value, 0):
            return value
    except RecursionError:  # nesting beyond Python's limit inside a list of lists of...: sanitize cuts it
        pass
    if isinstance(value, (bytes, bytearray, memoryview)) and not isinstance(value, bytes):
        return bytes(value)
    return sanitize(value)


def _clean_text(text: str) -> str:
    """Lone surrogates cannot be UTF-8 encoded: replace them rather than fail the request."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATES.sub("\ufffd", text)
    return text


#: orjson hands these to ``default`` (so to :func:`_convert`) instead of writing them its own way.
_ORJSON_OPTIONS = (
    0
    if _orjson is None
    else _orjson.OPT_PASSTHROUGH_DATETIME | _orjson.OPT_PASSTHROUGH_DATACLASS | _orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _fast(value: Any) -> bytes | None:
    """orjson's UTF-8 text, or None when a slower tier must do it (see the module's docstring)."""
    try:
        data: bytes = _orjson.dumps(value, default=_default, option=_ORJSON_OPTIONS)
    except (TypeError, ValueError, RecursionError):  # orjson.JSONEncodeError is a TypeError
        return None
    return None if b"null" in data else data


def dumps_sized(value: Any) -> tuple[str, int]:
    """Compact JSON text for any value and its UTF-8 length; never raises."""
    if _orjson is not None:
        data = _fast(value)
        if data is not None:
            return data.decode("utf-8"), len(data)
    text = _slow(value)
    return text, utf8_size(text)


def dumps(value: Any) -> str:
    """Compact JSON text for any value; never raises."""
    if _orjson is not None:
        data = _fast(value)
        if data is not None:
            return data.decode("utf-8")
    return _slow(value)


def _slow(value: Any) -> str:
    try:
        text = _ENCODER.encode(value)
    except (ValueError, TypeError, RecursionError):
        try:
            text = _ENCODER.encode(sanitize(value))
        except Exception:  # not expected: sanitize leaves only JSON types
            text = _ENCODER.encode(f"<unencodable {type(value).__name__}>")
    return _clean_text(text)


def plain_bytes(value: Any) -> bytes:
    """UTF-8 JSON of a value made only of JSON types and clean text (a request body)."""
    if _orjson is not None:
        try:
            data: bytes = _orjson.dumps(value)
        except TypeError:
            pass
        else:
            return data
    return _PLAIN_ENCODER.encode(value).encode("utf-8", "surrogatepass")


def orjson_active() -> bool:
    """Whether the orjson tier is on: then one orjson call escapes a whole request body faster than
    joining messages escaped beforehand, so the encoder leaves ``Event.escaped`` empty."""
    return _orjson is not None


def use_orjson(enabled: bool) -> bool:
    """Turn the orjson tier on or off (tests compare the tiers); returns whether it was on."""
    global _orjson  # noqa: PLW0603 - one process-wide switch
    was = _orjson is not None
    _orjson = _load_orjson() if enabled else None
    return was


def encoded_size(value: str) -> int:
    """UTF-8 bytes of the JSON string literal for ``value`` (escapes included)."""
    text = _PLAIN_ENCODER.encode(value)
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def utf8_size(text: str) -> int:
    """UTF-8 length of already-clean text; ASCII text needs no encoding to be measured."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def fragment(value: Any) -> str | None:
    """``value``'s JSON exactly as :func:`dumps` writes it inside any event whose every part passes this
    check, or None when it does not (the caller then encodes the whole event the usual way).

    For values made only of dicts with text keys, lists and plain scalars. None comes back for what would
    send the whole event to another tier or through a repair: ``null`` in orjson's output (None, NaN, the
    word "null" in a string), integers beyond 64 bits, lone surrogates, anything orjson hands to ``default``.
    """
    if _orjson is not None:
        try:
            data: bytes = _orjson.dumps(value, option=_ORJSON_OPTIONS)  # no default: the unusual raises
        except (TypeError, ValueError, RecursionError):
            return None
        return None if b"null" in data else data.decode("utf-8")
    try:
        text = _PLAIN_ENCODER.encode(value)
    except (TypeError, ValueError, RecursionError):
        return None
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return None
    return text


def string_content(text: str) -> str | None:
    """``text`` as the inside of a JSON string literal (what a request body holds between the quotes),
    or None for text that cannot be UTF-8 (lone surrogates). The same escapes in both tiers."""
    if _orjson is not None:
        try:
            literal: str = _orjson.dumps(text).decode("utf-8")
        except TypeError:
            return None
        return literal[1:-1]
    literal = _PLAIN_ENCODER.encode(text)
    try:
        literal.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return literal[1:-1]


def escape_json_text(text: str) -> str:
    """The inside of the JSON string literal for ``text`` that is itself compact JSON written by this module
    (so it holds no control characters): only ``\\`` and ``"`` need escaping, the same in both tiers.

    Long text (a run of events' ``extra``) goes through orjson when installed: one pass, about 40% less
    than replacing each quote; it escapes nothing else in such text.
    """
    if _orjson is not None and len(text) >= 1024:
        try:
            literal: str = _orjson.dumps(text).decode("utf-8")
        except TypeError:  # lone surrogates: never in text this module wrote
            pass
        else:
            return literal[1:-1]
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    return text.replace('"', '\\"')
