"""benchmarks/fleet.py: the fleet arithmetic is right, and the simulation shows throttling absorbed.

The simulation runs real processes (LoggerProvider + BatchLogRecordProcessor + our exporter) against one
local endpoint on 127.0.0.1 with a request-rate quota. The assertions are about the numbers agreeing
with each other (stored == logged, nothing dropped, the throttles the endpoint answered are the ones the
exporters counted, never more requests let through in a second than the quota), never about speed.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.fleet import (
    Load,
    events_per_export,
    events_per_request,
    processes_served,
    requests_per_export,
    requests_per_second,
)
from otel_cw_exporter.testing import LocalCloudWatchLogs

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Fleets: what one process sends, and what a quota serves"


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def _figures(printed: str) -> dict[str, str]:
    """The report's ``label  value`` lines: label -> value."""
    figures = {}
    for line in printed.splitlines():
        label, _, value = line.partition("  ")
        if value.strip():
            figures[label.strip()] = value.strip()
    return figures


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=90, check=False)


def _readme_commands() -> list[str]:
    """The fleet commands the README's section shows, as written (``.venv/bin/python`` is the venv's
    interpreter; the tests' own interpreter stands in for it where the repository has no .venv)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index(SECTION) :]
    section = section[: section.index("\n## ", len(SECTION))]
    commands = re.findall(r"^(?:\$ )?(nice -n 5 \.venv/bin/python -m benchmarks\.fleet.*)$", section, re.M)
    assert commands, "the README's fleet section shows no command"
    return commands


def _argv(command: str) -> list[str]:
    argv = shlex.split(command)
    if not (ROOT / ".venv" / "bin" / "python").exists():
        argv[argv.index(".venv/bin/python")] = sys.executable
    return argv


def test_events_per_request_are_bounded_by_bytes_then_by_count() -> None:
    assert events_per_request(541) == 1_048_576 // 567 == 1849
    assert events_per_request(50) == 10_000  # small events: the 10,000-event limit binds
    assert events_per_request(2_000_000) == 1


def test_requests_per_second_follow_the_processor_schedule() -> None:
    slow = Load(event_bytes=541, rate=100, schedule_delay_ms=1000, batch_size=512)
    assert events_per_export(slow) == 100
    assert requests_per_export(slow) == 1
    assert requests_per_second(slow) == 1.0  # one export a second, one request each
    busy = Load(event_bytes=541, rate=10_000, schedule_delay_ms=1000, batch_size=512)
    assert events_per_export(busy) == 512  # a full batch wakes the processor before the delay
    assert requests_per_second(busy) == pytest.approx(10_000 / 512)
    big = Load(event_bytes=541, rate=10_000, schedule_delay_ms=1000, batch_size=10_000)
    assert requests_per_export(big) == 6  # 10,000 events of 567 bytes need 6 requests of at most 1,849
    three = Load(event_bytes=541, rate=100, schedule_delay_ms=1000, batch_size=512, streams=3)
    assert requests_per_second(three) == 3.0  # one request per stream per export
    rare = Load(event_bytes=541, rate=0.5, schedule_delay_ms=1000, batch_size=512)
    assert requests_per_second(rare) == 0.5  # an export only when a record waits
    assert requests_per_second(Load(rate=0)) == 0
    assert processes_served(5000, 1.0) == 5000
    assert processes_served(5000, 19.53) == 256
    assert processes_served(5000, 0.0) is None


def test_the_readme_arithmetic_commands_print_the_figures() -> None:
    arithmetic = [command for command in _readme_commands() if "--simulate" not in command]
    assert arithmetic
    for command in arithmetic:
        done = _run(_argv(command))
        assert done.returncode == 0, done.stderr[-2000:]
        figures = _figures(done.stdout)
        per_request = _number(figures["events per request, at most"].split()[0])
        per_process = _number(figures["requests/s per process"].split()[0])
        served = _number(figures["processes one quota serves"].split()[0])
        quota = _number(figures["quota"].split()[0])
        assert per_request == 1849
        assert served == int(quota / per_process)


def test_a_bad_parameter_is_refused_with_exit_code_2() -> None:
    done = _run([sys.executable, "-m", "benchmarks.fleet", "--batch-size", "0"])
    assert done.returncode == 2
    assert "must be positive" in done.stderr
    done = _run([sys.executable, "-m", "benchmarks.fleet", "--simulate", "99"])
    assert done.returncode == 2
    assert "--simulate takes 1..16 processes" in done.stderr
    done = _run([sys.executable, "-m", "benchmarks.fleet", "--simulate", "2", "--stream", "{unclosed"])
    assert done.returncode == 2
    assert "--stream: " in done.stderr and "is never closed" in done.stderr


def _check_simulation(printed: str, processes: int) -> dict[str, str]:
    figures = _figures(printed[printed.index("Fleet simulation") :])
    logged = _number(figures["events logged"])
    quota = _number(figures["quota"].split()[0])
    assert logged > 0
    assert _number(figures["throttles answered (endpoint)"]) == _number(figures["throttles counted (exporters' stats)"])
    accepted = figures["accepted requests/s"]
    most = re.search(r"(\d+) most in one second", accepted)
    assert most is not None and 0 < int(most.group(1)) <= quota, accepted
    assert figures["streams"].startswith(f"{processes}: Security/sim-host-0/")  # one per process (and log type)
    dropped = _number(figures["dropped (exporters' stats)"].split()[0])
    counted = re.search(r"'queue_full': (\d+)", figures["dropped (exporters' stats)"])
    # The exporters see every drop the SDK's processor counts (it tells them), no more, no fewer.
    assert (int(counted.group(1)) if counted else 0) == _number(
        figures["the SDK's own count of its queue-full drops"].split()[0]
    )
    assert _number(figures["duplicates"]) == 0
    stored = _number(figures["events stored (read back)"])
    missing = _number(figures["missing (logged - stored - dropped)"].split()[0])
    if dropped == 0:
        assert missing == 0 and stored == logged
    else:  # every loss accounted for; the SDK's queue-full count races with its worker: it may count
        # records it kept (a few per thousand)
        assert -(10 + dropped // 50) <= missing <= 0, figures
    return figures


def test_the_readme_shows_three_simulations() -> None:
    assert len([command for command in _readme_commands() if "--simulate" in command]) == 3


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("index", range(3))  # one test each: the workers run them side by side
def test_the_readme_simulations_run_as_written(index: int) -> None:
    """Every simulation the README shows, verbatim: exit code 0 and no loss where it says so, exit
    code 1 with every lost event accounted for where the quota is too low for the log rate."""
    command = [command for command in _readme_commands() if "--simulate" in command][index]
    done = _run(_argv(command))
    processes = int(command.split("--simulate")[1].split()[0])
    figures = _check_simulation(done.stdout, processes)
    if done.returncode == 0:  # over the quota, throttled, and nothing lost
        assert figures["result"].startswith("no loss")
        assert _number(figures["events stored (read back)"]) == _number(figures["events logged"])
        assert _number(figures["dropped (exporters' stats)"].split()[0]) == 0
        if "--rate" not in command:  # the first: twice the quota unthrottled, so throttled and absorbed
            assert _number(figures["throttles answered (endpoint)"]) > 0
    else:
        assert done.returncode == 1, done.stderr[-3000:]
        assert figures["result"].startswith("LOSS")


def test_the_readme_stream_names_give_one_stream_per_process_and_log_type(
    cloudwatch_logs: LocalCloudWatchLogs,
) -> None:
    """Both namings the README's fleet section shows: a template of the log type, and routes."""
    from opentelemetry.sdk.resources import Resource

    from otel_cw_exporter import CloudWatchLogRecordExporter, Route
    from tests.support import make_record

    resource = Resource({"service.name": "integrates", "host.name": "web-1"})
    records = [
        make_record("Added secret", {"extra": {"log_type": "Security"}}, resource=resource),
        make_record("started", {}, resource=resource),
    ]
    pid = os.getpid()
    for group, options, expected in [
        (
            "by-template",
            {"log_stream_name": "{log_type}/{host.name}/{pid}"},
            {f"Security/web-1/{pid}", f"unknown-log_type/web-1/{pid}"},
        ),
        (
            "by-route",
            {
                "log_stream_name": "application/{host.name}/{pid}",
                "routes": [Route(when={"log_type": "Security"}, log_stream_name="security/{host.name}/{pid}")],
            },
            {f"security/web-1/{pid}", f"application/web-1/{pid}"},
        ),
    ]:
        exporter = CloudWatchLogRecordExporter(
            log_group_name=group, client=cloudwatch_logs.client(), create_log_group=True, **options
        )
        exporter.export(records)
        exporter.shutdown()
        assert set(cloudwatch_logs.streams(group)) == expected
        assert exporter.stats.events_sent == 2
