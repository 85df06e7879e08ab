"""The spool's rates: events/s written to the spool, events/s replayed from it, and the exporter's own CPU per
event with a spool configured and the endpoint healthy, against the same without one.

The endpoint is the benchmark's sink (``benchmarks.sink``, its own process: its CPU is not counted).
Run ``python -m benchmarks.spool_rates`` (``--quick`` for a smoke run whose numbers mean nothing); it
prints one line per figure and, with ``--json FILE``, writes them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from opentelemetry._logs import LogRecord
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from otel_cw_exporter import CloudWatchLogRecordExporter
from otel_cw_exporter.encode.event import EventEncoder
from otel_cw_exporter.send.delivery import Delivery
from otel_cw_exporter.spool.replay import Replay
from otel_cw_exporter.spool.spool import Spool
from otel_cw_exporter.telemetry import Telemetry

RESOURCE = Resource.create({"service.name": "bench", "deployment.environment.name": "production"})
BATCH = 512
CREDENTIALS = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench", "region_name": "us-east-1"}


def records(count: int) -> list[ReadableLogRecord]:
    """Records shaped like the benchmark's workload: a message and a few attributes each."""
    now = time.time_ns()
    scope = InstrumentationScope("bench")
    found = []
    for i in range(count):
        record = LogRecord(
            timestamp=now + i * 1000,
            observed_timestamp=now + i * 1000,
            severity_text="INFO",
            body=f"request {i} served",
            attributes={"user_email": f"user{i % 97}@example.com", "log_type": "Audit", "n": i, "path": "/api/x"},
        )
        found.append(ReadableLogRecord(log_record=record, resource=RESOURCE, instrumentation_scope=scope))
    return found


class Sink:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.sink"],
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).parent.parent,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"the sink did not start (said {line!r})")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

    def client(self) -> Any:
        import boto3

        return boto3.session.Session().client("logs", endpoint_url=self.url, **CREDENTIALS)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def write_and_replay(sink: Sink, count: int, directory: Path) -> dict[str, float]:
    """Events/s handed to the spool (batches of 512, one transaction each), then sent back from it."""
    encoder = EventEncoder()
    events = [encoder.encode(record) for record in records(count)]
    telemetry = Telemetry()
    spool = Spool(directory, telemetry, max_bytes=2**40, dead_letter_max_bytes=2**30)
    started = time.perf_counter()
    for start in range(0, count, BATCH):
        spool.keep("bench", "s", events[start : start + BATCH])
    written = time.perf_counter() - started
    size = spool.gauges()["spool_bytes"]
    delivery = Delivery(sink.client, telemetry, create_log_group=False, create_log_stream=True)
    replay = Replay(spool, delivery, telemetry, timeout=30.0)
    started = time.perf_counter()
    while (found := spool.chunk(10_000, 4 * 1_048_576)) is not None:
        if not replay.send(*found):
            raise RuntimeError("the replay failed")
    replayed = time.perf_counter() - started
    assert telemetry.snapshot().events_replayed == count
    spool.close()
    return {
        "events": count,
        "event_bytes": size / count,
        "write_events_per_s": count / written,
        "replay_events_per_s": count / replayed,
    }


def cpu_per_event(sink: Sink, count: int, rounds: int, directory: Path) -> dict[str, float]:
    """The exporter's own CPU (this process's, the sink runs apart) per event exported, spool or not."""
    batch = records(BATCH)
    found: dict[str, list[float]] = {"without": [], "with": []}
    for _ in range(rounds):
        for label in ("without", "with"):  # interleaved: drift in the machine's speed hits both alike
            exporter = CloudWatchLogRecordExporter(
                log_group_name="bench",
                log_stream_name="s",
                client=sink.client(),
                spool_dir=str(directory) if label == "with" else None,
            )
            exporter.export(batch)  # the stream made, the client warm
            started = time.process_time()
            for _ in range(max(1, count // BATCH)):
                exporter.export(batch)
            used = time.process_time() - started
            exporter.shutdown()
            found[label].append(used / (max(1, count // BATCH) * BATCH) * 1e6)
    return {f"cpu_us_per_event_{label}_spool": statistics.median(values) for label, values in found.items()} | {
        "cpu_rounds": rounds
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run: few events, numbers mean nothing")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    count, rounds = (2_000, 1) if args.quick else (100_000, 5)
    sink = Sink()
    try:
        with tempfile.TemporaryDirectory() as spool, tempfile.TemporaryDirectory() as healthy:
            figures = write_and_replay(sink, count, Path(spool)) | cpu_per_event(
                sink, count // 4, rounds, Path(healthy)
            )
    finally:
        sink.stop()
    print(f"spool write: {figures['write_events_per_s']:,.0f} events/s ({figures['event_bytes']:.0f} bytes each)")
    print(f"spool replay: {figures['replay_events_per_s']:,.0f} events/s")
    print(
        f"exporter CPU per event, endpoint healthy: {figures['cpu_us_per_event_without_spool']:.1f} us without a "
        f"spool, {figures['cpu_us_per_event_with_spool']:.1f} us with one (median of {rounds})"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
