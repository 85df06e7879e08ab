"""``otel-cw-exporter demo``: an application's security and audit logging through the real pipeline.

A small traced workload (four "requests") goes through :func:`otel_cw_exporter.setup` exactly as an
application would wire it (Security and Audit routes, a JWT-identified user, the stdlib bridge, an
exception), into a local CloudWatch Logs endpoint on 127.0.0.1 (or, only when asked with
``--endpoint-url`` or ``--aws``, that one). The events are then read back, printed per stream, and two
of the saved Logs Insights queries are evaluated locally over them. The local endpoint stops with the
demo unless ``--keep`` keeps it up; the "Next:" lines name commands that work on what the run left.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from otel_cw_exporter.cli.aws import (
    Aws,
    check_endpoint_variables,
    fetch_events,
    is_loopback,
    make_session,
    refused_region,
    region_source,
)
from otel_cw_exporter.cli.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, PROG, CliError, describe_error, region_fix
from otel_cw_exporter.cli.local import require_local_extra, shell_lines, start_endpoint, stopped, wait_until_stopped
from otel_cw_exporter.cli.render import (
    as_text,
    clock,
    cut,
    event_extra,
    event_message,
    exception_line,
    render_table,
    stamp,
    terminal_width,
)

SERVICE_NAME = "integrates-demo"
LOCAL_GROUP = "integrates"
REMOTE_GROUP = "otel-cw-exporter-demo"
#: The demo's HS256 key: it signs the demo's own session cookies and nothing else.
JWT_SECRET = "otel-cw-exporter-demo-only-hs256-key-0123456789"
COOKIE = "session"
STREAMS = ("security", "audit", "application")
#: Seconds between the requests, so their events have distinct times.
PAUSE = 0.05
#: Seconds between two events of one request in two streams: distinct milliseconds, so one order everywhere.
TICK = 0.002


class DemoRequest:
    """What ``cloudwatch_log`` gets as ``request``: anything with cookies and headers (like ``info.context``)."""

    def __init__(self, cookie: str | None = None) -> None:
        self.cookies: dict[str, str] = {COOKIE: cookie} if cookie else {}
        self.headers: dict[str, str] = {}


def session_cookie(email: str, expires_in: int = 3600) -> str:
    import jwt

    claims = {"user_email": email, "exp": int(time.time()) + expires_in}
    return str(jwt.encode(claims, JWT_SECRET, algorithm="HS256"))


class _Warnings(logging.Handler):
    """Keeps the exporter's warnings (they name what CloudWatch refused and why)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(record.getMessage())
        except Exception:
            self.lines.append(str(record.msg))


