"""Delivery against the local endpoint with faults injected: retries, deadlines, isolation, shutdown."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from typing import Any

import pytest
from opentelemetry.sdk._logs.export import LogRecordExportResult

from otel_cw_exporter import CloudWatchLogRecordExporter
from otel_cw_exporter.encode import jsonsafe
from otel_cw_exporter.send.retry import Backoff
from otel_cw_exporter.testing import Call, Fault, LocalCloudWatchLogs
from tests.support import answering_server, make_record

GROUP = "delivery"


def exporter_for(endpoint: LocalCloudWatchLogs, **options: Any) -> CloudWatchLogRecordExporter:
    options.setdefault("log_group_name", GROUP)
    options.setdefault("log_stream_name", "s")
    options.setdefault("create_log_group", True)
    client = options.pop("client", None) or endpoint.client(retries={"total_max_attempts": 1})
    exporter = CloudWatchLogRecordExporter(client=client, **options)
    exporter._delivery._backoff = Backoff(base=0.01, cap=0.05)  # keep the suite fast; policy tested below
    return exporter


def records(n: int, start: int = 0, **attributes: Any) -> list[Any]:
    return [make_record(f"event {i}", {"i": i, **attributes}) for i in range(start, start + n)]


def stored(endpoint: LocalCloudWatchLogs, stream: str | None = None) -> list[int]:
    return sorted(e["extra"]["i"] for e in endpoint.events(GROUP, stream))


def puts_only(rule: Any) -> Any:
    return lambda call: rule(call) if call.operation == "PutLogEvents" else None


def test_throttling_every_third_request_loses_and_doubles_nothing(
    cloudwatch_logs: LocalCloudWatchLogs,
) -> None:
    cloudwatch_logs.inject(puts_only(lambda call: Fault("ThrottlingException") if call.index % 3 == 2 else None))
    exporter = exporter_for(cloudwatch_logs)
    for batch in range(6):
        assert exporter.export(records(100, batch * 100)) is LogRecordExportResult.SUCCESS
    assert stored(cloudwatch_logs) == list(range(600))
    stats = exporter.stats
    assert stats.events_sent == 600 and stats.throttles >= 2 and stats.retries >= 2
    assert stats.events_dropped == 0


def test_a_503_outage_of_a_few_seconds_is_ridden_out(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    until = time.monotonic() + 1.5
    cloudwatch_logs.inject(
        puts_only(lambda call: Fault("ServiceUnavailableException", 503) if time.monotonic() < until else None)
    )
    exporter = exporter_for(cloudwatch_logs, timeout=10)
    exporter._delivery._backoff = Backoff(base=0.05, cap=0.4)
    assert exporter.export(records(50)) is LogRecordExportResult.SUCCESS
    assert stored(cloudwatch_logs) == list(range(50))
    assert exporter.stats.retries >= 1 and exporter.stats.events_dropped == 0


def test_slow_endpoint_beyond_the_read_timeout_is_retried(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    # The first put hangs past the client's read timeout and then fails: the retry stores it once.
    cloudwatch_logs.inject(
        puts_only(lambda call: Fault("ServiceUnavailableException", 503, delay=1.5) if call.index == 0 else None)
    )
    client = cloudwatch_logs.client(read_timeout=0.5, retries={"total_max_attempts": 1})
    exporter = exporter_for(cloudwatch_logs, client=client)
    assert exporter.export(records(20)) is LogRecordExportResult.SUCCESS
    assert stored(cloudwatch_logs) == list(range(20))
    assert exporter.stats.retries >= 1


def dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dead_endpoint_exporter(monkeypatch: pytest.MonkeyPatch, timeout: float) -> CloudWatchLogRecordExporter:
    """An exporter building its own client for a port nobody listens on."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return CloudWatchLogRecordExporter(
        log_group_name=GROUP,
        log_stream_name="s",
        endpoint_url=f"http://127.0.0.1:{dead_port()}",
        region_name="us-east-1",
        timeout=timeout,
        environ={},
    )


