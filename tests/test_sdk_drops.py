"""Records the SDK's batch processor drops (its queue full) are counted, said and announced, never silent.

A real ``LoggerProvider`` and ``BatchLogRecordProcessor`` feed the exporter; the local endpoint answers
PutLogEvents a second late, so a burst logged meanwhile overflows the processor's queue.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

from otel_cw_exporter import CloudWatchLogRecordExporter, sdk_drops
from otel_cw_exporter.testing import Call, Fault, LocalCloudWatchLogs
from otel_cw_exporter.zero_code import ZeroCodeLogRecordExporter
from tests.support import ROOT, clean_environ

GROUP = "burst"


def slow_puts(endpoint: LocalCloudWatchLogs) -> dict[str, bool]:
    """The first PutLogEvents answered 1.5 s late (a burst logged meanwhile overflows the queue, and the
    processor's thread, waiting for that answer, takes nothing out of it); the others at once."""
    flag = {"on": True, "first": True}
    late = Fault(status=None, delay=1.5)

    def rule(call: Call) -> Fault | None:
        if call.operation != "PutLogEvents" or not flag["on"] or not flag["first"]:
            return None
        flag["first"] = False
        return late

    endpoint.inject(rule)
    return flag


def pipeline(
    endpoint: LocalCloudWatchLogs, *, zero_code: bool = False, **processor: int
) -> tuple[LoggerProvider, CloudWatchLogRecordExporter]:
    """A provider, the SDK's processor and our exporter (as zero-code builds it: inside its wrapper)."""
    options: dict[str, Any] = {"log_group_name": GROUP, "log_stream_name": "s", "create_log_group": True}
    wrapper = ZeroCodeLogRecordExporter(**options, client=endpoint.client()) if zero_code else None
    exporter = (
        wrapper.exporter if wrapper is not None else CloudWatchLogRecordExporter(**options, client=endpoint.client())
    )
    assert exporter is not None
    provider = LoggerProvider()
    provider.add_log_record_processor(BatchLogRecordProcessor(wrapper or exporter, **processor))
    return provider, exporter


def run(script: str, endpoint: LocalCloudWatchLogs, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``script`` in a new interpreter, with the endpoint's credentials and nothing else of AWS."""
    environ = clean_environ(tmp_path, **endpoint.environ)
    command = [sys.executable, "-c", textwrap.dedent(script)]
    return subprocess.run(command, env=environ, cwd=ROOT, capture_output=True, text=True, timeout=90, check=False)


@pytest.fixture
def sdk_logger_disabled() -> Iterator[None]:
    """The SDK's logger as ``dictConfig`` leaves it: disabled, so its queue-full warning is never made."""
    sdk_logger = logging.getLogger(sdk_drops.SDK_LOGGER)
    before = sdk_logger.disabled
    sdk_logger.disabled = True
    yield
    sdk_logger.disabled = before


def burst_during_an_export(
    endpoint: LocalCloudWatchLogs, caplog: pytest.LogCaptureFixture, *, zero_code: bool = False
) -> None:
    """41 records: one exported (slowly), 40 logged meanwhile into a queue of 5; then every one counted."""
    slow = slow_puts(endpoint)
    provider, exporter = pipeline(
        endpoint, zero_code=zero_code, max_queue_size=5, max_export_batch_size=5, schedule_delay_millis=10
    )
    logger = provider.get_logger("audit")
    logger.emit(body="first")
    time.sleep(0.3)  # the processor is now inside the slow export
    with caplog.at_level(logging.WARNING, logger="otel_cw_exporter"):
        for n in range(40):
            logger.emit(body=f"event {n}")
        slow["on"] = False
        provider.shutdown()
    stored = len(endpoint.events(GROUP))
    dropped = exporter.stats.dropped.get("queue_full", 0)
    assert dropped > 0 and stored + dropped == 41, (stored, exporter.stats)
    said = [r.getMessage() for r in caplog.records if "queue_full" in r.getMessage()]
    assert said and "its queue of 5 was full" in said[0] and "OTEL_BLRP_MAX_QUEUE_SIZE" in said[0], said
    assert f"{dropped} queue_full" in said[-1]  # the shutdown line has the total


def test_drops_while_an_export_runs_are_counted_and_said(
    cloudwatch_logs: LocalCloudWatchLogs, caplog: pytest.LogCaptureFixture
) -> None:
    burst_during_an_export(cloudwatch_logs, caplog)


@pytest.mark.usefixtures("sdk_logger_disabled")
def test_drops_are_counted_through_zero_codes_wrapper(
    cloudwatch_logs: LocalCloudWatchLogs, caplog: pytest.LogCaptureFixture
) -> None:
    """``opentelemetry-instrument`` hands the processor our wrapper, which holds the exporter."""
    burst_during_an_export(cloudwatch_logs, caplog, zero_code=True)


@pytest.mark.usefixtures("sdk_logger_disabled")
def test_drops_are_counted_when_the_sdks_warning_is_never_made(
    cloudwatch_logs: LocalCloudWatchLogs, caplog: pytest.LogCaptureFixture
) -> None:
    """The count does not rest on the SDK's logging: the processor is found at its first export."""
    burst_during_an_export(cloudwatch_logs, caplog)


def test_drops_before_the_first_export_are_counted(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    """The burst fills the queue before the processor ever exports: found at its warning."""
    provider, exporter = pipeline(cloudwatch_logs, max_queue_size=5, max_export_batch_size=5)
    [processor] = provider._multi_log_record_processor._log_record_processors
    logger = provider.get_logger("audit")
    with processor._batch_processor._export_lock:  # the processor's thread waits here: no export yet
        for n in range(40):
            logger.emit(body=f"event {n}")
        assert exporter.stats.requests == 0
    provider.shutdown()
    assert exporter.stats.dropped == {"queue_full": 35}, exporter.stats
    assert [e["message"] for e in cloudwatch_logs.events(GROUP)] == [f"event {n}" for n in range(35, 40)]


def test_a_processor_feeding_another_exporter_is_left_alone(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    class Other:
        def export(self, batch: object) -> None: ...

        def shutdown(self) -> None: ...

    _, ours = pipeline(cloudwatch_logs)
    other = BatchLogRecordProcessor(Other())  # type: ignore[arg-type]
    assert not sdk_drops.attach(other)
    assert not type(other._batch_processor._metrics).__module__.startswith("otel_cw_exporter")
    ours.shutdown()
    other.shutdown()


@pytest.mark.parametrize("logging_setup", ["dictConfig", "none"])
def test_a_burst_through_setup_is_counted_and_said(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path, logging_setup: str
) -> None:
    """As an application does it: a ``dictConfig`` (which disables the SDK's and our loggers) or no
    logging set up, ``setup()`` with the stdlib bridged, 3,000 lines in a loop while the endpoint is slow,
    a normal exit. Every line is stored or counted, exactly: the SDK's own "Queue full" line is not sent
    into the pipeline it speaks of (it would be dropped and counted too), and the count reaches stderr."""
    script = f"""
    import logging, logging.config, sys, time
    from otel_cw_exporter import setup
    if "{logging_setup}" == "dictConfig":
        logging.config.dictConfig({{"version": 1, "root": {{"level": "INFO"}}}})
    else:
        logging.getLogger().setLevel(logging.INFO)
    provider = setup(service_name="app", log_group_name="burst", log_stream_name="s", bridge_stdlib=True,
                     create_log_group=True)
    logging.getLogger("app").info("first")
    time.sleep(0.3)  # an export now runs (the endpoint answers 1.5 s late)
    for n in range(2999):
        logging.getLogger("app").info("event %d", n)
    """
    slow = slow_puts(cloudwatch_logs)
    done = run(script, cloudwatch_logs, tmp_path)
    slow["on"] = False
    assert done.returncode == 0, done.stderr
    said = re.search(r"warning: shutting down: (\d+) CloudWatch event\(s\) were not stored", done.stderr)
    assert said is not None, done.stderr
    assert "reason queue_full (the SDK's BatchLogRecordProcessor dropped them: its queue of 2048" in done.stderr
    stored = len(cloudwatch_logs.events(GROUP))
    assert stored + int(said.group(1)) == 3000 and stored < 3000, (stored, done.stderr)


def test_records_logged_after_the_provider_shut_down_are_counted_and_said(
    cloudwatch_logs: LocalCloudWatchLogs, caplog: pytest.LogCaptureFixture
) -> None:
    """A server's threads still logging after its provider shut down: counted as ``shutdown``, said."""
    provider, exporter = pipeline(cloudwatch_logs)
    logger = provider.get_logger("audit")
    logger.emit(body="before")
    provider.shutdown()
    with caplog.at_level(logging.WARNING, logger="otel_cw_exporter"):
        for n in range(3):
            logger.emit(body=f"after {n}")
    assert [e["message"] for e in cloudwatch_logs.events(GROUP)] == ["before"]
    assert exporter.stats.dropped == {"shutdown": 3}, exporter.stats
    [said] = [r.getMessage() for r in caplog.records if "reason shutdown" in r.getMessage()]
    assert said.startswith("dropped 1 CloudWatch event(s)") and "after the LoggerProvider shut down" in said


def test_stdlib_records_after_setups_provider_shut_down_are_counted(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path
) -> None:
    """``setup()``'s pipeline, the stdlib bridged, no export ever made: found where setup() builds it."""
    script = """
    import logging
    from otel_cw_exporter import setup
    provider = setup(service_name="app", log_group_name="burst", bridge_stdlib=True, create_log_group=True)
    provider.shutdown()
    for n in range(5):
        logging.getLogger("app").warning("after %d", n)
    """
    done = run(script, cloudwatch_logs, tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines == [
        "otel-cw-exporter: warning: dropped 1 CloudWatch event(s), reason shutdown"
        " (logged after the LoggerProvider shut down)",
        # At exit, the totals of what the rate limit left unsaid since the shutdown's own line:
        "otel-cw-exporter: warning: shutting down: 5 CloudWatch event(s) were not stored since start (5 shutdown)",
    ], done.stderr
