"""The public home of the Lambda helpers: ``from otel_cw_exporter.aws_lambda import flush_after``.

The code lives in :mod:`otel_cw_exporter.app.aws_lambda`.
"""

from otel_cw_exporter.app.aws_lambda import flush, flush_after, flushing

__all__ = ["flush", "flush_after", "flushing"]
