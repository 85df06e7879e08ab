"""The ``otel-cw-exporter`` command: ``demo``, ``doctor``, ``queries install|list`` and ``tail``.

Every failure a person can fix ends as one line on stderr (what went wrong, then ``fix:`` and what to
do) and a non-zero exit code, never a traceback (``--debug`` shows it). Exit codes, the same for every
command, ``doctor`` included: 0 ok; 1 an AWS call or a check failed (access denied, a missing log group
or stream, an unreachable endpoint...); 2 a usage or configuration error (bad arguments, an invalid
option or variable, no log group, no region, no credentials or credentials AWS rejects); 130
interrupted, except ``tail``, which Ctrl-C ends with 0. AWS options come from the arguments, then the
exporter's ``OTEL_EXPORTER_CLOUDWATCH_LOGS_*`` variables, then boto3's usual chain, exactly as the
exporter reads them.

This module holds the parser and :func:`main`; each command has a module of its own (:mod:`.demo`,
:mod:`.doctor`, :mod:`.queries`, :mod:`.tail`), over shared pieces: :mod:`.errors` (exit codes and the
wording of AWS errors), :mod:`.render` (tables, times, events), :mod:`.options` (argument types),
:mod:`.aws` (configuration, session, calls, paging) and :mod:`.catalog` (the saved queries).
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Sequence
from typing import NoReturn

from otel_cw_exporter.cli.demo import run as run_demo
from otel_cw_exporter.cli.doctor import cmd_doctor
from otel_cw_exporter.cli.errors import (
    EXIT_CODES,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    CliError,
    describe_error,
)
from otel_cw_exporter.cli.options import (
    LEVELS,
    MIN_INTERVAL,
    endpoint_type,
    interval_type,
    level_type,
    region_type,
    since_type,
    trace_id_type,
)
from otel_cw_exporter.cli.queries import cmd_queries_install, cmd_queries_list
from otel_cw_exporter.cli.tail import cmd_tail
from otel_cw_exporter.config import env_name
from otel_cw_exporter.version import __version__

__all__ = ["EXIT_CODES", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "PROG", "build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line, with where to look."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


EPILOG = (
    f"""\
Start with `{PROG} demo` (no AWS account needed). Every command has --help.

Options not given come from the exporter's variables ({env_name("log_group_name")},
..._STREAM_NAME, ..._REGION, ..._ENDPOINT...), then from boto3's chain (AWS_DEFAULT_REGION, not
AWS_REGION; AWS_PROFILE; an instance role...).

