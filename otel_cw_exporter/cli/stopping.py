"""How a command is stopped: Ctrl-C (SIGINT) and SIGTERM, with handlers installed explicitly.

A shell starts a background job (``cmd &``) and many supervisors start their children with SIGINT
ignored, and Python keeps an ignored SIGINT ignored: ``kill -INT`` would then not stop ``tail`` or
``local``. So :func:`main <otel_cw_exporter.cli.main>` installs Python's own SIGINT handler (a
``KeyboardInterrupt``) before anything else, and the commands that run until stopped make SIGTERM
do the same while they run.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

from otel_cw_exporter.cli.codes import EXIT_INTERRUPTED, EXIT_OK, STOPPED_BY_CTRL_C


def interrupt(signum: int, frame: object) -> NoReturn:
    """A signal handler that stops the command as Ctrl-C does."""
    raise KeyboardInterrupt


@contextlib.contextmanager
def stop_on(*signals: signal.Signals) -> Iterator[None]:
    """While inside, each of ``signals`` raises ``KeyboardInterrupt`` (SIGINT: Python's own handler),
    whatever was inherited; the previous handlers are put back after. Outside the main thread, where
    Python allows no handler, nothing changes."""
    previous: dict[signal.Signals, Any] = {}
    try:
        for number in signals:
            handler = signal.default_int_handler if number == signal.SIGINT else interrupt
            previous[number] = signal.signal(number, handler)
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def command_of(argv: Sequence[str]) -> str:
    """The command named in ``argv`` (its first word that is not an option), before or without parsing."""
    return next((word for word in argv if not word.startswith("-")), "")


def interrupted(argv: Sequence[str], *, restore: bool) -> int:
    """End a command Ctrl-C stopped, quietly: the exit code, 0 for the commands that run until stopped.

    ``restore`` (called from Python, not as the process's command) leaves SIGINT as it was found.
    """
    previous = signal.getsignal(signal.SIGINT)
    ignore_interrupts()  # a second Ctrl-C while ending must not print a traceback either
    with contextlib.suppress(Exception):
        print(file=sys.stderr)
    if restore:
        with contextlib.suppress(ValueError, TypeError):
            signal.signal(signal.SIGINT, previous)
    return EXIT_OK if command_of(argv) in STOPPED_BY_CTRL_C else EXIT_INTERRUPTED


def ignore_interrupts() -> None:
    """Ignore Ctrl-C from now on: the command is ending, a second one must not print a traceback."""
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
