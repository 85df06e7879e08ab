"""The public home of ``cloudwatch_log``: ``from otel_cw_exporter import audit as logs_utils``.

The code lives in :mod:`otel_cw_exporter.app.audit`.
"""

from otel_cw_exporter.app.audit import UNAUTHENTICATED, IdentityResolver, cloudwatch_log, cloudwatch_log_async, drain

__all__ = ["UNAUTHENTICATED", "IdentityResolver", "cloudwatch_log", "cloudwatch_log_async", "drain"]
