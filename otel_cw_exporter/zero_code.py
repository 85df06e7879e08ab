"""The exporter ``OTEL_LOGS_EXPORTER=cloudwatch`` builds under ``opentelemetry-instrument``.

The SDK's configurator builds exporters from their entry point with no arguments, so every option comes
from the ``OTEL_EXPORTER_CLOUDWATCH_LOGS_*`` variables. A bad one raising there would make the
instrumentation print two long tracebacks and give up configuring OTel at all (traces and metrics too).
Instead this prints one line on stderr naming the variable and the fix, and exports nothing until the
variable is fixed; the application and the rest of OTel start as usual.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

from otel_cw_exporter.config import ENVIRONMENT, PREFIX, ConfigError, env_name
from otel_cw_exporter.exporter import CloudWatchLogRecordExporter
from otel_cw_exporter.telemetry import ExporterStats


def variable_of(message: str) -> str | None:
    """The variable a :class:`ConfigError` message is about: the one it names, else its option's."""
    named = [env_name(option) for option in ENVIRONMENT if env_name(option) in message]
    if named:
        return max(named, key=len)
    for option in sorted(ENVIRONMENT, key=len, reverse=True):
        if message.startswith(option) and message[len(option) : len(option) + 1] in ("=", ":", " "):
            return env_name(option)
    return None


def error_line(error: ConfigError, environ: Mapping[str, str] | None = None) -> str:
    """One line, as the command line reports configuration errors: what is wrong, then ``fix:``."""
    environ = os.environ if environ is None else environ
    message = error.problem
    variable = variable_of(message)
    if variable is None:
        fix = f"correct the {PREFIX}* variables"
    else:
        if variable not in message:
            message = f"{variable}: {message}"
        # Unsetting gives the default, except for the group name, which has none.
        unset = environ.get(variable) and variable != env_name("log_group_name")
        fix = f"set {variable} to a valid value" + (" or unset it" if unset else "")
    return f"otel-cw-exporter: error: {message}; fix: {error.fix or fix} (no log is exported to CloudWatch until then)"


class ZeroCodeLogRecordExporter(LogRecordExporter):
    """Our exporter, built from the variables; or, when they are wrong, one line on stderr and no export."""

    def __init__(self, **arguments: Any) -> None:
        self.exporter: CloudWatchLogRecordExporter | None
        try:
            self.exporter = CloudWatchLogRecordExporter(**arguments)
        except ConfigError as error:
            self.exporter = None
            print(error_line(error), file=sys.stderr, flush=True)

    @property
    def stats(self) -> ExporterStats:
        """The exporter's counters (all zero when the configuration was refused)."""
        return self.exporter.stats if self.exporter is not None else ExporterStats()

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        if self.exporter is None:
            return LogRecordExportResult.FAILURE
        return self.exporter.export(batch)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter is None or self.exporter.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30000) -> None:
        if self.exporter is not None:
            self.exporter.shutdown(timeout_millis)
