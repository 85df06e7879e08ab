"""The exporter's own trouble reaches a person: through logging when something would show it, else stderr.

Its warnings go to the ``otel_cw_exporter`` logger. That is not enough on its own: with only an OTel
bridge on the root logger (the usual setup), the bridge drops our own records (sending them would
loop) and Python's last-resort handler stays silent because a handler exists, so a missing log group
would lose every event without a word. So each warning is also written to stderr when no handler outside
OTel would show it. Setting the ``otel_cw_exporter`` logger above WARNING silences both, on purpose.
"""

from __future__ import annotations

import contextlib
import logging
import sys

from otel_cw_exporter.feedback import is_bridge

LOGGER_NAME = "otel_cw_exporter"
_logger = logging.getLogger(LOGGER_NAME)


def shown_by_logging(logger: logging.Logger, level: int = logging.WARNING) -> bool:
    """Whether a record of ``level`` on ``logger`` reaches a handler that shows it to someone (or is
    silenced on purpose: the logger is set above ``level``)."""
    if not logger.isEnabledFor(level):
        return True
    found = False
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            found = True
            if level >= handler.level and not is_bridge(handler):
                return True
        if not current.propagate:
            break
        current = current.parent
    # No handler at all: Python's last resort prints it on stderr.
    return not found and logging.lastResort is not None and level >= logging.lastResort.level


def warn(message: str, *args: object) -> None:
    """A warning of the exporter's own, logged, and on stderr when logging would show it to no one."""
    _logger.warning(message, *args)
    if shown_by_logging(_logger):
        return
    try:
        text = message % args if args else message
    except (TypeError, ValueError):
        text = f"{message} {args}"
    with contextlib.suppress(Exception):  # a closed or broken stderr: nothing more can be done
        print(f"otel-cw-exporter: warning: {text}", file=sys.stderr, flush=True)
