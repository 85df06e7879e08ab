"""Ship OpenTelemetry log records to AWS CloudWatch Logs as JSON events your Insights queries read.

The pipeline, run by :class:`CloudWatchLogRecordExporter` (``exporter``) on the SDK processor's thread::

    record --encode/--> event JSON --route/--> (group, stream) [--trail/-->] --send/--> PutLogEvents --> CloudWatch
              event, fast, jsonsafe,    routes, templates,          writer:        planning, wire, retry,
              redaction, truncation     environments                seq + chain    client, delivery (I/O)
                                                                                       | not delivered yet
                                                                               spool/ (disk, replay thread)

Beside it: ``config`` (options, ``ConfigError``), ``records`` (reading an SDK record), ``limits`` (the
API's limits), ``telemetry`` (counters, metrics, warnings), ``alerts`` (warnings reach a person),
``feedback`` (our own logging kept out) and ``zero_code`` (the exporter ``opentelemetry-instrument``
builds from the variables).
``trail/`` also holds the verifier ``otel-cw-exporter verify`` runs.
``app/`` is the application side (``setup``, the stdlib bridge, ``cloudwatch_log``, JWT identity,
Lambda); ``cli/`` the command line, one module per command; ``testing/`` the local endpoint.

The names below are imported on first use (PEP 562), so ``import otel_cw_exporter`` costs almost
nothing: the command line can watch for Ctrl-C before the SDK and boto3 load.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from otel_cw_exporter.version import __version__

if TYPE_CHECKING:
    from otel_cw_exporter.app.audit import cloudwatch_log, cloudwatch_log_async
    from otel_cw_exporter.app.configure import setup, teardown
    from otel_cw_exporter.app.dictconfig import cloudwatch_handler
    from otel_cw_exporter.app.identity import JWTIdentityResolver
    from otel_cw_exporter.app.stdlib import OTelHandler
    from otel_cw_exporter.config import ConfigError
    from otel_cw_exporter.exporter import CloudWatchLogRecordExporter
    from otel_cw_exporter.route.environments import EnvironmentFilter
    from otel_cw_exporter.route.routes import Route
    from otel_cw_exporter.telemetry import ExporterStats, records_not_exported

#: Each public name and the module that defines it.
_HOMES = {
    "CloudWatchLogRecordExporter": "otel_cw_exporter.exporter",
    "ConfigError": "otel_cw_exporter.config",
    "EnvironmentFilter": "otel_cw_exporter.route.environments",
    "ExporterStats": "otel_cw_exporter.telemetry",
    "JWTIdentityResolver": "otel_cw_exporter.app.identity",
    "OTelHandler": "otel_cw_exporter.app.stdlib",
    "Route": "otel_cw_exporter.route.routes",
    "cloudwatch_handler": "otel_cw_exporter.app.dictconfig",
    "cloudwatch_log": "otel_cw_exporter.app.audit",
    "cloudwatch_log_async": "otel_cw_exporter.app.audit",
    "records_not_exported": "otel_cw_exporter.telemetry",
    "setup": "otel_cw_exporter.app.configure",
    "teardown": "otel_cw_exporter.app.configure",
}

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
    "records_not_exported",
    "setup",
    "teardown",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'otel_cw_exporter' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
