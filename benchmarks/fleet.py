"""Fleet numbers: what one process sends to CloudWatch Logs, and how many processes one quota serves.

CloudWatch throttles PutLogEvents per account and region (a quota in requests per second, raisable in
Service Quotas); the old limit of 5 requests per second per stream is gone. So a fleet's processes share
one number, and what each process costs of it is requests per second, not events.

Two modes, from the repository root:

- ``python -m benchmarks.fleet [--event-bytes B] [--rate R] [--schedule-delay-ms D] [--batch-size S]
  [--streams K] [--quota Q]``: the arithmetic, printed as tables (pure functions, no I/O): events per
  request, requests per second per process at a log rate, processes one quota serves.
- ``python -m benchmarks.fleet --simulate N [--seconds T] ...``: N real processes (each a LoggerProvider,
  a BatchLogRecordProcessor and our exporter, each writing to its own streams named by a template),
  logging the benchmark workload's event at R events/s for T seconds against one local endpoint on
  127.0.0.1 that enforces an account-wide quota of Q PutLogEvents per second
  (:class:`otel_cw_exporter.testing.RequestQuota`). It prints what was logged, stored (read back),
  duplicated and dropped, the throttles answered, the requests per second let through against the quota
  and the events per second stored. Exit code 0 when nothing was lost, 1 when something was.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import select
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from otel_cw_exporter.limits import EVENT_OVERHEAD, MAX_REQUEST_BYTES, MAX_REQUEST_EVENTS

ROOT = Path(__file__).resolve().parent.parent

#: The benchmark workload's event (the application's "Added secret" Security event through the stdlib
#: bridge, inside a span), as JSON: 541 bytes (benchmarks/README.md; ``--simulate`` measures it again).
EVENT_BYTES = 541
#: AWS's default PutLogEvents quota: 5,000 requests per second per account and region, adjustable in
#: Service Quotas (AWS's "CloudWatch Logs quotas" page). Neither docs/cloudwatch-limits.md nor the API
#: model gives a number: check yours with Service Quotas.
DEFAULT_QUOTA = 5000
#: The SDK's BatchLogRecordProcessor defaults (OTEL_BLRP_SCHEDULE_DELAY, OTEL_BLRP_MAX_EXPORT_BATCH_SIZE).
SDK_SCHEDULE_DELAY_MS = 1000
SDK_BATCH_SIZE = 512
SDK_QUEUE_SIZE = 2048
#: CPU per event of the whole stdlib pipeline with our exporter (log call, SDK, bridge, exporter) on the
#: project's 2-vCPU test machine, benchmarks/README.md, 2026-12-01: one process's ceiling per core.
PIPELINE_CPU_US_PER_EVENT = 84.5
#: Log rates (events/s per process) the second table runs through.
SWEEP_RATES = (1, 10, 100, 1000, 10000)

#: The simulation's bounds: processes, seconds of logging, and the whole run.
MAX_PROCESSES = 16
MAX_SECONDS = 20.0
CHILD_START_TIMEOUT = 60.0
#: What the simulation's children use unless told otherwise: a load above what the quota below serves.
SIM_RATE = 200.0
SIM_SCHEDULE_DELAY_MS = 200
SIM_QUOTA = 10
SIM_SECONDS = 5.0
#: One stream per process and log type: the log type from the event, then the host, then the pid.
SIM_STREAM = "{log_type}/{host.name}/{pid}"
SIM_HOSTS = 2


# -- the arithmetic (pure) --------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """One process's logging: its event size, its rate, its processor settings, its streams."""

    event_bytes: int = EVENT_BYTES
    rate: float = 100.0
    """Events per second this process logs."""
    schedule_delay_ms: float = SDK_SCHEDULE_DELAY_MS
    batch_size: int = SDK_BATCH_SIZE
    """The processor's ``max_export_batch_size``: most records one ``export()`` gets."""
    streams: int = 1
    """Streams the process writes to (one per log type), its events spread evenly over them."""
    queue_size: int = SDK_QUEUE_SIZE
    """The processor's ``max_queue_size``: records it holds while exports wait; beyond it the SDK drops."""


