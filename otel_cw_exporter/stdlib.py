"""The public home of the stdlib bridge: ``otel_cw_exporter.stdlib.cloudwatch_handler`` in ``dictConfig``.

The code lives in :mod:`otel_cw_exporter.app.stdlib` and :mod:`otel_cw_exporter.app.dictconfig`.
"""

from otel_cw_exporter.app.dictconfig import cloudwatch_handler
from otel_cw_exporter.app.stdlib import OTelHandler, severity_number

__all__ = ["OTelHandler", "cloudwatch_handler", "severity_number"]