def test_dead_port_fails_within_the_timeout_and_counts_then_fails_fast(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exporter = dead_endpoint_exporter(monkeypatch, timeout=1.0)
    exporter._delivery.client()  # built lazily: no credentials needed until signing
    started = time.monotonic()
    assert exporter.export(records(10)) is LogRecordExportResult.FAILURE
    first = time.monotonic() - started
    assert first < 5.0  # bounded by timeout=1.0 (plus one connect attempt); not a speed check
    started = time.monotonic()
    assert exporter.export(records(10)) is LogRecordExportResult.FAILURE
    assert time.monotonic() - started < first  # known down: one attempt, no backoff
    assert exporter.stats.dropped == {"retry_budget": 20}


def poison(call: Call) -> Fault | None:
    """CloudWatch refusing any request that holds an event whose message says "poison"."""
    if any("poison" in e["message"] for e in call.payload.get("logEvents", [])):
        return Fault("InvalidParameterException", 400, "Log event is invalid")
    return None


def test_invalid_event_is_isolated_and_the_rest_stored(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    cloudwatch_logs.inject(puts_only(poison))
    exporter = exporter_for(cloudwatch_logs)
    batch = records(200)
    batch[137] = make_record("poison", {"i": 137})
    assert exporter.export(batch) is LogRecordExportResult.SUCCESS
    assert stored(cloudwatch_logs) == [i for i in range(200) if i != 137]
    assert exporter.stats.dropped == {"rejected": 1}
    assert cloudwatch_logs.calls("PutLogEvents") <= 1 + 2 * 8 + 2  # a binary search, not one per event


def test_access_denied_fails_fast_with_one_clear_line(
    cloudwatch_logs: LocalCloudWatchLogs, caplog: pytest.LogCaptureFixture
) -> None:
    cloudwatch_logs.inject(puts_only(lambda call: Fault("AccessDeniedException", 400, "not authorized")))
    exporter = exporter_for(cloudwatch_logs)
    with caplog.at_level(logging.WARNING, logger="otel_cw_exporter"):
        assert exporter.export(records(30)) is LogRecordExportResult.FAILURE
        assert exporter.export(records(30)) is LogRecordExportResult.FAILURE
    assert cloudwatch_logs.calls("PutLogEvents") == 2  # no retries
    assert exporter.stats.dropped == {"non_retryable": 60}
    refused = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == 1  # rate-limited
    assert "'delivery'" in refused[0] and "'s'" in refused[0]
    assert "AccessDeniedException" in refused[0] and "logs:PutLogEvents" in refused[0]


def test_access_denied_on_create_names_that_iam_action(
    cloudwatch_logs: LocalCloudWatchLogs, caplog: pytest.LogCaptureFixture
) -> None:
    cloudwatch_logs.inject(
        lambda call: (
            Fault("AccessDeniedException", 400, "not authorized") if call.operation == "CreateLogGroup" else None
        )
    )
    exporter = exporter_for(cloudwatch_logs)
    with caplog.at_level(logging.WARNING, logger="otel_cw_exporter"):
        assert exporter.export(records(3)) is LogRecordExportResult.FAILURE
    [refused] = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert "AccessDeniedException" in refused and "grant logs:CreateLogGroup on log group 'delivery'" in refused
    assert exporter.stats.dropped == {"non_retryable": 3}


def test_partial_success_retries_only_the_failed_stream(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    from otel_cw_exporter import Route

    failures = {"left": 3}

    def flaky_b(call: Call) -> Fault | None:
        if call.payload.get("logStreamName") == "b" and failures["left"] > 0:
            failures["left"] -= 1
            return Fault("ServiceUnavailableException", 503)
        return None

    cloudwatch_logs.inject(puts_only(flaky_b))
    exporter = exporter_for(cloudwatch_logs, routes=[Route(when={"stream": "b"}, log_stream_name="b")])
    batch = records(40, 0, stream="a") + records(40, 40, stream="b")
    assert exporter.export(batch) is LogRecordExportResult.SUCCESS
    assert stored(cloudwatch_logs, "s") == list(range(40))  # stream a (the default) accepted once
    assert stored(cloudwatch_logs, "b") == list(range(40, 80))
    puts_to_default = [p for p in cloudwatch_logs.puts if p.stream == "s"]
    assert len(puts_to_default) == 1


def test_rejected_events_are_counted_by_reason(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    client = cloudwatch_logs.client()
    client.create_log_group(logGroupName=GROUP)
    client.put_retention_policy(logGroupName=GROUP, retentionInDays=1)
    exporter = exporter_for(cloudwatch_logs, create_log_group=False)
    now = int(time.time() * 1000)
    day = 86_400_000
    batch = [make_record("fresh", {"i": i}, timestamp_ms=now) for i in range(10)]
    batch += [make_record("expired", {"i": 100 + i}, timestamp_ms=now - 3 * day - i) for i in range(500)]
    assert exporter.export(batch) is LogRecordExportResult.SUCCESS
    assert stored(cloudwatch_logs) == list(range(10))
    assert exporter.stats.dropped == {"expired": 500}
    assert exporter.stats.events_sent == 10


def test_concurrency_is_bounded_and_used(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    from otel_cw_exporter import Route

    active = {"now": 0, "peak": 0}
    lock = threading.Lock()

    def slow(call: Call) -> None:
        if call.operation != "PutLogEvents":
            return
        with lock:
            active["now"] += 1
            active["peak"] = max(active["peak"], active["now"])
        time.sleep(0.3)
        with lock:
            active["now"] -= 1
        return

    cloudwatch_logs.inject(slow)
    routes = [Route(when={"n": n}, log_stream_name=f"s{n}") for n in range(6)]
    for limit, expected in ((1, 1), (3, 3)):
        active["peak"] = 0
        exporter = exporter_for(cloudwatch_logs, routes=routes, max_concurrency=limit)
        batch = [make_record("x", {"i": i, "n": i % 6}) for i in range(60)]
        assert exporter.export(batch) is LogRecordExportResult.SUCCESS
        assert active["peak"] == expected
    assert len(cloudwatch_logs.events(GROUP)) == 120


def senders() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name == "otel-cw-sender"}


def test_sender_threads_stay_between_exports_and_end_at_shutdown(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    # A thread that ends runs OpenSSL's cleanup under a lock of OpenSSL's: a fork in that moment left the
    # lock held in the child, whose client then never got built. So no sender ends between exports.
    from otel_cw_exporter import Route

    def slow(call: Call) -> None:  # slow enough that an export wants a second and a third sender
        if call.operation == "PutLogEvents":
            time.sleep(0.15)

    cloudwatch_logs.inject(slow)
    before = senders()
    routes = [Route(when={"n": n}, log_stream_name=f"s{n}") for n in range(3)]
    exporter = exporter_for(cloudwatch_logs, routes=routes, max_concurrency=3)
    batch = [make_record("x", {"i": i, "n": i % 3}) for i in range(30)]
    assert exporter.export(batch) is LogRecordExportResult.SUCCESS
    first = senders() - before
    assert len(first) == 3
    for _ in range(3):
        assert exporter.export(batch) is LogRecordExportResult.SUCCESS
        assert senders() - before == first and all(thread.is_alive() for thread in first)
    exporter.shutdown()
    for thread in first:
        thread.join(timeout=5)
    assert not any(thread.is_alive() for thread in first)
    assert len(cloudwatch_logs.events(GROUP)) == 120


def test_an_exporter_never_shut_down_is_collected_and_its_idle_senders_end(
    cloudwatch_logs: LocalCloudWatchLogs,
) -> None:
    import gc
    import weakref

    before = senders()
    exporter = exporter_for(cloudwatch_logs)
    assert exporter.export(records(10)) is LogRecordExportResult.SUCCESS
    idle = senders() - before
    assert len(idle) == 1
    gone = weakref.ref(exporter._delivery)
    del exporter
    gc.collect()
    assert gone() is None  # idle senders hold their delivery weakly
    for thread in idle:
        thread.join(timeout=5)
    assert not any(thread.is_alive() for thread in idle)


def test_stream_is_created_and_group_only_when_allowed(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    exporter = exporter_for(cloudwatch_logs, create_log_group=False)
    assert exporter.export(records(5)) is LogRecordExportResult.FAILURE
    assert exporter.stats.dropped == {"non_retryable": 5}
    assert cloudwatch_logs.calls("CreateLogGroup") == 0

    # A group made by infrastructure-as-code, no logs:CreateLogGroup: the stream is made, the group untouched.
    cloudwatch_logs.client().create_log_group(logGroupName=GROUP)
    streams_before = cloudwatch_logs.calls("CreateLogStream")
    cloudwatch_logs.inject(lambda call: Fault("AccessDeniedException") if call.operation == "CreateLogGroup" else None)
    exporter = exporter_for(cloudwatch_logs, create_log_group=True)
    assert exporter.export(records(5)) is LogRecordExportResult.SUCCESS
    assert exporter.export(records(5, 5)) is LogRecordExportResult.SUCCESS
    assert stored(cloudwatch_logs) == list(range(10))
    assert cloudwatch_logs.calls("CreateLogGroup") == 1  # ours, above; none from the exporter
    assert cloudwatch_logs.calls("CreateLogStream") - streams_before == 1  # then known: no call per export


def test_existing_stream_is_not_recreated(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    client = cloudwatch_logs.client()
    client.create_log_group(logGroupName=GROUP)
    client.create_log_stream(logGroupName=GROUP, logStreamName="s")
    exporter = exporter_for(cloudwatch_logs, create_log_stream=False)
    assert exporter.export(records(3)) is LogRecordExportResult.SUCCESS
    assert cloudwatch_logs.calls("CreateLogStream") == 1  # ours above, none from the exporter


def shutdown_during_export(
    endpoint: LocalCloudWatchLogs, exporter: CloudWatchLogRecordExporter, batch: list[Any], timeout_millis: int
) -> tuple[list[LogRecordExportResult], float]:
    """Export on a thread, shut down once two puts arrived: the export's results and shutdown's duration
    (until the export returned too)."""
    results: list[LogRecordExportResult] = []
    worker = threading.Thread(target=lambda: results.append(exporter.export(batch)))
    worker.start()
    while endpoint.calls("PutLogEvents") < 2:
        time.sleep(0.01)
    started = time.monotonic()
    exporter.shutdown(timeout_millis=timeout_millis)
    worker.join(10)
    assert not worker.is_alive()
    return results, time.monotonic() - started


def test_shutdown_ends_backoff_at_once_when_throttled_forever(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    cloudwatch_logs.inject(puts_only(lambda call: Fault("ThrottlingException")))
    exporter = exporter_for(cloudwatch_logs, timeout=60)
    exporter._delivery._backoff = Backoff(base=2.0, cap=5.0)
    results, elapsed = shutdown_during_export(cloudwatch_logs, exporter, records(10), timeout_millis=2000)
    assert elapsed < 5.0  # bounded by the 2 s given, not the export's 60 s
    assert results == [LogRecordExportResult.FAILURE]
    assert exporter.stats.dropped == {"retry_budget": 10}


def test_force_flush_waits_for_requests_in_flight_within_its_timeout(
    cloudwatch_logs: LocalCloudWatchLogs,
) -> None:
    cloudwatch_logs.inject(puts_only(lambda call: Fault(None, None, delay=0.5)))
    exporter = exporter_for(cloudwatch_logs)
    worker = threading.Thread(target=exporter.export, args=(records(5),))
    worker.start()
    while cloudwatch_logs.calls("PutLogEvents") < 1:
        time.sleep(0.01)
    assert exporter.force_flush(timeout_millis=10) is False
    assert exporter.force_flush(timeout_millis=5000) is True
    worker.join()
    assert stored(cloudwatch_logs) == list(range(5))


@pytest.mark.parametrize("enabled", [True, False], ids=["orjson", "stdlib"])
def test_our_request_body_is_stored_and_the_clients_other_calls_are_untouched(
    cloudwatch_logs: LocalCloudWatchLogs, enabled: bool
) -> None:
    # The exporter writes the PutLogEvents body itself and swaps it in through a botocore hook on the
    # (here user-given) client: every event must arrive as written, and the client's own calls as theirs.
    client = cloudwatch_logs.client()
    exporter = exporter_for(cloudwatch_logs, client=client)
    was = jsonsafe.use_orjson(enabled)
    try:
        result = exporter.export(records(300, note='é 日本 😀 "quoted" \\ back'))
    finally:
        jsonsafe.use_orjson(was)
    assert result is LogRecordExportResult.SUCCESS
    now = int(time.time() * 1000)
    client.put_log_events(logGroupName=GROUP, logStreamName="s", logEvents=[{"timestamp": now, "message": "theirs"}])
    messages = [event["message"] for event in cloudwatch_logs.raw_events(GROUP, "s")]
    assert messages.count("theirs") == 1
    ours = [json.loads(message) for message in messages if message != "theirs"]
    assert sorted(event["extra"]["i"] for event in ours) == list(range(300))
    assert {event["extra"]["note"] for event in ours} == {'é 日本 😀 "quoted" \\ back'}
    assert exporter.stats.events_sent == 300 and cloudwatch_logs.invalid_requests == 0


def test_a_stream_that_stays_missing_is_bounded_by_the_timeout(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    # Every put says ResourceNotFound although the stream is created each time: no tight loop of
    # create-and-put, the export ends at its deadline and counts what it could not send.
    cloudwatch_logs.inject(puts_only(lambda call: Fault("ResourceNotFoundException", 400, "stream missing")))
    exporter = exporter_for(cloudwatch_logs, timeout=1.0)
    started = time.monotonic()
    assert exporter.export(records(10)) is LogRecordExportResult.FAILURE
    assert time.monotonic() - started < 2.0  # timeout 1 s plus at most one call in progress
    assert exporter.stats.dropped == {"retry_budget": 10}
    assert cloudwatch_logs.calls("CreateLogStream") <= 3  # once, then only after backoffs


def test_no_attempt_starts_after_the_deadline(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    # Five streams, one at a time, each answer taking 0.8 s, timeout 1 s: what starts before the deadline
    # (on an idle machine two requests) is stored and counted, the rest is counted, none starts after it.
    client = cloudwatch_logs.client()
    client.create_log_group(logGroupName=GROUP)
    for n in range(5):
        client.create_log_stream(logGroupName=GROUP, logStreamName=f"s{n}")
    arrivals: list[float] = []

    def slow(call: Call) -> Fault:
        arrivals.append(time.monotonic())
        return Fault(None, None, delay=0.8)

    cloudwatch_logs.inject(puts_only(slow))
    exporter = exporter_for(cloudwatch_logs, timeout=1.0, max_concurrency=1, log_stream_name="{stream}")
    exporter._delivery.client()  # built before: on a busy machine building it can take the whole second
    batch = [make_record(f"event {i}", {"i": i, "stream": f"s{i % 5}"}) for i in range(50)]
    started = time.monotonic()
    assert exporter.export(batch) is LogRecordExportResult.FAILURE
    elapsed = time.monotonic() - started
    assert elapsed < 1.0 + 0.8 + 1.0  # the deadline, one answer in progress, and slack (all five: 4 s)
    assert 1 <= len(arrivals) <= 2 and all(at < started + 1.0 for at in arrivals)
    sent = len(stored(cloudwatch_logs))
    assert sent == exporter.stats.events_sent == 10 * len(arrivals)
    assert exporter.stats.dropped == {"retry_budget": 50 - sent}


def test_no_attempt_starts_after_the_deadline_when_the_client_took_until_then(
    cloudwatch_logs: LocalCloudWatchLogs,
) -> None:
    # Building a client (its first use) can take a second on a busy machine: a call then would start
    # after the export's deadline, and its answer come after the export returned.
    arrivals: list[float] = []
    cloudwatch_logs.inject(puts_only(lambda call: arrivals.append(time.monotonic())))
    exporter = exporter_for(cloudwatch_logs, timeout=0.5)
    build = exporter._delivery._client_factory

    def slow_build() -> Any:
        time.sleep(0.7)
        return build()

    exporter._delivery._client_factory = slow_build
    started = time.monotonic()
    assert exporter.export(records(10)) is LogRecordExportResult.FAILURE
    assert time.monotonic() - started < 0.5 + 0.7 + 0.5
    time.sleep(0.5)  # a call that started late would have arrived by now
    assert arrivals == []
    assert not cloudwatch_logs.client().describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"]  # no call at all
    assert exporter.stats.dropped == {"retry_budget": 10}


def test_a_throttled_create_log_stream_is_retried_not_fatal(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    cloudwatch_logs.inject(
        lambda call: Fault("ThrottlingException") if call.operation == "CreateLogStream" and call.index == 0 else None
    )
    exporter = exporter_for(cloudwatch_logs)
    assert exporter.export(records(10)) is LogRecordExportResult.SUCCESS
    assert stored(cloudwatch_logs) == list(range(10))
    assert exporter.stats.events_dropped == 0 and exporter.stats.throttles == 1


def test_many_bad_events_are_isolated_without_losing_good_ones(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    cloudwatch_logs.inject(puts_only(poison))
    exporter = exporter_for(cloudwatch_logs, timeout=60)
    batch = records(8000)
    bad = set(range(7, 8000, 200))  # 40 bad events spread over the whole request
    for i in bad:
        batch[i] = make_record("poison", {"i": i})
    assert exporter.export(batch) is LogRecordExportResult.SUCCESS
    assert stored(cloudwatch_logs) == [i for i in range(8000) if i not in bad]
    assert exporter.stats.dropped == {"rejected": 40}


def test_after_an_export_spends_its_timeout_the_next_ones_do_not_stall(
    cloudwatch_logs: LocalCloudWatchLogs,
) -> None:
    # Throttled forever: the first export backs off until its deadline; the rest of the queue then
    # gets one attempt per request (so a flush or exit takes about one timeout, not one per batch).
    cloudwatch_logs.inject(puts_only(lambda call: Fault("ThrottlingException")))
    exporter = exporter_for(cloudwatch_logs, timeout=1.0)
    started = time.monotonic()
    assert exporter.export(records(10)) is LogRecordExportResult.FAILURE
    first = time.monotonic() - started
    assert first >= 0.9  # it did retry until about the deadline
    started = time.monotonic()
    for batch in range(4):
        assert exporter.export(records(10, 10 * (batch + 1))) is LogRecordExportResult.FAILURE
    assert time.monotonic() - started < first  # four exports, one attempt each, no backoff
    assert exporter.stats.dropped == {"retry_budget": 50}
    cloudwatch_logs.clear_faults()
    assert exporter.export(records(10, 100)) is LogRecordExportResult.SUCCESS  # one success ends it
    assert stored(cloudwatch_logs) == list(range(100, 110))


def test_events_cloudwatch_itself_rejects_are_counted_by_reason(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    # Our clock and CloudWatch's disagree: the plan sent them, CloudWatch's rejectedLogEventsInfo says why not.
    exporter = exporter_for(cloudwatch_logs)
    hour, day = 3_600_000, 86_400_000
    now = int(time.time() * 1000)
    cloudwatch_logs.clock_offset_ms = 3 * day  # CloudWatch is three days ahead of us
    batch = [make_record("old", {"i": i}, timestamp_ms=now - 12 * day) for i in range(3)]
    batch += [make_record("fine", {"i": i}, timestamp_ms=now) for i in range(3, 7)]
    assert exporter.export(batch) is LogRecordExportResult.SUCCESS
    cloudwatch_logs.clock_offset_ms = -3 * hour  # and now three hours behind
    assert exporter.export([make_record("new", {"i": i}, timestamp_ms=now) for i in range(7, 9)])
    assert stored(cloudwatch_logs) == [3, 4, 5, 6]
    assert exporter.stats.dropped == {"too_old": 3, "too_new": 2}
    assert exporter.stats.events_sent == 4


def test_counters_are_published_as_otel_metrics(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    exporter = exporter_for(cloudwatch_logs, meter_provider=MeterProvider(metric_readers=[reader]))
    now = int(time.time() * 1000)
    exporter.export([*records(5), make_record("old", {"i": 99}, timestamp_ms=now - 15 * 86_400_000)])
    data = reader.get_metrics_data()
    points: dict[tuple[str, str], int] = {}
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                for point in metric.data.data_points:
                    points[metric.name, str(point.attributes.get("reason", ""))] = point.value
    assert points["otel_cw_exporter.events_sent", ""] == 5
    assert points["otel_cw_exporter.requests", ""] == exporter.stats.requests
    assert points["otel_cw_exporter.events_dropped", "too_old"] == 1


@pytest.mark.parametrize(
    "fault",
    [
        Fault("ServiceUnavailableException", 503),
        Fault(None, None, delay=0.6),
        Fault("InvalidParameterException", 400, "Log event is invalid"),
    ],
    ids=["503-outage", "slow-endpoint", "rejected-flood"],
)
def test_shutdown_is_bounded_under_each_fault(cloudwatch_logs: LocalCloudWatchLogs, fault: Fault) -> None:
    cloudwatch_logs.inject(puts_only(lambda call: fault))
    exporter = exporter_for(cloudwatch_logs, timeout=30)
    exporter._delivery._backoff = Backoff(base=0.5, cap=2.0)
    results, elapsed = shutdown_during_export(cloudwatch_logs, exporter, records(400), timeout_millis=1500)
    assert elapsed < 4.0  # the 1.5 s given plus one call in progress, not the 30 s timeout
    assert len(results) == 1  # the export returned (a slow endpoint may still have stored it all)
    stats = exporter.stats
    assert stats.events_sent + stats.events_dropped == 400  # every event accounted for, once


def test_a_long_outage_keeps_nothing_between_exports(monkeypatch: pytest.MonkeyPatch) -> None:
    # Memory through an outage is the SDK's queue (bounded, its own) plus the export in progress: the
    # exporter itself holds on to nothing from one failed export to the next.
    import gc
    import tracemalloc

    exporter = dead_endpoint_exporter(monkeypatch, timeout=0.5)
    batch = records(1000, note="x" * 200)
    exporter.export(batch)  # spends its timeout; the endpoint is then known down
    tracemalloc.start()
    try:
        for _ in range(3):
            exporter.export(batch)
        gc.collect()
        early = tracemalloc.get_traced_memory()[0]
        for _ in range(15):
            exporter.export(batch)
        gc.collect()
        late, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert exporter.stats.dropped == {"retry_budget": 1000 * 19}
    assert late - early < 256 * 1024  # 15 more failed exports of 1,000 records: nothing kept
    assert peak - early < 16 * 1024 * 1024  # one export's events and request, under 1 MB here


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"<html><body>Sign in to the Wi-Fi</body></html>", "text/html"),  # a captive portal, a proxy
        (b'{"ok": true}', "application/json"),  # some JSON API at a wrong endpoint_url
        (b"", "text/plain"),
    ],
    ids=["html", "other-json", "empty"],
)
def test_a_200_that_is_not_a_put_log_events_answer_is_not_counted_as_sent(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, body: bytes, content_type: str
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with answering_server(200, body, content_type) as url:
        exporter = CloudWatchLogRecordExporter(
            log_group_name=GROUP,
            log_stream_name="s",
            endpoint_url=url,
            region_name="us-east-1",
            timeout=1.0,
            environ={},
        )
        exporter._delivery._backoff = Backoff(base=0.01, cap=0.05)
        assert exporter.export(records(300)) is LogRecordExportResult.FAILURE
    stats = exporter.stats
    assert stats.events_sent == 0 and stats.dropped == {"retry_budget": 300}  # before: events_sent=300
    assert stats.requests >= 2  # retried, as any answer that may pass
    assert any("not a CloudWatch Logs answer" in r.getMessage() for r in caplog.records)


def test_a_given_client_keeps_our_retry_policy_counters_and_deadline(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    client = cloudwatch_logs.client()  # botocore's defaults: it would retry throttles itself, uncounted
    client.create_log_group(logGroupName=GROUP)
    client.create_log_stream(logGroupName=GROUP, logStreamName="s")
    cloudwatch_logs.inject(puts_only(lambda call: Fault("ThrottlingException") if call.index < 5 else None))
    exporter = CloudWatchLogRecordExporter(
        log_group_name=GROUP, log_stream_name="s", client=client, create_log_group=True, timeout=10
    )
    exporter._delivery._backoff = Backoff(base=0.01, cap=0.05)
    assert exporter.export(records(10)) is LogRecordExportResult.SUCCESS
    stats = exporter.stats
    assert (stats.throttles, stats.retries, stats.requests) == (5, 5, 6)  # before: 0, 0, 1 while 6 were sent
    assert cloudwatch_logs.calls("PutLogEvents") == 6 and stored(cloudwatch_logs) == list(range(10))

    cloudwatch_logs.clear_faults()
    cloudwatch_logs.inject(puts_only(lambda call: Fault("ThrottlingException")))
    short = CloudWatchLogRecordExporter(log_group_name=GROUP, log_stream_name="s", client=client, timeout=1.0)
    started = time.monotonic()
    assert short.export(records(10)) is LogRecordExportResult.FAILURE
    assert time.monotonic() - started < 1.8  # before: 2.2 s, botocore's own retries ran past the deadline

    # The application's client itself is untouched: its own calls still get botocore's retries.
    before = cloudwatch_logs.calls("PutLogEvents")
    cloudwatch_logs.clear_faults()
    cloudwatch_logs.inject(puts_only(lambda call: Fault("ThrottlingException") if call.index < before + 2 else None))
    now = int(time.time() * 1000)
    client.put_log_events(logGroupName=GROUP, logStreamName="s", logEvents=[{"timestamp": now, "message": "mine"}])
    assert cloudwatch_logs.calls("PutLogEvents") == before + 3
    assert [e["message"] for e in cloudwatch_logs.raw_events(GROUP, "s")][-1] == "mine"


def test_a_request_body_held_after_its_call_is_never_overwritten(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    # Bodies are written into memory kept for the next calls. Something that keeps a body past its call
    # (here a botocore hook; an error's traceback does too) must keep that body's bytes, and every later
    # request must still carry its own events.
    exporter = exporter_for(cloudwatch_logs, max_concurrency=1)
    held: list[Any] = []
    exporter._delivery.client().meta.events.register(
        "before-send.cloudwatch-logs.PutLogEvents", lambda request, **_: held.append(request.body)
    )
    for batch in range(2):  # about 1.7 MB of events each: two requests, the second smaller
        assert exporter.export(records(2500, batch * 2500, pad="x" * 400)) is LogRecordExportResult.SUCCESS
    assert stored(cloudwatch_logs) == list(range(5000))
    assert len(held) >= 4
    runs = [[json.loads(e["message"])["extra"]["i"] for e in json.loads(bytes(body))["logEvents"]] for body in held]
    for run in runs:  # each body is one request's events, in order (a retried one appears twice)
        assert run == list(range(run[0], run[0] + len(run)))
    assert {i for run in runs for i in run} == set(range(5000))
    exporter.shutdown()