def events_per_request(event_bytes: int) -> int:
    """Most events of this size one PutLogEvents request holds: 10,000 events, or 1,048,576 bytes counting
    26 more for each event, whichever binds first."""
    return max(1, min(MAX_REQUEST_EVENTS, MAX_REQUEST_BYTES // (event_bytes + EVENT_OVERHEAD)))


def events_per_export(load: Load) -> float:
    """Records one ``export()`` gets at a steady rate: what arrives in one schedule delay, at most a batch
    (a full batch wakes the processor early), at least one (an export only runs when a record waits)."""
    if load.rate <= 0:
        return 0.0
    return max(1.0, min(float(load.batch_size), load.rate * load.schedule_delay_ms / 1000.0))


def requests_per_export(load: Load) -> int:
    """PutLogEvents requests one export sends: one per stream it has events for, more when a stream's
    share does not fit in one request."""
    batch = events_per_export(load)
    if batch <= 0:
        return 0
    active = min(load.streams, math.ceil(batch))
    return active * math.ceil(batch / active / events_per_request(load.event_bytes))


def requests_per_second(load: Load) -> float:
    """PutLogEvents requests per second this process sends at its rate."""
    batch = events_per_export(load)
    return 0.0 if batch <= 0 else load.rate / batch * requests_per_export(load)


def processes_served(quota: float, per_process: float) -> int | None:
    """How many such processes one quota serves (None: a process that sends nothing costs nothing)."""
    return None if per_process <= 0 else math.floor(quota / per_process)


def _n(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def arithmetic(load: Load, quota: int, cpu_us_per_event: float = PIPELINE_CPU_US_PER_EVENT) -> str:
    """The tables ``python -m benchmarks.fleet`` prints."""
    per_request = events_per_request(load.event_bytes)
    binds = "bytes" if per_request < MAX_REQUEST_EVENTS else "10,000 events"
    batch = events_per_export(load)
    per_export = requests_per_export(load)
    rps = requests_per_second(load)
    served = processes_served(quota, rps)
    delay_s = load.schedule_delay_ms / 1000
    ceiling = 1e6 / cpu_us_per_event
    ceiling_load = Load(load.event_bytes, ceiling, load.schedule_delay_ms, load.batch_size, load.streams)
    full = Load(load.event_bytes, ceiling, load.schedule_delay_ms, MAX_REQUEST_EVENTS, load.streams)
    parameters = [
        ["event size", f"{_n(load.event_bytes)} bytes", "--event-bytes; 541: the benchmark workload's event"],
        ["log rate", f"{_n(load.rate, 1)} events/s per process", "--rate"],
        ["schedule delay", f"{_n(load.schedule_delay_ms)} ms", "--schedule-delay-ms; SDK default 1,000"],
        ["batch size", f"{_n(load.batch_size)} records", "--batch-size; SDK default 512"],
        ["streams per process", _n(load.streams), "--streams; one per log type"],
        ["quota", f"{_n(quota)} requests/s", "--quota; AWS default 5,000 per account and region"],
    ]
    quantities = [
        [
            "events per request, at most",
            _n(per_request),
            f"min(10,000, 1,048,576 // ({load.event_bytes} + 26)): the {binds} bind",
        ],
        [
            "events per export",
            _n(batch, 1),
            f"min(batch {_n(load.batch_size)}, rate x delay {_n(load.rate * delay_s, 1)}), at least 1",
        ],
        ["requests per export", _n(per_export), "per stream with events: ceil(its share / events per request)"],
        ["requests/s per process", _n(rps, 2), "rate / events per export x requests per export"],
        [
            "processes one quota serves",
            "any number" if served is None else _n(served),
            f"floor({_n(quota)} / requests/s per process)",
        ],
        [
            "their events/s, together",
            "-" if served is None else _n(served * load.rate),
            "processes x rate",
        ],
        ["events/s the quota carries, full requests", _n(quota * per_request), "quota x events per request"],
        [
            "one process's ceiling (CPU)",
            f"{_n(ceiling)} events/s per core",
            f"1 / {cpu_us_per_event} us (whole stdlib pipeline, benchmarks/README.md)",
        ],
        [
            "  its requests/s at that ceiling",
            f"{_n(requests_per_second(ceiling_load), 1)} (batch {_n(load.batch_size)}); "
            f"{_n(requests_per_second(full), 1)} (batch 10,000)",
            "the same formula; no limit per stream, one stream or many",
        ],
    ]
    sweep = []
    for rate in (*SWEEP_RATES, round(ceiling)):
        row_load = Load(load.event_bytes, rate, load.schedule_delay_ms, load.batch_size, load.streams)
        row_rps = requests_per_second(row_load)
        row_served = processes_served(quota, row_rps)
        sweep.append(
            [
                _n(rate) + (" (ceiling)" if rate == round(ceiling) else ""),
                _n(events_per_export(row_load), 1),
                _n(row_rps, 2),
                "-" if row_served is None else _n(row_served),
                "-" if row_served is None else _n(row_served * rate),
            ]
        )
    return "\n".join(
        [
            "Fleet arithmetic: PutLogEvents, one quota per account and region, no limit per stream",
            "",
            _table(["parameter", "value", "from"], parameters),
            "",
            _table(["quantity", "value", "how"], quantities),
            "",
            f"By log rate ({_n(load.schedule_delay_ms)} ms delay, batch {_n(load.batch_size)}, "
            f"{load.streams} stream(s) per process, quota {_n(quota)} requests/s):",
            _table(
                [
                    "events/s per process",
                    "events per export",
                    "requests/s per process",
                    "processes served",
                    "fleet events/s",
                ],
                sweep,
            ),
        ]
    )


# -- the simulation ---------------------------------------------------------------------------------


def _queue_full(reader: Any) -> int:
    """Records the SDK's batch processor dropped because its queue was full (the exporter never saw them),
    from its own ``otel.sdk.processor.log.processed`` counter (``error.type=queue_full``)."""
    data = reader.get_metrics_data()
    dropped = 0
    for resource_metrics in data.resource_metrics if data is not None else ():
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if metric.name == "otel.sdk.processor.log.processed":
                    dropped += sum(
                        int(point.value)
                        for point in metric.data.data_points
                        if point.attributes.get("error.type") == "queue_full"
                    )
    return dropped


def child(
    *,
    rate: float,
    seconds: float,
    delay_ms: float,
    batch_size: int,
    queue_size: int,
    stream: str,
    host: str,
    endpoint_url: str,
) -> None:
    """One process of the fleet: says ``ready``, waits for a line on stdin, logs at ``rate`` for
    ``seconds``, shuts the pipeline down (delivering what is queued), prints ``result <json>``."""
    import logging

    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.resources import Resource

    from benchmarks.workload import GROUP, LOGGER_NAME, RESOURCE_ATTRIBUTES, emit_stdlib, spans
    from otel_cw_exporter import CloudWatchLogRecordExporter
    from otel_cw_exporter.stdlib import OTelHandler

    exporter = CloudWatchLogRecordExporter(log_group_name=GROUP, log_stream_name=stream, endpoint_url=endpoint_url)
    os.environ["OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED"] = "true"  # the processor's own counters...
    reader = InMemoryMetricReader()  # ...read here: its queue-full drops
    provider = LoggerProvider(resource=Resource({**RESOURCE_ATTRIBUTES, "host.name": host}), shutdown_on_exit=False)
    provider.add_log_record_processor(
        BatchLogRecordProcessor(
            exporter,
            schedule_delay_millis=delay_ms,
            max_export_batch_size=batch_size,
            max_queue_size=queue_size,
            meter_provider=MeterProvider(metric_readers=[reader]),
        )
    )
    logger = logging.Logger(LOGGER_NAME, logging.INFO)  # not registered: only our bridge sees its records
    logger.addHandler(OTelHandler(logger_provider=provider))
    print("ready", flush=True)
    sys.stdin.readline()
    total = math.ceil(rate * seconds)
    logged = 0
    started = time.monotonic()
    with spans(total) as rotate:
        while logged < total:
            due = min(int(rate * (time.monotonic() - started)) + 1, total)
            if due > logged:
                emit_stdlib(logger, logged, due - logged, rotate)
                logged = due
            time.sleep(0.005)
    provider.shutdown()
    stats = exporter.stats
    result = {
        "pid": os.getpid(),
        "host": host,
        "logged": logged,
        "events_sent": stats.events_sent,
        "requests": stats.requests,
        "retries": stats.retries,
        "throttles": stats.throttles,
        "dropped": dict(stats.dropped),
        "queue_full": _queue_full(reader),
    }
    print("result " + json.dumps(result), flush=True)


@dataclass(frozen=True)
class Simulation:
    """What ``--simulate`` runs: N processes of one load against one quota."""

    processes: int
    load: Load
    quota: int
    seconds: float
    stream: str = SIM_STREAM


def simulate(sim: Simulation) -> tuple[str, bool]:
    """Run the fleet against a local endpoint with the quota; the report, and whether nothing was lost."""
    from benchmarks.workload import GROUP
    from otel_cw_exporter.testing import LocalCloudWatchLogs, RequestQuota

    quota = RequestQuota(sim.quota)
    with contextlib.ExitStack() as stack:
        endpoint = stack.enter_context(LocalCloudWatchLogs())
        endpoint.client().create_log_group(logGroupName=GROUP)
        endpoint.inject(quota)
        environ = {**_clean(os.environ), **endpoint.environ, "PYTHONPATH": str(ROOT)}  # no AWS or OTel settings
        errors = [stack.enter_context(tempfile.TemporaryFile("w+")) for _ in range(sim.processes)]
        children = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "benchmarks.fleet",
                    "--child",
                    "--rate",
                    str(sim.load.rate),
                    "--seconds",
                    str(sim.seconds),
                    "--schedule-delay-ms",
                    str(sim.load.schedule_delay_ms),
                    "--batch-size",
                    str(sim.load.batch_size),
                    "--queue-size",
                    str(sim.load.queue_size),
                    "--stream",
                    sim.stream,
                    "--host",
                    f"sim-host-{i % SIM_HOSTS}",
                    "--endpoint-url",
                    endpoint.url,
                ],
                cwd=ROOT,
                env=environ,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors[i],  # a file, not a pipe: a child's warnings can never fill it and block it
                text=True,
            )
            for i in range(sim.processes)
        ]
        try:
            results, elapsed = _run(children, errors, sim)
        finally:
            for process in children:
                if process.poll() is None:
                    process.kill()
                process.wait(10)
        stored = endpoint.raw_events(GROUP)
        puts = list(endpoint.puts)
    return _report(sim=sim, quota=quota, results=results, elapsed=elapsed, stored_events=stored, puts=puts)


