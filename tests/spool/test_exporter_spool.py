"""The spool through the real exporter and the local endpoint: what an outage keeps, replays, evicts, sets aside."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk._logs.export import LogRecordExportResult

from otel_cw_exporter import CloudWatchLogRecordExporter
from otel_cw_exporter.encode.event import Event
from otel_cw_exporter.send.retry import Backoff
from otel_cw_exporter.spool.deadletter import NAME as DEAD_LETTER
from otel_cw_exporter.spool.files import spool_files
from otel_cw_exporter.spool.store import Store
from otel_cw_exporter.testing import Fault, LocalCloudWatchLogs
from tests.support import make_record

GROUP = "spooled"
OUTAGE = Fault("ServiceUnavailableException", 503)
DAY_MS = 86_400_000


class Recording(CloudWatchLogRecordExporter):
    """Records what the spool tells the exporter it evicted (the integrity trail's hook)."""

    evicted: list[tuple[str, str, list[Event], str]]

    def _on_spool_evicted(self, group: str, stream: str, events: Sequence[Event], reason: str) -> None:
        self.evicted.append((group, stream, list(events), reason))


def exporter_for(endpoint: LocalCloudWatchLogs, spool: Path, **options: Any) -> Recording:
    options.setdefault("log_group_name", GROUP)
    options.setdefault("log_stream_name", "s")
    options.setdefault("create_log_group", True)
    options.setdefault("timeout", 0.5)
    client = endpoint.client(retries={"total_max_attempts": 1})
    Recording.evicted = []
    exporter = Recording(client=client, spool_dir=spool, **options)
    exporter._delivery._backoff = Backoff(base=0.01, cap=0.05)
    exporter._replay._probe_base = exporter._replay._probe_cap = 0.1
    return exporter


def records(n: int, start: int = 0, **options: Any) -> list[Any]:
    return [make_record(f"event {i}", {"i": i}, **options) for i in range(start, start + n)]


def stored(endpoint: LocalCloudWatchLogs) -> list[int]:
    return sorted(e["extra"]["i"] for e in endpoint.events(GROUP))


def while_down(fault: Fault) -> tuple[Callable[[Any], Fault | None], list[bool]]:
    down = [True]
    return (lambda call: fault if call.operation == "PutLogEvents" and down[0] else None), down


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def pause_replay(exporter: Recording) -> None:
    """No replay round from now on, and none in flight: the replay's thread has ended (its round waited for)."""
    replay = exporter._replay
    replay.stop(10)
    assert replay._thread is None or not replay._thread.is_alive()


def resume_replay(exporter: Recording) -> None:
    """A replay thread again, probing every 0.1 s, its first round now."""
    exporter._replay._reset()
    exporter._replay.start()


def dead_letters(spool: Path) -> list[dict[str, Any]]:
    path = spool / DEAD_LETTER
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_an_outage_is_spooled_then_replayed_once(cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path) -> None:
    rule, down = while_down(OUTAGE)
    cloudwatch_logs.inject(rule)
    exporter = exporter_for(cloudwatch_logs, tmp_path)
    for batch in range(3):
        assert exporter.export(records(40, batch * 40)) is LogRecordExportResult.FAILURE
    stats = exporter.stats
    assert stats.events_spooled == 120 and stats.events_dropped == 0, stats
    assert stats.spool_bytes > 0 and stats.spool_oldest_age >= 0
    down[0] = False
    exporter.export(records(10, 120))  # sent, or (a probe first, on a busy machine) spooled and replayed
    wait_for(lambda: exporter.stats.events_replayed >= 120 and exporter.stats.spool_bytes == 0)
    exporter.shutdown()
    assert stored(cloudwatch_logs) == list(range(130))
    assert exporter.stats.spool_bytes == 0 and exporter.stats.events_sent == 130
    assert spool_files(tmp_path) == []  # drained: the file went at shutdown


def test_what_an_outage_keeps_is_said_as_kept_not_as_lost(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rule, _ = while_down(OUTAGE)
    cloudwatch_logs.inject(rule)
    exporter = exporter_for(cloudwatch_logs, tmp_path)
    with caplog.at_level(logging.WARNING, logger="otel_cw_exporter"):
        result = exporter.export(records(7))
    exporter.shutdown()
    said = [r.getMessage() for r in caplog.records]
    kept = "kept 7 event(s) of spooled/s in the spool (retry_budget): they are replayed once CloudWatch takes them"
    assert result is LogRecordExportResult.FAILURE and kept in said, said
    assert not any(line.startswith(("dropped", "giving up")) for line in said), said


def test_access_denied_is_kept_until_it_is_fixed(cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path) -> None:
    rule, down = while_down(Fault("AccessDeniedException", 400, "not allowed"))
    cloudwatch_logs.inject(rule)
    exporter = exporter_for(cloudwatch_logs, tmp_path)
    assert exporter.export(records(5)) is LogRecordExportResult.FAILURE
    assert (exporter.stats.events_spooled, exporter.stats.events_dropped) == (5, 0)
    down[0] = False
    exporter.export(records(1, 5))
    wait_for(lambda: exporter.stats.events_replayed >= 5 and exporter.stats.spool_bytes == 0)
    exporter.shutdown()
    assert stored(cloudwatch_logs) == list(range(6))


def test_a_reset_after_store_makes_only_identical_duplicates(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path
) -> None:
    client = cloudwatch_logs.client()
    client.create_log_group(logGroupName=GROUP)
    client.create_log_stream(logGroupName=GROUP, logStreamName="s")
    resets = [0]
    down = [True]

    def rule(call: Any) -> Fault | None:
        """The first call is stored and its connection reset; the retries are refused (kept at once)."""
        if call.operation != "PutLogEvents" or not down[0]:
            return None
        resets[0] += 1
        return Fault(reset_after_store=True) if resets[0] == 1 else Fault("AccessDeniedException", 400, "no")

    cloudwatch_logs.inject(rule)
    # A deadline no busy machine reaches before the first attempt: that attempt is what stores the copy.
    exporter = exporter_for(cloudwatch_logs, tmp_path, timeout=5.0)
    assert exporter.export(records(30)) is LogRecordExportResult.FAILURE  # stored, retried, then spooled
    assert exporter.stats.events_spooled == 30 and resets[0] >= 2, resets
    down[0] = False
    exporter.export(records(1, 30))  # sent, or (a probe first, on a busy machine) spooled and replayed
    wait_for(lambda: exporter.stats.events_replayed >= 30 and exporter.stats.spool_bytes == 0)
    exporter.shutdown()
    copies: dict[int, set[tuple[int, str]]] = {}
    for event in cloudwatch_logs.raw_events(GROUP):
        copies.setdefault(json.loads(event["message"])["extra"]["i"], set()).add((event["timestamp"], event["message"]))
    assert sorted(copies) == list(range(31))
    assert all(len(versions) == 1 for versions in copies.values()), "a duplicate differs from its original"
    assert len(cloudwatch_logs.raw_events(GROUP)) == 30 + 30 + 1  # the reset did duplicate: stored, then replayed


def test_the_size_bound_evicts_the_oldest_to_the_dead_letter_file(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path
) -> None:
    rule, down = while_down(OUTAGE)
    cloudwatch_logs.inject(rule)
    exporter = exporter_for(cloudwatch_logs, tmp_path, spool_max_bytes=8192)
    pause_replay(exporter)  # no round meanwhile: the rows one sends are never evicted, the next oldest would go
    for batch in range(4):
        exporter.export(records(25, batch * 25))
    stats = exporter.stats
    letters = dead_letters(tmp_path)
    assert stats.events_spooled == 100 and 0 < stats.events_evicted == len(letters) == stats.events_dead_lettered
    assert stats.dropped == {"spool_evicted": stats.events_evicted} and stats.spool_bytes <= 8192
    evicted = [json.loads(letter["message"])["extra"]["i"] for letter in letters]
    assert evicted == list(range(len(evicted)))  # the oldest went first
    assert {(x["log_group"], x["log_stream"], x["reason"]) for x in letters} == {(GROUP, "s", "spool_full")}
    told = [json.loads(e.message)["extra"]["i"] for _, _, events, _ in exporter.evicted for e in events]
    assert told == evicted and {reason for *_, reason in exporter.evicted} == {"spool_evicted"}
    down[0] = False
    exporter.export(records(1, 100))  # sent, or spooled (evicting a few more, the oldest) and replayed
    resume_replay(exporter)
    wait_for(lambda: exporter.stats.spool_bytes == 0)
    exporter.shutdown()
    letters = [json.loads(letter["message"])["extra"]["i"] for letter in dead_letters(tmp_path)]
    assert letters == list(range(len(letters)))
    assert stored(cloudwatch_logs) == list(range(len(letters), 101))  # every event stored or dead-lettered, once


def test_events_cloudwatch_never_takes_go_to_the_dead_letter_file(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path
) -> None:
    exporter = exporter_for(cloudwatch_logs, tmp_path, timeout=5)  # healthy: time enough on a busy machine
    now = int(time.time() * 1000)
    batch = [*records(2, 0, timestamp_ms=now - 15 * DAY_MS), *records(1, 2, timestamp_ms=now + DAY_MS), *records(1, 3)]
    assert exporter.export(batch) is LogRecordExportResult.SUCCESS
    exporter.shutdown()
    assert stored(cloudwatch_logs) == [3]
    assert exporter.stats.dropped == {"too_old": 2, "too_new": 1} and exporter.stats.events_dead_lettered == 3
    assert [(x["reason"], x["timestamp"]) for x in dead_letters(tmp_path)] == [
        ("too_old", now - 15 * DAY_MS),
        ("too_old", now - 15 * DAY_MS),
        ("too_new", now + DAY_MS),
    ]


def test_kept_events_older_than_14_days_are_evicted(cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path) -> None:
    rule, _ = while_down(OUTAGE)
    cloudwatch_logs.inject(rule)
    exporter = exporter_for(cloudwatch_logs, tmp_path)
    exporter._replay._probe_base = exporter._replay._probe_cap = 30.0  # no probe takes the events meanwhile
    exporter.export(records(3))
    exporter._spool.expire(int(time.time() * 1000) + 15 * DAY_MS)  # as if 15 days passed
    assert exporter.stats.events_evicted == 3 and exporter.stats.spool_bytes == 0
    assert [x["reason"] for x in dead_letters(tmp_path)] == ["too_old"] * 3
    exporter.shutdown()


def test_what_an_export_abandoned_and_then_stored_leaves_the_spool(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path
) -> None:
    """The delivery's ``found``: a late answer stored events the spool kept; the replay must not send them."""
    rule, down = while_down(OUTAGE)
    cloudwatch_logs.inject(rule)
    exporter = exporter_for(cloudwatch_logs, tmp_path)
    exporter._replay._probe_base = exporter._replay._probe_cap = 30.0  # no probe takes the events meanwhile
    batch = records(4)
    exporter.export(batch)
    assert exporter.stats.events_spooled == 4
    events = [exporter._encoder.encode(record) for record in batch[1:3]]
    exporter._delivery._losses.found(GROUP, "s", events, "retry_budget", True)  # as the late answer does
    assert exporter._spool.gauges()["spool_bytes"] == sum(
        e.size for e in (exporter._encoder.encode(r) for r in batch[::3])
    )
    down[0] = False
    exporter._replay._probe_base = exporter._replay._probe_cap = 0.1
    exporter.export(records(1, 4))  # wakes the replay when it succeeds; on a busy machine it may be a probe
    exporter._replay.wake()  # ...then this ends the long pause set above, as a successful export would
    wait_for(lambda: exporter.stats.events_replayed >= 2 and exporter.stats.spool_bytes == 0)
    exporter.shutdown()
    assert stored(cloudwatch_logs) == [0, 3, 4]  # 1 and 2 were stored by the late answer, not again


def test_after_shutdown_events_are_kept_and_the_next_start_replays_them(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path
) -> None:
    first = exporter_for(cloudwatch_logs, tmp_path)
    first.shutdown()
    assert first.export(records(3)) is LogRecordExportResult.FAILURE
    assert first.stats.events_spooled == 3 and not first.stats.dropped
    second = exporter_for(cloudwatch_logs, tmp_path)  # the next start: replays without an export
    wait_for(lambda: second.stats.events_replayed == 3)
    second.shutdown()
    assert stored(cloudwatch_logs) == [0, 1, 2] and spool_files(tmp_path) == []


def test_unreadable_spool_files_are_set_aside_with_a_warning(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "spool-1-garbage.sqlite3").write_bytes(b"not a database at all" * 100)
    newer = sqlite3.connect(tmp_path / "spool-2-newer.sqlite3")
    newer.execute("PRAGMA user_version=99")
    newer.execute("CREATE TABLE t (x)")
    newer.commit()
    newer.close()
    torn = Store(tmp_path / "spool-3-torn.sqlite3", create=True)
    torn.add("g", "s", [Event(int(time.time() * 1000), "x" * 3000, 3026, False)] * 40, 0)
    torn.close()
    path = tmp_path / "spool-3-torn.sqlite3"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # a write torn in the middle
    with caplog.at_level(logging.WARNING, "otel_cw_exporter"):
        exporter = exporter_for(cloudwatch_logs, tmp_path, timeout=5)  # healthy: time enough on a busy machine
        wait_for(lambda: spool_files(tmp_path) == [])
        assert exporter.export(records(2)) is LogRecordExportResult.SUCCESS
        exporter.shutdown()
    assert stored(cloudwatch_logs) == [0, 1]
    aside = sorted(p.name.split(".unreadable-")[0] for p in tmp_path.glob("*.unreadable-*") if "-wal" not in p.name)
    assert aside == ["spool-1-garbage.sqlite3", "spool-2-newer.sqlite3", "spool-3-torn.sqlite3"]
    said = "\n".join(caplog.messages)
    assert "schema version 99" in said and "a newer otel-cw-exporter wrote it" in said, said
    assert said.count("set aside as") == 3, said


def test_a_spool_file_deleted_while_in_use_is_said_counted_and_made_anew(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rule, down = while_down(OUTAGE)
    cloudwatch_logs.inject(rule)
    spool = tmp_path / "spool"
    exporter = exporter_for(cloudwatch_logs, spool)
    exporter.export(records(10))
    assert exporter.stats.events_spooled == 10
    pause_replay(exporter)  # no round in flight (one that is settles its events itself: the test below)
    for path in spool.iterdir():  # a cleanup job empties the directory, and removes it
        path.unlink()
    spool.rmdir()
    with caplog.at_level(logging.WARNING, "otel_cw_exporter"):
        exporter.export(records(5, 10))
    assert "was deleted while in use: 10 event(s) it held are lost" in "\n".join(caplog.messages)
    assert exporter.stats.dropped == {"spool_evicted": 10} and len(spool_files(spool)) == 1
    down[0] = False
    exporter.export(records(1, 15))
    resume_replay(exporter)
    wait_for(lambda: exporter.stats.spool_bytes == 0)
    exporter.shutdown()
    assert stored(cloudwatch_logs) == list(range(10, 16))  # what the new file kept was replayed


@pytest.mark.parametrize("answer", ["stored", "refused"])
def test_a_spool_file_deleted_while_the_replay_sends_from_it_loses_nothing(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path, answer: str
) -> None:
    # The events a replay round is sending when their file goes are the round's to settle: stored, or
    # (refused) kept anew in the new file and replayed from there. None is counted as lost.
    import threading

    phase = {"down": True, "replaying": False}
    held = threading.Event()

    def rule(call: Any) -> Fault | None:
        if call.operation != "PutLogEvents":
            return None
        if phase["replaying"] and not held.is_set():  # the replay's next request: held a second
            held.set()
            return Fault(None, None, delay=1.0) if answer == "stored" else Fault(OUTAGE.code, 503, delay=1.0)
        return OUTAGE if phase["down"] else None

    cloudwatch_logs.inject(rule)
    spool = tmp_path / "spool"
    exporter = exporter_for(cloudwatch_logs, spool)
    exporter.export(records(10))
    assert exporter.stats.events_spooled == 10
    phase["replaying"] = True
    assert held.wait(10)
    for path in spool.iterdir():
        path.unlink()
    spool.rmdir()
    exporter.export(records(5, 10))  # still down: kept in a new file
    assert exporter.stats.dropped == {} and len(spool_files(spool)) == 1
    wait_for(lambda: not any(exporter._spool._sending.values()))  # the held round has settled
    phase["down"] = False
    exporter.export(records(1, 15))
    wait_for(lambda: exporter.stats.spool_bytes == 0)
    exporter.shutdown()
    assert stored(cloudwatch_logs) == list(range(16)) and exporter.stats.dropped == {}