@dataclass
class Workload:
    """What the workload did: its traces, how many events it logged, what the exporter reported."""

    trace_ids: list[str] = field(default_factory=list)
    emitted: int = 0
    sent: int = 0
    requests: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def run_workload(client: Any, group: str, *, retention_days: int | None = None) -> Workload:
    """An application's ``cloudwatch_log`` and stdlib logging calls inside traced requests, through
    ``setup()``; flushed before it returns."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import SpanKind

    from otel_cw_exporter.app import audit, configure
    from otel_cw_exporter.app.audit import cloudwatch_log
    from otel_cw_exporter.app.identity import JWTIdentityResolver
    from otel_cw_exporter.route.routes import Route

    warnings = _Warnings()
    exporter_logger = logging.getLogger("otel_cw_exporter")
    exporter_logger.addHandler(warnings)
    result = Workload()
    provider = configure.setup(
        service_name=SERVICE_NAME,
        environment="production",
        log_group_name=group,
        log_stream_name="application",
        routes=[
            Route(when={"log_type": "Security"}, log_stream_name="security"),
            Route(when={"log_type": "Audit"}, log_stream_name="audit"),
        ],
        identity=JWTIdentityResolver(keys=JWT_SECRET, algorithms=["HS256"], cookie_name=COOKIE),
        client=client,
        create_log_group=True,
        retention_days=retention_days,
        bridge_stdlib=True,
        environ={},  # the demo is self-contained: no OTEL_EXPORTER_CLOUDWATCH_LOGS_* variable changes it
    )
    try:
        tracer = TracerProvider().get_tracer("integrates.api")
        api_log = logging.getLogger("integrates.api")
        transactional = logging.getLogger("transactional")

        def request(name: str) -> Any:
            return tracer.start_as_current_span(f"POST /api {name}", kind=SpanKind.SERVER)

        # 1. jdoe adds a secret: a Security event and the Audit event of the mutation; user from the JWT.
        jdoe = DemoRequest(session_cookie("jdoe@example.com"))
        with request("addSecret") as span:
            result.trace_ids.append(format(span.get_span_context().trace_id, "032x"))
            cloudwatch_log(
                jdoe,
                "Added secret",
                extra={
                    "group_name": "unittesting",
                    "resource_type": "GitRoot",
                    "resource_id": "4039d098",
                    "log_type": "Security",
                },
            )
            time.sleep(TICK)
            cloudwatch_log(jdoe, "GraphQL mutation executed", extra={"operation": "addSecret", "log_type": "Audit"})
        time.sleep(PAUSE)
        # 2. mallory tries a ROOT secret: blocked (the caller passes user_email in extra).
        email = "mallory@example.com"
        with request("addSecret") as span:
            result.trace_ids.append(format(span.get_span_context().trace_id, "032x"))
            cloudwatch_log(
                DemoRequest(session_cookie(email)),
                "Blocked attempt to create ROOT type secret for GitRoot",
                extra={
                    "group_name": "unittesting",
                    "resource_type": "GitRoot",
                    "resource_id": "4039d098",
                    "root_type": "GitRoot",
                    "user_email": email,
                    "log_type": "Security",
                },
            )
        time.sleep(PAUSE)
        # 3. an expired session: the user resolves to "unauthenticated".
        with request("updateGroupPolicies") as span:
            result.trace_ids.append(format(span.get_span_context().trace_id, "032x"))
            cloudwatch_log(
                DemoRequest(session_cookie("jdoe@example.com", expires_in=-60)),
                "GraphQL mutation executed",
                extra={"operation": "updateGroupPolicies", "log_type": "Audit"},
            )
        time.sleep(PAUSE)
        # 4. a mutation fails: stdlib logging (bridged by setup) with a warning and an exception.
        with request("removeGroup") as span:
            result.trace_ids.append(format(span.get_span_context().trace_id, "032x"))
            api_log.warning("Slow resolver", extra={"operation": "removeGroup", "duration_ms": 812})
            try:
                raise RuntimeError("group 'unittesting' still has 2 active roots")
            except RuntimeError:
                transactional.exception(
                    "Mutation failed",
                    extra={
                        "extra": {
                            "operation": "removeGroup",
                            "group_name": "unittesting",
                            "user_email": "jdoe@example.com",
                        }
                    },
                )
        result.emitted = 6
        audit.drain()
        provider.force_flush()
        exporter = configure.exporter()
        if exporter is not None:
            stats = exporter.stats
            result.sent = stats.events_sent
            result.requests = stats.requests
            result.dropped = dict(stats.dropped)
    finally:
        configure.teardown()
        exporter_logger.removeHandler(warnings)
    result.warnings = warnings.lines
    return result


# --------------------------------------------------------------------------- showing the events


def say(out: Callable[[str], None], text: str, indent: str = "") -> None:
    """Prose, wrapped to the terminal's width."""
    for line in textwrap.wrap(text, terminal_width(), initial_indent=indent, subsequent_indent=indent) or [""]:
        out(line)


#: Hex digits of a trace id shown in the table when the whole id does not fit.
SHORT_TRACE = 8
#: Columns the message keeps at least before full trace ids go into the table.
MIN_MESSAGE = 30
#: Widest a cell of the table other than the message gets.
MAX_CELL = 24
HEADERS = ("time (UTC)", "level", "log type", "user", "message", "trace")


def event_row(event: Mapping[str, Any], trace_digits: int = SHORT_TRACE) -> list[str]:
    extra = event_extra(event)
    message = event_message(event)
    problem = exception_line(event)
    if problem:
        message += "\n" + problem
    return [
        clock(event.get("@timestamp")),
        str(event.get("level", "") or "-"),
        as_text(extra.get("log_type")) or "-",
        cut(as_text(extra.get("user_email")) or "-", MAX_CELL),
        message,
        str(event.get("trace_id", ""))[:trace_digits] or "-",
    ]