"""
    + textwrap.fill(EXIT_CODES, 96)
    + "\n"
)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Tools for otel-cw-exporter: an OpenTelemetry log exporter for AWS CloudWatch Logs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    aws = _Parser(add_help=False)
    aws.add_argument(
        "--region",
        type=region_type,
        help=f"AWS region (default: {env_name('region_name')}, then AWS_DEFAULT_REGION or the profile's; "
        "boto3 ignores AWS_REGION)",
    )
    aws.add_argument(
        "--endpoint-url",
        type=endpoint_type,
        metavar="URL",
        help=f"CloudWatch Logs endpoint (default: {env_name('endpoint_url')}, then AWS_ENDPOINT_URL_CLOUDWATCH_LOGS)",
    )
    aws.add_argument("--profile", help="AWS profile from ~/.aws/config (default: AWS_PROFILE)")

    demo = commands.add_parser(
        "demo",
        help="run a traced workload through the exporter into a local endpoint and show the events",
        description=(
            "Start a local CloudWatch Logs endpoint (127.0.0.1; needs the 'local' extra), run a small traced "
            "workload through the real pipeline (setup(), Security and Audit routes, a JWT-identified user, an "
            "exception), read the events back and print them per stream, then run the seed's two Logs Insights "
            "queries over them locally. With --endpoint-url or --aws the events go to that endpoint instead."
        ),
    )
    demo.add_argument(
        "--endpoint-url",
        type=endpoint_type,
        metavar="URL",
        help="send to this CloudWatch Logs endpoint instead of a local one",
    )
    demo.add_argument(
        "--aws", action="store_true", help="send to AWS with boto3's credentials and region (creates the group)"
    )
    demo.add_argument(
        "--region",
        type=region_type,
        help="region, only with --aws/--endpoint-url (default: AWS_DEFAULT_REGION or the profile's; "
        "boto3 ignores AWS_REGION)",
    )
    demo.add_argument("--profile", help="AWS profile, only with --aws/--endpoint-url (default: AWS_PROFILE)")
    demo.add_argument(
        "--group",
        help="log group (default: integrates locally, otel-cw-exporter-demo with --aws/--endpoint-url)",
    )
    demo.set_defaults(func=run_demo)

    doctor = commands.add_parser(
        "doctor",
        parents=[aws],
        help="check that the exporter's configuration can deliver events",
        description=(
            "Check, in order: configuration, credentials (and whose, via STS), region, endpoint reachable, log "
            "group exists or can be created, log stream exists or can be created (looked up only when "
            f"{env_name('create_log_stream')}=false), the group and stream of each route "
            f"({env_name('routes')}), one test event (--put-test-event), retention as configured. Each check "
            "prints PASS, FAIL (with the fix) or SKIP (with why: a name made from each record can't be checked "
            "ahead). Exit code 0 when no check fails; 2 when a failed check is the configuration, the "
            "credentials or the region; else 1."
        ),
    )
    doctor.add_argument("--group", help=f"log group (default: {env_name('log_group_name')})")
    doctor.add_argument("--stream", help=f"log stream (default: {env_name('log_stream_name')}, else {{service.name}})")
    doctor.add_argument(
        "--create-group", action="store_true", help="create the group if missing, as the exporter would"
    )
    doctor.add_argument("--put-test-event", action="store_true", help="also store one test event in the stream")
    doctor.set_defaults(func=cmd_doctor)

    queries = commands.add_parser(
        "queries",
        help="install or list the saved Logs Insights queries",
        description="Saved CloudWatch Logs Insights queries (query definitions) for the exporter's events.",
    )
    queries.set_defaults(func=lambda _: _usage(queries))
    verbs = queries.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    install = verbs.add_parser(
        "install",
        parents=[aws],
        help="create or update the saved queries for the log group(s)",
        description=(
            "Put the saved queries (the seed's two, verbatim, and a few more) as Logs Insights query definitions "
            "named otel-cw-exporter/<group>/<title>, one set per log group. Idempotent: our definitions are updated "
            "in place, definitions with other names are never touched. Needs logs:DescribeQueryDefinitions and "
            "logs:PutQueryDefinition."
        ),
    )
    install.add_argument(
        "--group", action="append", help=f"log group, may be repeated (default: {env_name('log_group_name')})"
    )
    install.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    install.set_defaults(func=cmd_queries_install)
    listing = verbs.add_parser(
        "list",
        parents=[aws],
        help="show the saved queries installed (or, with --catalog, the queries themselves)",
        description=(
            "List our query definitions in the account (those of --group when given) and whether each is current, "
            "outdated or missing. --catalog prints the queries without calling AWS."
        ),
    )
    listing.add_argument("--group", action="append", help="only this log group's definitions (may be repeated)")
    listing.add_argument("--catalog", action="store_true", help="print the queries themselves; no AWS call")
    listing.set_defaults(func=cmd_queries_list)

    tail = commands.add_parser(
        "tail",
        parents=[aws],
        help="follow a log group (or one stream) and print events as they arrive",
        description=(
            "Print a log group's events, pretty, then follow it (poll every --interval seconds) until Ctrl-C. "
            "Filters are sent to CloudWatch as a JSON filter pattern and applied here too (endpoints that ignore "
            "patterns, like the local one, still filter). Needs logs:FilterLogEvents."
        ),
    )
    tail.add_argument("--group", help=f"log group (default: {env_name('log_group_name')})")
    tail.add_argument("--stream", help="only this log stream")
    tail.add_argument(
        "--log-type", metavar="TYPE", help="only events whose extra.log_type is TYPE (Security, Audit...)"
    )
    tail.add_argument("--user", metavar="EMAIL", help="only events whose extra.user_email is EMAIL")
    tail.add_argument(
        "--trace-id", type=trace_id_type, metavar="ID", help="only events of this trace (W3C or X-Ray id)"
    )
    tail.add_argument("--level", type=level_type, help=f"only events at this level or above ({', '.join(LEVELS)})")
    tail.add_argument(
        "--since",
        type=since_type,
        default="10m",
        help="start this long ago (10m, 2h, 1d) or at an ISO time (default: 10m)",
    )
    tail.add_argument(
        "--interval",
        type=interval_type,
        default=2.0,
        metavar="SECONDS",
        help=f"seconds between polls, at least {MIN_INTERVAL} (default: 2)",
    )
    tail.add_argument("--no-follow", dest="follow", action="store_false", help="print the events so far and exit")
    tail.add_argument("--json", action="store_true", help="print each event's JSON message, one per line")
    tail.set_defaults(func=cmd_tail)
    return parser


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: parse, run the command, turn failures into one line and an exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        return _usage(parser)
    try:
        return int(args.func(args))
    except CliError as error:
        if args.debug:
            raise
        print(error.line(), file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Reader went away (| head): leave quietly, and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as error:
        if args.debug:
            raise
        problem = describe_error(error)
        print(problem.line(), file=sys.stderr)
        return problem.exit_code
