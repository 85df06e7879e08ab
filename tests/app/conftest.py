"""Fixtures of the application-side tests: a pipeline built by setup() against the local endpoint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk._logs import LoggerProvider

import otel_cw_exporter
from otel_cw_exporter import JWTIdentityResolver, Route, teardown
from otel_cw_exporter.testing import LocalCloudWatchLogs
from tests.support import GROUP, SECRET


@pytest.fixture
def configured(cloudwatch_logs: LocalCloudWatchLogs) -> Iterator[LoggerProvider]:
    provider = otel_cw_exporter.setup(
        service_name="integrates",
        environment="production",
        log_group_name=GROUP,
        log_stream_name="application",
        routes=[
            Route(when={"log_type": "Security"}, log_stream_name="security"),
            Route(when={"log_type": "Audit"}, log_stream_name="audit"),
        ],
        identity=JWTIdentityResolver(keys=SECRET, algorithms=["HS256"], cookie_name="session"),
        client=cloudwatch_logs.client(),
        create_log_group=True,
        processor_options={"schedule_delay_millis": 50},
    )
    yield provider
    teardown()
