"""Ship OpenTelemetry log records to AWS CloudWatch Logs as JSON events your Insights queries read.

The pipeline, run by :class:`CloudWatchLogRecordExporter` (``exporter``) on the SDK processor's thread::

    record --encode/--> event JSON --route/--> (group, stream) --send/--> PutLogEvents --> CloudWatch
              event, jsonsafe,          routes, templates,         planning, wire, retry,
              redaction, truncation     environments               client, delivery (I/O)

Beside it: ``config`` (options, ``ConfigError``), ``records`` (reading an SDK record), ``limits`` (the
API's limits), ``telemetry`` (counters, metrics, warnings), ``feedback`` (our own logging kept out) and
``zero_code`` (the exporter ``opentelemetry-instrument`` builds from the variables).
``app/`` is the application side (``setup``, the stdlib bridge, ``cloudwatch_log``, JWT identity,
Lambda); ``cli/`` the command line, one module per command; ``testing/`` the local endpoint.
"""

from otel_cw_exporter.app.audit import cloudwatch_log, cloudwatch_log_async
from otel_cw_exporter.app.configure import setup, teardown
from otel_cw_exporter.app.dictconfig import cloudwatch_handler
from otel_cw_exporter.app.identity import JWTIdentityResolver
from otel_cw_exporter.app.stdlib import OTelHandler
from otel_cw_exporter.config import ConfigError
from otel_cw_exporter.exporter import CloudWatchLogRecordExporter
from otel_cw_exporter.route.environments import EnvironmentFilter
from otel_cw_exporter.route.routes import Route
from otel_cw_exporter.telemetry import ExporterStats
from otel_cw_exporter.version import __version__

__all__ = [
    "CloudWatchLogRecordExporter",
    "ConfigError",
    "EnvironmentFilter",
    "ExporterStats",
    "JWTIdentityResolver",
    "OTelHandler",
    "Route",
    "__version__",
    "cloudwatch_handler",
    "cloudwatch_log",
    "cloudwatch_log_async",
    "setup",
    "teardown",
]
