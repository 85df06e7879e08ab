"""setup(): one pipeline per process."""

from __future__ import annotations

import pytest
from opentelemetry.sdk._logs import LoggerProvider

import otel_cw_exporter


def test_setup_is_idempotent(configured: LoggerProvider, caplog: pytest.LogCaptureFixture) -> None:
    assert otel_cw_exporter.setup(log_group_name="other") is configured
    assert "called again" in caplog.text
