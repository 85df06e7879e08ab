"""A writer's trail through any mix of encoding, truncation, retries and drops still verifies; and any
event removed, changed or inserted afterwards is found, precisely."""

from __future__ import annotations

import itertools
import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_cw_exporter.encode.event import Event, EventEncoder
from otel_cw_exporter.encode.fast import FastEncoder
from otel_cw_exporter.encode.jsonsafe import string_content
from otel_cw_exporter.send.wire import put_log_events_body
from otel_cw_exporter.trail.chain import RESERVE, Mac, seal
from otel_cw_exporter.trail.verifier import KeyNeeded, verify
from otel_cw_exporter.trail.writer import Writer, ranges
from tests.support import make_record, orjson_tier

KEY = b"k" * 32
LIMIT = 6_000  # a small event limit, so long bodies are truncated
STREAMS = (("g", "a"), ("g", "b"))
RESOURCE = {"service.name": "svc", "host.name": "h"}

fates = st.sampled_from(["stored", "stored", "stored", "twice", "dropped"])
records = st.tuples(st.sampled_from(STREAMS), st.text(max_size=40) | st.just("x" * 9_000), fates)


def closing(writer: Writer, destination: tuple[str, str]) -> Event:
    event = writer.close(destination, 1, '{"message":"closed"}')
    assert event is not None
    return event


def run(
    batches: list[list[tuple[tuple[str, str], str, str]]], seed: int
) -> tuple[Writer, list[tuple[str, str]], dict[str, set[int]]]:
    """Write the batches as the exporter does; return what the store holds (shuffled) and the drops."""
    writer = Writer(KEY)
    encoder = EventEncoder(max_event_bytes=LIMIT - RESERVE)
    stored: list[tuple[str, str]] = []
    dropped: dict[str, set[int]] = {stream: set() for _, stream in STREAMS}
    for batch in batches:
        for destination in STREAMS:
            mine = [(body, fate) for where, body, fate in batch if where == destination]
            events = writer.stamp(destination, [encoder.encode(make_record(body)) for body, _ in mine], RESOURCE)
            lost = []
            for event, (_, fate) in zip(events, mine, strict=True):
                assert event.size <= LIMIT
                assert event.size == len(event.message.encode()) + 26
                if fate == "dropped":
                    lost.append(event)
                    dropped[destination[1]].add(json.loads(event.message)["integrity"]["seq"])
                else:
                    stored.extend([(destination[1], event.message)] * (2 if fate == "twice" else 1))
            writer.lost(destination, lost, "retry_budget")
    for destination in writer.destinations:
        stored.append((destination[1], closing(writer, destination).message))
    random.Random(seed).shuffle(stored)
    return writer, stored, dropped


batches = st.lists(st.lists(records, min_size=1, max_size=12), min_size=1, max_size=5)


@settings(max_examples=60, deadline=None)
@given(batches, st.integers(0, 1000))
def test_any_mix_of_encoding_truncation_retries_and_drops_verifies(batches: list, seed: int) -> None:
    writer, stored, dropped = run(batches, seed)
    report = verify(stored, KEY, group="g")
    assert report.ok(), report.as_json()
    twice = sum(fate == "twice" for batch in batches for _, _, fate in batch)
    assert sum(w.duplicates for w in report.writers) == twice
    for result in report.writers:
        assert result.writer == writer.id and result.closed
        assert result.first == next(n for n in itertools.count(1) if n not in dropped[result.stream])
        announced = {n for entry in result.known_drops for n in range(entry["from"], entry["to"] + 1)}
        assert announced == dropped[result.stream]
        assert result.close_last == result.last - 1
        assert result.opened is not None and result.opened["service"] == "svc"


