"""The exporter's own trouble reaches a person: through logging when something would show it, else stderr.

Its warnings go to the ``otel_cw_exporter`` logger. That is not enough on its own:

- with only an OTel bridge on the root logger (the usual setup), the bridge drops our own records
  (sending them would loop) and Python's last-resort handler stays silent because a handler exists, so
  a missing log group would lose every event without a word;
- ``logging.config`` (``dictConfig``, ``fileConfig``) disables every logger that exists and is not named
  in it, ours included, unless told ``disable_existing_loggers=False``;
- with no handler at all, Python's last resort prints the bare message, with no word of whose it is.

So each warning is written to stderr, as ``otel-cw-exporter: warning: ...``, when no handler outside OTel
would show it, and logged as well unless only the last resort would print it. Setting the
``otel_cw_exporter`` logger above WARNING silences both, on purpose.
"""

from __future__ import annotations

import contextlib
import logging
import sys

from otel_cw_exporter import feedback
from otel_cw_exporter.feedback import is_bridge

LOGGER_NAME = "otel_cw_exporter"
_logger = logging.getLogger(LOGGER_NAME)


def _shown(logger: logging.Logger, level: int) -> str:
    """Who shows a record of ``level`` on ``logger``: ``"handler"`` (or silenced on purpose: the logger is
    set above ``level``), ``"last resort"`` (Python's, as there is no handler) or ``"no one"``."""
    if logger.disabled:  # what logging.config does to every logger it was not told of: not on purpose
        return "no one"
    if not logger.isEnabledFor(level):
        return "handler"
    found = False
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            found = True
            if level >= handler.level and not is_bridge(handler) and not isinstance(handler, logging.NullHandler):
                return "handler"
        if not current.propagate:
            break
        current = current.parent
    if not found and logging.lastResort is not None and level >= logging.lastResort.level:
        return "last resort"
    return "no one"


def shown_by_logging(logger: logging.Logger, level: int = logging.WARNING) -> bool:
    """Whether a record of ``level`` on ``logger`` reaches a handler that shows it to someone (or is
    silenced on purpose: the logger is set above ``level``)."""
    return _shown(logger, level) == "handler"


def warn(message: str, *args: object) -> None:
    """A warning of the exporter's own, logged, and on stderr when logging would show it to no one."""
    shown = _shown(_logger, logging.WARNING)
    if shown != "last resort":
        with feedback.exporting():  # an OTel bridge refuses it: ours is no event of the application's
            feedback.guard_bridges()
            _logger.warning(message, *args)
    if shown == "handler":
        return
    try:
        text = message % args if args else message
    except (TypeError, ValueError):
        text = f"{message} {args}"
    with contextlib.suppress(Exception):  # a closed or broken stderr: nothing more can be done
        print(f"otel-cw-exporter: warning: {text}", file=sys.stderr, flush=True)
