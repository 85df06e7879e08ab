"""``cloudwatch_log(request, msg, extra)``: a security or audit event with the caller's identity.

The drop-in for an application's own ``cloudwatch_log`` helper. With ``user_email`` and no request (or
no identity resolver) the record is emitted at once. Otherwise the user comes from the request's JWT:
what the resolver needs is read from the request on the caller's thread (cheap, and a request proxy
such as Flask's only works there), and the signature is checked off the caller's path by one worker
thread with a bounded queue, inside an event loop as outside one (verifying on the loop itself stalled
it 0.6 s for 1,000 RS256 calls). One thread keeps the calls' order; the record keeps the time and trace
context of the call, whenever it is emitted.

Every event says where its user came from: ``user_verified`` is true when ``user_email`` is the one the
identity resolver found for the request (for :class:`~otel_cw_exporter.JWTIdentityResolver`, a verified
token); a ``user_email`` the caller passes (the argument, or in ``extra``) is kept, as the code this
replaces did, with ``user_verified`` false and the verified user beside it as ``verified_user_email``
when they differ. Nothing here ever raises into the caller, and no call is lost without a trace: a
cancelled ``cloudwatch_log_async`` still logs its event, the worker survives anything a caller does,
an ``extra`` that is not a mapping is kept as ``extra.value``, a call that fails all the same is
counted (``emit_error``), one made before ``setup()`` is counted (``no_pipeline``), and the calls still
waiting for their user when the exit's drain gives up are counted (``exit_pending``), each said.
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
from otel_cw_exporter.telemetry import lost_before_export, warn_for_process

#: Seconds the exit waits for the calls still resolving their user (then they are counted as lost).
EXIT_DRAIN_SECONDS = 5.0

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


def _attributes(
    extra: Mapping[str, Any] | None, identity: Identity, environment: str | None, user_email: str = ""
) -> dict[str, Any]:
    """The event's attributes: environment, the user and where it came from, then the caller's ``extra``
    (and the caller's ``user_email`` argument, which wins over a key of ``extra``). Where the user came
    from is ours to say: ``user_verified`` and ``verified_user_email`` in ``extra`` are replaced."""
    attributes: dict[str, Any] = {}
    if environment is not None:
        attributes["environment"] = environment
    asserted = user_email or (extra.get("user_email") if extra else None)
    agrees = asserted is None or _same_user(asserted, identity.email)
    attributes["user_email"] = identity.email
    attributes["user_verified"] = False  # its place, before the caller's keys; its value below
    if extra:
        attributes.update(extra)
    if user_email:
        attributes["user_email"] = user_email
    attributes["user_verified"] = identity.verified and agrees
    attributes.pop("verified_user_email", None)
    if identity.verified and not agrees:
        attributes["verified_user_email"] = identity.email
    return attributes


def _same_user(asserted: Any, email: str) -> bool:
    """E-mail addresses compared as mail systems do in practice: case does not make another user."""
    return isinstance(asserted, str) and asserted.casefold() == email.casefold()


def _provider() -> Any:
    provider = settings.logger_provider or get_logger_provider()
    return provider if isinstance(provider, SDKLoggerProvider) else None


def _extra(extra: Any) -> dict[str, Any] | None:
    """A copy of the caller's ``extra`` (it may reuse its dict after we return). Not a mapping (a log type
    passed where ``extra`` goes), or one that cannot be read: kept as ``value``, and said."""
    if extra is None:
        return None
    if isinstance(extra, Mapping):
        try:
            return dict(extra) or None
        except Exception as error:
            problem = f"a mapping that could not be read ({type(error).__name__})"
    else:
        problem = f"a {type(extra).__name__}, not a mapping"
    try:
        shown = extra if isinstance(extra, str | int | float | bool) else repr(extra)
    except Exception:
        shown = f"<{type(extra).__name__}>"
    warn_for_process("bad-extra", "cloudwatch_log: extra was %s: the event keeps it as extra.value", problem)
    return {"value": shown}


def _emit(
    msg: str,
    extra: Mapping[str, Any] | None,
    identity: Identity,
    when_ns: int,
    context: Context,
    *,
    user_email: str = "",
) -> None:
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
        attributes=_attributes(extra, identity, _environment(provider), user_email),
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


#: One call to resolve and emit: what was captured, msg, extra, time, context, a future to complete, and
#: the user the caller named ("" for none).
_Item = tuple[Any, str, "Mapping[str, Any] | None", int, Context, "concurrent.futures.Future[None] | None", str]


def _failed(error: Exception) -> None:
    """A call that could not be emitted, whatever the reason: counted and said, never raised."""
    _logger.debug("cloudwatch_log failed", exc_info=True)
    lost_before_export("emit_error", 1, f" (cloudwatch_log failed: {type(error).__name__}: {error})")


def _emit_item(item: _Item, identity: Identity | None) -> None:
    """Emit the call (with no identity: not at all, the exit's drain counted it), and complete its future;
    never raises."""
    _, msg, extra, when_ns, context, done, user_email = item
    try:
        if identity is not None:
            _emit(msg, extra, identity, when_ns, context, user_email=user_email)
    except Exception as error:
        _failed(error)
    finally:
        if done is not None and not done.done():
            # cancelled by the caller meanwhile: the event is out all the same
            with contextlib.suppress(concurrent.futures.InvalidStateError):
                done.set_result(None)


def _run_item(item: _Item) -> None:
    """Resolve the call's user and emit it, here and now."""
    _emit_item(item, _identity_of(item[0]))


class _Worker:
    """One daemon thread with a bounded queue, so order holds; drained at exit; rebuilt after fork or death.

    At exit it has :data:`EXIT_DRAIN_SECONDS` to empty its queue; what is left then is counted as lost
    (``exit_pending``) and never emitted afterwards, so no call is both counted and stored, and none is
    neither: the count, each queueing and each emit (with its ``task_done``) happen under one lock
    (``_gate``). Calls made after that run on the caller's thread.
    """

    def __init__(self) -> None:
        self._pid = -1
        self._queue: queue.Queue[_Item] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._gate = threading.RLock()
        self._closed = False
        self._registered = False

    def _ensure_running(self) -> None:
        if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._pid != os.getpid():
                self._queue = queue.Queue(maxsize=settings.max_pending)
                self._gate = threading.RLock()  # re-entered if a handler of the app's calls cloudwatch_log
                self._closed = False
                # Registered now, after the provider exists, so it runs before the provider's own
                # exit hook (atexit runs last-registered first): queued calls reach the exporter. A
                # forked child keeps its parent's registration: one is enough.
                if not self._registered:
                    atexit.register(self.drain_at_exit)
                    self._registered = True
                self._pid = os.getpid()
                self._thread = None
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, args=(self._queue,), name="otel-cw-audit", daemon=True
                )
                self._thread.start()

    def submit(self, item: _Item) -> None:
        if self._pid != os.getpid():  # a new process: its own queue and gate first (a fork's may be held)
            with contextlib.suppress(RuntimeError):
                self._ensure_running()
        with self._gate:  # queued before the exit's count, or not at all: never queued and then skipped
            if not self._closed:
                try:
                    self._ensure_running()
                    self._queue.put_nowait(item)
                    return
                except (queue.Full, RuntimeError):  # a burst beyond the bound, or no thread to be had
                    pass
        _run_item(item)  # resolved here: beyond the bound, without a thread, or after the exit's drain

    def _run(self, items: queue.Queue[_Item]) -> None:
        while True:
            item = items.get()
            # Resolved outside the gate (it may be slow: it never raises); emitted and marked done inside
            # it. Once the exit's drain has counted what is left, the rest is neither resolved nor emitted.
            try:
                identity = None if self._closed else _identity_of(item[0])
                with self._gate:
                    try:
                        _emit_item(item, None if self._closed else identity)
                    finally:
                        items.task_done()
            except BaseException:  # nothing a caller does may end this thread
                _logger.debug("cloudwatch_log: worker error", exc_info=True)

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

    def drain_at_exit(self, timeout: float | None = None) -> None:
        """The exit's drain: what is still queued or being resolved when it gives up is counted and said
        (once: a forked child runs its parent's registration of this too)."""
        if self._closed or self.drain(EXIT_DRAIN_SECONDS if timeout is None else timeout):
            return
        with self._gate:
            self._closed = True
            left = self._queue.unfinished_tasks
        if left:
            lost_before_export(
                "exit_pending",
                left,
                " (cloudwatch_log calls still waiting for their user's token check when the exit's"
                f" {EXIT_DRAIN_SECONDS:g} s drain ran out: the identity resolver was slower than the calls came)",
            )