def _streams(events: Sequence[Mapping[str, Any]]) -> list[str]:
    present = {str(e.get("@logStream", "")) for e in events}
    ordered = [s for s in STREAMS if s in present]
    return ordered + sorted(present - set(ordered))


def full_traces_fit(events: Sequence[Mapping[str, Any]], width: int) -> bool:
    """Whether the tables can show whole 32-hex trace ids and keep MIN_MESSAGE columns for the message."""
    rows = [event_row(e, 32) for e in events]
    widths = [max([len(HEADERS[i])] + [min(len(r[i]), 32 if i == 5 else MAX_CELL) for r in rows]) for i in range(6)]
    return 2 + sum(widths) - widths[4] + 2 * (len(HEADERS) - 1) + MIN_MESSAGE <= width


def show_events(
    events: Sequence[Mapping[str, Any]], out: Callable[[str], None], width: int, *, full: bool | None = None
) -> None:
    """One table per stream; trace ids whole when they fit (``full``), else cut, followed by the whole ones."""
    full = full_traces_fit(events, width) if full is None else full
    digits = 32 if full else SHORT_TRACE
    for stream in _streams(events):
        selected = [e for e in events if e.get("@logStream") == stream]
        out("")
        out(f'Stream "{stream}" ({len(selected)} event{"s" if len(selected) != 1 else ""})')
        rows = [event_row(e, digits) for e in selected]
        for line in render_table(HEADERS, rows, width=width, wrap=4, max_column=digits if full else MAX_CELL):
            out(line)
    if not full:
        show_traces(events, out)


def show_traces(events: Sequence[Mapping[str, Any]], out: Callable[[str], None]) -> None:
    """The whole trace ids behind the cut ones, each with its streams: for ``tail --trace-id``."""
    streams: dict[str, list[str]] = {}
    for event in events:
        trace = str(event.get("trace_id", ""))
        if trace:
            names = streams.setdefault(trace, [])
            stream = str(event.get("@logStream", ""))
            if stream not in names:
                names.append(stream)
    if not streams:
        return
    out("")
    out(f"Trace ids (whole, for `{PROG} tail --trace-id ID`):")
    order = {name: index for index, name in enumerate(STREAMS)}
    for trace, names in streams.items():
        # In the tables' order: events of one request can share a millisecond, and then any order.
        names.sort(key=lambda name: (order.get(name, len(order)), name))
        out(f"  {trace[:SHORT_TRACE]}  {trace}  {', '.join(names)}")


def _cell(name: str, value: Any) -> str:
    return stamp(value) if name == "@timestamp" else as_text(value)


def show_queries(
    events: Sequence[Mapping[str, Any]], out: Callable[[str], None], width: int, *, local: bool = True
) -> None:
    from otel_cw_exporter.cli.catalog import SAVED_QUERIES, VERBATIM_QUERIES
    from otel_cw_exporter.testing.insights import run

    out("")
    where = (
        "the local endpoint cannot run Logs Insights queries" if local else "in AWS, run them in Logs Insights as well"
    )
    say(
        out,
        f"Two of the {len(SAVED_QUERIES)} saved Logs Insights queries (`{PROG} queries list --catalog` shows "
        "them all), evaluated here, locally, over the JSON read back, by otel_cw_exporter.testing.insights "
        f"({where}):",
    )
    for number, query in enumerate(VERBATIM_QUERIES, 1):
        out("")
        out(f"Saved query {number} of {len(VERBATIM_QUERIES)}: {query.title}")
        for line in query.query.splitlines():
            out(f"    {line}")
        rows = run(query.query, events)
        out(f"  selects {len(rows)} of {len(events)} events:")
        if not rows:
            out("  (none)")
            continue
        columns = list(dict.fromkeys(name for row in rows for name in row))
        wrap = columns.index("message") if "message" in columns else len(columns) - 1
        table = [[_cell(name, row.get(name, "")) for name in columns] for row in rows]
        for line in render_table(columns, table, width=width, wrap=wrap, max_column=24):
            out(line)


