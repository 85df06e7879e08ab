"""Profile ``CloudWatchLogRecordExporter.export()`` on pre-built 10,000-record batches with cProfile.

    .venv/bin/python -m benchmarks.profile_export [--batches 5] [--batch-size 10000] [--out export.prof]

Starts the benchmark's sink in its own process, exports the same batch ``--batches`` times under
cProfile with ``max_concurrency=1``, then prints the top functions and a breakdown by stage: encoding,
planning, botocore (validation, serialization, signing, parsing) and HTTP. Requests are sent on the
exporter's sender thread, which gets a profiler of its own (a cProfile profiler sees one thread); the
two profiles are added up, and the calling thread's wait for the sender is left out of the total. The
``.prof`` file opens in snakeviz or ``python -m pstats``. For a sampling profile of the same code (no
per-call overhead, idle time left out), ``--py-spy 10`` runs py-spy for 10 s on a ``--spin`` run and
prints the same stages.

``--floor`` instead sets ``export()`` beside the delivery alone of the same events encoded beforehand
(the request body, SigV4, HTTP: what no encoder can save) and beside one read of the record fields an
encoder must look at, in µs/event (process CPU, median of 15 interleaved rounds).

``--stdlib`` instead splits ``logger.info`` -> the SDK's queue into its parts, in one process (best of 3
rounds of ``--batch-size`` records, process CPU): stdlib ``logging`` alone (a handler that does nothing),
plus our ``OTelHandler`` (the SDK's ``Logger.emit`` replaced by a no-op), and the whole of it into the SDK
with a do-nothing exporter behind its ``BatchLogRecordProcessor``.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.contenders import boto3_logs_client, stdlib_bridge
from benchmarks.workload import GROUP, LOGGER_NAME, MESSAGE, RESOURCE, STREAM, build_records, extra_for, spans

ROOT = Path(__file__).resolve().parent.parent

#: Stage -> (file fragment, function name) whose cumulative time is that stage's time.
STAGES: dict[str, tuple[str, str]] = {
    "export() total": ("otel_cw_exporter/exporter.py", "export"),
    "record loop (CloudWatchLogRecordExporter._requests)": ("otel_cw_exporter/exporter.py", "_requests"),
    "feedback check (feedback.is_feedback)": ("otel_cw_exporter/feedback.py", "is_feedback"),
    "encoding: runs of records together (FastEncoder._chunk)": ("otel_cw_exporter/encode/fast.py", "_chunk"),
    "encoding: one record, fast path (FastEncoder._fast)": ("otel_cw_exporter/encode/fast.py", "_fast"),
    "encoding: one record, full path (EventEncoder.encode)": ("otel_cw_exporter/encode/event.py", "encode"),
    "encoding: full path's dict building (EventEncoder.fields)": ("otel_cw_exporter/encode/event.py", "fields"),
    "encoding: token check (might_need_scrubbing)": (
        "otel_cw_exporter/encode/redaction.py",
        "might_need_scrubbing",
    ),
    "encoding: full redaction walk (Redactor.redact)": ("otel_cw_exporter/encode/redaction.py", "redact"),
    "encoding: json dumps (jsonsafe.dumps_sized)": ("otel_cw_exporter/encode/jsonsafe.py", "dumps_sized"),
    "delivery: request body (wire.BodyBuffer.write)": ("otel_cw_exporter/send/wire.py", "write"),
    "routing (Router.destination)": ("otel_cw_exporter/route/routes.py", "destination"),
    "planning (plan_requests)": ("otel_cw_exporter/send/planning.py", "plan_requests"),
    "delivery: all (Delivery.send_all)": ("otel_cw_exporter/send/delivery.py", "send_all"),
    "delivery: waiting for the sender (Delivery._wait_for)": ("otel_cw_exporter/send/delivery.py", "_wait_for"),
    "delivery: the sender thread's work (Delivery._send)": ("otel_cw_exporter/send/delivery.py", "_send"),
    "delivery: one request (Delivery._put)": ("otel_cw_exporter/send/delivery.py", "_put"),
    "botocore: _make_api_call": ("botocore/client.py", "_make_api_call"),
    "botocore: parameter validation": ("botocore/validate.py", "validate"),
    "botocore: serialization (JSON body)": ("botocore/serialize.py", "serialize_to_request"),
    "botocore: signing (SigV4 add_auth)": ("botocore/auth.py", "add_auth"),
    "botocore: payload SHA-256 (payload)": ("botocore/auth.py", "payload"),
    "HTTP: urllib3 send (URLLib3Session.send)": ("botocore/httpsession.py", "send"),
    "botocore: response parsing": ("botocore/parsers.py", "parse"),
    "botocore: event hooks (HierarchicalEmitter._emit)": ("botocore/hooks.py", "_emit"),
}


def _start_sink() -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.sink"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    line = process.stdout.readline().split()
    return process, f"http://127.0.0.1:{int(line[1])}"


def _exporter(url: str, max_concurrency: int = 1) -> Any:
    from otel_cw_exporter.exporter import CloudWatchLogRecordExporter

    return CloudWatchLogRecordExporter(
        log_group_name=GROUP,
        log_stream_name=STREAM,
        client=boto3_logs_client(url),
        create_log_group=True,
        max_concurrency=max_concurrency,
    )


def _profile_new_threads(go: threading.Event) -> list[cProfile.Profile]:
    """A cProfile profiler for each thread started from now on, from the first call after ``go`` is set
    (a thread started by a warm-up is profiled only after it): the hook ``threading`` installs in a new
    thread waits for ``go``, then replaces itself with that thread's own profiler."""
    profilers: list[cProfile.Profile] = []

    def start(*_: Any) -> None:
        if go.is_set():
            profiler = cProfile.Profile()
            profilers.append(profiler)
            profiler.enable()

    threading.setprofile(start)
    return profilers


