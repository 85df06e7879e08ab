"""The pytest plugin: ``pytest_plugins = ["otel_cw_exporter.testing"]`` gives these fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from otel_cw_exporter.testing.endpoint import LocalCloudWatchLogs


@pytest.fixture(scope="session")
def cloudwatch_logs_server() -> Iterator[LocalCloudWatchLogs]:
    """One local endpoint for the whole test session."""
    with LocalCloudWatchLogs() as endpoint:
        yield endpoint


@pytest.fixture
def cloudwatch_logs(cloudwatch_logs_server: LocalCloudWatchLogs) -> Iterator[LocalCloudWatchLogs]:
    """The local endpoint, emptied before each test."""
    cloudwatch_logs_server.reset()
    yield cloudwatch_logs_server
    cloudwatch_logs_server.clear_faults()
