"""Ship OpenTelemetry log records to AWS CloudWatch Logs as JSON events your Insights queries read.

The pipeline, one module each: :mod:`~otel_cw_exporter.encoding` (record -> event JSON),
:mod:`~otel_cw_exporter.routing` (record -> log group and stream), :mod:`~otel_cw_exporter.planning`
(events -> requests within the API limits), :mod:`~otel_cw_exporter.delivery` (requests -> CloudWatch,
with retries), glued together by :class:`CloudWatchLogRecordExporter`.
"""

from .audit import cloudwatch_log, cloudwatch_log_async
from .config import ConfigError
from .configure import setup
from .exporter import CloudWatchLogRecordExporter
from .identity import JWTIdentityResolver
from .routing import EnvironmentFilter, Route
from .stdlib import OTelHandler, cloudwatch_handler
from .telemetry import ExporterStats

__all__ = [
    "CloudWatchLogRecordExporter",
    "ConfigError",
    "EnvironmentFilter",
    "ExporterStats",
    "JWTIdentityResolver",
    "OTelHandler",
    "Route",
    "cloudwatch_handler",
    "cloudwatch_log",
    "cloudwatch_log_async",
    "setup",
]
__version__ = "0.1.0"
