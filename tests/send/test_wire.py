"""The PutLogEvents body we write is the one botocore would send."""

from __future__ import annotations

import json

import pytest

from otel_cw_exporter.encode.event import Event
from otel_cw_exporter.encode.fast import FastEncoder
from otel_cw_exporter.encode.jsonsafe import plain_bytes
from otel_cw_exporter.send.wire import BodyBuffer, put_log_events_body
from tests.support import make_record, orjson_tier


@pytest.mark.parametrize("enabled", [True, False], ids=["orjson", "stdlib"])
def test_the_request_body_is_what_botocore_would_send(enabled: bool) -> None:
    events = [
        Event(1, '{"message":"é \\"q\\""}', 0, False),
        Event(2, "日本語 😀", 0, False),
    ]
    entity = {"keyAttributes": {"Type": "Service", "Name": "svc"}}
    with orjson_tier(enabled):
        body = put_log_events_body("g", "s", events, entity)
    assert json.loads(body) == {
        "logGroupName": "g",
        "logStreamName": "s",
        "logEvents": [{"timestamp": e.timestamp, "message": e.message} for e in events],
        "entity": entity,
    }
    assert "entity" not in json.loads(put_log_events_body("g", "s", events, None))


@pytest.mark.parametrize("enabled", [True, False], ids=["orjson", "stdlib"])
def test_escaped_messages_are_joined_into_the_same_bytes(enabled: bool) -> None:
    # Without orjson the encoder's events carry their escaped form (with orjson the body escapes them all
    # in one pass), hand-built ones do not: the body is the same either way.
    records = [make_record(f'm{i} é "q" \\ \x01', {"extra": {"user": f"u{i}"}}) for i in range(20)]
    with orjson_tier(enabled):
        encoder = FastEncoder()
        encoded = [event for made, chunk in encoder.chunks(records) for event in made or map(encoder.encode, chunk)]
        assert [bool(event.escaped) for event in encoded] == [not enabled] * len(encoded)
        bare = [Event(*event[:4]) for event in encoded]
        mixed = [event if i % 2 else bare[i] for i, event in enumerate(encoded)]
        entity = {"keyAttributes": {"Type": "Service", "Name": "svc"}}
        reference = plain_bytes(
            {
                "logGroupName": "g/é",
                "logStreamName": "s",
                "logEvents": [{"timestamp": e.timestamp, "message": e.message} for e in bare],
                "entity": entity,
            }
        )
        for events in (encoded, bare, mixed):
            assert put_log_events_body("g/é", "s", events, entity) == reference


def test_a_message_that_cannot_be_utf8_takes_the_one_document_way() -> None:
    events = [Event(1, "ok", 28, False), Event(2, "a\ud800", 30, False)]
    body = put_log_events_body("g", "s", events, None)
    assert body == json.dumps(
        {
            "logGroupName": "g",
            "logStreamName": "s",
            "logEvents": [{"timestamp": 1, "message": "ok"}, {"timestamp": 2, "message": "a\ud800"}],
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8", "surrogatepass")


@pytest.mark.parametrize("enabled", [True, False], ids=["orjson", "stdlib"])
@pytest.mark.parametrize("count", [511, 512, 513, 1849])
@pytest.mark.parametrize("odd", ["none", "surrogate", "entity"])
def test_a_full_request_body_written_in_parts_is_one_document(enabled: bool, count: int, odd: str) -> None:
    # A request of many events is written a few hundred events at a time: the same bytes as one document.
    events = [Event(1795511702123 + i, f'{{"n":{i},"m":"é \\"q\\" \\\\"}}', 0, False) for i in range(count)]
    if odd == "surrogate":
        events[count // 2] = Event(5, "a\ud800", 0, False)
    entity = {"keyAttributes": {"Type": "Service", "Name": "svc"}} if odd == "entity" else None
    document: dict[str, object] = {
        "logGroupName": "g/é",
        "logStreamName": "s",
        "logEvents": [{"timestamp": e.timestamp, "message": e.message} for e in events],
    }
    if entity:
        document["entity"] = entity
    expected = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
    with orjson_tier(enabled):
        assert put_log_events_body("g/é", "s", events, entity) == expected


def _events(count: int, width: int) -> list[Event]:
    return [Event(1795511702123 + i, f'{{"n":{i},"m":"{"é" * width} \\"q\\""}}', 0, False) for i in range(count)]


@pytest.mark.parametrize("enabled", [True, False], ids=["orjson", "stdlib"])
def test_a_body_buffer_writes_the_same_bytes_however_its_bodies_grow_and_shrink(enabled: bool) -> None:
    # One buffer for a full request, then a small one, then one in parts, then an empty one: each view is
    # exactly its own body, never with the tail of a longer one before it.
    buffer = BodyBuffer()
    entity = {"keyAttributes": {"Type": "Service", "Name": "svc"}}
    with orjson_tier(enabled):
        for count, width, with_entity in (
            (1849, 40, True),
            (3, 1, False),
            (900, 5, False),
            (0, 0, True),
            (513, 2, True),
        ):
            events = _events(count, width)
            given = entity if with_entity else None
            view = buffer.write("g/é", "s", events, given)
            assert bytes(view) == put_log_events_body("g/é", "s", events, given)
            del view


def test_a_body_still_viewed_keeps_its_bytes_and_the_next_one_gets_new_memory() -> None:
    # An error's traceback can hold the body botocore was given: the next body must not overwrite it.
    buffer = BodyBuffer()
    first_events, second_events = _events(600, 3), _events(700, 1)
    first = buffer.write("g", "s", first_events, None)
    second = buffer.write("g", "s", second_events, None)
    assert bytes(first) == put_log_events_body("g", "s", first_events, None)
    assert bytes(second) == put_log_events_body("g", "s", second_events, None)
    del first, second
    third = buffer.write("g", "s", first_events[:10], None)  # nothing viewed any more: reused
    assert bytes(third) == put_log_events_body("g", "s", first_events[:10], None)
