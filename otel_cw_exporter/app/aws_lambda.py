"""AWS Lambda: flush at the end of every invocation, because a frozen sandbox sends nothing.

Lambda freezes the process between invocations and may never thaw it: records still queued in the
batch processor would be lost. Flushing costs the invocation a little time, bounded by ``timeout``.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar, overload

from opentelemetry._logs import get_logger_provider

from otel_cw_exporter.app import audit, configure

P = ParamSpec("P")
R = TypeVar("R")


def flush(timeout: float = 2.0, provider: Any = None) -> bool:
    """Emit pending ``cloudwatch_log`` calls, then flush the provider, all within ``timeout`` seconds.

    True when everything finished in time.
    """
    deadline = time.monotonic() + timeout
    drained = audit.drain(timeout)  # calls still resolving their user are not in the queue yet
    target = provider or configure.provider() or get_logger_provider()  # setup()'s, even when not global
    force_flush = getattr(target, "force_flush", None)
    if not callable(force_flush):
        return drained
    remaining = max(0.0, deadline - time.monotonic())
    done = threading.Event()

    def run() -> None:
        try:
            force_flush(int(remaining * 1000))
        finally:
            done.set()

    threading.Thread(target=run, name="otel-cw-lambda-flush", daemon=True).start()
    return done.wait(remaining) and drained


@contextmanager
def flushing(timeout: float = 2.0, provider: Any = None) -> Iterator[None]:
    """``with flushing(): ...``: flush when the block ends, even when it raises."""
    try:
        yield
    finally:
        flush(timeout, provider)


@overload
def flush_after(handler: Callable[P, R], *, timeout: float = 2.0, provider: Any = None) -> Callable[P, R]: ...


@overload
def flush_after(
    handler: None = None, *, timeout: float = 2.0, provider: Any = None
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def flush_after(
    handler: Callable[P, R] | None = None, *, timeout: float = 2.0, provider: Any = None
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a Lambda handler (``@flush_after`` or ``@flush_after(timeout=1.0)``); the handler keeps
    its signature, for type checkers too."""

    def decorate(function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with flushing(timeout, provider):
                return function(*args, **kwargs)

        return wrapper

    return decorate(handler) if handler is not None else decorate