@settings(max_examples=40, deadline=None)
@given(batches, st.integers(0, 1000))
def test_a_deleted_event_is_reported_missing_by_number(batches: list, seed: int) -> None:
    _, stored, _ = run(batches, seed)
    once = [
        item for item in stored if stored.count(item) == 1 and '"close"' not in item[1] and '"dropped"' not in item[1]
    ]
    if not once:
        return
    victim = random.Random(seed).choice(once)
    seq = json.loads(victim[1])["integrity"]["seq"]
    report = verify([item for item in stored if item != victim], KEY, group="g")
    assert not report.ok()
    [result] = [w for w in report.writers if w.stream == victim[0]]
    assert result.missing == [(seq, seq)]
    assert not result.broken and not result.conflicts


def test_changed_inserted_and_cut_events_are_each_reported() -> None:
    writer = Writer(KEY)
    encoder = EventEncoder()
    events = writer.stamp(STREAMS[0], [encoder.encode(make_record(f"event {n}")) for n in range(10)], RESOURCE)
    close = closing(writer, STREAMS[0])
    stored = [("a", event.message) for event in events] + [("a", close.message)]
    changed = list(stored)
    changed[3] = ("a", stored[3][1].replace("event 3", "event 9"))
    assert verify(changed, KEY, group="g").writers[0].broken == [4]
    # another writer without the key: a forged writer, and a forged event at an existing number
    forged, _ = seal(
        events[0].message.split(',"integrity"')[0] + "}",
        key=Mac(None).bound(*STREAMS[0]),
        writer=writer.id,
        seq=5,
        prev="",
    )
    report = verify([*stored, ("a", forged)], KEY, group="g")
    assert report.writers[0].conflicts == [5] and not report.ok()
    stranger = Writer(b"not the key, but long enough....")
    intruder = stranger.stamp(STREAMS[0], [encoder.encode(make_record("hi"))], RESOURCE)[0]
    report = verify([*stored, ("a", intruder.message)], KEY, group="g")
    assert [w.broken for w in report.writers if w.writer == stranger.id] == [[1]] and not report.ok()
    plain = verify([*stored, ("a", '{"message":"no integrity"}')], KEY, group="g")
    assert plain.unsigned == {"a": 1} and not plain.ok()
    # the tail cut before the closing event: the close says how far the trail went
    cut = verify(stored[:7] + stored[10:], KEY, group="g").writers[0]
    assert cut.missing == [(8, 10)] and cut.closed
    # a writer that never closed: intact so far, said as not closed, and --strict fails it
    unclosed = verify(stored[:-1], KEY, group="g")
    assert unclosed.ok() and not unclosed.writers[0].closed and not unclosed.ok(strict=True)


def test_drops_before_numbering_are_announced_as_counts() -> None:
    writer = Writer(None)
    encoder = EventEncoder()
    writer.lost_unnumbered(None, 2, "queue_full")
    first = writer.stamp(STREAMS[0], [encoder.encode(make_record("a"))], RESOURCE)
    writer.lost_unnumbered(STREAMS[0], 1, "encoding_error")
    second = writer.stamp(STREAMS[0], [encoder.encode(make_record("b"))], RESOURCE)
    report = verify([("a", first[0].message), ("a", second[0].message)], None, group="g")
    assert report.ok()
    assert report.writers[0].known_drops == [
        {"reason": "queue_full", "count": 2},
        {"reason": "encoding_error", "count": 1},
    ]


def test_a_keyed_trail_cannot_be_checked_without_the_key() -> None:
    event = Writer(KEY).stamp(STREAMS[0], [EventEncoder().encode(make_record("a"))], RESOURCE)[0]
    try:
        verify([("a", event.message)], None, group="g")
    except KeyNeeded:
        pass
    else:
        raise AssertionError("a keyed trail verified without its key")


def test_a_renewed_writer_starts_its_own_sequence() -> None:
    writer = Writer(KEY)
    encoder = EventEncoder()
    before = writer.stamp(STREAMS[0], [encoder.encode(make_record("a"))] * 3, RESOURCE)
    parent = writer.id
    writer.renew()  # what a forked child does
    after = writer.stamp(STREAMS[0], [encoder.encode(make_record("b"))], RESOURCE)
    assert writer.id != parent
    assert json.loads(after[0].message)["integrity"]["seq"] == 1
    report = verify([("a", e.message) for e in before + after], KEY, group="g")
    assert report.ok() and len(report.writers) == 2


