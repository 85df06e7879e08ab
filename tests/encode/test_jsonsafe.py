"""Any value encodes to valid, readable JSON, and both JSON tiers write the same event."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import enum
import json
import math
import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_cw_exporter.encode import jsonsafe
from otel_cw_exporter.encode.event import EventEncoder
from otel_cw_exporter.encode.jsonsafe import dumps
from otel_cw_exporter.limits import EVENT_OVERHEAD, MAX_EVENT_BYTES
from tests.support import SPAN, TRACE, encode, make_record, orjson_tier


class Color(enum.Enum):
    RED = "red"
    PAIR = (1, "b")


@dataclasses.dataclass
class Point:
    x: int
    y: float


class Exploding:
    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def test_awkward_values_become_valid_readable_json() -> None:
    cycle: list[Any] = [1]
    cycle.append(cycle)
    deep: Any = "bottom"
    for _ in range(5000):
        deep = [deep]
    values = {
        "nan": math.nan,
        "inf": math.inf,
        "ninf": -math.inf,
        "bytes_utf8": "é".encode(),
        "bytes_bin": b"\xff\x00",
        "dt": dt.datetime(2026, 11, 24, 9, 15, tzinfo=dt.timezone.utc),
        "date": dt.date(2026, 11, 24),
        "dec": Decimal("1.10"),
        "uuid": uuid.UUID(int=1),
        "enum": Color.RED,
        "enum_pair": Color.PAIR,
        "set": {3, 1, 2},
        "tuple": (1, "a"),
        "dc": Point(1, 2.5),
        "exploding": Exploding(),
        "cycle": cycle,
        "deep": deep,
        "surrogate": "a\ud800b",
        "keys": {1: "int", None: "none", (1, 2): "tuple"},
    }
    body = encode(make_record("m\udfff", values))
    extra = body["extra"]
    assert extra["nan"] == "NaN" and extra["inf"] == "Infinity" and extra["ninf"] == "-Infinity"
    assert extra["bytes_utf8"] == "é"
    assert extra["bytes_bin"] == "base64:/wA="
    assert extra["dt"] == "2026-11-24T09:15:00+00:00"
    assert extra["date"] == "2026-11-24"
    assert extra["dec"] == "1.10"
    assert extra["uuid"] == "00000000-0000-0000-0000-000000000001"
    assert extra["enum"] == "red" and extra["enum_pair"] == [1, "b"]  # by value, whatever the value
    assert extra["set"] == [1, 2, 3]
    assert extra["tuple"] == [1, "a"]
    assert extra["dc"] == {"x": 1, "y": 2.5}
    assert extra["exploding"] == "<unprintable Exploding>"
    assert extra["cycle"] == [1, "<cycle>"]
    assert "<max depth>" in json.dumps(extra["deep"])
    assert extra["surrogate"] == "a\ufffdb"
    assert body["message"] == "m\ufffd"
    assert extra["keys"] == {"1": "int", "null": "none", "(1, 2)": "tuple"}


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.binary()
    | st.decimals()
    | st.datetimes()
    | st.uuids(),
    lambda children: st.lists(children) | st.dictionaries(st.text() | st.integers(), children) | st.tuples(children),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(body=json_values, attributes=st.dictionaries(st.text(), json_values, max_size=5))
def test_any_value_encodes_to_valid_json(body: Any, attributes: dict[str, Any]) -> None:
    event = EventEncoder().encode(make_record(body, attributes))
    parsed = json.loads(event.message)
    assert isinstance(parsed, dict)
    assert event.size == len(event.message.encode("utf-8")) + EVENT_OVERHEAD
    assert event.size <= MAX_EVENT_BYTES


def test_the_orjson_tier_is_installed_for_the_suite() -> None:
    # The test extra installs orjson, so the fast tier is what the rest of this file exercises.
    assert jsonsafe._orjson is not None


@settings(max_examples=300, deadline=None)
@given(body=json_values, attributes=st.dictionaries(st.text(), json_values, max_size=5))
def test_the_orjson_and_stdlib_tiers_write_the_same_event(body: Any, attributes: dict[str, Any]) -> None:
    record = make_record(body, attributes)
    with orjson_tier(True):
        fast = EventEncoder().encode(record)
    with orjson_tier(False):
        slow = EventEncoder().encode(record)
    assert json.loads(fast.message) == json.loads(slow.message)
    assert fast.size == len(fast.message.encode("utf-8")) + EVENT_OVERHEAD
    assert (fast.timestamp, fast.truncated) == (slow.timestamp, slow.truncated)


def test_the_seed_event_is_byte_identical_in_both_tiers() -> None:
    record = make_record(
        "Added secret",
        {"extra": {"user_email": "jdoe@example.com", "log_type": "Security", "n": 3, "ok": True, "r": 0.5}},
        trace_id=TRACE,
        span_id=SPAN,
    )
    with orjson_tier(True):
        fast = EventEncoder().encode(record)
    with orjson_tier(False):
        slow = EventEncoder().encode(record)
    assert fast == slow


@pytest.mark.parametrize("enabled", [True, False], ids=["orjson", "stdlib"])
def test_nan_and_null_take_the_safe_tier(enabled: bool) -> None:
    # orjson writes NaN as null; the schema wants "NaN", and a real null must stay null.
    with orjson_tier(enabled):
        body = encode(make_record("m", {"nan": math.nan, "none": None, "inf": [math.inf]}))
    assert body["extra"] == {"nan": "NaN", "none": None, "inf": ["Infinity"], "environment": "production"}


@pytest.mark.parametrize("enabled", [True, False], ids=["orjson", "stdlib"])
def test_subclasses_are_written_as_their_base_type(enabled: bool) -> None:
    class Count(int):
        def __str__(self) -> str:
            return "not this"

    class Name(str):
        pass

    class Ordered(collections.OrderedDict):  # type: ignore[type-arg]
        pass

    with orjson_tier(enabled):
        body = encode(make_record("m", {"count": Count(7), "name": Name("x"), "ordered": Ordered(b=1)}))
    assert body["extra"]["count"] == 7 and body["extra"]["name"] == "x" and body["extra"]["ordered"] == {"b": 1}


@pytest.mark.parametrize("enabled", [True, False], ids=["orjson", "stdlib"])
def test_integers_python_will_not_print_become_a_note(enabled: bool) -> None:
    # Python refuses str() of an int beyond 4,300 digits: the record must still encode.
    with orjson_tier(enabled):
        body = encode(make_record(10**5000, {"big": -(10**6000), "fine": 10**100}))
    assert body["message"] == "<int of 16610 bits>"
    assert body["extra"]["big"] == "<int of 19932 bits>" and body["extra"]["fine"] == 10**100


def without_floats(value: Any) -> Any:
    """``value`` with every float replaced by a marker string: what is left must be spelled alike."""
    if isinstance(value, float):
        return f"<float {value!r}>"
    if isinstance(value, dict):
        return {key: without_floats(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [without_floats(item) for item in value]
    return value


@settings(max_examples=300, deadline=None)
@given(body=json_values, attributes=st.dictionaries(st.text(), json_values, max_size=5))
def test_the_tiers_differ_only_in_how_floats_are_spelled(body: Any, attributes: dict[str, Any]) -> None:
    # What the README says of the fast extra: the same JSON values; floats may be spelled differently
    # (1e-07 against 1e-7, 1e-05 against 0.00001), every other byte is the same.
    plain = make_record(without_floats(body), without_floats(attributes))
    with orjson_tier(True):
        fast = EventEncoder().encode(plain).message
    with orjson_tier(False):
        slow = EventEncoder().encode(plain).message
    assert fast == slow


def test_how_the_tiers_spell_floats() -> None:
    with orjson_tier(True):
        fast = dumps([1e-7, 1e-05, 1e16, 0.1])
    with orjson_tier(False):
        slow = dumps([1e-7, 1e-05, 1e16, 0.1])
    assert (fast, slow) == ("[1e-7,0.00001,1e+16,0.1]", "[1e-07,1e-05,1e+16,0.1]")
    assert json.loads(fast) == json.loads(slow)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=8), st.text(max_size=300) | st.integers()), min_size=1, max_size=12))
def test_escaping_compact_json_is_the_string_literal_in_both_tiers(values: list[dict[str, Any]]) -> None:
    # Long text goes through orjson, short text through replace: each is the literal's inside exactly.
    for enabled in (True, False):
        with orjson_tier(enabled):
            text = jsonsafe.fragment(values)
            if text is None:
                continue
            for piece in (text, text * 8):
                assert jsonsafe.escape_json_text(piece) == json.dumps(piece, ensure_ascii=False)[1:-1]
