"""``cloudwatch_handler``: one stdlib handler per log stream, for ``logging.config.dictConfig``.

The replacement for a watchtower handler per stream (``get_watchtower_handler(stream_name=...)``): each
handler owns an OTel pipeline of its own, and delivers what it queued when ``logging.shutdown()`` closes it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource

from otel_cw_exporter import sdk_drops
from otel_cw_exporter.app import configure
from otel_cw_exporter.app.intake import SafeLoggerProvider
from otel_cw_exporter.app.stdlib import OTelHandler
from otel_cw_exporter.exporter import CloudWatchLogRecordExporter
from otel_cw_exporter.route.routes import Route


def cloudwatch_handler(
    *,
    stream_name: str | None = None,
    log_group_name: str | None = None,
    level: int | str = logging.NOTSET,
    processor_options: dict[str, Any] | None = None,
    client: Any = None,
    region_name: str | None = None,
    endpoint_url: str | None = None,
    create_log_group: bool | None = None,
    create_log_stream: bool | None = None,
    timeout: float | None = None,
    max_concurrency: int | None = None,
    xray_trace_id: bool | None = None,
    routes: Sequence[Route] | str | None = None,
    environments: Sequence[str] | frozenset[str] | set[str] | None = None,
    retention_days: int | None = None,
    tags: Mapping[str, str] | None = None,
    kms_key_id: str | None = None,
    entity: bool | None = None,
    redact_keys: Sequence[str] | frozenset[str] | set[str] | None = None,
    integrity: bool | None = None,
    integrity_key: str | bytes | None = None,
    integrity_key_file: str | None = None,
    spool_dir: str | os.PathLike[str] | None = None,
    spool_max_bytes: int | str | None = None,
    dead_letter_max_bytes: int | str | None = None,
    meter_provider: Any = None,
    environ: Mapping[str, str] | None = None,
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
        log_group_name=log_group_name,
        log_stream_name=stream_name,
        client=client,
        region_name=region_name,
        endpoint_url=endpoint_url,
        create_log_group=create_log_group,
        create_log_stream=create_log_stream,
        timeout=timeout,
        max_concurrency=max_concurrency,
        xray_trace_id=xray_trace_id,
        routes=routes,
        environments=environments,
        retention_days=retention_days,
        tags=tags,
        kms_key_id=kms_key_id,
        entity=entity,
        redact_keys=redact_keys,
        integrity=integrity,
        integrity_key=integrity_key,
        integrity_key_file=integrity_key_file,
        spool_dir=spool_dir,
        spool_max_bytes=spool_max_bytes,
        dead_letter_max_bytes=dead_letter_max_bytes,
        meter_provider=meter_provider,
        environ=environ,
    )
    shared = configure.provider()
    resource = shared.resource if shared is not None else Resource.create({})
    provider = SafeLoggerProvider(resource=resource)
    processor = BatchLogRecordProcessor(exporter, **(processor_options or {}))
    sdk_drops.attach(processor)  # its drops counted from the first record, not from its first export
    provider.add_log_record_processor(processor)
    handler = OTelHandler(level, logger_provider=provider, owns_provider=True)
    handler.exporter = exporter  # type: ignore[attr-defined]
    return handler
