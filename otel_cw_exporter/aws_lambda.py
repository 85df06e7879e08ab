"""AWS Lambda: flush at the end of every invocation, because a frozen sandbox sends nothing.

Lambda freezes the process between invocations and may never thaw it: records still queued in the
batch processor would be lost. Flushing costs the invocation a little time, bounded by ``timeout``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from opentelemetry._logs import get_logger_provider

F = TypeVar("F", bound=Callable[..., Any])


def flush(timeout: float = 2.0, provider: Any = None) -> bool:
    """Flush the provider, giving up after ``timeout`` seconds; True when it finished in time."""
    target = provider or get_logger_provider()
    force_flush = getattr(target, "force_flush", None)
    if not callable(force_flush):
        return True
    done = threading.Event()

    def run() -> None:
        try:
            force_flush(int(timeout * 1000))
        finally:
            done.set()

    threading.Thread(target=run, name="otel-cw-lambda-flush", daemon=True).start()
    return done.wait(timeout)


@contextmanager
def flushing(timeout: float = 2.0, provider: Any = None) -> Iterator[None]:
    """``with flushing(): ...``: flush when the block ends, even when it raises."""
    try:
        yield
    finally:
        flush(timeout, provider)


def flush_after(handler: F | None = None, *, timeout: float = 2.0, provider: Any = None) -> Any:
    """Decorate a Lambda handler (``@flush_after`` or ``@flush_after(timeout=1.0)``)."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with flushing(timeout, provider):
                return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate(handler) if handler is not None else decorate