_worker = _Worker()


def drain(timeout: float = 5.0) -> bool:
    """Emit every call still resolving its user, waiting at most ``timeout``; True when all are out."""
    return _worker.drain(timeout)


def cloudwatch_log(request: Any, msg: str, extra: Mapping[str, Any] | None = None, user_email: str = "") -> None:
    """Log a security/audit event; the user comes from the request's JWT, and a ``user_email`` given is
    kept beside what the token says (emitted at once when there is no request or resolver to check)."""
    try:
        when_ns = time.time_ns()
        context = get_current()
        copied = _extra(extra)
        if user_email and (request is None or settings.identity is None):
            _emit(msg, copied, Identity(UNAUTHENTICATED, False), when_ns, context, user_email=str(user_email))
            return
        _worker.submit((_capture(request), msg, copied, when_ns, context, None, str(user_email or "")))
    except Exception as error:
        _failed(error)


async def cloudwatch_log_async(request: Any, msg: str, extra: Mapping[str, Any] | None = None) -> None:
    """The awaitable form: returns once the event is emitted; the user's JWT is checked off the loop.

    Cancelling the caller (a timeout, a client gone) cancels the wait, not the event: it is logged all the same.
    """
    try:
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        item = (_capture(request), msg, _extra(extra), time.time_ns(), get_current(), done, "")
        _worker.submit(item)
    except Exception as error:
        _failed(error)
        return
    await asyncio.wrap_future(done)
