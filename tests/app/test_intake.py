"""Values the SDK cannot take, and values it would flatten to text, through every entry point we own."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor

import otel_cw_exporter
from otel_cw_exporter import CloudWatchLogRecordExporter, OTelHandler
from otel_cw_exporter.app.intake import clean_attributes
from otel_cw_exporter.encode.event import EventEncoder
from otel_cw_exporter.testing import LocalCloudWatchLogs
from tests.support import GROUP, flush, make_record


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Detached:  # a detached ORM object, say: printing it raises
    id: int

    def __str__(self) -> str:
        raise RuntimeError("instance is not bound to a session")

    __repr__ = __str__


def hostile_values() -> dict[str, Any]:
    """What made the SDK lose the whole record: a dict containing itself, 1,500 levels, failing __str__."""
    cyclic: dict[str, Any] = {"name": "loop"}
    cyclic["self"] = cyclic
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(1500):
        node["next"] = {}
        node = node["next"]

    class Unprintable:
        def __str__(self) -> str:
            raise ValueError("no")

        __repr__ = __str__

    return {"cyclic": cyclic, "deep": deep, "unprintable": Unprintable(), "detached": Detached(7)}


@pytest.fixture
def pipeline(cloudwatch_logs: LocalCloudWatchLogs) -> Iterator[tuple[LoggerProvider, CloudWatchLogRecordExporter]]:
    exporter = CloudWatchLogRecordExporter(
        log_group_name=GROUP, log_stream_name="intake", client=cloudwatch_logs.client(), create_log_group=True
    )
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def test_hostile_values_through_the_stdlib_bridge_are_encoded_not_lost(
    cloudwatch_logs: LocalCloudWatchLogs, pipeline: tuple[LoggerProvider, CloudWatchLogRecordExporter]
) -> None:
    provider, exporter = pipeline
    logger = logging.getLogger("intake.stdlib")
    logger.propagate = False
    logger.addHandler(OTelHandler(logger_provider=provider))
    values = hostile_values()
    for name, value in values.items():  # one record per value, both record styles
        logger.warning("flat %s", name, extra={name: value})
        logger.warning("nested %s", name, extra={"extra": {name: value}})
    events = {e["message"]: e["extra"] for e in cloudwatch_logs.events(GROUP, "intake")}
    assert len(events) == 2 * len(values)  # before: 0 of 8 reached the exporter, and nothing was counted
    for style in ("flat", "nested"):
        assert events[f"{style} cyclic"]["cyclic"] == {"name": "loop", "self": "<cycle>"}
        assert "<max depth>" in json.dumps(events[f"{style} deep"]["deep"])
        assert events[f"{style} unprintable"]["unprintable"] == "<unprintable Unprintable>"
        assert events[f"{style} detached"]["detached"] == {"id": 7}  # a dataclass is an object, not its repr
    assert exporter.stats.events_sent == 8 and not exporter.stats.dropped


def test_hostile_values_through_cloudwatch_log_and_the_api_of_setups_provider(
    cloudwatch_logs: LocalCloudWatchLogs, configured: LoggerProvider
) -> None:
    values = hostile_values()
    for name, value in values.items():
        otel_cw_exporter.cloudwatch_log(None, f"audit {name}", {"log_type": "Audit", name: value}, user_email="a@b.c")
    api = configured.get_logger("api")
    for name, value in values.items():  # before: the SDK's RecursionError reached the caller
        api.emit(severity_number=SeverityNumber.INFO, body=f"api {name}", attributes={"log_type": "Audit", name: value})
    api.emit(severity_number=SeverityNumber.INFO, body=values["cyclic"], attributes={"log_type": "Audit"})
    flush(configured)
    events = {json.dumps(e["message"])[:40]: e for e in cloudwatch_logs.events(GROUP, "audit")}
    assert len(events) == 2 * len(values) + 1
    assert events['"audit cyclic"']["extra"]["cyclic"]["self"] == "<cycle>"
    assert events['"api deep"']["extra"]["deep"]["next"]["next"]["next"]
    assert events['"api detached"']["extra"]["detached"] == {"id": 7}
    assert events[json.dumps({"name": "loop", "self": "<cycle>"})[:40]]["message"]["self"] == "<cycle>"


def test_stdlib_values_keep_the_events_rules_exactly_as_through_the_api(
    cloudwatch_logs: LocalCloudWatchLogs, pipeline: tuple[LoggerProvider, CloudWatchLogRecordExporter]
) -> None:
    provider, _ = pipeline
    logger = logging.getLogger("intake.rules")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(OTelHandler(logger_provider=provider, code_attributes=False))
    values = {
        "when": dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
        "day": dt.date(2026, 1, 2),
        "color": Color.RED,
        "tags": {"b"},
        "pair": (1, 2),
        "point": Detached(3),
        "price": Decimal("1.10"),
        "ratio": float("nan"),
        "raw": b"\xff\x00",
    }
    logger.info("values", extra=values)
    logger.info({"k": "v", "n": [1, 2]})  # a mapping as the message: JSON, not its repr
    by_message = {json.dumps(e["message"]): e for e in cloudwatch_logs.events(GROUP, "intake")}
    extra = by_message['"values"']["extra"]
    assert {key: extra[key] for key in values} == {
        "when": "2026-01-02T03:04:05+00:00",
        "day": "2026-01-02",
        "color": "red",
        "tags": ["b"],
        "pair": [1, 2],
        "point": {"id": 3},
        "price": "1.10",
        "ratio": "NaN",
        "raw": "base64:/wA=",
    }
    assert by_message[json.dumps({"k": "v", "n": [1, 2]})]["message"] == {"k": "v", "n": [1, 2]}
    # The same values through the API reach the encoder unchanged: the two paths give the same JSON.
    direct = json.loads(EventEncoder().encode(make_record("values", values)).message)["extra"]
    assert {key: direct[key] for key in values} == {key: extra[key] for key in values}


def test_a_record_the_sdk_still_refuses_is_counted() -> None:
    class Refusing:
        def get_logger(self, *args: Any, **kwargs: Any) -> Any:
            return self

        def emit(self, *args: Any, **kwargs: Any) -> None:
            raise MemoryError  # whatever a broken SDK or processor raises; not an Exception subclass of ours

    before = otel_cw_exporter.records_not_exported().get("emit_error", 0)
    logger = logging.getLogger("intake.refused")
    logger.propagate = False
    logger.addHandler(OTelHandler(logger_provider=Refusing()))  # type: ignore[arg-type]
    logger.warning("lost")  # never raises into the application
    assert otel_cw_exporter.records_not_exported().get("emit_error", 0) == before + 1  # said: see test_audit


def test_clean_attributes_returns_the_same_dict_when_nothing_needs_cleaning() -> None:
    plain = {"a": "b", "n": 1, "f": 1.5, "nested": {"list": [1, "x", None, True]}}
    assert clean_attributes(plain) is plain
    assert clean_attributes({1: "x", "t": (1, {2})}) == {"1": "x", "t": [1, [2]]}
