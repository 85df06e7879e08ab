"""One contender, one or more scenarios, in a fresh process; prints ``BENCH_RESULT <json>`` at the end.

The parent (``benchmarks.run``) starts one of these per (contender, scenario) so that nothing measured
in one scenario (heap, threads, caches, peak RSS) leaks into another. Scenarios:

- ``own``: exporter-own CPU: ``export()`` called directly on pre-built batches of ReadableLogRecords;
  ``own-integrity`` and ``own-spool``: the same with ``integrity=True`` / ``spool_dir=<a temporary
  directory>`` (reported as not available by a version without the option).
- ``stdlib`` / ``api``: whole pipeline, N records from stdlib ``logging`` / the OTel Logs API, clock
  stopped when the sink has accepted all N.
- ``burst``: peak RSS and its growth while a burst of records is emitted as fast as possible.
- ``paced``: ``logger.info`` call latency and delivery latency at a fixed rate.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import resource
import sys
import tempfile
import time
import traceback
from array import array
from collections.abc import Callable
from typing import Any

from benchmarks.contenders import Pipeline, Settings, SinkClient, exporter_for, stdlib_bridge
from benchmarks.sink import percentile
from benchmarks.workload import LOGGER_NAME, MESSAGE, SERIALIZER, build_records, emit_api, emit_stdlib, extra_for, spans

WARMUP = 200


def _rss_mb() -> float:
    """Peak RSS of this process so far, in MiB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class GcClock:
    """Wall time spent in the cyclic garbage collector (it holds the GIL, so it is CPU in practice).

    A pipeline whose exporter lags keeps more records queued, and every full collection walks them all:
    part of what a slow exporter costs the application.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = 0
        self._start = 0.0

    def __enter__(self) -> GcClock:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._start
            self.collections += 1


def _per_event(seconds: float, events: int) -> float | None:
    return seconds * 1e6 / events if events else None


def _rate(events: int, seconds: float) -> float | None:
    return events / seconds if seconds > 0 else None


#: ``own`` with extra exporter options: the same figure with integrity on, and with a spool (healthy endpoint).
OWN_VARIANTS: dict[str, Callable[[str], dict[str, Any]]] = {
    "own": lambda _: {},
    "own-integrity": lambda _: {"integrity": True},
    "own-spool": lambda scratch: {"spool_dir": scratch},
}
NOT_AVAILABLE = "n/a (option not available)"


def scenario_own(name: str, sink_url: str, records: int, batch_size: int, variant: str = "own") -> dict[str, Any]:
    """``export()`` on pre-built batches; process CPU (all threads: ours may send concurrently)."""
    if name == "watchtower":
        return {"skipped": "watchtower is a logging.Handler, not an OTel exporter"}
    if variant != "own" and name != "ours":
        return {"skipped": f"{variant} is an option of ours"}
    with tempfile.TemporaryDirectory(prefix="bench-spool-") as scratch:
        try:
            exporter = exporter_for(name, sink_url, options=OWN_VARIANTS[variant](scratch))
        except TypeError as error:  # this version has no such option
            return {"skipped": NOT_AVAILABLE, "error_text": str(error)}
        result = _measure_own(name, sink_url, exporter, records, batch_size)
        result["options"] = sorted(OWN_VARIANTS[variant](scratch))
        return result


def _measure_own(name: str, sink_url: str, exporter: Any, records: int, batch_size: int) -> dict[str, Any]:
    sink = SinkClient(sink_url)
    batch = build_records(batch_size, stdlib_bridge)
    noop_count = getattr(exporter, "count", None)
    exporter.export(batch[:WARMUP])  # first-use costs (client, connection, caches) are not the steady state
    rounds = max(1, records // batch_size)
    base = sink.count()
    gc.collect()
    gc.freeze()  # the pre-built batch is long-lived; keep the collector from rescanning it every round
    cpu = thread_cpu = wall = 0.0
    per_round: list[float] = []
    results = []
    for _ in range(rounds):
        c0, t0, w0 = time.process_time(), time.thread_time(), time.perf_counter()
        results.append(exporter.export(batch))
        c1, t1, w1 = time.process_time(), time.thread_time(), time.perf_counter()
        cpu += c1 - c0
        thread_cpu += t1 - t0
        wall += w1 - w0
        per_round.append((c1 - c0) * 1e6 / len(batch))
    events = rounds * len(batch)
    if noop_count is not None:
        accepted = getattr(exporter, "count", 0) - WARMUP
    else:
        accepted = sink.wait(base + events, timeout=60) - base
    exporter.shutdown()  # type: ignore[no-untyped-call]
    sample = sink.stats().get("sample_message") if noop_count is None else None
    return {
        "sample_message": sample,
        "sample_message_bytes": len(sample.encode()) if sample else None,
        "batch_size": len(batch),
        "rounds": rounds,
        "events": events,
        "accepted": accepted,
        "all_success": all(result.name == "SUCCESS" for result in results),
        "cpu_us_per_event": _per_event(cpu, events),
        "cpu_us_per_event_best_round": min(per_round),
        "thread_cpu_us_per_event": _per_event(thread_cpu, events),
        "wall_us_per_event": _per_event(wall, events),
        "events_per_cpu_s": _rate(events, cpu),
        "serializer": SERIALIZER if name == "floor" else None,
    }


def _warm(pipeline: Pipeline, api: bool) -> int:
    """A few records through the whole path first (client, connection, stream); returns the new baseline."""
    before = pipeline.delivered()
    with spans(WARMUP) as rotate:
        if api:
            emit_api(pipeline.api_logger, 0, WARMUP, rotate)
        else:
            emit_stdlib(pipeline.logger, 0, WARMUP, rotate)
    pipeline.flush()
    return pipeline.wait_delivered(before + WARMUP, timeout=30)


def scenario_pipeline(name: str, sink_url: str, records: int, settings: Settings, api: bool) -> dict[str, Any]:
    """Emit ``records`` as fast as possible, flush, and stop the clock when all were accepted."""
    pipeline = Pipeline(name, sink_url, settings)
    if api and pipeline.api_logger is None:
        return {"skipped": f"{name} has no OTel Logs API path"}
    base = _warm(pipeline, api)
    timed_before = (pipeline.timed.thread_cpu, pipeline.timed.exported) if pipeline.timed else None
    gc.collect()
    with GcClock() as collector:
        c0, w0 = time.process_time(), time.perf_counter()
        with spans(records) as rotate:
            if api:
                emit_api(pipeline.api_logger, 0, records, rotate)
            else:
                emit_stdlib(pipeline.logger, 0, records, rotate)
        c_emit, w_emit = time.process_time(), time.perf_counter()
        pipeline.flush()
        accepted = pipeline.wait_delivered(base + records) - base
        c1, w1 = time.process_time(), time.perf_counter()
    result: dict[str, Any] = {
        "events": records,
        "accepted": accepted,
        "cpu_us_per_event": _per_event(c1 - c0, records),
        "wall_s": w1 - w0,
        "events_per_s": _rate(records, w1 - w0),
        "events_per_cpu_s": _rate(records, c1 - c0),
        "emit_phase_cpu_us_per_event": _per_event(c_emit - c0, records),
        "emit_phase_wall_s": w_emit - w0,
        "peak_rss_mb": _rss_mb(),
        "gc_us_per_event": _per_event(collector.seconds, records),
        "gc_collections": collector.collections,
    }
    if pipeline.timed is not None and timed_before is not None:
        exported = pipeline.timed.exported - timed_before[1]
        result["export_thread_cpu_us_per_event"] = _per_event(pipeline.timed.thread_cpu - timed_before[0], exported)
    pipeline.close()
    return result


def scenario_burst(name: str, sink_url: str, burst: int, settings: Settings) -> dict[str, Any]:
    """Peak RSS before and after a burst emitted as fast as possible (the queue holds the whole burst)."""
    pipeline = Pipeline(name, sink_url, settings)
    base = _warm(pipeline, api=False)
    gc.collect()
    before = _rss_mb()
    w0 = time.perf_counter()
    with spans(burst) as rotate:
        emit_stdlib(pipeline.logger, 0, burst, rotate)
    pipeline.flush()
    accepted = pipeline.wait_delivered(base + burst, timeout=300) - base
    after = _rss_mb()
    pipeline.close()
    return {
        "events": burst,
        "accepted": accepted,
        "max_queue_size": None if name in ("watchtower", "floor") else max(settings.max_queue_size, burst),
        "rss_before_mb": before,
        "peak_rss_mb": after,
        "rss_growth_mb": after - before,
        "wall_s": time.perf_counter() - w0,
    }


def scenario_paced(name: str, sink_url: str, rate: int, seconds: float, settings: Settings) -> dict[str, Any]:
    """``logger.info`` at ``rate``/s for ``seconds``: each call timed; delivery latency from the sink."""
    pipeline = Pipeline(name, sink_url, settings, track_latency=True)
    base = _warm(pipeline, api=False)
    sink = pipeline.sink
    tick = 0.01
    per_tick = max(1, round(rate * tick))
    ticks = max(1, round(seconds / tick))
    info = pipeline.logger.info
    calls = array("d")
    gc.collect()
    start = time.perf_counter()
    i = 0
    with spans(per_tick * ticks) as rotate:
        for k in range(ticks):
            delay = start + k * tick - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            for _ in range(per_tick):
                rotate(i)
                extra = {"extra": extra_for(i)}
                t0 = time.perf_counter_ns()
                info(MESSAGE, extra=extra)
                calls.append(time.perf_counter_ns() - t0)
                i += 1
    emitted_s = time.perf_counter() - start
    end_ms = time.time() * 1000.0
    # Let the pipeline deliver on its own schedule first (a flush would shorten the tail), then flush.
    accepted = pipeline.wait_delivered(base + i, timeout=3.0) - base
    if accepted < i:
        pipeline.flush()
        accepted = pipeline.wait_delivered(base + i, timeout=60) - base
    # The last second's events wait for the end of the run, not for the steady state: left out of long runs.
    steady_until = end_ms - 1000.0 if seconds > 2 else end_ms
    if pipeline.noop is not None and pipeline.latency is not None:  # the do-nothing exporter never reaches the sink
        pairs = zip(pipeline.latency.emitted_ms, pipeline.latency.latency_ms, strict=True)
        lat = sorted(latency for ts, latency in pairs if ts <= steady_until)
        delivery = {"latency_ms_p50": percentile(lat, 0.5), "latency_ms_p99": percentile(lat, 0.99)}
        delivery["latency_events"] = len(lat)
    else:
        delivery = sink.stats(until_ms=steady_until)
    ordered = sorted(calls)
    pipeline.close()
    return {
        "events": i,
        "accepted": accepted,
        "target_rate": rate,
        "achieved_rate": i / emitted_s,
        "call_us_p50": (percentile(ordered, 0.5) or 0) / 1000,
        "call_us_p99": (percentile(ordered, 0.99) or 0) / 1000,
        "call_us_max": ordered[-1] / 1000 if ordered else None,
        "delivery_ms_p50": delivery.get("latency_ms_p50"),
        "delivery_ms_p99": delivery.get("latency_ms_p99"),
        "delivery_events": delivery.get("latency_events"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contender", required=True)
    parser.add_argument(
        "--scenarios", required=True, help="comma-separated: own,own-integrity,own-spool,stdlib,api,burst,paced"
    )
    parser.add_argument("--sink", required=True)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--burst", type=int, default=200_000)
    parser.add_argument("--rate", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--export-batch-size", type=int, default=10_000)
    parser.add_argument("--schedule-delay-ms", type=float, default=1000.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger(LOGGER_NAME).propagate = False

    results: dict[str, Any] = {}
    for scenario in args.scenarios.split(","):
        queue = max(2048, args.records + 2 * WARMUP) if scenario in ("stdlib", "api") else 2048
        if scenario == "burst":
            queue = args.burst + 2 * WARMUP
        elif scenario == "paced":
            queue = max(2048, 2 * args.export_batch_size)
        settings = Settings(
            max_queue_size=queue,
            max_export_batch_size=args.export_batch_size,
            schedule_delay_millis=args.schedule_delay_ms,
        )
        try:
            if scenario in OWN_VARIANTS:
                results[scenario] = scenario_own(args.contender, args.sink, args.records, args.batch_size, scenario)
            elif scenario in ("stdlib", "api"):
                results[scenario] = scenario_pipeline(
                    args.contender, args.sink, args.records, settings, api=scenario == "api"
                )
            elif scenario == "burst":
                results[scenario] = scenario_burst(args.contender, args.sink, args.burst, settings)
            elif scenario == "paced":
                results[scenario] = scenario_paced(args.contender, args.sink, args.rate, args.seconds, settings)
            else:
                results[scenario] = {"error": f"unknown scenario {scenario}"}
        except Exception as error:
            traceback.print_exc()
            results[scenario] = {"error": f"{type(error).__name__}: {error}"}
    print("BENCH_RESULT " + json.dumps(results), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