def stage_times(stats: pstats.Stats) -> dict[str, dict[str, float]]:
    """Cumulative and own seconds of each stage's function (summed over same-named matches)."""
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    found: dict[str, dict[str, float]] = {}
    for stage, (fragment, function) in STAGES.items():
        cumulative = own = 0.0
        calls = 0
        for (filename, _line, name), (_cc, nc, tt, ct, _callers) in table.items():
            if name == function and filename.replace("\\", "/").endswith(fragment):
                cumulative += ct
                own += tt
                calls += nc
        found[stage] = {"cumulative_s": cumulative, "own_s": own, "calls": calls}
    return found


def pyspy_stages(raw: str) -> tuple[int, dict[str, float]]:
    """Share of py-spy samples (collapsed stacks) inside each stage's function, inclusive."""
    total = 0
    hits = dict.fromkeys(STAGES, 0)
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = []
        for frame in stack.split(";"):
            name, _, where = frame.partition(" (")
            frames.append((name.rsplit(".", 1)[-1], where.rsplit(":", 1)[0]))
        for stage, (fragment, function) in STAGES.items():
            if any(name == function and where.endswith(fragment) for name, where in frames):
                hits[stage] += count
    return total, {stage: hits[stage] / total if total else 0.0 for stage in STAGES}