def test_ranges() -> None:
    assert ranges([7, 1, 2, 3, 3, 9, 8]) == [(1, 3), (7, 9)]
    assert ranges([]) == []


def test_another_writers_lost_events_are_announced_under_its_id() -> None:
    encoder = EventEncoder()
    old, new = Writer(KEY), Writer(KEY)
    theirs = old.stamp(STREAMS[0], [encoder.encode(make_record(f"old {n}")) for n in range(5)], RESOURCE)
    new.lost(STREAMS[0], theirs[1:3], "spool_evicted")  # the old writer's spool, adopted and evicted
    mine = new.stamp(STREAMS[0], [encoder.encode(make_record(f"new {n}")) for n in range(3)], RESOURCE)
    stored = [("a", e.message) for e in [theirs[0], *theirs[3:], *mine]]
    report = verify(stored, KEY, group="g")
    by_writer = {w.writer: w for w in report.writers}
    assert report.ok() and not by_writer[old.id].missing
    assert by_writer[old.id].known_drops == [{"reason": "spool_evicted", "from": 2, "to": 3, "by": new.id}]
    assert not by_writer[new.id].known_drops
    # The new writer's own events are still all accounted for: deleting one is found.
    report = verify([item for item in stored if item[1] != mine[1].message], KEY, group="g")
    assert {w.writer: w.missing for w in report.writers}[new.id] == [(2, 2)]


def test_a_closing_event_says_every_drop_left_to_say() -> None:
    writer = Writer(KEY)
    encoder = EventEncoder()
    events = writer.stamp(STREAMS[0], [encoder.encode(make_record(f"e {n}")) for n in range(30)], RESOURCE)
    for n in range(0, 20, 2):  # ten separate losses: more than one event announces
        writer.lost(STREAMS[0], [events[n]], "retry_budget")
    close = closing(writer, STREAMS[0])
    stored = [("a", e.message) for n, e in enumerate(events) if n % 2 or n >= 20] + [("a", close.message)]
    report = verify(stored, KEY, group="g")
    assert report.ok() and len(report.writers[0].known_drops) == 10


def test_strict_wants_a_key() -> None:
    writer = Writer(None)
    events = writer.stamp(STREAMS[0], [EventEncoder().encode(make_record("a"))], RESOURCE)
    report = verify([("a", events[0].message), ("a", closing(writer, STREAMS[0]).message)], None, group="g")
    assert report.ok() and not report.ok(strict=True) and report.writers[0].alg == "sha256"


@pytest.mark.parametrize("tier", [True, False], ids=["orjson", "stdlib"])
def test_sealed_events_keep_an_escaped_form_that_writes_the_same_body(tier: bool) -> None:
    # Sealing appends the integrity object to a message already escaped for the request body (the
    # stdlib tier's; with orjson the body escapes every message itself): the sealed event's escaped form
    # is built from it, and the body is the one escaping everything again gives.
    with orjson_tier(tier):
        writer = Writer(KEY)
        encoder = FastEncoder(max_event_bytes=LIMIT - RESERVE)
        records = [make_record(f'm{i} é "q" \\ \x01', {"extra": {"user": f'u"{i}\\'}}) for i in range(40)]
        encoded = [event for made, chunk in encoder.chunks(records) for event in made or map(encoder.encode, chunk)]
        writer.lost_unnumbered(("g", "a"), 2, "encoding_error")  # the first sealed event announces something
        sealed = writer.stamp(("g", "a"), encoded, RESOURCE)
        assert len(sealed) == len(encoded)
        for event in sealed:
            assert event.escaped == ("" if tier else string_content(event.message))
        bare = [Event(*event[:4]) for event in sealed]
        assert put_log_events_body("g", "a", sealed, None) == put_log_events_body("g", "a", bare, None)
