"""The provable trail end to end: real processes write through the real pipeline into the local endpoint,
then ``otel-cw-exporter verify`` (the real command) proves the stored trail intact, or says precisely what
was deleted, changed, inserted or cut."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk._logs import ReadableLogRecord

from otel_cw_exporter import CloudWatchLogRecordExporter
from otel_cw_exporter.config import ConfigError
from otel_cw_exporter.testing import LocalCloudWatchLogs
from otel_cw_exporter.testing.endpoint import Call, Fault
from otel_cw_exporter.trail.chain import Mac, seal
from otel_cw_exporter.trail.verifier import verify
from tests.support import ROOT, local_environ, make_record, run_cli, section_of

KEY = "an integrity key of 32 characters"
GROUP, STREAM = "audit", "trail"
WRITER = """
import logging, os, sys, time
from otel_cw_exporter import setup
count, mode = int(sys.argv[1]), sys.argv[2]
provider = setup(service_name="audit-svc", bridge_stdlib=True, processor_options={"schedule_delay_millis": 100})
log = logging.getLogger("transactional")
for n in range(count):
    log.info("event %d", n, extra={"extra": {"log_type": "Security", "user_email": "a@b.c", "n": n}})
if mode == "fork":
    child = os.fork()
    if child == 0:
        for n in range(count):
            log.info("child event %d", n, extra={"extra": {"log_type": "Audit"}})
        provider.shutdown()
        os._exit(0)
    os.waitpid(child, 0)
if mode == "kill":
    provider.force_flush()
    print("flushed", flush=True)
    time.sleep(60)
"""


def failing_puts(endpoint: LocalCloudWatchLogs, fault: Fault) -> dict[str, bool]:
    """PutLogEvents answered with ``fault`` (or slowed by it) while the returned flag's ``"on"`` is True."""
    flag = {"on": True}
    endpoint.inject(lambda call: fault if call.operation == "PutLogEvents" and flag["on"] else None)
    return flag


def writer_environ(tmp_path: Path, endpoint: LocalCloudWatchLogs, key: str = KEY) -> dict[str, str]:
    return local_environ(
        tmp_path,
        endpoint,
        OTEL_EXPORTER_CLOUDWATCH_LOGS_GROUP_NAME=GROUP,
        OTEL_EXPORTER_CLOUDWATCH_LOGS_STREAM_NAME=STREAM,
        OTEL_EXPORTER_CLOUDWATCH_LOGS_CREATE_GROUP="true",
        OTEL_EXPORTER_CLOUDWATCH_LOGS_INTEGRITY="true",
        OTEL_EXPORTER_CLOUDWATCH_LOGS_INTEGRITY_KEY=key,
    )


def verify_json(tmp_path: Path, endpoint: LocalCloudWatchLogs, *extra: str) -> tuple[int, dict[str, Any]]:
    environ = local_environ(tmp_path, endpoint, TRAIL_KEY=KEY)
    done = run_cli(["verify", "--group", GROUP, "--key-env", "TRAIL_KEY", "--json", *extra], environ, tmp_path)
    assert done.stderr == "", done.stderr
    return done.returncode, json.loads(done.stdout)