def show(
    events: Sequence[Mapping[str, Any]], group: str, out: Callable[[str], None] = print, *, local: bool = True
) -> None:
    width = terminal_width()
    streams = _streams(events)
    full = full_traces_fit(events, width)
    cut = "" if full else f" (trace ids cut to their first {SHORT_TRACE} hex digits; the whole ones follow the tables)"
    say(out, f'Log group "{group}": {len(events)} events in {len(streams)} streams, read back from the endpoint{cut}.')
    show_events(events, out, width, full=full)
    show_queries(events, out, width, local=local)


def _dropped_text(workload: Workload) -> str:
    if not workload.dropped:
        return "none dropped"
    return "dropped: " + ", ".join(f"{n} {reason}" for reason, n in sorted(workload.dropped.items()))


def _workload_line(workload: Workload) -> str:
    return (
        f"Ran {len(workload.trace_ids)} traced requests: {workload.emitted} log records; "
        f"the exporter sent {workload.sent} events ({_dropped_text(workload)})."
    )


def _check_delivered(workload: Workload) -> None:
    if workload.sent >= workload.emitted:
        return
    reason = workload.warnings[0] if workload.warnings else _dropped_text(workload)
    raise CliError(
        f"the exporter delivered {workload.sent} of {workload.emitted} events: {cut(reason, 400)}",
        f"run `{PROG} doctor` with the same options",
    )


#: After the default run: its endpoint is gone, so the way on is to keep one.
NEXT_STEPS = f"""
Next (the demo's endpoint stopped with it):
  # the same, then keep the endpoint up with these events, to try tail, doctor and queries on them
  {PROG} demo --keep
  # a local endpoint on its own; write these events into it with demo --endpoint-url URL
  {PROG} local
  # into AWS instead (log group {REMOTE_GROUP}, which keeps events 1 day)
  {PROG} demo --aws"""


def next_commands(group: str, trace_id: str, options: str = "") -> list[str]:
    """Commands that work on the events a run left in ``group``, each after a comment saying what it shows."""
    return [
        "  # the Security events again",
        f"  {PROG} tail --group {group} --log-type Security --since 1d --no-follow{options}",
        "  # every event of one request, from its trace id",
        f"  {PROG} tail --group {group} --trace-id {trace_id} --since 1d --no-follow{options}",
        "  # check the demo's configuration as the exporter would use it",
        f"  {PROG} doctor --group {group} --stream security{options}",
        "  # save the Logs Insights queries for this log group",
        f"  {PROG} queries install --group {group}{options}",
    ]


WORKLOAD = """\
The workload, through the real pipeline:
  setup(service_name="integrates-demo", environment="production",
        log_group_name="{group}", log_stream_name="application",
        bridge_stdlib=True, create_log_group=True,
        routes=[Route(when={{"log_type": "Security"}}, log_stream_name="security"),
                Route(when={{"log_type": "Audit"}}, log_stream_name="audit")],
        identity=JWTIdentityResolver(keys=<demo key>, algorithms=["HS256"], cookie_name="session"))
  then four traced requests: cloudwatch_log() calls as an application makes them (users from
  their JWT cookies, one of them expired) and a failing mutation logged with
  logging.getLogger(...).exception()."""


# --------------------------------------------------------------------------- local and remote


def run_local(group: str, out: Callable[[str], None] = print, *, keep: bool = False) -> int:
    """The demo on its own endpoint, stopped after it, or (``keep``) served until Ctrl-C or SIGTERM."""
    require_local_extra(
        "the demo's local CloudWatch Logs endpoint", ", or send to a real endpoint with --aws or --endpoint-url"
    )
    endpoint = start_endpoint(0)
    try:
        say(
            out,
            f"Local CloudWatch Logs endpoint at {endpoint.url} (moto, in this process; nothing leaves this machine).",
        )
        out("")
        out(WORKLOAD.format(group=group))
        workload = run_workload(endpoint.client(), group)
        say(out, _workload_line(workload))
        _check_delivered(workload)
        events = endpoint.events(group)
        out("")
        show(events, group, out)
        if not keep:
            out(NEXT_STEPS)
            return EXIT_OK
        out("")
        say(out, "The endpoint stays up with these events until Ctrl-C or SIGTERM (--keep). In another shell, run:")
        for line in shell_lines(endpoint):
            out(line)
        out("Next, in that shell:")
        for line in next_commands(group, workload.trace_ids[0]):
            out(line)
        out("Serving until Ctrl-C or SIGTERM.")
        wait_until_stopped()
    finally:
        endpoint.stop()
    stopped()
    return EXIT_OK


