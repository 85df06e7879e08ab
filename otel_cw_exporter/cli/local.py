"""``otel-cw-exporter local``: the local CloudWatch Logs endpoint on its own, until Ctrl-C or SIGTERM.

The same endpoint as :class:`otel_cw_exporter.testing.LocalCloudWatchLogs` (moto's server plus the checks
AWS makes), on 127.0.0.1 only. It prints the variables that point boto3, the exporter and the other
commands at it, as shell lines (comments and ``export``), then serves until stopped. ``demo --keep``
serves the same way after the demo.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import shlex
import signal
import sys
import time
from typing import TYPE_CHECKING

from otel_cw_exporter.cli.errors import EXIT_OK, EXIT_USAGE, CliError
from otel_cw_exporter.cli.stopping import stop_on

if TYPE_CHECKING:
    from otel_cw_exporter.testing import LocalCloudWatchLogs

#: The port the README's samples use; ``--port 0`` picks a free one.
DEFAULT_PORT = 4599

#: The variables that point boto3 at the endpoint, in the order they are printed.
VARIABLES = ("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")


def missing_local_extra() -> str | None:
    """The module the local endpoint needs that is not installed, or None."""
    try:
        import moto.server  # noqa: F401
    except ImportError as error:
        return (error.name or "moto").split(".")[0]
    return None


def require_local_extra(what: str, alternative: str = "") -> None:
    """A usage error (exit 2) naming the pip command when the ``local`` extra is not installed."""
    missing = missing_local_extra()
    if missing:
        raise CliError(
            f"{what} needs the 'local' extra ({missing} is not installed)",
            "pip install 'otel-cw-exporter[local]' (from a checkout: pip install -e '.[local]')" + alternative,
            EXIT_USAGE,
        )


def port_type(text: str) -> int:
    """A TCP port, 0 (any free one) to 65535."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: 0 (any free port) to 65535")
    return port


def start_endpoint(port: int) -> LocalCloudWatchLogs:
    """The endpoint, listening on 127.0.0.1:``port``; a port it cannot have is a usage error (exit 2)."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log lines from the local server
    from otel_cw_exporter.testing import LocalCloudWatchLogs

    endpoint = LocalCloudWatchLogs(port)
    try:
        endpoint.start()
    except OSError as error:
        where = f"127.0.0.1:{port}"
        if error.errno == errno.EADDRINUSE:
            message = f"port {port} is in use on 127.0.0.1 (another `otel-cw-exporter local`?)"
        elif error.errno == errno.EACCES:
            message = f"not allowed to listen on {where} (ports below 1024 need privileges)"
        else:
            message = f"cannot listen on {where}: {error.strerror or error}"
        raise CliError(message, "pass another --port, or --port 0 for any free port", EXIT_USAGE) from None
    return endpoint


def shell_lines(endpoint: LocalCloudWatchLogs) -> list[str]:
    """``export NAME=value`` for each of :data:`VARIABLES`: lines a shell can run or ``eval``."""
    environ = endpoint.environ
    return [f"export {name}={shlex.quote(environ[name])}" for name in VARIABLES]


def wait_until_stopped() -> None:
    """Block until Ctrl-C or SIGTERM, whatever the process inherited."""
    with contextlib.suppress(KeyboardInterrupt), stop_on(signal.SIGINT, signal.SIGTERM):
        while True:
            time.sleep(3600)


def stopped() -> None:
    """Says, on stderr, that the endpoint stopped and what went with it."""
    print("Stopped the local endpoint; its groups, events and query definitions are gone.", file=sys.stderr, flush=True)


def cmd_local(args: argparse.Namespace) -> int:
    """The ``local`` command: exit 0 when stopped, however early."""
    require_local_extra("the local CloudWatch Logs endpoint")
    endpoint: LocalCloudWatchLogs | None = None
    try:
        with stop_on(signal.SIGINT, signal.SIGTERM):
            endpoint = start_endpoint(args.port)
            lines = [
                f"# A local CloudWatch Logs endpoint (moto) at {endpoint.url}; nothing leaves this machine.",
                "# Run these lines in the shell that runs your code or otel-cw-exporter:",
                *shell_lines(endpoint),
                "# Serving until Ctrl-C or SIGTERM; groups, events and query definitions live in memory until then.",
            ]
            print("\n".join(lines), flush=True)
            wait_until_stopped()
    except KeyboardInterrupt:  # before the endpoint was up
        pass
    if endpoint is not None:
        endpoint.stop()
        stopped()
    return EXIT_OK