def run_pyspy(seconds: float, batch_size: int) -> int:
    """Sample a ``--spin`` run of this module with py-spy (idle time excluded) and print the stage shares."""
    executable = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(executable).exists():
        print("py-spy is not installed (pip install py-spy)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as folder:
        raw_path = Path(folder) / "raw.txt"
        spin = [sys.executable, "-m", "benchmarks.profile_export", "--spin", str(seconds + 3)]
        spin += ["--batch-size", str(batch_size)]
        spinner = subprocess.Popen(spin, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert spinner.stdout is not None
        pid = spinner.stdout.readline().split()[-1]  # "exporting for N s in pid P" once the batch is built
        record = [executable, "record", "--pid", pid, "--duration", str(int(seconds)), "--rate", "250"]
        subprocess.run([*record, "--format", "raw", "--output", str(raw_path)], check=True, capture_output=True)
        spinner.wait(seconds + 60)
        total, shares = pyspy_stages(raw_path.read_text())
    print(f"py-spy: {total} samples of export() on {batch_size}-record batches (max_concurrency=1, idle excluded)")
    for stage, share in shares.items():
        print(f"  {stage:<52} {100 * share:5.1f}%")
    return 0


def floor_parts(batch_size: int, rounds: int = 15) -> dict[str, float]:
    """µs per event (process CPU, median of ``rounds``, interleaved): ``export()`` of the batch, the
    delivery alone of the same events encoded beforehand (body, SigV4, HTTP: what no encoder can save),
    and one C-level read of the eight record fields an encoder must look at."""
    from operator import attrgetter

    from otel_cw_exporter.encode.fast import FastEncoder
    from otel_cw_exporter.encode.redaction import Redactor
    from otel_cw_exporter.send.client import client_factory
    from otel_cw_exporter.send.delivery import Delivery, Request
    from otel_cw_exporter.send.planning import plan_requests
    from otel_cw_exporter.telemetry import Telemetry

    sink, url = _start_sink()
    try:
        batch = build_records(batch_size, stdlib_bridge)
        exporter = _exporter(url, max_concurrency=4)  # the default: as the harness runs it
        exporter.export(batch[:100])
        encoder = FastEncoder(redactor=Redactor())  # the exporter's defaults
        for record in batch[:300]:
            encoder.encode(record)  # a shape's first records go one by one
        events = [
            event
            for made, records in encoder.chunks(batch)
            for event in (made if made is not None else map(encoder.encode, records))
        ]
        plan = plan_requests(events, time.time_ns() // 1_000_000)
        requests = [Request(GROUP, STREAM, part, None) for part in plan.requests]
        delivery = Delivery(
            client_factory(boto3_logs_client(url), exporter.config),
            Telemetry(None),
            create_log_group=True,
            create_log_stream=True,
        )
        delivery.send_all(requests, time.monotonic() + 60)  # its client, its connection
        names = ("severity_text", "body", "event_name", "trace_id", "span_id", "timestamp", "attributes")
        fields = [attrgetter(name) for name in names]
        of_record = attrgetter("log_record")  # the eighth

        def read() -> None:
            log_records = list(map(of_record, batch))
            for field in fields:
                list(map(field, log_records))

        parts: dict[str, Any] = {
            "export() of the batch": lambda: exporter.export(batch),
            "delivery alone of the same events, encoded beforehand": lambda: delivery.send_all(
                requests, time.monotonic() + 60
            ),
            "reading the eight record fields an encoder needs": read,
        }
        gc.collect()
        gc.freeze()
        times: dict[str, list[float]] = {name: [] for name in parts}
        for _ in range(rounds):
            for name, run in parts.items():
                c0 = time.process_time()
                run()
                times[name].append((time.process_time() - c0) * 1e6 / len(batch))
        exporter.shutdown()
        delivery.stop(5.0)
    finally:
        sink.terminate()
        sink.wait(5)
    return {name: sorted(values)[len(values) // 2] for name, values in times.items()}


def stdlib_parts(count: int) -> dict[str, float]:
    """µs per record of stdlib logging alone, with our handler (SDK emit a no-op), and into the SDK."""
    import logging

    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    from benchmarks.contenders import NoopExporter
    from otel_cw_exporter.stdlib import OTelHandler

    class Nothing(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            """Takes the record and does nothing: what stdlib logging costs by itself."""

    class NoEmit:
        def emit(self, *args: Any, **kwargs: Any) -> None:
            """Stands for the SDK's Logger: what our handler costs by itself."""

    logger = logging.getLogger(LOGGER_NAME + ".profile")
    logger.setLevel(logging.INFO)
    logger.propagate = False

    def best(handler: logging.Handler) -> float:
        logger.handlers = [handler]
        rounds = []
        with spans(count * 4) as rotate:
            for round_ in range(4):  # the first is a warm-up
                c0 = time.process_time()
                for i in range(round_ * count, (round_ + 1) * count):
                    rotate(i)
                    logger.info(MESSAGE, extra={"extra": extra_for(i)})
                rounds.append((time.process_time() - c0) * 1e6 / count)
        return min(rounds[1:])

    provider = LoggerProvider(resource=RESOURCE)
    queue = 5 * count + 100  # nothing dropped; the processor exports (to nothing) each 10,000
    provider.add_log_record_processor(
        BatchLogRecordProcessor(NoopExporter(None), max_export_batch_size=10_000, max_queue_size=queue)
    )
    ours = OTelHandler(logger_provider=provider)
    figures = {"stdlib logging alone": best(Nothing())}
    alone = OTelHandler(logger_provider=provider)
    alone._loggers[logger.name] = NoEmit()  # type: ignore[assignment]
    figures["stdlib logging + OTelHandler (SDK emit a no-op)"] = best(alone)
    figures["stdlib logging + OTelHandler + SDK (do-nothing exporter)"] = best(ours)
    provider.shutdown()
    logger.handlers = []
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path, default=None, help="write the raw profile here")
    parser.add_argument("--spin", type=float, default=0.0, help="instead: export without cProfile for N seconds")
    parser.add_argument("--py-spy", type=float, default=0.0, metavar="SECONDS", help="instead: sample with py-spy")
    parser.add_argument("--stdlib", action="store_true", help="instead: logger.info's parts, µs per record")
    parser.add_argument("--floor", action="store_true", help="instead: export() against delivery alone, µs/event")
    args = parser.parse_args(argv)
    if args.floor:
        for name, value in floor_parts(args.batch_size).items():
            print(f"  {name:<58} {value:7.2f} us/event")
        return 0
    if args.stdlib:
        figures = stdlib_parts(min(args.batch_size, 20_000))
        for name, value in figures.items():
            print(f"  {name:<58} {value:7.2f} us/record")
        names = list(figures)
        ours = figures[names[1]] - figures[names[0]]
        sdk = figures[names[2]] - figures[names[1]]
        print(f"  {'our OTelHandler alone':<58} {ours:7.2f} us/record")
        print(f"  {'the SDK (Logger.emit, attribute copy, queue)':<58} {sdk:7.2f} us/record")
        return 0
    if args.py_spy:
        return run_pyspy(args.py_spy, args.batch_size)

    sink, url = _start_sink()
    try:
        batch = build_records(args.batch_size, stdlib_bridge)
        exporter = _exporter(url)
        exporter.export(batch[:100])
        gc.collect()
        gc.freeze()
        if args.spin:
            print(f"exporting for {args.spin} s in pid {os.getpid()}", flush=True)
            deadline = time.monotonic() + args.spin
            rounds = 0
            while time.monotonic() < deadline:
                exporter.export(batch)
                rounds += 1
            print(f"{rounds} exports of {len(batch)}")
            return 0
        c0 = time.process_time()
        for _ in range(args.batches):
            exporter.export(batch)
        unprofiled = (time.process_time() - c0) * 1e6 / (args.batches * len(batch))
        exporter.shutdown()
        go = threading.Event()
        senders = _profile_new_threads(go)  # the profiled exporter's sender thread starts at its first export
        try:
            exporter = _exporter(url)
            exporter.export(batch[:100])  # its client is built here, before the profile
            profiler = cProfile.Profile()  # wall clock (a CPU-time timer is a syscall per call: it skews it)
            go.set()
            profiler.enable()
            for _ in range(args.batches):
                exporter.export(batch)
            profiler.disable()
            exporter.shutdown()  # its sender thread ends: that thread's profile is complete
        finally:
            threading.setprofile(None)
    finally:
        sink.terminate()
        sink.wait(5)

    events = args.batches * len(batch)
    stats = pstats.Stats(profiler)
    for sender in senders:
        stats.add(sender)
    if args.out:
        stats.dump_stats(str(args.out))
    stages = stage_times(stats)
    # export() on the calling thread, less its wait for the sender, plus the sender's work: the work itself
    total = (
        stages["export() total"]["cumulative_s"]
        - stages["delivery: waiting for the sender (Delivery._wait_for)"]["cumulative_s"]
        + stages["delivery: the sender thread's work (Delivery._send)"]["cumulative_s"]
    ) or 1.0
    print(f"Without profiler: {unprofiled:.2f} us/event (process CPU, max_concurrency=1)")
    print(
        f"Under cProfile: {total * 1e6 / events:.2f} us/event of work (export() less its wait, plus the sender's);"
        " stages (cumulative, % of that work):"
    )
    for stage, times in stages.items():
        share = 100 * times["cumulative_s"] / total
        per_event = times["cumulative_s"] * 1e6 / events
        print(f"  {stage:<52} {per_event:7.2f} us/ev {share:5.1f}%  own {times['own_s'] * 1e6 / events:5.2f}")
    for order in ("cumulative", "tottime"):
        buffer = io.StringIO()
        pstats.Stats(profiler, stream=buffer).strip_dirs().sort_stats(order).print_stats(args.top)
        print(f"\nTop {args.top} by {order}:")
        print(buffer.getvalue().split("\n", 5)[-1].rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
