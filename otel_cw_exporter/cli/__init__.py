"""The ``otel-cw-exporter`` command: ``demo``, ``local``, ``doctor``, ``queries install|list`` and ``tail``.

Every failure a person can fix ends as one line on stderr (what went wrong, then ``fix:`` and what to
do) and a non-zero exit code, never a traceback (``--debug`` shows it). Exit codes, the same for every
command, ``doctor`` included: 0 ok; 1 an AWS call or a check failed (access denied, a missing log group
or stream, an unreachable endpoint...); 2 a usage or configuration error (bad arguments, an invalid
option or variable, no log group, no region, no credentials or credentials AWS rejects); 130
interrupted, except ``tail`` and ``local``, which Ctrl-C (or SIGTERM) ends with 0, as it ends ``demo
--keep`` once the demo has run. AWS options come from the arguments, then the exporter's
``OTEL_EXPORTER_CLOUDWATCH_LOGS_*`` variables, then boto3's usual chain, exactly as the exporter reads
them.

This module holds the parser and :func:`main`; each command has a module of its own (:mod:`.demo`,
:mod:`.local`, :mod:`.doctor`, :mod:`.queries`, :mod:`.tail`), over shared pieces: :mod:`.errors` (exit
codes and the wording of AWS errors), :mod:`.render` (tables, times, events), :mod:`.options` (argument
types), :mod:`.aws` (configuration, session, calls, paging), :mod:`.catalog` (the saved queries) and
:mod:`.stopping` (Ctrl-C and SIGTERM).
"""

from __future__ import annotations

import importlib
import signal
import sys
from collections.abc import Sequence
from typing import Any

#: Names of :mod:`otel_cw_exporter.cli.parser` read through this package (``cli.EXIT_CODES``...).
_FROM_PARSER = frozenset(
    {"EPILOG", "EXIT_CODES", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "PROG", "build_parser"}
)


def main(argv: Sequence[str] | None = None) -> int:
    """The console script. Ctrl-C ends it without a traceback from its first moment: the command line's
    modules (and the SDK and boto3 behind them) are imported only once SIGINT is watched."""
    from otel_cw_exporter.cli import stopping  # the standard library only

    words = list(sys.argv[1:] if argv is None else argv)
    try:
        with stopping.stop_on(signal.SIGINT):
            from otel_cw_exporter.cli.parser import main as run
    except KeyboardInterrupt:
        return stopping.interrupted(words, restore=argv is not None)
    return run(argv)


def __getattr__(name: str) -> Any:
    if name not in _FROM_PARSER:
        raise AttributeError(f"module 'otel_cw_exporter.cli' has no attribute {name!r}")
    return getattr(importlib.import_module("otel_cw_exporter.cli.parser"), name)
