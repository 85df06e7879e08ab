"""The PutLogEvents body we write is the one botocore would send."""

from __future__ import annotations

import json

import pytest

from otel_cw_exporter.encode.event import Event
from otel_cw_exporter.send.wire import put_log_events_body
from tests.support import orjson_tier


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
