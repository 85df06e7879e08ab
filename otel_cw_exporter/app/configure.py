"""``setup()``: the one call that wires a service's logging to CloudWatch through OTel.

It builds the resource, the exporter, the SDK's batch processor and a provider whose loggers clean
values first (:mod:`otel_cw_exporter.app.intake`), configures ``cloudwatch_log``, and makes the ways a
process ends deliver what it logged: interpreter exit (the provider's own ``atexit``), SIGTERM
(:mod:`otel_cw_exporter.app.sigterm`), and the end of a ``multiprocessing`` child, which skips ``atexit``.
Under the ``spawn`` and ``forkserver`` start methods a child starts with nothing: call ``setup()`` in
its initializer (``Pool(initializer=otel_cw_exporter.setup)`` when the options come from the
``OTEL_EXPORTER_CLOUDWATCH_LOGS_*`` variables, or a ``functools.partial`` of it).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry._logs import set_logger_provider
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource

from otel_cw_exporter import alerts, sdk_drops
from otel_cw_exporter.app import audit, sigterm
from otel_cw_exporter.app.audit import IdentityResolver
from otel_cw_exporter.app.intake import SafeLoggerProvider
from otel_cw_exporter.app.stdlib import OTelHandler
from otel_cw_exporter.exporter import CloudWatchLogRecordExporter
from otel_cw_exporter.route.routes import Route
from otel_cw_exporter.send.delivery import GRACE

_logger = logging.getLogger("otel_cw_exporter")
_lock = threading.Lock()
_state: dict[str, Any] = {}


def setup(
    *,
    service_name: str | None = None,
    environment: str | None = None,
    resource_attributes: Mapping[str, Any] | None = None,
    identity: IdentityResolver | None = None,
    bridge_stdlib: bool | int | str = False,
    transactional_logger: str = "transactional",
    processor_options: Mapping[str, Any] | None = None,
    set_global: bool = True,
    handle_sigterm: bool = True,
    log_group_name: str | None = None,
    log_stream_name: str | None = None,
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
) -> LoggerProvider:
    """Build the resource, exporter, processor and provider; configure ``cloudwatch_log``; return the provider.

    The options from ``log_group_name`` on go to :class:`CloudWatchLogRecordExporter` as given (``None``:
    its variable, else its default). ``bridge_stdlib`` puts an :class:`OTelHandler` on the root logger
    (``True`` for INFO, or a level). Calling it again returns the same provider: a second pipeline
    would send every record twice. The provider shuts down (and so flushes) at interpreter exit, on
    SIGTERM (``handle_sigterm``; see :mod:`otel_cw_exporter.app.sigterm`) and at the end of a
    ``multiprocessing`` child.
    """
    exporter_options: dict[str, Any] = {
        "log_group_name": log_group_name,
        "log_stream_name": log_stream_name,
        "client": client,
        "region_name": region_name,
        "endpoint_url": endpoint_url,
        "create_log_group": create_log_group,
        "create_log_stream": create_log_stream,
        "timeout": timeout,
        "max_concurrency": max_concurrency,
        "xray_trace_id": xray_trace_id,
        "routes": routes,
        "environments": environments,
        "retention_days": retention_days,
        "tags": tags,
        "kms_key_id": kms_key_id,
        "entity": entity,
        "redact_keys": redact_keys,
        "integrity": integrity,
        "integrity_key": integrity_key,
        "integrity_key_file": integrity_key_file,
        "spool_dir": spool_dir,
        "spool_max_bytes": spool_max_bytes,
        "dead_letter_max_bytes": dead_letter_max_bytes,
        "meter_provider": meter_provider,
        "environ": environ,
    }
    arguments = {
        "service_name": service_name,
        "environment": environment,
        "resource_attributes": dict(resource_attributes or {}),
        "identity": identity,
        "bridge_stdlib": bridge_stdlib,
        "transactional_logger": transactional_logger,
        "processor_options": dict(processor_options or {}),
        "set_global": set_global,
        "handle_sigterm": handle_sigterm,
        **exporter_options,
    }
    with _lock:
        if "provider" in _state:
            if _state["arguments"] != arguments:
                alerts.warn("otel_cw_exporter.setup() called again with other arguments: keeping the first setup")
            provider: LoggerProvider = _state["provider"]
            return provider
        attributes: dict[str, Any] = dict(resource_attributes or {})
        if service_name:
            attributes["service.name"] = service_name
        if environment:
            attributes["deployment.environment.name"] = environment
        exporter = CloudWatchLogRecordExporter(**exporter_options)
        provider = SafeLoggerProvider(resource=Resource.create(attributes))
        processor = BatchLogRecordProcessor(exporter, **dict(processor_options or {}))
        sdk_drops.attach(processor)  # its drops counted from the first record, not from its first export
        provider.add_log_record_processor(processor)
        if set_global:
            set_logger_provider(provider)
        audit.configure(
            environment=environment,
            identity=identity,
            logger_name=transactional_logger,
            logger_provider=provider,
        )
        handler = None
        if bridge_stdlib is not False:
            level = logging.INFO if bridge_stdlib is True else bridge_stdlib
            handler = OTelHandler(level, logger_provider=provider)
            root = logging.getLogger()
            root.addHandler(handler)
            if root.level > handler.level or root.level == logging.NOTSET:
                root.setLevel(handler.level)
        within = exporter.config.timeout + GRACE + 1.0
        on_sigterm = sigterm.install(_shut_down, within) if handle_sigterm else None
        if multiprocessing.parent_process() is not None:
            # A multiprocessing child leaves through os._exit, skipping atexit; its finalizers do run.
            from multiprocessing.util import Finalize

            Finalize(provider, _shut_down, exitpriority=100)
        _state.update(provider=provider, exporter=exporter, handler=handler, arguments=arguments, sigterm=on_sigterm)
        return provider


def _shut_down() -> None:
    """Deliver what was logged and shut the pipeline down (SIGTERM, a multiprocessing child's end)."""
    found = _state.get("provider")
    if found is None:
        return
    audit.drain()
    found.shutdown()


def provider() -> LoggerProvider | None:
    """The provider ``setup`` built, or None before ``setup``."""
    found: LoggerProvider | None = _state.get("provider")
    return found


def exporter() -> CloudWatchLogRecordExporter | None:
    """The exporter ``setup`` built (for its ``stats``), or None before ``setup``."""
    found: CloudWatchLogRecordExporter | None = _state.get("exporter")
    return found


def teardown() -> None:
    """Deliver what is queued, shut down what ``setup`` built, and forget it, so ``setup`` may run again.

    Not needed at exit: interpreter exit, SIGTERM and a ``multiprocessing`` child's end already deliver.
    It is for tests, and for code that must reconfigure logging while it runs.
    """
    with _lock:
        if not _state:
            return
        sigterm.uninstall(_state.get("sigterm"))
        audit.drain()
        handler = _state.get("handler")
        if handler is not None:
            logging.getLogger().removeHandler(handler)
        _state["provider"].shutdown()
        audit.configure(logger_provider=None, identity=None, environment=None)
        _state.clear()
