"""A local CloudWatch Logs endpoint that fails where AWS would, for tests, demos and ``otel-cw-exporter local``.

- :mod:`.endpoint`: :class:`LocalCloudWatchLogs`, moto's server behind the checks moto lacks (request
  bytes, event count and size, 24-hour span, rejected events), fault injection (:class:`RequestQuota`:
  an account's request-rate quota), reading events back;
- :mod:`.query_definitions`: Logs Insights query definitions, which moto lacks;
- :mod:`.insights`: a Logs Insights evaluator for the queries the exporter's events are read with;
- :mod:`.plugin`: the pytest plugin. ``pytest_plugins = ["otel_cw_exporter.testing"]`` gives the
  ``cloudwatch_logs`` fixture::

    def test_my_logging(cloudwatch_logs):
        ...
        assert cloudwatch_logs.events("my-group")[0]["extra"]["log_type"] == "Security"

Needs the ``local`` extra (``pip install 'otel-cw-exporter[local]'``).
"""

import contextlib

from otel_cw_exporter.testing.endpoint import (
    ACCOUNT_ID,
    CREDENTIALS,
    REGION,
    Call,
    Fault,
    FaultRule,
    LocalCloudWatchLogs,
    PutRecord,
    RequestQuota,
)

__all__ = [
    "ACCOUNT_ID",
    "CREDENTIALS",
    "REGION",
    "Call",
    "Fault",
    "FaultRule",
    "LocalCloudWatchLogs",
    "PutRecord",
    "RequestQuota",
]

with contextlib.suppress(ImportError):  # the pytest plugin's fixtures, where pytest is installed
    from otel_cw_exporter.testing.plugin import cloudwatch_logs, cloudwatch_logs_server  # noqa: F401
