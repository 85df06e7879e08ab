"""``cloudwatch_log(request, msg, extra)``: a security or audit event with the caller's identity.

The drop-in for an application's own ``cloudwatch_log`` helper. With ``user_email`` the record is
emitted at once. Without, the user comes from the request's JWT: what the resolver needs is read from the
request on the caller's thread (cheap, and a request proxy such as Flask's only works there), and the
signature is checked off the caller's path by one worker thread with a bounded queue, inside an event
loop as outside one (verifying on the loop itself stalled it 0.6 s for 1,000 RS256 calls). One thread
keeps the calls' order; the record keeps the time and trace context of the call, whenever it is emitted.

Every event says where its user came from: ``user_verified`` is true when ``user_email`` is the one the
identity resolver found for the request (for :class:`~otel_cw_exporter.JWTIdentityResolver`, a verified
token); a ``user_email`` the caller passes (the argument, or in ``extra``) is kept, as the code this
replaces did, with ``user_verified`` false and the verified user beside it as ``verified_user_email``
when they differ. Nothing here ever raises into the caller, and no call is lost without a trace: a
cancelled ``cloudwatch_log_async`` still logs its event, the worker survives anything a caller does,
and a call made before ``setup()`` is counted (``no_pipeline``) and said.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
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
from opentelemetry.sdk._logs import LoggerProvider as SDKLoggerProvider

from otel_cw_exporter.app import intake
from otel_cw_exporter.telemetry import lost_before_export

_logger = logging.getLogger("otel_cw_exporter")

UNAUTHENTICATED = "unauthenticated"


class IdentityResolver(Protocol):
    """Finds the user of a request. It may also have ``capture(request)``: run on the caller's thread, its
    result is what ``resolve`` then gets on the worker (read request proxies there, verify later)."""

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


@dataclass(frozen=True)
class Identity:
    """Who made the call: the e-mail the resolver found (or the unauthenticated value), and whether it did."""

    email: str
    verified: bool


def _environment(provider: Any) -> str | None:
    if settings.environment is not None:
        return settings.environment
    resource = getattr(provider, "resource", None)
    attributes = getattr(resource, "attributes", {}) or {}
    value = attributes.get("deployment.environment.name") or attributes.get("deployment.environment")
    return str(value) if value is not None else None


def _attributes(extra: Mapping[str, Any] | None, identity: Identity, environment: str | None) -> dict[str, Any]:
    """The event's attributes: environment, the user and where it came from, then the caller's ``extra``."""
    attributes: dict[str, Any] = {}
    if environment is not None:
        attributes["environment"] = environment
    asserted = extra.get("user_email") if extra else None
    attributes["user_email"] = identity.email
    attributes["user_verified"] = identity.verified and (asserted is None or asserted == identity.email)
    if extra:
        attributes.update(extra)
    if asserted is not None and identity.verified and asserted != identity.email:
        attributes["verified_user_email"] = identity.email
    return attributes


def _provider() -> Any:
    provider = settings.logger_provider or get_logger_provider()
    return provider if isinstance(provider, SDKLoggerProvider) else None


def _emit(msg: str, extra: Mapping[str, Any] | None, identity: Identity, when_ns: int, context: Context) -> None:
    provider = _provider()
    if provider is None:
        lost_before_export(
            "no_pipeline", 1, " (cloudwatch_log was called before otel_cw_exporter.setup(): call setup() at start-up)"
        )
        return
    intake.emit(
        provider.get_logger(settings.logger_name),
        timestamp=when_ns,
        observed_timestamp=when_ns,
        context=context,
        severity_number=SeverityNumber.INFO,
        severity_text="INFO",
        body=msg,
        attributes=_attributes(extra, identity, _environment(provider)),
    )


def _capture(request: Any) -> Any:
    """What the resolver needs from ``request``, read now on the caller's thread (see :class:`IdentityResolver`)."""
    capture = getattr(settings.identity, "capture", None)
    if not callable(capture):
        return request
    try:
        return capture(request)
    except Exception:  # an unreadable request: resolved as unauthenticated
        return None


