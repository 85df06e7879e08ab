"""Benchmark this exporter against its peers on one local sink; print a table, write JSON.

Run from the repository root::

    .venv/bin/python -m benchmarks.run --records 100000        # the full comparison (a few minutes)
    .venv/bin/python -m benchmarks.run --quick                 # a few seconds, tiny N, no targets

The sink runs in its own process; each (contender, scenario) runs in its own fresh process
(``benchmarks.worker``), so no measurement pays for another's heap, threads or server.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # ``python benchmarks/run.py``: make ``benchmarks`` importable as a package
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.contenders import ALL, EXTRA, SinkClient, missing_dependency

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
SCENARIOS = ("own", "stdlib", "api", "burst", "paced")
#: ``own`` with ``integrity=True`` / a spool directory: ours only ("n/a (option not available)" without the option).
VARIANTS = ("own-integrity", "own-spool")
#: Which scenarios mean something for which contender.
APPLIES: dict[str, tuple[str, ...]] = {
    "ours": SCENARIOS + VARIANTS,
    "watchtower": ("stdlib", "burst", "paced"),
    "otlp": SCENARIOS,
    "noop": SCENARIOS,
    "floor": SCENARIOS,
}
LABELS = {
    "ours": "otel-cw-exporter",
    "watchtower": "watchtower 3.4 handler",
    "otlp": "OTLP/HTTP exporter",
    "noop": "SDK + do-nothing exporter",
    "floor": "dict+dumps+POST, no checks",
}
#: Targets from the issue, checked on a full run only.
TARGET_OWN_US = 3.0
TARGET_OWN_VS_OTLP = 0.1
TARGET_PIPELINE_VS_NOOP = 1.15
TARGET_VS_OTLP = 2.5
TARGET_RSS_GROWTH_MB = 50.0


class Sink:
    """The sink process: started first, killed last (by its own pid)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.sink"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            env=_child_env(),
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        if not line.startswith("PORT "):
            self.process.kill()
            raise RuntimeError(f"the sink did not start (said {line!r})")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"
        self.client = SinkClient(self.url)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _child_env() -> dict[str, str]:
    """The workers' environment: the repo importable, no proxies, nothing from the user's AWS setup."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OTEL_")) and "proxy" not in k.lower()}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    env["PYTHONHASHSEED"] = "0"
    return env


def run_worker(
    contender: str, scenarios: Sequence[str], sink: Sink, args: argparse.Namespace
) -> tuple[dict[str, Any], str]:
    """One fresh process for ``contender``; returns its results by scenario and its stderr's tail."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.worker",
        "--contender",
        contender,
        "--scenarios",
        ",".join(scenarios),
        "--sink",
        sink.url,
        "--records",
        str(args.records),
        "--batch-size",
        str(args.batch_size),
        "--burst",
        str(args.burst),
        "--rate",
        str(args.rate),
        "--seconds",
        str(args.seconds),
        "--export-batch-size",
        str(args.export_batch_size),
    ]
    sink.client.reset()
    try:
        done = subprocess.run(
            command,
            cwd=ROOT,
            env=_child_env(),
            capture_output=True,
            text=True,
            timeout=args.worker_timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        return {s: {"error": f"timed out after {expired.timeout} s"} for s in scenarios}, ""
    for line in reversed(done.stdout.splitlines()):
        if line.startswith("BENCH_RESULT "):
            results: dict[str, Any] = json.loads(line[len("BENCH_RESULT ") :])
            return results, done.stderr[-2000:]
    error = f"worker exited {done.returncode} without a result: {done.stderr[-1500:]}"
    return {s: {"error": error} for s in scenarios}, done.stderr[-2000:]


#: The figure that ranks repeated runs of a scenario (the median run is kept, whole).
PRIMARY = {
    "own": "cpu_us_per_event",
    "own-integrity": "cpu_us_per_event",
    "own-spool": "cpu_us_per_event",
    "stdlib": "cpu_us_per_event",
    "api": "cpu_us_per_event",
    "burst": "rss_growth_mb",
    "paced": "call_us_p99",
}


def median_run(runs: list[dict[str, Any]], scenario: str) -> dict[str, Any]:
    """The run whose primary figure is the median (the lower middle one for an even count).

    On a shared machine another process can steal a core for a while: one run is noise, the median of
    three is a measurement. Every run's primary figure is kept under ``repeats``.
    """
    key = PRIMARY.get(scenario, "cpu_us_per_event")
    good = [run for run in runs if "error" not in run and "skipped" not in run and run.get(key) is not None]
    if not good:
        return runs[-1]
    good.sort(key=lambda run: run[key])
    chosen = dict(good[(len(good) - 1) // 2])
    if len(runs) > 1:
        chosen["repeats"] = [run.get(key) for run in runs]
    return chosen


def _get(results: dict[str, Any], contender: str, scenario: str, key: str) -> Any:
    value = results.get(contender, {}).get(scenario, {})
    return value.get(key) if isinstance(value, dict) else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _ratios_for(results: dict[str, Any], ours: str) -> dict[str, float | None]:
    """``ours`` against each peer."""
    own = _get(results, ours, "own", "cpu_us_per_event")
    ratios = {
        "own_cpu_ours_over_otlp": _ratio(own, _get(results, "otlp", "own", "cpu_us_per_event")),
        "own_cpu_ours_over_floor": _ratio(own, _get(results, "floor", "own", "cpu_us_per_event")),
        "own_events_per_cpu_s_ours_over_otlp": _ratio(
            _get(results, ours, "own", "events_per_cpu_s"), _get(results, "otlp", "own", "events_per_cpu_s")
        ),
    }
    for variant in ("own-integrity", "own-spool"):
        key = variant.replace("-", "_")
        ratios[f"{key}_cpu_ours_over_otlp"] = _ratio(
            _get(results, ours, variant, "cpu_us_per_event"), _get(results, "otlp", "own", "cpu_us_per_event")
        )
    for scenario in ("stdlib", "api"):
        ours_cpu = _get(results, ours, scenario, "cpu_us_per_event")
        ours_eps = _get(results, ours, scenario, "events_per_cpu_s")
        ratios[f"{scenario}_cpu_ours_over_noop"] = _ratio(ours_cpu, _get(results, "noop", scenario, "cpu_us_per_event"))
        ratios[f"{scenario}_cpu_ours_over_floor"] = _ratio(
            ours_cpu, _get(results, "floor", scenario, "cpu_us_per_event")
        )
        ratios[f"{scenario}_events_per_cpu_s_ours_over_otlp"] = _ratio(
            ours_eps, _get(results, "otlp", scenario, "events_per_cpu_s")
        )
        ratios[f"{scenario}_events_per_cpu_s_ours_over_watchtower"] = _ratio(
            ours_eps, _get(results, "watchtower", scenario, "events_per_cpu_s")
        )
    return ratios


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    """Headline ratios (ours against each peer) and, on a full run, the issue's targets."""
    ratios = _ratios_for(results, "ours")
    ours_own = _get(results, "ours", "own", "cpu_us_per_event")
    growth = _get(results, "ours", "burst", "rss_growth_mb")

    def check(value: float | None, limit: float, *, at_least: bool = False) -> dict[str, Any]:
        met = None if value is None else (value >= limit if at_least else value <= limit)
        return {"value": value, "target": f"{'>=' if at_least else '<='} {limit}", "met": met}

    targets = {
        "exporter-own CPU us/event <= 3": check(ours_own, TARGET_OWN_US),
        "exporter-own CPU <= 0.1x OTLP/HTTP's (same run)": check(ratios["own_cpu_ours_over_otlp"], TARGET_OWN_VS_OTLP),
    }
    for scenario, label in (("stdlib", "stdlib"), ("api", "API")):
        targets[f"whole pipeline ({label}) <= 1.15x SDK do-nothing"] = check(
            ratios[f"{scenario}_cpu_ours_over_noop"], TARGET_PIPELINE_VS_NOOP
        )
    for scenario, label in (("stdlib", "stdlib"), ("api", "API")):
        targets[f"events/CPU-s >= 2.5x OTLP/HTTP ({label} pipeline)"] = check(
            ratios[f"{scenario}_events_per_cpu_s_ours_over_otlp"], TARGET_VS_OTLP, at_least=True
        )
    targets["peak RSS growth < 50 MB over the burst"] = check(growth, TARGET_RSS_GROWTH_MB)
    return {"ratios": ratios, "targets": targets}


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if abs(value) >= 10_000:
            return f"{value / 1000:,.0f}k"
        return f"{value:,.{digits}f}"
    return str(value)


def _cell(results: dict[str, Any], contender: str, scenario: str, key: str, digits: int = 1) -> str:
    entry = results.get(contender, {}).get(scenario)
    if entry is None:
        return "n/a"
    if "skipped" in entry:
        return str(entry["skipped"]) if str(entry["skipped"]).startswith("n/a") else "n/a"
    if "error" in entry:
        return "ERROR"
    return _fmt(entry.get(key), digits)


def tables(results: dict[str, Any], contenders: Sequence[str]) -> str:
    """Two Markdown tables: CPU and throughput; memory and latency."""
    lines = [
        "| contender | exporter-own CPU us/ev | stdlib pipeline CPU us/ev | stdlib ev/s | stdlib ev/CPU-s "
        "| API pipeline CPU us/ev | API ev/s | API ev/CPU-s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in contenders:
        if "skipped" in results.get(name, {}):
            lines.append(f"| {LABELS[name]} | skipped: {results[name]['skipped']} |||||||")
            continue
        cells = [
            _cell(results, name, "own", "cpu_us_per_event", 2),
            _cell(results, name, "stdlib", "cpu_us_per_event"),
            _cell(results, name, "stdlib", "events_per_s"),
            _cell(results, name, "stdlib", "events_per_cpu_s"),
            _cell(results, name, "api", "cpu_us_per_event"),
            _cell(results, name, "api", "events_per_s"),
            _cell(results, name, "api", "events_per_cpu_s"),
        ]
        lines.append(f"| {LABELS[name]} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| contender | burst peak RSS MB | burst RSS growth MB | info() p50 us | info() p99 us "
        "| paced rate ev/s | delivery p50 ms | delivery p99 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in contenders:
        if "skipped" in results.get(name, {}):
            continue
        cells = [
            _cell(results, name, "burst", "peak_rss_mb"),
            _cell(results, name, "burst", "rss_growth_mb"),
            _cell(results, name, "paced", "call_us_p50"),
            _cell(results, name, "paced", "call_us_p99"),
            _cell(results, name, "paced", "achieved_rate", 0),
            _cell(results, name, "paced", "delivery_ms_p50", 0),
            _cell(results, name, "paced", "delivery_ms_p99", 0),
        ]
        lines.append(f"| {LABELS[name]} | " + " | ".join(cells) + " |")
    variants = [name for name in contenders if any(v in results.get(name, {}) for v in VARIANTS)]
    if variants:
        lines += [
            "",
            "| contender | exporter-own CPU us/ev | with integrity=True | with a spool (healthy endpoint) |",
            "| --- | ---: | ---: | ---: |",
        ]
        for name in variants:
            cells = [_cell(results, name, scenario, "cpu_us_per_event", 2) for scenario in ("own", *VARIANTS)]
            lines.append(f"| {LABELS[name]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _versions() -> dict[str, str]:
    found = {}
    for dist in (
        "otel-cw-exporter",
        "opentelemetry-sdk",
        "opentelemetry-exporter-otlp-proto-http",
        "watchtower",
        "boto3",
        "botocore",
        "orjson",
        "protobuf",
    ):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return found


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000, help="N for the throughput scenarios")
    parser.add_argument("--batch-size", type=int, default=10_000, help="records per export() for exporter-own")
    parser.add_argument("--burst", type=int, default=200_000, help="records in the RSS burst")
    parser.add_argument("--rate", type=int, default=10_000, help="events/s in the paced scenario")
    parser.add_argument("--seconds", type=float, default=4.0, help="length of the paced scenario")
    parser.add_argument("--export-batch-size", type=int, default=10_000, help="BatchLogRecordProcessor batch")
    parser.add_argument("--contenders", default=",".join(ALL), help=f"comma-separated, from {','.join(ALL + EXTRA)}")
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS + VARIANTS),
        help=f"comma-separated, from {','.join(SCENARIOS + VARIANTS)} (the variants: ours with integrity / a spool)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per scenario; the median run is kept")
    parser.add_argument("--quick", action="store_true", help="tiny N, one process per contender, no targets")
    parser.add_argument("--output", type=Path, help="JSON file to write (default benchmarks/results/<date>.json)")
    parser.add_argument("--worker-timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    if args.quick:
        args.records, args.batch_size, args.burst = 1000, 500, 2000
        args.rate, args.seconds, args.export_batch_size = 2000, 0.5, 512
        args.worker_timeout = min(args.worker_timeout, 60.0)
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run everything, print the tables and the ratios, write the JSON; return what was written."""
    args = parse_args(argv)
    contenders = [name.strip() for name in args.contenders.split(",") if name.strip()]
    scenarios = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    for name in contenders:
        if name not in ALL + EXTRA:
            raise SystemExit(f"unknown contender {name!r}; choose from {', '.join(ALL + EXTRA)}")
    for name in scenarios:
        if name not in SCENARIOS + VARIANTS:
            raise SystemExit(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS + VARIANTS)}")
    started = time.perf_counter()
    load_before = os.getloadavg()
    results: dict[str, Any] = {}
    sink = Sink()
    try:
        # Repeats interleave the contenders (ours, a peer, ours, a peer, ...): a slow spell of a shared
        # machine then falls on both sides of a ratio, not on one contender's three runs.
        plan: list[tuple[str, list[str]]] = []
        for name in contenders:
            missing = missing_dependency(name)
            if missing:
                results[name] = {"skipped": missing}
                print(f"[bench] {name}: skipped ({missing})", file=sys.stderr, flush=True)
                continue
            wanted = [s for s in scenarios if s in APPLIES[name]]
            results[name] = {}
            # Quick mode: one process per contender. Full mode: one per scenario (no peak-RSS carry-over).
            plan.extend((name, group) for group in ([wanted] if args.quick else [[s] for s in wanted]))
        runs: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = {(n, tuple(g)): [] for n, g in plan}
        for _ in range(1 if args.quick else max(1, args.repeat)):
            for name, group in plan:
                t0 = time.perf_counter()
                found, stderr = run_worker(name, group, sink, args)
                runs[(name, tuple(group))].append(found)
                failed = [s for s in group if "error" in found.get(s, {"error": "missing"})]
                print(
                    f"[bench] {name} {','.join(group)}: {time.perf_counter() - t0:.1f} s"
                    + (f" FAILED {failed}\n{stderr}" if failed else ""),
                    file=sys.stderr,
                    flush=True,
                )
        for (name, group_key), found_runs in runs.items():
            for scenario in group_key:
                results[name][scenario] = median_run(
                    [run.get(scenario, {"error": "missing"}) for run in found_runs], scenario
                )
    finally:
        sink.stop()

    summary = summarize(results)
    today = _dt.date.today().isoformat()
    document: dict[str, Any] = {
        "date": today,
        "quick": args.quick,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "processor": platform.processor() or platform.machine(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "versions": _versions(),
        "parameters": {
            "records": args.records,
            "batch_size": args.batch_size,
            "burst": args.burst,
            "rate": args.rate,
            "seconds": args.seconds,
            "export_batch_size": args.export_batch_size,
            "schedule_delay_ms": 1000,
            "repeat": 1 if args.quick else args.repeat,
        },
        "results": results,
        "ratios": summary["ratios"],
        "targets": None if args.quick else summary["targets"],
        "elapsed_s": time.perf_counter() - started,
    }
    table = tables(results, contenders)
    print(f"\n## Benchmark {today}{' (quick: not comparable, no targets)' if args.quick else ''}")
    repeat = "" if args.quick or args.repeat < 2 else f", median of {args.repeat} runs"
    print(
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, N={args.records}, burst={args.burst}{repeat}; "
        f"load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after\n"
    )
    print(table)
    print("\nRatios (ours against each peer):")
    for key, value in summary["ratios"].items():
        print(f"  {key}: {_fmt(value, 2)}")
    if not args.quick:
        print("\nTargets:")
        for key, check in summary["targets"].items():
            verdict = {True: "MET", False: "NOT MET", None: "not measured"}[check["met"]]
            print(f"  {key}: {_fmt(check['value'], 2)} ({check['target']}) -> {verdict}")
    output = args.output or RESULTS / (f"{today}-quick.json" if args.quick else f"{today}.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwrote {output}")
    return document


if __name__ == "__main__":
    main()