def _same_options(args: argparse.Namespace) -> str:
    """The connection options of this run, for commands that must reach the same endpoint."""
    given = [("--endpoint-url", args.endpoint_url), ("--region", args.region), ("--profile", args.profile)]
    return "".join(f" {option} {shlex.quote(value)}" for option, value in given if value)


def run_remote(args: argparse.Namespace, out: Callable[[str], None] = print) -> int:
    group = args.group or REMOTE_GROUP
    session = make_session(args.profile)
    region = args.region or session.region_name
    if not region:
        raise CliError("no AWS region configured", region_fix(), EXIT_USAGE)
    refused = refused_region(region, region_source(args))
    if refused is not None:
        raise refused
    if not args.endpoint_url:
        check_endpoint_variables()
    if session.get_credentials() is None:
        raise CliError(
            "no AWS credentials found",
            "configure AWS credentials (environment, profile, or instance role), or run the demo without "
            "--aws/--endpoint-url to use a local endpoint",
            EXIT_USAGE,
        )
    aws = Aws(None, session, region, args.endpoint_url)
    client = aws.logs()
    endpoint = client.meta.endpoint_url
    local = is_loopback(endpoint)
    try:  # reachable, and the credentials accepted? (DescribeLogGroups may be denied: fine)
        client.describe_log_groups(logGroupNamePrefix=group, limit=1)
    except Exception as error:
        problem = describe_error(error, group=group, region=region, endpoint=endpoint)
        if not problem.message.startswith("access denied"):
            raise problem from None
    calls = "" if local else ": real CloudWatch Logs calls"
    say(out, f'Sending to {endpoint} (region {region}), log group "{group}"{calls}.')
    out("")
    out(WORKLOAD.format(group=group))
    started = int(time.time() * 1000) - 5000
    workload = run_workload(client, group, retention_days=1)
    say(out, _workload_line(workload))
    _check_delivered(workload)
    ours = set(workload.trace_ids)
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    from otel_cw_exporter.testing.insights import event_from_log_event

    while True:  # CloudWatch makes stored events readable within seconds
        raw = fetch_events(client, aws, group, start_ms=started)
        parsed = [event_from_log_event(e, group) for e in raw]
        events = [e for e in parsed if e.get("trace_id") in ours]
        if len(events) >= workload.emitted or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    events.sort(key=lambda e: (e.get("@timestamp", 0), e.get("@logStream", "")))
    if len(events) < workload.emitted:
        out(f"note: only {len(events)} of {workload.emitted} events were readable after 30 s")
    out("")
    show(events, group, out, local=local)
    out("")
    where = "at that endpoint" if local else "in your account"
    say(out, f"Next (the events stay {where}; the log group keeps them 1 day when the demo created it):")
    for line in next_commands(group, workload.trace_ids[0], _same_options(args)):
        out(line)
    return EXIT_OK if len(events) >= workload.emitted else EXIT_FAILED


def run(args: argparse.Namespace) -> int:
    """The ``demo`` command."""
    if args.aws or args.endpoint_url:
        if args.keep:
            raise CliError(
                "--keep applies only to the local demo (with --aws or --endpoint-url the events stay there)",
                "leave --keep out, or --aws and --endpoint-url",
                EXIT_USAGE,
            )
        return run_remote(args)
    ignored = [option for option, value in (("--region", args.region), ("--profile", args.profile)) if value]
    if ignored:
        names = " and ".join(ignored)
        raise CliError(
            f"{names} appl{'y' if len(ignored) > 1 else 'ies'} only with --aws or --endpoint-url "
            "(the local demo uses no AWS account)",
            f"add --aws (or --endpoint-url URL) to send to AWS, or leave {names} out",
            EXIT_USAGE,
        )
    return run_local(args.group or LOCAL_GROUP, keep=args.keep)
