"""The benchmark harness still runs: ``python -m benchmarks.run --quick`` in a subprocess, every contender checked.

Not a performance test (quick mode's numbers mean nothing): it proves that each contender whose
packages are installed delivered every event to the sink, in the event schema, and that the ones
that are not installed (watchtower, the OTLP exporter: not in the ``test`` extra) are reported as such.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
ALWAYS = ("ours", "noop", "floor")
OPTIONAL = {"watchtower": "watchtower", "otlp": "opentelemetry.exporter.otlp.proto.http"}
SCENARIOS = {
    "ours": ("own", "stdlib", "api", "burst", "paced"),
    "watchtower": ("stdlib", "burst", "paced"),
    "otlp": ("own", "stdlib", "api", "burst", "paced"),
    "noop": ("own", "stdlib", "api", "burst", "paced"),
    "floor": ("own", "stdlib", "api", "burst", "paced"),
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


@pytest.fixture(scope="module")
def quick(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    """One quick run for the whole module: its JSON document and what it printed."""
    output = tmp_path_factory.mktemp("bench") / "quick.json"
    printed = _run("benchmarks.run", "--quick", "--output", str(output), timeout=100)
    return json.loads(output.read_text()), printed


def _run(module: str, *arguments: str, timeout: float = 120) -> str:
    """``python -m module arguments...`` from the repository root; what it printed (it must succeed)."""
    done = subprocess.run(
        [sys.executable, "-m", module, *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"{module} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_every_installed_contender_delivers_every_event(quick: tuple[dict[str, Any], str]) -> None:
    document, _ = quick
    results = document["results"]
    expected = list(ALWAYS) + [name for name, module in OPTIONAL.items() if _installed(module)]
    for name in expected:
        assert "skipped" not in results[name], f"{name} was skipped: {results[name]}"
        for scenario in SCENARIOS[name]:
            entry = results[name][scenario]
            assert "error" not in entry, f"{name}/{scenario}: {entry['error']}"
            assert entry["events"] > 0
            assert entry["accepted"] == entry["events"], f"{name}/{scenario}: sink counted {entry['accepted']}"


def test_missing_peers_are_reported_not_silently_dropped(quick: tuple[dict[str, Any], str]) -> None:
    results = quick[0]["results"]
    for name, module in OPTIONAL.items():
        if not _installed(module):
            assert "is not installed" in results[name]["skipped"]


def test_ours_figures_are_real_numbers(quick: tuple[dict[str, Any], str]) -> None:
    results = quick[0]["results"]["ours"]
    assert results["own"]["all_success"] is True
    assert results["own"]["cpu_us_per_event"] > 0
    assert results["own"]["events"] == results["own"]["rounds"] * results["own"]["batch_size"]
    for scenario in ("stdlib", "api"):
        assert results[scenario]["cpu_us_per_event"] > 0
        assert results[scenario]["events_per_s"] > 0
        assert results[scenario]["events_per_cpu_s"] > 0
    assert results["burst"]["peak_rss_mb"] > 0
    assert results["paced"]["call_us_p50"] > 0
    assert results["paced"]["delivery_ms_p50"] is not None
    assert quick[0]["ratios"]["own_cpu_ours_over_floor"] > 0
    assert quick[0]["ratios"]["own_cpu_ours_over_otlp"] is None or quick[0]["ratios"]["own_cpu_ours_over_otlp"] > 0
    assert quick[0]["targets"] is None  # quick mode checks no targets


def test_ours_ships_the_seed_security_event_through_the_sink(quick: tuple[dict[str, Any], str]) -> None:
    own = quick[0]["results"]["ours"]["own"]
    event = json.loads(own["sample_message"])
    assert event["message"] == "Added secret"
    assert event["logger"] == "transactional"
    assert event["extra"]["log_type"] == "Security"
    assert event["extra"]["user_email"].endswith("@example.com")
    assert event["resource"]["service.name"] == "integrates"
    assert len(event["trace_id"]) == 32
    assert len(event["span_id"]) == 16


def test_table_names_every_contender(quick: tuple[dict[str, Any], str]) -> None:
    _, printed = quick
    for label in ("otel-cw-exporter", "SDK + do-nothing exporter", "dict+dumps+POST", "Ratios"):
        assert label in printed


def test_the_integrity_and_spool_variants_are_measured_or_said_unavailable(quick: tuple[dict[str, Any], str]) -> None:
    document, printed = quick
    for variant in ("own-integrity", "own-spool"):
        entry = document["results"]["ours"][variant]
        assert "error" not in entry, entry
        if "skipped" in entry:  # a version without the option
            assert entry["skipped"] == "n/a (option not available)"
        else:
            assert entry["accepted"] == entry["events"] > 0
            assert entry["cpu_us_per_event"] > 0
    assert "with integrity=True" in printed


def test_the_spool_rates_benchmark_runs(tmp_path: Path) -> None:
    """``python -m benchmarks.spool_rates --quick``: every figure is there (quick numbers mean nothing)."""
    out = tmp_path / "spool.json"
    printed = _run("benchmarks.spool_rates", "--quick", "--json", str(out))
    figures = json.loads(out.read_text())
    for name in ("write_events_per_s", "replay_events_per_s", "cpu_us_per_event_with_spool"):
        assert figures[name] > 0, figures
    assert printed.startswith("spool write: "), printed


def _figure(printed: str, stage: str) -> float:
    (line,) = [line for line in printed.splitlines() if line.strip().startswith(stage)]
    return float(line.split(stage, 1)[1].split()[0])


def test_the_cprofile_breakdown_sees_the_sender_thread() -> None:
    """The requests run on the exporter's sender thread: its botocore call and body are in the profile
    (they were missing, and the calling thread's wait was most of it, before the sender got its own)."""
    printed = _run("benchmarks.profile_export", "--batch-size", "2000", "--batches", "2", "--top", "3")
    assert _figure(printed, "delivery: one request (Delivery._put)") > 0
    assert _figure(printed, "botocore: payload SHA-256 (payload)") > 0
    assert _figure(printed, "delivery: request body (wire.BodyBuffer.write)") > 0
    assert _figure(printed, "encoding: runs of records together (FastEncoder._chunk)") > 0


def test_the_floor_mode_prints_export_beside_delivery_alone() -> None:
    printed = _run("benchmarks.profile_export", "--floor")  # as the README shows it
    figures = [
        _figure(printed, name)
        for name in (
            "export() of the batch",
            "delivery alone of the same events, encoded beforehand",
            "reading the eight record fields an encoder needs",
        )
    ]
    assert all(value > 0 for value in figures), printed