def _clean(environ: Mapping[str, str]) -> dict[str, str]:
    """The children's environment without the caller's AWS and OTel settings: no profile, endpoint,
    route or processor setting of the shell can send an event anywhere but the local endpoint."""
    return {key: value for key, value in environ.items() if not key.startswith(("AWS_", "OTEL_"))}


def _run(
    children: list[subprocess.Popen[str]], errors: list[Any], sim: Simulation
) -> tuple[list[dict[str, Any]], float]:
    """Wait until every child is ready, start them together, collect their results (bounded in time)."""
    ready_by = time.monotonic() + CHILD_START_TIMEOUT
    for process, error in zip(children, errors, strict=True):
        assert process.stdout is not None
        readable, _, _ = select.select([process.stdout], [], [], max(0.0, ready_by - time.monotonic()))
        line = process.stdout.readline() if readable else ""  # "ready" once set up (about a second)
        if line.strip() != "ready":
            raise RuntimeError(f"a child did not start: {line!r} {_tail(process, error)}")
    started = time.monotonic()
    for process in children:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    # logging, then shutdown: each export within the exporter's timeout (10 s) + 1 s
    deadline = started + sim.seconds + 30
    results = []
    for process, error in zip(children, errors, strict=True):
        try:
            out, _ = process.communicate(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired as timeout:
            raise RuntimeError(f"a child did not finish in time: {_tail(process, error)}") from timeout
        lines = [line for line in out.splitlines() if line.startswith("result ")]
        if process.returncode != 0 or not lines:
            raise RuntimeError(f"a child failed (exit code {process.returncode}): {_tail(process, error)}")
        results.append(json.loads(lines[-1][len("result ") :]))
    return results, time.monotonic() - started


def _tail(process: subprocess.Popen[str], error: Any) -> str:
    """The end of what a child wrote to stderr (the child is stopped first)."""
    if process.poll() is None:
        process.kill()
        process.wait(10)
    error.seek(0)
    return str(error.read())[-2000:]


def _report(
    *,
    sim: Simulation,
    quota: Any,
    results: list[dict[str, Any]],
    elapsed: float,
    stored_events: list[dict[str, Any]],
    puts: list[Any],
) -> tuple[str, bool]:
    logged = sum(r["logged"] for r in results)
    dropped: Counter[str] = Counter()
    for r in results:
        dropped.update(r["dropped"])
    copies = Counter((e["logStream"], e["message"]) for e in stored_events)
    unique = len(copies)
    duplicates = sum(n - 1 for n in copies.values())
    queue_full = sum(r["queue_full"] for r in results)
    missing = logged - unique - sum(dropped.values())  # the exporters count the SDK's queue-full drops too
    streams = sorted({e["logStream"] for e in stored_events})
    windows = quota.per_window()
    seconds_spanned = (max(windows) - min(windows) + 1) if windows else 0
    let_through = sum(windows.values())
    busiest = max(windows.values()) if windows else 0
    at_quota = sum(1 for n in windows.values() if n >= sim.quota)
    put_events = sum(p.events for p in puts)
    event_bytes = sum(p.bytes for p in puts) / put_events - EVENT_OVERHEAD if put_events else 0.0
    nominal = requests_per_second(sim.load) * sim.processes
    capacity = sim.quota * min(sim.load.batch_size, events_per_request(sim.load.event_bytes))
    demand = sim.load.rate * sim.processes
    ok = unique == logged and duplicates == 0 and not dropped and not queue_full
    rows = [
        ["processes", f"{sim.processes} (hosts sim-host-0..{min(sim.processes, SIM_HOSTS) - 1})"],
        ["log rate", f"{_n(sim.load.rate, 1)} events/s per process for {_n(sim.seconds, 1)} s"],
        [
            "processor",
            f"schedule_delay_millis={_n(sim.load.schedule_delay_ms)}, max_export_batch_size={sim.load.batch_size}, "
            f"max_queue_size={sim.load.queue_size}",
        ],
        ["stream template", sim.stream],
        ["quota", f"{sim.quota} PutLogEvents/s for the whole fleet (fixed one-second windows)"],
        ["requests/s the fleet would send unthrottled", f"{_n(nominal, 1)} (the arithmetic above)"],
        [
            "events/s the quota carries, at most",
            f"{_n(capacity)} (quota x min(batch, events per request)); the fleet logs {_n(demand)}",
        ],
        ["", ""],
        ["events logged", _n(logged)],
        ["events stored (read back)", _n(unique)],
        ["duplicates", _n(duplicates)],
        [
            "dropped (exporters' stats)",
            _n(sum(dropped.values())) + (f" {dict(dropped)}" if dropped else ""),
        ],
        ["the SDK's own count of its queue-full drops", _n(queue_full) + " (the exporters' queue_full, cross-checked)"],
        [
            "missing (logged - stored - dropped)",
            _n(missing)
            + (
                " (below 0: the SDK counted a record as dropped that it kept; its queue-full check races with"
                " its worker)"
                if missing < 0
                else ""
            ),
        ],
        ["throttles answered (endpoint)", _n(quota.throttled)],
        ["throttles counted (exporters' stats)", _n(sum(r["throttles"] for r in results))],
        ["PutLogEvents let through", f"{_n(let_through)} in {seconds_spanned} s"],
        [
            "accepted requests/s",
            f"{_n(let_through / seconds_spanned if seconds_spanned else 0, 1)} mean, {busiest} most in one second "
            f"(quota {sim.quota}); {at_quota} of {seconds_spanned} s at the quota",
        ],
        ["events per accepted request", _n(put_events / len(puts) if puts else 0, 1)],
        ["event size (measured)", f"{_n(event_bytes)} bytes"],
        ["events/s stored", f"{_n(unique / elapsed, 1)} (over {_n(elapsed, 1)} s, logging and shutdown)"],
        ["streams", f"{len(streams)}: {', '.join(streams[:3])}{', ...' if len(streams) > 3 else ''}"],
        ["", ""],
        [
            "result",
            "no loss: every event logged was stored once, nothing dropped"
            if ok
            else "LOSS: events were dropped, missing or duplicated",
        ],
    ]
    width = max(len(label) for label, _ in rows)
    text = "\n".join(f"{label.ljust(width)}  {value}".rstrip() for label, value in rows)
    return "Fleet simulation against the local endpoint (127.0.0.1) with a request-rate quota\n\n" + text, ok


# -- the command ------------------------------------------------------------------------------------


def _bad_template(stream: str) -> str | None:
    """What the exporter says about a stream name template it refuses, else None (no network)."""
    from otel_cw_exporter import CloudWatchLogRecordExporter, ConfigError

    try:
        CloudWatchLogRecordExporter(
            log_group_name="integrates", log_stream_name=stream, endpoint_url="http://127.0.0.1:1", environ={}
        )
    except (ConfigError, ValueError) as error:
        return str(error)
    return None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.fleet",
        description="Fleet numbers: PutLogEvents requests per process, processes per quota; --simulate N runs them.",
    )
    parser.add_argument("--event-bytes", type=int, default=EVENT_BYTES, help="event JSON size (default 541)")
    parser.add_argument("--rate", type=float, help=f"events/s per process (default 100; {SIM_RATE:g} simulating)")
    parser.add_argument(
        "--schedule-delay-ms",
        type=float,
        help=f"processor schedule delay (default {SDK_SCHEDULE_DELAY_MS}; {SIM_SCHEDULE_DELAY_MS} simulating)",
    )
    parser.add_argument("--batch-size", type=int, default=SDK_BATCH_SIZE, help="max_export_batch_size (default 512)")
    parser.add_argument(
        "--queue-size", type=int, help="simulating: max_queue_size (default 2048, or the batch size if larger)"
    )
    parser.add_argument("--streams", type=int, default=1, help="streams per process, one per log type (default 1)")
    parser.add_argument(
        "--quota", type=int, help=f"PutLogEvents/s for the account (default {DEFAULT_QUOTA}; {SIM_QUOTA} simulating)"
    )
    parser.add_argument(
        "--cpu-us-per-event",
        type=float,
        default=PIPELINE_CPU_US_PER_EVENT,
        help="pipeline CPU per event, for one process's ceiling (default 84.5)",
    )
    parser.add_argument("--simulate", type=int, metavar="N", help=f"run N processes (1..{MAX_PROCESSES})")
    parser.add_argument("--seconds", type=float, default=SIM_SECONDS, help="seconds of logging (default 5, at most 20)")
    parser.add_argument("--stream", default=SIM_STREAM, help=f"stream name template (default {SIM_STREAM})")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--host", default="sim-host-0", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint-url", default="http://127.0.0.1:1", help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    simulating = args.simulate is not None or args.child
    rate = args.rate if args.rate is not None else (SIM_RATE if simulating else 100.0)
    delay = args.schedule_delay_ms
    if delay is None:
        delay = SIM_SCHEDULE_DELAY_MS if simulating else SDK_SCHEDULE_DELAY_MS
    quota = args.quota if args.quota is not None else (SIM_QUOTA if simulating else DEFAULT_QUOTA)
    if args.event_bytes < 1 or rate < 0 or delay <= 0 or args.batch_size < 1 or args.streams < 1 or quota < 1:
        parser.error("--event-bytes, --schedule-delay-ms, --batch-size, --streams and --quota must be positive")
    if args.queue_size is None:
        args.queue_size = max(SDK_QUEUE_SIZE, args.batch_size)
    if args.queue_size < args.batch_size:
        parser.error("--queue-size must be at least --batch-size (the SDK refuses a batch larger than its queue)")
    if args.child:
        child(
            rate=rate,
            seconds=args.seconds,
            delay_ms=delay,
            batch_size=args.batch_size,
            queue_size=args.queue_size,
            stream=args.stream,
            host=args.host,
            endpoint_url=args.endpoint_url,
        )
        return 0
    load = Load(args.event_bytes, rate, delay, args.batch_size, args.streams, args.queue_size)
    print(arithmetic(load, quota, args.cpu_us_per_event))
    if args.simulate is None:
        return 0
    if not 1 <= args.simulate <= MAX_PROCESSES or not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--simulate takes 1..{MAX_PROCESSES} processes and --seconds at most {MAX_SECONDS:g}")
    for key in set(os.environ) - set(_clean(os.environ)):  # this process too talks only to the local endpoint
        del os.environ[key]
    problem = _bad_template(args.stream)
    if problem:
        parser.error(f"--stream: {problem}")
    print()
    try:
        report, ok = simulate(Simulation(args.simulate, load, quota, args.seconds, args.stream))
    except RuntimeError as error:
        print(f"python -m benchmarks.fleet: error: {error}", file=sys.stderr)
        return 1
    print(report)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
