"""The command line's parser and its ``main``: parse, run the command, turn failures into one line and an exit code."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import textwrap
from collections.abc import Sequence
from typing import NoReturn

from otel_cw_exporter.cli.demo import run as run_demo
from otel_cw_exporter.cli.doctor import CALL_LIMIT, CONNECT_TIMEOUT, READ_TIMEOUT, RUN_LIMIT, cmd_doctor
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
from otel_cw_exporter.cli.local import DEFAULT_PORT, cmd_local, port_type
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
from otel_cw_exporter.cli.spool import cmd_spool_purge, cmd_spool_replay, cmd_spool_status
from otel_cw_exporter.cli.stopping import interrupted, stop_on
from otel_cw_exporter.cli.tail import cmd_tail
from otel_cw_exporter.cli.verify import cmd_verify
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
            "exception), read the events back and print them per stream, then evaluate two of the saved Logs "
            f"Insights queries (`{PROG} queries list --catalog` shows them all) over them, locally. The endpoint "
            "stops with the demo; with --keep it stays up, with the events, until Ctrl-C, for the commands the "
            "demo suggests. With --endpoint-url (a real endpoint, or `otel-cw-exporter local`) or --aws the "
            "events go there instead, and stay."
        ),
    )
    demo.add_argument(
        "--keep",
        action="store_true",
        help="keep the local endpoint up after the demo, until Ctrl-C or SIGTERM, and print the variables for it",
    )
    demo.add_argument(
        "--endpoint-url",
        type=endpoint_type,
        metavar="URL",
        help=f"send to this CloudWatch Logs endpoint instead of a local one (for one of `{PROG} local`: "
        "with the variables it prints)",
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

    local = commands.add_parser(
        "local",
        help="run the local CloudWatch Logs endpoint on its own, until Ctrl-C",
        description=(
            "Serve a local CloudWatch Logs endpoint on 127.0.0.1 (needs the 'local' extra): the one of "
            "otel_cw_exporter.testing (moto's server, plus the limits AWS enforces and moto does not), with the "
            "Logs Insights query definitions. It prints the variables that point boto3, the exporter and the "
            "other commands at it, as shell `export` lines, then serves until Ctrl-C or SIGTERM (exit code 0). "
            "Everything it stores is in memory, gone when it stops. A port it cannot have is an error "
            "(exit code 2)."
        ),
    )
    local.add_argument(
        "--port",
        type=port_type,
        default=DEFAULT_PORT,
        help=f"TCP port on 127.0.0.1; 0 picks a free one (default: {DEFAULT_PORT})",
    )
    local.set_defaults(func=cmd_local)

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
            "ahead). Before each endpoint's first call it says what it waits for. Each AWS call waits at most "
            f"{CONNECT_TIMEOUT:g} s to connect and {READ_TIMEOUT:g} s for an answer, with no retry, and no call "
            f"starts after {CALL_LIMIT:g} s, so doctor ends within {RUN_LIMIT:g} s (checks left then are SKIP, "
            "and the run fails), plus what boto3 takes to find credentials (a credential_process, SSO). "
            "Exit code 0 when no check fails; 2 when a failed check is the configuration, "
            "the credentials or the region; else 1."
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
            f"Put the five saved queries (`{PROG} queries list --catalog` shows them) as Logs Insights query "
            "definitions named otel-cw-exporter/<group>/<title>, one set per log group. Idempotent: ours are updated "
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
            "Print a log group's events, pretty, then follow it (poll every --interval seconds) until Ctrl-C or "
            "SIGTERM (exit code 0). --trace-id and --level are sent to CloudWatch as a JSON filter pattern and "
            "applied here too (endpoints that ignore patterns, like the local one, still filter). --log-type and "
            "--user match in any case, as --level does; CloudWatch's patterns are case-sensitive, so those two are "
            "applied here only (in a busy group a poll reads more). Needs logs:FilterLogEvents (and, with "
            "--stream, logs:DescribeLogStreams to say when the stream does not exist)."
        ),
    )
    tail.add_argument("--group", help=f"log group (default: {env_name('log_group_name')})")
    tail.add_argument("--stream", help="only this log stream (a stream that does not exist is an error)")
    tail.add_argument(
        "--log-type",
        metavar="TYPE",
        help="only events whose extra.log_type is TYPE, in any case (Security, audit...)",
    )
    tail.add_argument("--user", metavar="EMAIL", help="only events whose extra.user_email is EMAIL, in any case")
    tail.add_argument(
        "--trace-id", type=trace_id_type, metavar="ID", help="only events of this trace (W3C or X-Ray id)"
    )
    tail.add_argument(
        "--level", type=level_type, help=f"only events at this level or above, in any case ({', '.join(LEVELS)})"
    )
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

    check = commands.add_parser(
        "verify",
        parents=[aws],
        help="prove a log group's integrity trail complete: nothing missing, changed or inserted",
        description=(
            "Read the stored events of a log group (or one stream) and check the integrity trail the exporter "
            "writes with integrity=True: per stream and writer, the events, their sequence numbers, what is "
            "missing, what the exporter said it dropped (and why), events whose chain does not verify (changed, "
            "inserted, or written with another key), duplicates (identical re-sends, harmless), conflicts, and "
            "whether the writer closed. Exit code 0 when every writer is intact, 1 when anything is missing, "
            "broken or conflicting (or nothing was read), 2 for usage. The writers need not be running. Needs "
            "logs:FilterLogEvents (and, with --stream, logs:DescribeLogStreams)."
        ),
    )
    check.add_argument("--group", help=f"log group (default: {env_name('log_group_name')})")
    check.add_argument("--stream", help="only this log stream")
    check.add_argument(
        "--since",
        type=since_type,
        help="only events from this long ago (24h, 7d) or an ISO time; writers' earlier events are then not "
        "counted as missing (default: all)",
    )
    check.add_argument("--until", type=since_type, help="only events up to this long ago or ISO time (default: now)")
    key = check.add_mutually_exclusive_group()
    key.add_argument(
        "--key-env",
        metavar="VAR",
        help=f"the integrity key is in this environment variable (default: {env_name('integrity_key')}, "
        f"else the file {env_name('integrity_key_file')} names)",
    )
    key.add_argument(
        "--key-file", metavar="FILE", help="the integrity key is in this file (a final newline is ignored)"
    )
    check.add_argument(
        "--strict",
        action="store_true",
        help="also fail when the exporter announced drops, a writer did not close, or events were sealed without a key",
    )
    check.add_argument("--json", action="store_true", help="print the report as JSON")
    check.set_defaults(func=cmd_verify)
    spool = commands.add_parser(
        "spool",
        help="show, send now, or purge what a spool directory (spool_dir) holds",
        description=(
            "The exporter's spool (spool_dir) keeps the events it could not deliver yet, one SQLite file per "
            "process, and a dead-letter file (JSON lines) for what CloudWatch will never take. A running exporter "
            "replays its own file, and adopts those of processes that ended; these commands are for a person."
        ),
    )
    spool.set_defaults(func=lambda _: _usage(spool))
    spool_verbs = spool.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    where = _Parser(add_help=False)
    where.add_argument("--dir", metavar="DIR", help=f"the spool directory (default: {env_name('spool_dir')})")
    status = spool_verbs.add_parser(
        "status",
        parents=[where],
        help="the files, events, bytes and oldest event, by destination, and the dead-letter file",
        description="What the spool directory holds, per file (and whether its process runs) and per log group "
        "and stream; reads only. Exit code 0.",
    )
    status.set_defaults(func=cmd_spool_status)
    replay = spool_verbs.add_parser(
        "replay",
        parents=[where, aws],
        help="send the events now (from any machine with credentials), then delete them",
        description=(
            "Send the events of every file no running process holds, oldest first, within the API's limits, and "
            "delete each once CloudWatch stored it; what CloudWatch refuses for good goes to the dead-letter "
            "file. Needs logs:PutLogEvents and logs:CreateLogStream. Exit code 0 when everything was sent, "
            "1 when delivery failed (what was not sent stays)."
        ),
    )
    replay.add_argument("--create-group", action="store_true", help="create a log group that does not exist")
    replay.add_argument(
        "--timeout",
        type=interval_type,
        default=30.0,
        metavar="SECONDS",
        help="how long each round of requests may take (default: 30)",
    )
    replay.set_defaults(func=cmd_spool_replay)
    purge = spool_verbs.add_parser(
        "purge",
        parents=[where],
        help="delete the events logged before a time (7d ago, or an ISO time)",
        description="Delete the events logged before --older-than from every file no running process holds "
        "(they are not dead-lettered: this is a person's choice). Exit code 0.",
    )
    purge.add_argument(
        "--older-than", type=since_type, required=True, metavar="AGE", help="7d, 12h, 30m, or an ISO-8601 time"
    )
    purge.set_defaults(func=cmd_spool_purge)
    return parser


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: parse, run the command, turn failures into one line and an exit code.

    Ctrl-C raises ``KeyboardInterrupt`` from the start, even where SIGINT was inherited as ignored (a
    background job), and ends every command without a traceback: 130, or 0 for ``tail`` and ``local``.
    """
    words = list(sys.argv[1:] if argv is None else argv)
    debug = False
    try:
        with stop_on(signal.SIGINT):
            parser = build_parser()
            args = parser.parse_args(words)
            debug = bool(args.debug)
            if not getattr(args, "func", None):
                return _usage(parser)
            try:
                return int(args.func(args))
            except CliError as error:
                if debug:
                    raise
                print(error.line(), file=sys.stderr)
                return error.exit_code
            except BrokenPipeError:
                # Reader went away (| head): leave quietly, and keep Python from complaining at exit.
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, sys.stdout.fileno())
                return EXIT_OK
            except Exception as error:
                if debug:
                    raise
                problem = describe_error(error)
                print(problem.line(), file=sys.stderr)
                return problem.exit_code
    except KeyboardInterrupt:
        return interrupted(words, restore=argv is not None)