def by_pid(report: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {writer["opened"]["pid"]: writer for writer in report["writers"]}


def test_three_processes_verify_intact_then_every_tampering_is_reported_precisely(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path
) -> None:
    environ = writer_environ(tmp_path, cloudwatch_logs)
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    runs = [subprocess.Popen([sys.executable, str(script), "40", mode], env=environ) for mode in ("plain", "fork")]
    runs.append(subprocess.Popen([sys.executable, str(script), "30", "plain"], env=environ))
    killed = subprocess.Popen(
        [sys.executable, str(script), "25", "kill"], env=environ, stdout=subprocess.PIPE, text=True
    )
    assert killed.stdout is not None and killed.stdout.readline() == "flushed\n"
    killed.send_signal(signal.SIGKILL)
    killed.wait(30)
    for run in runs:
        assert run.wait(60) == 0
    pids = {run.pid for run in runs}

    code, report = verify_json(tmp_path, cloudwatch_logs)
    writers = by_pid(report)
    assert code == 0 and report["ok"], report
    assert len(report["writers"]) == 5  # three processes, a forked child of its own, and the killed one
    assert report["events_read"] == 41 + 41 + 41 + 31 + 25  # every event, and a closing one per closed writer
    for pid in pids:
        assert writers[pid]["closed"] and writers[pid]["intact"] and not writers[pid]["missing"]
    [child] = [w for pid, w in writers.items() if pid not in pids | {killed.pid}]
    assert (child["first"], child["close_last"]) == (1, 40)  # the child never continued its parent's numbers
    assert not writers[killed.pid]["closed"] and writers[killed.pid]["last"] == 25  # SIGKILL: not closed

    # Now tamper with the store as someone with write access could.
    first, second, third = sorted(pids)
    ids = {pid: writers[pid]["writer"] for pid in pids}
    stranger, _ = seal(
        '{"timestamp":"2026-12-01T00:00:00.000000Z","level":"INFO","message":"I was here"}',
        key=Mac(b"guessed key, not the real one!!!").bound(GROUP, STREAM),
        writer=ids[first],
        seq=99,
        prev="",
    )

    def tamper(events: list[tuple[int, str]]) -> list[tuple[int, str]]:
        kept = []
        for timestamp, stored in events:
            fields = json.loads(stored)["integrity"]
            writer, seq = fields["writer"], fields["seq"]
            if writer == ids[first] and seq == 7:
                continue  # deleted
            if writer == ids[third] and 28 <= seq <= 30:
                continue  # the tail before the closing event
            changed = writer == ids[second] and seq == 12
            kept.append((timestamp, stored.replace("event 11", "event 1l") if changed else stored))  # one byte
        return [*kept, (kept[-1][0], stranger)]

    cloudwatch_logs.rewrite_events(GROUP, STREAM, tamper)
    code, report = verify_json(tmp_path, cloudwatch_logs)
    assert code == 1 and not report["ok"]
    writers = {w["writer"]: w for w in report["writers"]}
    assert writers[ids[first]]["missing"] == [[7, 7]] and writers[ids[first]]["broken"] == [99]
    assert writers[ids[second]]["broken"] == [12] and not writers[ids[second]]["missing"]
    assert writers[ids[third]]["missing"] == [[28, 30]] and writers[ids[third]]["closed"]
    assert all(not w["conflicts"] and not w["broken_links"] for w in report["writers"])

    done = run_cli(
        ["verify", "--group", GROUP, "--key-env", "TRAIL_KEY"],
        local_environ(tmp_path, cloudwatch_logs, TRAIL_KEY=KEY),
        tmp_path,
    )
    assert done.returncode == 1
    assert "MISSING 1 event(s), seq 7: written, then lost or deleted" in done.stdout
    assert "MISSING 3 event(s), seq 28-30" in done.stdout
    assert "BROKEN 1 event(s), seq 12" in done.stdout and "BROKEN 1 event(s), seq 99" in done.stdout
    assert "not closed: last seq 25" in done.stdout
    assert done.stdout.rstrip().endswith("Result: NOT INTACT (exit code 1)")


def exporter(endpoint: LocalCloudWatchLogs, **options: Any) -> CloudWatchLogRecordExporter:
    settings: dict[str, Any] = {"create_log_group": True, "integrity": True, "integrity_key": KEY, **options}
    return CloudWatchLogRecordExporter(
        log_group_name=GROUP, log_stream_name=STREAM, client=endpoint.client(), **settings
    )


def stored_report(endpoint: LocalCloudWatchLogs) -> Any:
    stored = [(STREAM, e["message"], e["timestamp"]) for e in endpoint.raw_events(GROUP, STREAM)]
    return verify(stored, KEY.encode(), group=GROUP)


def records(count: int, **options: Any) -> list[ReadableLogRecord]:
    return [make_record(f"event {n}", {"log_type": "Audit"}, **options) for n in range(count)]


def test_too_old_events_dropped_by_the_exporter_show_as_known_drops(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    cw = exporter(cloudwatch_logs)
    old = int(time.time() * 1000) - 15 * 86_400_000
    cw.export([*records(2), *records(3, timestamp_ms=old), *records(2)])
    cw.export(records(1))
    cw.shutdown()
    report = stored_report(cloudwatch_logs)
    [writer] = report.writers
    assert report.ok() and not report.ok(strict=True)
    assert writer.known_drops == [{"reason": "too_old", "from": 3, "to": 5}] and not writer.missing
    assert writer.events == 2 + 2 + 1 + 1 and writer.closed


def test_a_run_with_throttling_and_lost_answers_verifies_with_its_duplicates(
    cloudwatch_logs: LocalCloudWatchLogs,
) -> None:
    def faults(call: Call) -> Fault | None:
        if call.operation != "PutLogEvents":
            return None
        if call.index in (0, 3):  # stored, then the answer is lost: the retry stores them again
            return Fault(code="ServiceUnavailableException", status=503, after_store=True)
        return Fault() if call.index == 1 else None  # throttled once

    client = cloudwatch_logs.client()
    client.create_log_group(logGroupName=GROUP)
    client.create_log_stream(logGroupName=GROUP, logStreamName=STREAM)
    cloudwatch_logs.inject(faults)
    cw = exporter(cloudwatch_logs, timeout=5)
    for _ in range(3):
        cw.export(records(50))
    cw.shutdown()
    report = stored_report(cloudwatch_logs)
    [writer] = report.writers
    assert report.ok(strict=True), report.as_json()
    assert writer.duplicates == 100 and writer.events == 151 and cw.stats.events_dropped == 0


def test_events_the_delivery_gave_up_on_are_announced(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    refused = failing_puts(cloudwatch_logs, Fault(code="AccessDeniedException", status=400))
    cw = exporter(cloudwatch_logs, timeout=2)
    cw.export(records(10))  # refused (an IAM change not made yet): dropped, counted, and said
    refused["on"] = False
    cw.export(records(5))
    cw.shutdown()
    report = stored_report(cloudwatch_logs)
    [writer] = report.writers
    assert cw.stats.dropped == {"non_retryable": 10}
    assert writer.known_drops == [{"reason": "non_retryable", "from": 1, "to": 10}]
    assert report.ok() and writer.first == 11 and writer.opened is not None  # said again: its first was lost


def test_integrity_off_adds_nothing_and_bad_keys_fail_at_construction(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path
) -> None:
    plain = CloudWatchLogRecordExporter(log_group_name=GROUP, client=cloudwatch_logs.client())
    assert plain.writer_id is None
    with pytest.raises(ConfigError, match="fewer than 16"):
        exporter(cloudwatch_logs, integrity_key="short")
    with pytest.raises(ConfigError, match="turns integrity off"):
        CloudWatchLogRecordExporter(log_group_name=GROUP, integrity=False, integrity_key=KEY)
    assert CloudWatchLogRecordExporter(
        log_group_name=GROUP, client=cloudwatch_logs.client(), integrity_key=KEY
    ).writer_id
    with pytest.raises(ConfigError, match="is not a regular file"):  # never read whole, never blocks
        CloudWatchLogRecordExporter(log_group_name=GROUP, integrity_key_file="/dev/zero")
    with pytest.raises(ConfigError, match="cannot read it"):
        CloudWatchLogRecordExporter(log_group_name=GROUP, integrity=True, integrity_key_file=str(tmp_path / "none"))
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    from_file = CloudWatchLogRecordExporter(
        log_group_name=GROUP, client=cloudwatch_logs.client(), integrity=True, integrity_key_file=str(key_file)
    )
    assert from_file.writer_id is not None
    assert KEY not in repr(from_file.config)
    environ = {"OTEL_EXPORTER_CLOUDWATCH_LOGS_INTEGRITY": "yes", "OTEL_EXPORTER_CLOUDWATCH_LOGS_INTEGRITY_KEY": KEY}
    assert CloudWatchLogRecordExporter(log_group_name=GROUP, client=cloudwatch_logs.client(), environ=environ).writer_id


def test_verify_usage(cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path) -> None:
    cw = exporter(cloudwatch_logs)
    cw.export(records(3))
    cw.shutdown()
    environ = local_environ(tmp_path, cloudwatch_logs)
    described = run_cli(["verify", "--help"], environ, tmp_path)
    assert "or events were sealed without a key" in " ".join(described.stdout.split())  # as the README says
    no_key = run_cli(["verify", "--group", GROUP], environ, tmp_path)
    assert no_key.returncode == 2 and "pass --key-env VAR or --key-file FILE (or set" in no_key.stderr
    unset = run_cli(["verify", "--group", GROUP, "--key-env", "NOT_SET"], environ, tmp_path)
    assert unset.returncode == 2 and "NOT_SET is not set" in unset.stderr
    (tmp_path / "key").write_text(KEY + "\n")
    good = run_cli(["verify", "--group", GROUP, "--key-file", str(tmp_path / "key"), "--strict"], environ, tmp_path)
    assert good.returncode == 0 and good.stdout.rstrip().endswith("Result: intact (strict)"), good.stdout
    empty = run_cli(
        ["verify", "--group", GROUP, "--key-file", str(tmp_path / "key"), "--since", "1s", "--until", "1s"],
        environ,
        tmp_path,
    )
    assert empty.returncode == 1 and "nothing to verify" in empty.stdout
    empty_json = run_cli(
        ["verify", "--group", GROUP, "--key-file", str(tmp_path / "key"), "--since", "1s", "--until", "1s", "--json"],
        environ,
        tmp_path,
    )
    assert empty_json.returncode == 1 and json.loads(empty_json.stdout)["ok"] is False
    endless = run_cli(["verify", "--group", GROUP, "--key-file", "/dev/zero"], environ, tmp_path)
    assert endless.returncode == 2 and "is not a regular file" in endless.stderr


def normalized(text: str) -> list[str]:
    """Lines without what differs from run to run: writer ids, pids, hosts, start times, reading speed."""
    for pattern, fixed in (
        (r"writer [0-9a-f]{16}", "writer W"),
        (r"pid \d+ on [^,]+", "pid P on H"),
        (r"started [0-9T:-]+Z", "started T"),
        (r"read in [\d.]+ s, [\d,]+ events/s", "read in S"),
    ):
        text = re.sub(pattern, fixed, text)
    return text.strip().splitlines()


def test_the_readme_verify_sample_runs_as_written(cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path) -> None:
    section = section_of(ROOT / "README.md", "A provable audit trail")
    sample = section.split("```console\n", 1)[1].split("```", 1)[0]
    command, *expected = sample.split("\n$ echo $?")[0].splitlines()
    assert command == "$ otel-cw-exporter verify --group integrates --key-file audit-trail.key"
    (tmp_path / "audit-trail.key").write_text(KEY + "\n")
    options: dict[str, Any] = {"log_stream_name": "security", "create_log_group": True, "integrity": True}
    first = CloudWatchLogRecordExporter(
        log_group_name="integrates", client=cloudwatch_logs.client(), integrity_key=KEY, **options
    )
    first.export(records(3))
    first.shutdown()  # closed after seq 3
    second = CloudWatchLogRecordExporter(
        log_group_name="integrates", client=cloudwatch_logs.client(), integrity_key=KEY, **options
    )
    old = int(time.time() * 1000) - 15 * 86_400_000
    second.export([*records(1), *records(1, timestamp_ms=old), *records(1)])
    second.export(records(1))  # says the too-old one was dropped; never closed
    cloudwatch_logs.rewrite_events(
        "integrates",
        "security",
        lambda events: [e for e in events if f'"writer":"{first.writer_id}","seq":2,' not in e[1]],
    )
    done = run_cli(command[2:].split()[1:], local_environ(tmp_path, cloudwatch_logs), tmp_path, module=False)
    assert done.returncode == int(sample.split("$ echo $?\n")[1].split()[0]), done.stderr
    assert normalized(done.stdout) == normalized("\n".join(expected))


def test_records_the_sdk_queue_dropped_are_announced(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    slow = failing_puts(cloudwatch_logs, Fault(status=None, delay=1.0))  # answers, a second late
    cw = exporter(cloudwatch_logs)
    provider = LoggerProvider()
    provider.add_log_record_processor(
        BatchLogRecordProcessor(cw, max_queue_size=5, max_export_batch_size=5, schedule_delay_millis=10)
    )
    logger = provider.get_logger("audit")
    logger.emit(body="first")
    time.sleep(0.3)  # the processor is now inside a slow export: the next records overflow its queue
    for n in range(40):
        logger.emit(body=f"event {n}")
    slow["on"] = False
    provider.shutdown()
    report = stored_report(cloudwatch_logs)
    [writer] = report.writers
    stored = writer.events - 1  # the closing event
    [said] = [entry for entry in writer.known_drops if entry["reason"] == "queue_full"]
    assert 41 - stored == said["count"] > 0 and report.ok()


def test_verify_reads_the_key_where_the_exporter_does(cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path) -> None:
    cw = exporter(cloudwatch_logs)
    cw.export(records(2))
    cw.shutdown()
    environ = local_environ(tmp_path, cloudwatch_logs)  # a key alone, as on an auditor's machine
    done = run_cli(
        ["verify", "--group", GROUP], {**environ, "OTEL_EXPORTER_CLOUDWATCH_LOGS_INTEGRITY_KEY": KEY}, tmp_path
    )
    assert done.returncode == 0 and "Result: intact" in done.stdout, done.stderr
    wrong = run_cli(
        ["verify", "--group", GROUP], {**environ, "OTEL_EXPORTER_CLOUDWATCH_LOGS_INTEGRITY_KEY": "w" * 32}, tmp_path
    )
    assert wrong.returncode == 1 and "BROKEN 3 event(s), seq 1-3" in wrong.stdout


def test_spooled_events_keep_their_numbers_and_evicted_ones_are_announced(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path
) -> None:
    down = failing_puts(cloudwatch_logs, Fault(code="ServiceUnavailableException", status=503))
    cw = exporter(cloudwatch_logs, timeout=0.5, spool_dir=str(tmp_path / "spool"), spool_max_bytes=8192)
    for _ in range(4):
        cw.export(records(25))  # an outage: kept on disk, the oldest evicted past 8 KiB
    evicted = cw.stats.events_evicted
    assert cw.stats.events_spooled == 100 and evicted > 0
    down["on"] = False
    cw.export(records(1))  # delivery works again: this event announces the evicted ones; the replay sends the rest
    deadline = time.monotonic() + 20
    while cw.stats.spool_bytes and time.monotonic() < deadline:
        time.sleep(0.05)
    cw.shutdown()
    report = stored_report(cloudwatch_logs)
    [writer] = report.writers
    assert report.ok(), report.as_json()
    said = [entry for entry in writer.known_drops if entry["reason"] == "spool_evicted"]
    assert sum(entry["to"] - entry["from"] + 1 for entry in said) == evicted
    assert said[0]["from"] == 1  # the oldest went first
    assert writer.events == 100 - evicted + 1 + 1 and writer.closed and not writer.duplicates


def test_a_trail_copied_elsewhere_or_moved_in_time_does_not_verify(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    cw = exporter(cloudwatch_logs)
    cw.export(records(3))
    cw.shutdown()
    stored = cloudwatch_logs.raw_events(GROUP, STREAM)
    client = cloudwatch_logs.client()
    client.create_log_group(logGroupName="copy")
    client.create_log_stream(logGroupName="copy", logStreamName=STREAM)
    events = [{"timestamp": e["timestamp"], "message": e["message"]} for e in stored]
    client.put_log_events(logGroupName="copy", logStreamName=STREAM, logEvents=events)
    copied = verify([(STREAM, e["message"], e["timestamp"]) for e in stored], KEY.encode(), group="copy")
    assert copied.writers[0].broken == [1, 2, 3, 4] and not copied.ok()  # the chain covers group and stream
    moved = [(STREAM, e["message"], e["timestamp"]) for e in stored] + [
        (STREAM, stored[1]["message"], stored[1]["timestamp"] - 2 * 86_400_000)  # re-put two days earlier
    ]
    report = verify(moved, KEY.encode(), group=GROUP)
    assert report.writers[0].conflicts == [2] and report.writers[0].duplicates == 0 and not report.ok()


def test_a_writers_spool_adopted_by_the_next_run_is_bounded_and_announced_there(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path
) -> None:
    down = failing_puts(cloudwatch_logs, Fault(code="ServiceUnavailableException", status=503))
    spool = str(tmp_path / "spool")
    first = exporter(cloudwatch_logs, timeout=0.5, spool_dir=spool, spool_max_bytes=1_048_576)
    for _ in range(4):
        first.export(records(25))
    first.shutdown()  # its closing event kept too: nothing evicted after it was sealed
    assert first.stats.events_evicted == 0
    # The next run starts while the outage goes on, with a smaller bound: it adopts the first run's file
    # and, keeping its own events, evicts the oldest (the first writer's), which it announces.
    second = exporter(cloudwatch_logs, timeout=0.5, spool_dir=spool, spool_max_bytes=8192)
    second.export(records(5))
    deadline = time.monotonic() + 20
    while not second.stats.events_evicted and time.monotonic() < deadline:  # its replay thread adopts
        time.sleep(0.05)
    assert second.stats.events_evicted > 0
    down["on"] = False
    second.export(records(1))
    deadline = time.monotonic() + 20
    while second.stats.spool_bytes and time.monotonic() < deadline:
        time.sleep(0.05)
    second.export(records(1))  # carries the announcement of the first writer's evicted events
    second.shutdown()
    report = stored_report(cloudwatch_logs)
    assert report.ok(), report.as_json()
    by_writer = {w.writer: w for w in report.writers}
    old = by_writer[first.writer_id]
    said = [entry for entry in old.known_drops if entry.get("by") == second.writer_id]
    assert said and old.closed and not old.missing  # the first writer's evicted events, said by the second
    own = by_writer[second.writer_id].known_drops  # its own, when the oldest were in flight meanwhile
    evicted = [entry["to"] - entry["from"] + 1 for entry in [*said, *own] if entry["reason"] == "spool_evicted"]
    assert sum(evicted) == second.stats.events_evicted
