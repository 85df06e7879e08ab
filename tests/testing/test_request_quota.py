"""RequestQuota: an account-wide request-rate quota the local endpoint enforces, as CloudWatch does."""

from __future__ import annotations

import threading
import time

import pytest
from botocore.exceptions import ClientError

from otel_cw_exporter.testing import Call, LocalCloudWatchLogs, RequestQuota


def _put(index: int = 0) -> Call:
    return Call("PutLogEvents", index, {})


def test_at_most_per_second_calls_pass_in_each_second_the_rest_are_throttled() -> None:
    now = [100.2]
    quota = RequestQuota(2, clock=lambda: now[0])
    answers = [quota(_put(i)) for i in range(3)]
    assert answers[:2] == [None, None]
    assert answers[2] is not None and answers[2].code == "ThrottlingException" and answers[2].status == 400
    assert quota(Call("CreateLogStream", 0, {})) is None  # another operation: not counted, never throttled
    now[0] = 100.9  # the same second: still full
    assert quota(_put()) is not None
    now[0] = 101.0  # a new second: two more
    assert [quota(_put()), quota(_put())] == [None, None]
    assert quota(_put()) is not None
    assert (quota.let_through, quota.throttled) == (4, 3)
    assert quota.per_window() == {100: 2, 101: 2}


def test_concurrent_calls_never_pass_more_than_the_quota() -> None:
    quota = RequestQuota(100, clock=lambda: 7.0)
    start = threading.Barrier(8)

    def caller() -> None:
        start.wait()
        for i in range(50):
            quota(_put(i))

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert (quota.let_through, quota.throttled) == (100, 300)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "10"])
def test_a_quota_that_is_not_a_positive_whole_number_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="per_second must be a whole number"):
        RequestQuota(bad)  # type: ignore[arg-type]


def test_the_endpoint_answers_throttling_beyond_the_quota(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    client = cloudwatch_logs.client(retries={"total_max_attempts": 1})
    client.create_log_group(logGroupName="g")
    client.create_log_stream(logGroupName="g", logStreamName="s")
    quota = RequestQuota(1, clock=lambda: 42.0)
    cloudwatch_logs.inject(quota)
    event = [{"timestamp": int(time.time() * 1000), "message": "x"}]
    client.put_log_events(logGroupName="g", logStreamName="s", logEvents=event)
    with pytest.raises(ClientError) as raised:
        client.put_log_events(logGroupName="g", logStreamName="s", logEvents=event)
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    assert (quota.let_through, quota.throttled) == (1, 1)
    assert len(cloudwatch_logs.raw_events("g", "s")) == 1
