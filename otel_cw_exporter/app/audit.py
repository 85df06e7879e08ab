"""``cloudwatch_log(request, msg, extra)``, as applications call it: a security or audit event with its user.

With ``user_email`` the record is emitted at once. Without, the user comes from the request's JWT,
resolved off the caller's path by one worker thread with a bounded queue, inside an event loop as
outside one: verifying a signature on the loop itself (as a task would) stalled it 0.6 s for 1,000
RS256 calls. One thread keeps the calls' order; the record keeps the time and trace context of the
call, whenever it is emitted, so events stay in order and correlated. Nothing here ever raises into
the caller.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import os
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from opentelemetry._logs import LoggerProvider, SeverityNumber, get_logger_provider
from opentelemetry.context import Context, get_current

_logger = logging.getLogger("otel_cw_exporter")

UNAUTHENTICATED = "unauthenticated"


class IdentityResolver(Protocol):
    def resolve(self, request: Any) -> str: ...


@dataclass
class AuditSettings:
    """What ``cloudwatch_log`` needs; :func:`otel_cw_exporter.setup` fills it in."""

    environment: str | None = None
    identity: IdentityResolver | None = None
    logger_name: str = "transactional"
    logger_provider: LoggerProvider | None = None
    max_pending: int = 10_000


settings = AuditSettings()


def configure(**changes: Any) -> None:
    """Change the settings (used by ``setup``; tests may call it directly)."""
    for name, value in changes.items():
        if not hasattr(settings, name):
            raise TypeError(f"unknown audit setting {name!r}")
        setattr(settings, name, value)


def _environment() -> str | None:
    if settings.environment is not None:
        return settings.environment
    provider = settings.logger_provider or get_logger_provider()
    resource = getattr(provider, "resource", None)
    attributes = getattr(resource, "attributes", {}) or {}
    value = attributes.get("deployment.environment.name") or attributes.get("deployment.environment")
    return str(value) if value is not None else None


def _emit(msg: str, extra: Mapping[str, Any] | None, user_email: str, when_ns: int, context: Context) -> None:
    attributes: dict[str, Any] = {}
    environment = _environment()
    if environment is not None:
        attributes["environment"] = environment
    attributes["user_email"] = user_email
    if extra:
        attributes.update(extra)
    provider = settings.logger_provider or get_logger_provider()
    provider.get_logger(settings.logger_name).emit(
        timestamp=when_ns,
        observed_timestamp=when_ns,
        context=context,
        severity_number=SeverityNumber.INFO,
        severity_text="INFO",
        body=msg,
        attributes=attributes,
    )


def _user_of(request: Any) -> str:
    resolver = settings.identity
    if resolver is None:
        return UNAUTHENTICATED
    try:
        return resolver.resolve(request) or UNAUTHENTICATED
    except Exception:
        return UNAUTHENTICATED


def _resolve_and_emit(request: Any, msg: str, extra: Mapping[str, Any] | None, when_ns: int, context: Context) -> None:
    try:
        _emit(msg, extra, _user_of(request), when_ns, context)
    except Exception:
        _logger.debug("cloudwatch_log: could not emit %r", msg, exc_info=True)


class _Worker:
    """One daemon thread with a bounded queue, so order holds; drained at exit; rebuilt after fork."""

    def __init__(self) -> None:
        self._pid = -1
        self._queue: queue.Queue[_Item] = queue.Queue()
        self._lock = threading.Lock()

    def submit(self, item: _Item) -> None:
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._queue = queue.Queue(maxsize=settings.max_pending)
                    threading.Thread(target=self._run, args=(self._queue,), name="otel-cw-audit", daemon=True).start()
                    # Registered now, after the provider exists, so it runs before the provider's own
                    # exit hook (atexit runs last-registered first): queued calls reach the exporter.
                    atexit.register(self.drain)
                    self._pid = os.getpid()
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            _run_item(item)  # a burst beyond the bound: resolve here rather than lose it

    @staticmethod
    def _run(items: queue.Queue[_Item]) -> None:
        while True:
            item = items.get()
            try:
                _run_item(item)
            finally:
                items.task_done()

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait (bounded) until queued calls are emitted; True when none is left."""
        if self._pid != os.getpid():
            return True
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.002)
        return not self._queue.unfinished_tasks


#: One call to resolve and emit: request, msg, extra, time, context, and a future to complete (or None).
_Item = tuple[Any, str, "Mapping[str, Any] | None", int, Context, "concurrent.futures.Future[None] | None"]


def _run_item(item: _Item) -> None:
    request, msg, extra, when_ns, context, done = item
    try:
        _resolve_and_emit(request, msg, extra, when_ns, context)
    finally:
        if done is not None:
            done.set_result(None)


_worker = _Worker()


def drain(timeout: float = 5.0) -> bool:
    """Emit every call still resolving its user, waiting at most ``timeout``; True when all are out."""
    return _worker.drain(timeout)


def cloudwatch_log(request: Any, msg: str, extra: Mapping[str, Any] | None = None, user_email: str = "") -> None:
    """Log a security/audit event; with no ``user_email``, the user comes from the request's JWT."""
    try:
        when_ns = time.time_ns()
        context = get_current()
        if user_email:
            _emit(msg, extra, user_email, when_ns, context)
            return
        extra = dict(extra) if extra else None  # the caller may reuse its dict after we return
        _worker.submit((request, msg, extra, when_ns, context, None))
    except Exception:
        _logger.debug("cloudwatch_log failed for %r", msg, exc_info=True)


async def cloudwatch_log_async(request: Any, msg: str, extra: Mapping[str, Any] | None = None) -> None:
    """The awaitable form: returns once the event is emitted; the user's JWT is checked off the loop."""
    try:
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        _worker.submit((request, msg, dict(extra) if extra else None, time.time_ns(), get_current(), done))
        await asyncio.wrap_future(done)
    except Exception:
        _logger.debug("cloudwatch_log_async failed for %r", msg, exc_info=True)
