"""The fast path writes the very bytes of the reference encoder, for any record and any run of records."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.resources import Resource

from otel_cw_exporter.encode.event import Event, EventEncoder, event_from
from otel_cw_exporter.encode.fast import FastEncoder
from otel_cw_exporter.encode.jsonsafe import string_content
from otel_cw_exporter.encode.redaction import Redactor
from otel_cw_exporter.limits import EVENT_OVERHEAD
from tests.support import RESOURCE, SPAN, TRACE, make_record, orjson_tier

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
#: Values that are equal in Python and different in JSON, next to ones that need the full path.
TRAPS = [1, True, 1.0, 0, False, 0.0, -0.0, math.nan, math.inf, None, 2**70, "1", "null", ""]
SCALARS = st.one_of(
    st.sampled_from(TRAPS),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from(["production", "user@example.com", f"Bearer {TOKEN}", "password=hunter2", "a\ud800b", "é日😀"]),
)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=3),
    st.dictionaries(st.sampled_from(["a", "password", "n"]), SCALARS, max_size=2),
    st.tuples(SCALARS),
)
KEYS = st.sampled_from(
    [
        "user_email",
        "environment",
        "log_type",
        "password",
        "api_version",
        "note",
        "code.file.path",
        "code.function.name",
        "code.line.number",
        "code.secret_token",
        "exception.type",
        "extra",
        "null",
    ]
)
NESTED = st.one_of(
    st.dictionaries(
        st.sampled_from(["environment", "user_email", "resource_id", "db_token", "x"]), SCALARS, max_size=4
    ),
    SCALARS,
)
RESOURCES = st.sampled_from(
    [
        RESOURCE,
        Resource({"service.name": "integrates", "deployment.environment.name": "production"}),
        Resource({"service.name": "s"}),
        Resource({"service.name": "nullable", "deployment.environment": "staging"}),
        Resource({"service.name": "s", "deployment.environment.name": ("a", "b"), "ratio": 0.5}),
        Resource({"service.name": "s", "db.password": "hunter2", "token.url": f"u?t={TOKEN}"}),
    ]
)
BODIES = st.one_of(
    st.sampled_from(["Added secret", "", None, "null", f"see {TOKEN}", "login password=x", '\x00\n"\\']),
    st.text(max_size=20),
    VALUES,
)


@st.composite
def records(draw: st.DrawFn) -> Any:
    attributes: dict[str, Any] = {}
    for key in draw(st.lists(KEYS, max_size=5, unique=True)):
        attributes[key] = draw(NESTED if key == "extra" else VALUES)
    return make_record(
        draw(BODIES),
        attributes,
        timestamp_ms=draw(st.sampled_from([1795511702123, 1795511702124, 1795511703000])),
        severity_text=draw(st.sampled_from(["INFO", "ERROR", None, ""])),
        resource=draw(RESOURCES),
        logger=draw(st.sampled_from(["transactional", "app", "null", "é"])),
        trace_id=draw(st.sampled_from([0, TRACE, TRACE + 1])),
        span_id=draw(st.sampled_from([0, SPAN, True])),
        event_name=draw(st.sampled_from([None, "", "user.login", "null"])),
    )


REDACTORS = {
    "default": Redactor,
    "none": lambda: None,
    "disabled": Redactor.disabled,
    "env-is-secret": lambda: Redactor(keys=("env", "note"), mask="[X]"),
    "no-tokens": lambda: Redactor(scrub_tokens=False),
}


def same(fast: Event, reference: Event) -> None:
    assert fast[:4] == reference[:4]
    if fast.escaped:
        assert fast.escaped == string_content(fast.message)


@settings(max_examples=250, deadline=None)
@given(
    batch=st.lists(records(), min_size=1, max_size=6),
    redaction=st.sampled_from(sorted(REDACTORS)),
    xray=st.booleans(),
    tier=st.booleans(),
)
def test_the_fast_path_writes_the_reference_bytes(batch: list[Any], redaction: str, xray: bool, tier: bool) -> None:
    # One encoder of each kind over the whole run, so that every cache meets equal-but-different values.
    redactor = REDACTORS[redaction]()
    with orjson_tier(tier):
        fast = FastEncoder(xray_trace_id=xray, redactor=redactor)
        reference = EventEncoder(xray_trace_id=xray, redactor=redactor)
        for record in batch + batch:
            same(fast.encode(record), reference.encode(record))


class FullPath:
    """Counts the records ``fast`` hands to its reference encoder (the full path)."""

    def __init__(self, fast: FastEncoder) -> None:
        self.records: list[Any] = []
        self._encode = fast.reference.encode
        fast.reference.encode = self  # type: ignore[method-assign]

    def __call__(self, record: Any) -> Event:
        self.records.append(record)
        return self._encode(record)


def security_event(i: int, **extra: Any) -> Any:
    nested = {
        "environment": "production",
        "user_email": f"user{i % 7}@example.com",
        "log_type": "Security",
        "group_name": "unittesting",
        "resource_type": "GitRoot",
        "resource_id": f"{i:08x}",
        **extra,
    }
    attributes = {
        "extra": nested,
        "code.file.path": "/app/secrets.py",
        "code.function.name": "add_secret",
        "code.line.number": 40,
    }
    return make_record("Added secret", attributes, timestamp_ms=1795511702123 + i, trace_id=TRACE, span_id=SPAN)


@pytest.mark.parametrize("tier", [True, False], ids=["orjson", "stdlib"])
def test_the_security_event_takes_the_fast_path(tier: bool) -> None:
    with orjson_tier(tier):
        fast = FastEncoder(redactor=Redactor())
        reference = EventEncoder(redactor=Redactor())
        full_path = FullPath(fast)
        for i in range(50):
            record = security_event(i)
            event = fast.encode(record)
            same(event, reference.encode(record))
            assert bool(event.escaped) is not tier  # with orjson, the request body escapes it
            assert event.size == len(event.message.encode()) + EVENT_OVERHEAD
        assert not full_path.records, "the usual record went the full path"


@pytest.mark.parametrize(
    "extra",
    [{"note": f"Bearer {TOKEN}"}, {"password": "hunter2"}, {"url": "https://x/?token=abc"}, {"n": None}, {"f": -0.0}],
)
def test_values_that_need_the_full_path_get_its_bytes(extra: dict[str, Any]) -> None:
    fast = FastEncoder(redactor=Redactor())
    reference = EventEncoder(redactor=Redactor())
    for i in range(3):
        same(fast.encode(security_event(i, **extra)), reference.encode(security_event(i, **extra)))
    assert TOKEN not in fast.encode(security_event(0, **extra)).message


def test_equal_values_of_different_types_are_never_one_cache_entry() -> None:
    fast, reference = FastEncoder(), EventEncoder()
    for line in (1, True, 1.0, 0, False, 0.0, -0.0, 1, 0.0):
        record = make_record("m", {"code.line.number": line, "extra": {"v": line}})
        event = fast.encode(record)
        same(event, reference.encode(record))
        written = json.loads(event.message)
        assert repr(written["code"]["line.number"]) == repr(line) == repr(written["extra"]["v"])


def test_an_event_rebuilt_from_its_message_is_complete() -> None:
    event = event_from(5, '{"a":"q\\"\\u0001"}', truncated=True)
    assert event == Event(5, '{"a":"q\\"\\u0001"}', 17 + EVENT_OVERHEAD, True, string_content(event.message) or "")
    changed = FastEncoder().encode(security_event(1))._replace(message="{}")
    assert changed.escaped == ""  # a rewritten message is escaped again by the request body


CHANGES = st.sampled_from(
    [
        "none",
        "line-true",
        "line-float",
        "value-trap",
        "value-token",
        "span",
        "body",
        "level",
        # equal, and another object: the run's identity checks must fall back to equality and types
        "equal-body",
        "equal-trace",
        "str-level",
        # another set of ``extra`` keys in one record: its own JSON, or the full path when it must
        "extra-keys",
        "extra-secret-key",
        "extra-no-environment",
        "extra-reordered",
        # the run's time spans two seconds, or goes back
        "next-second",
        "earlier",
    ]
)


class _Level(str):
    """A level equal to "INFO" that is not a str."""


def odd_run(count: int, change: str, where: int = 0, trap: Any = None) -> list[Any]:
    """A run of records from one call site, one of them different in a way equality alone would miss."""
    batch = [security_event(i) for i in range(count)]
    odd = batch[where % count].log_record
    attributes = odd.attributes
    assert isinstance(attributes, dict)
    if change == "line-true":
        attributes["code.line.number"] = True if attributes["code.line.number"] == 1 else 1
        for record in batch:
            record.log_record.attributes["code.line.number"] = 1  # type: ignore[index]
        attributes["code.line.number"] = True
    elif change == "line-float":
        attributes["code.line.number"] = float(attributes["code.line.number"])
    elif change in ("value-trap", "value-token"):
        attributes["extra"] = {**attributes["extra"], "resource_id": trap if change == "value-trap" else f"x {TOKEN}"}
    elif change == "span":
        odd.span_id = SPAN + 1
    elif change == "body":
        odd.body = "Added secret "
    elif change == "level":
        odd.severity_text = "WARN"
    elif change == "equal-body":
        odd.body = "".join(["Added ", "secret"])
    elif change == "equal-trace":
        odd.trace_id = int(str(TRACE))
    elif change == "str-level":
        odd.severity_text = _Level("INFO")
    elif change == "extra-keys":
        attributes["extra"] = {key: value for key, value in attributes["extra"].items() if key != "group_name"}
        attributes["extra"]["note"] = "a note"
    elif change == "extra-secret-key":
        attributes["extra"] = {**attributes["extra"], "password": "hunter2"}
    elif change == "extra-no-environment":
        attributes["extra"] = {key: value for key, value in attributes["extra"].items() if key != "environment"}
    elif change == "extra-reordered":
        attributes["extra"] = dict(reversed(attributes["extra"].items()))
    elif change == "next-second":
        odd.timestamp = (odd.timestamp or 0) + 1_000_000_000
    elif change == "earlier":
        odd.timestamp = (odd.timestamp or 0) - 3_600_000_000_000
    return batch


@settings(max_examples=150, deadline=None)
@given(
    count=st.integers(min_value=8, max_value=40),
    change=CHANGES,
    where=st.integers(min_value=0, max_value=39),
    trap=SCALARS,
    redaction=st.sampled_from(sorted(REDACTORS)),
    tier=st.booleans(),
)
def test_records_encoded_together_get_the_reference_bytes(
    *, count: int, change: str, where: int, trap: Any, redaction: str, tier: bool
) -> None:
    batch = odd_run(count, change, where, trap)
    redactor = REDACTORS[redaction]()
    with orjson_tier(tier):
        fast = FastEncoder(redactor=redactor)
        reference = EventEncoder(redactor=redactor)
        for _ in range(2):  # the first pass fills the caches, the second encodes runs together
            events = []
            for made, chunk in fast.chunks(batch):
                events.extend(made if made is not None else map(fast.encode, chunk))
            assert len(events) == count
            for event, record in zip(events, batch, strict=True):
                same(event, reference.encode(record))


def test_a_uniform_run_is_encoded_together() -> None:
    fast = FastEncoder(redactor=Redactor())
    batch = [security_event(i) for i in range(300)]
    runs = []
    for made, chunk in fast.chunks(batch):
        runs.append(made is not None)
        if made is None:
            list(map(fast.encode, chunk))
    assert runs == [False, True]  # nothing known at first: record by record, filling the caches


@pytest.mark.parametrize(
    "change", ["equal-body", "equal-trace", "extra-keys", "extra-reordered", "next-second", "earlier", "span"]
)
def test_a_run_with_equal_or_own_parts_is_still_encoded_together(change: str) -> None:
    # What each record may have of its own (its extra keys, its span, its time) keeps the run whole.
    batch = odd_run(256, change, where=100)
    fast, reference = FastEncoder(redactor=Redactor()), EventEncoder(redactor=Redactor())
    list(map(fast.encode, batch))  # the caches, as a first run fills them
    ((made, chunk),) = list(fast.chunks(batch))
    assert made is not None
    for event, record in zip(made, chunk, strict=True):
        same(event, reference.encode(record))


@pytest.mark.parametrize("code", [{}, {"code.function.name": "add_secret"}, {"code.line.number": 40}])
def test_a_run_with_fewer_code_fields_is_encoded_together(code: dict[str, Any]) -> None:
    attributes = [{"extra": {"environment": "production", "n": str(i)}, **code} for i in range(256)]
    batch = [make_record("Added secret", a, timestamp_ms=1795511702123 + i) for i, a in enumerate(attributes)]
    fast, reference = FastEncoder(redactor=Redactor()), EventEncoder(redactor=Redactor())
    list(map(fast.encode, batch))
    ((made, chunk),) = list(fast.chunks(batch))
    assert made is not None
    for event, record in zip(made, chunk, strict=True):
        same(event, reference.encode(record))
