"""The local endpoint refuses what AWS would."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ConnectionClosedError

from otel_cw_exporter.limits import MAX_EVENT_BYTES, MAX_REQUEST_EVENTS
from otel_cw_exporter.testing import Fault, LocalCloudWatchLogs


def test_the_endpoint_refuses_what_aws_would(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    client = cloudwatch_logs.client()
    client.create_log_group(logGroupName="g")
    client.create_log_stream(logGroupName="g", logStreamName="s")
    now = int(time.time() * 1000)
    from botocore.exceptions import ClientError

    def put(events: list[dict[str, Any]]) -> str:
        try:
            client.put_log_events(logGroupName="g", logStreamName="s", logEvents=events)
        except ClientError as error:
            return str(error.response["Error"]["Code"])
        return "ok"

    assert put([{"timestamp": now, "message": "x"}] * (MAX_REQUEST_EVENTS + 1)) == "InvalidParameterException"
    assert put([{"timestamp": now, "message": "x" * (MAX_EVENT_BYTES - 25)}]) == "InvalidParameterException"
    assert put([{"timestamp": now, "message": "x" * 600_000}] * 2) == "InvalidParameterException"
    assert put([{"timestamp": now - 25 * 3_600_000, "message": "a"}, {"timestamp": now, "message": "b"}]) == (
        "InvalidParameterException"
    )
    assert (
        put([{"timestamp": now, "message": "a"}, {"timestamp": now - 1, "message": "b"}]) == "InvalidParameterException"
    )
    assert put([{"timestamp": now, "message": "x" * (MAX_EVENT_BYTES - 26)}]) == "ok"
    assert cloudwatch_logs.invalid_requests == 5
    response = client.put_log_events(
        logGroupName="g",
        logStreamName="s",
        logEvents=[
            {"timestamp": now - 15 * 86_400_000, "message": "old"},
            {"timestamp": now, "message": "ok"},
            {"timestamp": now + 3 * 3_600_000, "message": "new1"},
            {"timestamp": now + 4 * 3_600_000, "message": "new2"},
        ],
    )
    assert response["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 0, "tooNewLogEventStartIndex": 2}
    assert [json.dumps(e["message"]) for e in cloudwatch_logs.raw_events("g", "s")][-1] == '"ok"'


def test_a_reset_after_store_stores_the_request_and_gives_no_answer(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    client = cloudwatch_logs.client(retries={"total_max_attempts": 1})
    client.create_log_group(logGroupName="reset")
    client.create_log_stream(logGroupName="reset", logStreamName="s")
    cloudwatch_logs.inject(lambda call: Fault(reset_after_store=True) if call.operation == "PutLogEvents" else None)
    event = {"timestamp": int(time.time() * 1000), "message": "stored, then the connection dropped"}
    with pytest.raises(ConnectionClosedError):
        client.put_log_events(logGroupName="reset", logStreamName="s", logEvents=[event])
    assert [e["message"] for e in cloudwatch_logs.raw_events("reset", "s")] == [event["message"]]
