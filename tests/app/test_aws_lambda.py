"""Lambda: flush at the end of every invocation, bounded."""

from __future__ import annotations

import time
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider

import otel_cw_exporter
from otel_cw_exporter.app import audit
from otel_cw_exporter.testing import Fault, LocalCloudWatchLogs
from tests.support import GROUP, FakeRequest


def test_lambda_flush_delivers_cloudwatch_log_calls_still_resolving_their_user(
    cloudwatch_logs: LocalCloudWatchLogs, configured: LoggerProvider
) -> None:
    from otel_cw_exporter.aws_lambda import flush_after

    class SlowResolver:  # 2 ms per token check: the calls are still queued when the handler returns
        def resolve(self, request: Any) -> str:
            time.sleep(0.002)
            return "lambda@example.com"

    audit.configure(identity=SlowResolver())

    @flush_after(timeout=5.0)
    def handler() -> None:
        for i in range(50):
            otel_cw_exporter.cloudwatch_log(FakeRequest(), f"invocation {i}", {"log_type": "Audit", "n": i})

    handler()
    # Read right after the invocation, as a frozen sandbox would leave it: all 50 are in CloudWatch.
    events = cloudwatch_logs.events(GROUP, "audit")
    assert sorted(e["extra"]["n"] for e in events) == list(range(50))
    assert {e["extra"]["user_email"] for e in events} == {"lambda@example.com"}


def test_lambda_flush_is_bounded_when_the_endpoint_is_slow(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    from otel_cw_exporter import CloudWatchLogRecordExporter
    from otel_cw_exporter.aws_lambda import flush_after

    cloudwatch_logs.inject(lambda call: Fault(None, None, delay=3.0) if call.operation == "PutLogEvents" else None)
    provider = LoggerProvider(shutdown_on_exit=False)
    exporter = CloudWatchLogRecordExporter(log_group_name="l", client=cloudwatch_logs.client(), create_log_group=True)
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter, schedule_delay_millis=60_000))

    @flush_after(timeout=0.5, provider=provider)
    def handler() -> str:
        provider.get_logger("l").emit(body="x")
        return "done"

    started = time.monotonic()
    assert handler() == "done"
    assert time.monotonic() - started < 2.5  # the 0.5 s bound, not the endpoint's 3 s
    provider.shutdown()
