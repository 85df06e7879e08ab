"""The stdlib bridge: both record styles land under extra."""

from __future__ import annotations

import logging
import logging.config

import otel_cw_exporter
from otel_cw_exporter import teardown
from otel_cw_exporter.testing import LocalCloudWatchLogs
from tests.support import GROUP, flush


def test_stdlib_both_record_styles_land_under_extra(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    provider = otel_cw_exporter.setup(
        service_name="integrates",
        environment="production",
        log_group_name=GROUP,
        log_stream_name="stdlib",
        bridge_stdlib=logging.INFO,
        client=cloudwatch_logs.client(),
        create_log_group=True,
    )
    try:
        log = logging.getLogger("transactional")
        log.info("nested", extra={"extra": {"user_email": "a@x", "log_type": "Security"}})
        log.info("flat", extra={"user_email": "b@x", "log_type": "Audit"})
        log.debug("below the level")
        flush(provider)
    finally:
        teardown()
    events = {e["message"]: e for e in cloudwatch_logs.events(GROUP, "stdlib") if e["logger"] == "transactional"}
    assert set(events) == {"nested", "flat"}
    assert events["nested"]["extra"]["user_email"] == "a@x" and events["nested"]["extra"]["log_type"] == "Security"
    assert events["flat"]["extra"]["user_email"] == "b@x" and events["flat"]["extra"]["log_type"] == "Audit"
    assert events["flat"]["extra"]["environment"] == "production"
