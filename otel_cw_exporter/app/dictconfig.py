"""``cloudwatch_handler``: one stdlib handler per log stream, for ``logging.config.dictConfig``.

The replacement for a watchtower handler per stream (``get_watchtower_handler(stream_name=...)``): each
handler owns an OTel pipeline of its own, and delivers what it queued when ``logging.shutdown()`` closes it.
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource

from otel_cw_exporter.app import configure
from otel_cw_exporter.app.intake import SafeLoggerProvider
from otel_cw_exporter.app.stdlib import OTelHandler
from otel_cw_exporter.exporter import CloudWatchLogRecordExporter


def cloudwatch_handler(
    *,
    stream_name: str | None = None,
    log_group_name: str | None = None,
    level: int | str = logging.NOTSET,
    processor_options: dict[str, Any] | None = None,
    **exporter_options: Any,
) -> OTelHandler:
    """A handler that writes to one log stream, as a ``get_watchtower_handler(stream_name=...)`` helper's did.

    For ``logging.config.dictConfig``::

        "handlers": {"transactional": {
            "()": "otel_cw_exporter.stdlib.cloudwatch_handler",
            "stream_name": "transactional", "log_group_name": "integrates",
            "level": "INFO", "filters": ["production_only"]}}

    Each handler has its own OTel pipeline (like watchtower's queue per stream), sharing the resource
    of :func:`otel_cw_exporter.setup` when it ran. With one pipeline and routes instead, use
    ``setup(bridge_stdlib=True, routes=[...])``.
    """
    exporter = CloudWatchLogRecordExporter(
        log_group_name=log_group_name, log_stream_name=stream_name, **exporter_options
    )
    shared = configure.provider()
    resource = shared.resource if shared is not None else Resource.create({})
    provider = SafeLoggerProvider(resource=resource)
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter, **(processor_options or {})))
    handler = OTelHandler(level, logger_provider=provider, owns_provider=True)
    handler.exporter = exporter  # type: ignore[attr-defined]
    return handler