def _identity_of(captured: Any) -> Identity:
    resolver = settings.identity
    if resolver is None:
        return Identity(UNAUTHENTICATED, False)
    unauthenticated = getattr(resolver, "unauthenticated", UNAUTHENTICATED)
    try:
        email = resolver.resolve(captured) or unauthenticated
    except BaseException:  # whatever a resolver raises, on the worker the event is still logged
        email = unauthenticated
    return Identity(email, email != unauthenticated)


#: One call to resolve and emit: what was captured, msg, extra, time, context, and a future to complete.
_Item = tuple[Any, str, "Mapping[str, Any] | None", int, Context, "concurrent.futures.Future[None] | None"]


def _run_item(item: _Item) -> None:
    captured, msg, extra, when_ns, context, done = item
    try:
        _emit(msg, extra, _identity_of(captured), when_ns, context)
    except Exception:
        _logger.debug("cloudwatch_log: could not emit %r", msg, exc_info=True)
    finally:
        if done is not None and not done.done():
            # cancelled by the caller meanwhile: the event is out all the same
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                done.set_result(None)


class _Worker:
    """One daemon thread with a bounded queue, so order holds; drained at exit; rebuilt after fork or death."""

    def __init__(self) -> None:
        self._pid = -1
        self._queue: queue.Queue[_Item] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _ensure_running(self) -> None:
        if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._pid != os.getpid():
                self._queue = queue.Queue(maxsize=settings.max_pending)
                # Registered now, after the provider exists, so it runs before the provider's own
                # exit hook (atexit runs last-registered first): queued calls reach the exporter.
                atexit.register(self.drain)
                self._pid = os.getpid()
                self._thread = None
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, args=(self._queue,), name="otel-cw-audit", daemon=True
                )
                self._thread.start()

    def submit(self, item: _Item) -> None:
        try:
            self._ensure_running()
            self._queue.put_nowait(item)
        except (queue.Full, RuntimeError):  # a burst beyond the bound, or no thread to be had: resolve here
            _run_item(item)

    @staticmethod
    def _run(items: queue.Queue[_Item]) -> None:
        while True:
            item = items.get()
            try:
                _run_item(item)
            except BaseException:  # nothing a caller does may end this thread
                _logger.debug("cloudwatch_log: worker error", exc_info=True)
            finally:
                items.task_done()

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait (bounded) until queued calls are emitted; True when none is left."""
        if self._pid != os.getpid():
            return True
        if self._queue.unfinished_tasks:
            self._ensure_running()
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.002)
        return not self._queue.unfinished_tasks


_worker = _Worker()


def drain(timeout: float = 5.0) -> bool:
    """Emit every call still resolving its user, waiting at most ``timeout``; True when all are out."""
    return _worker.drain(timeout)


def cloudwatch_log(request: Any, msg: str, extra: Mapping[str, Any] | None = None, user_email: str = "") -> None:
    """Log a security/audit event; with no ``user_email``, the user comes from the request's JWT."""
    try:
        when_ns = time.time_ns()
        context = get_current()
        extra = dict(extra) if extra else None  # the caller may reuse its dict after we return
        if user_email:
            _emit(msg, extra, Identity(user_email, False), when_ns, context)
            return
        _worker.submit((_capture(request), msg, extra, when_ns, context, None))
    except Exception:
        _logger.debug("cloudwatch_log failed for %r", msg, exc_info=True)


async def cloudwatch_log_async(request: Any, msg: str, extra: Mapping[str, Any] | None = None) -> None:
    """The awaitable form: returns once the event is emitted; the user's JWT is checked off the loop.

    Cancelling the caller (a timeout, a client gone) cancels the wait, not the event: it is logged all the same.
    """
    try:
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        item = (_capture(request), msg, dict(extra) if extra else None, time.time_ns(), get_current(), done)
        _worker.submit(item)
    except Exception:
        _logger.debug("cloudwatch_log_async failed for %r", msg, exc_info=True)
        return
    await asyncio.wrap_future(done)
