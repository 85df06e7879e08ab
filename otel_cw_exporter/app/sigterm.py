"""SIGTERM delivers what was logged before the process ends, with no code in the application.

A process ended by SIGTERM's default action runs no Python at all: no ``atexit``, so the records still
queued in the batch processor are lost. Servers make it worse on purpose: uvicorn (and gunicorn's
``UvicornWorker``) shut down gracefully on SIGTERM, then restore the handler they found and raise
SIGTERM again "to trigger the expected behaviour", which is death by the default action.
``setup()`` installs :class:`SigtermHandler`, which chains to whatever was installed before it:

- before it was a Python handler (a server's graceful shutdown): that handler runs as before. So that a
  later re-raise of SIGTERM by the same thread cannot end the process before ``atexit``, the signal is
  blocked for the main thread from then on; the process then leaves normally (exit code 0), and
  ``atexit`` shuts the pipeline down, delivering what was logged, during the graceful shutdown too.
  A SIGTERM sent from outside still reaches the process (through its other threads);
- before it was the default action: the pipeline is shut down first, bounded by the exporter's
  ``timeout``, then the process ends by SIGTERM, as it would have.

It is installed only from the main thread, and never over a SIGTERM that is ignored or handled outside
Python. :func:`otel_cw_exporter.teardown` puts the previous handler back.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class SigtermHandler:
    """Chains to the previous SIGTERM handler; see the module docstring. ``flush`` must be bounded."""

    def __init__(self, previous: Handler, flush: Callable[[], None], within: float) -> None:
        self.previous = previous
        self._flush = flush
        self._within = within

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        previous = self.previous
        if callable(previous):
            _hold_reraise(signum)
            previous(signum, frame)
            return
        flusher = threading.Thread(target=self._flush, name="otel-cw-sigterm", daemon=True)
        flusher.start()
        flusher.join(self._within)
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)


def _hold_reraise(signum: int) -> None:
    """Block ``signum`` for this (the main) thread, so a re-raise from it waits for the normal exit."""
    block = getattr(signal, "pthread_sigmask", None)
    if block is not None:
        with contextlib.suppress(OSError, ValueError):
            block(signal.SIG_BLOCK, {signum})


def install(flush: Callable[[], None], within: float) -> SigtermHandler | None:
    """Put a :class:`SigtermHandler` in place when it is safe to; None when it is not (see the module docstring)."""
    if not hasattr(signal, "SIGTERM") or threading.current_thread() is not threading.main_thread():
        return None
    try:
        previous = signal.getsignal(signal.SIGTERM)
        if previous in (signal.SIG_IGN, None) or isinstance(previous, SigtermHandler):
            return None
        handler = SigtermHandler(previous, flush, within)
        signal.signal(signal.SIGTERM, handler)
    except (ValueError, OSError):
        return None
    return handler


def uninstall(handler: SigtermHandler | None) -> None:
    """Put back the handler ``handler`` replaced, if ``handler`` is still the one in place."""
    if handler is None or threading.current_thread() is not threading.main_thread():
        return
    previous = handler.previous
    with contextlib.suppress(ValueError, OSError, TypeError):
        if signal.getsignal(signal.SIGTERM) is handler:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
