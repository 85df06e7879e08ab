"""The spool across processes, through the real pipeline (setup(), the stdlib bridge) and the local endpoint.

An outage while the application keeps logging, with a graceful restart, a forked child and a SIGKILL in
it: every event logged is stored exactly once afterwards (503 means not stored: no duplicate is
allowed). gunicorn with 3 workers during an outage, one killed: its file is adopted and drained once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from otel_cw_exporter.spool.files import pid_of, spool_files
from otel_cw_exporter.spool.store import Store, UnreadableSpool
from otel_cw_exporter.testing import Fault, LocalCloudWatchLogs
from tests.test_servers import free_port, get, wait_ready

OUTAGE = Fault("ServiceUnavailableException", 503)

APP = """
import json, logging, os, sys, time
import otel_cw_exporter
from otel_cw_exporter.app import configure

provider = otel_cw_exporter.setup(
    service_name="app", log_group_name="outage", log_stream_name="s", create_log_group=True,
    bridge_stdlib=True, timeout=0.5, spool_dir=os.environ["SPOOL"],
    processor_options={"schedule_delay_millis": 100},
)
exporter = configure.exporter()
exporter._replay._probe_base = exporter._replay._probe_cap = 0.2  # probe often: time is compressed
log = logging.getLogger("app")


def log_range(start, count):
    for n in range(start, start + count):
        log.info("logged", extra={"n": n})
        time.sleep(0.002)


def report(**more):
    s = exporter.stats
    print(json.dumps({"pid": os.getpid(), "spooled": s.events_spooled, "replayed": s.events_replayed,
                      "sent": s.events_sent, "dropped": dict(s.dropped), **more}), flush=True)


start, count, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
if mode == "fork":  # a forked child logs and spools on its own, in a file of its own
    pid = os.fork()
    if pid == 0:
        log_range(10_000, 50)
        provider.shutdown()
        report(child=True)
        os._exit(0)
    log_range(start, count)
    os.waitpid(pid, 0)
    provider.shutdown()  # a graceful end: what is pending is spooled
    report()
elif mode == "kill-me":  # everything handed to the spool, then wait for SIGKILL
    log_range(start, count)
    provider.force_flush()
    while exporter.stats.events_spooled < count:
        time.sleep(0.02)
    report()
    time.sleep(60)
else:  # the outage is over: log, replay the earlier runs' spools, end when drained
    log_range(start, count)
    deadline = time.monotonic() + 30
    mine = f"spool-{os.getpid()}-"  # its own file (if it kept some events itself) goes at shutdown
    while (spool_left := exporter.stats.spool_bytes or any(
            n.endswith(".sqlite3") and not n.startswith(mine) for n in os.listdir(os.environ["SPOOL"]))
            ) and time.monotonic() < deadline:
        provider.force_flush()
        time.sleep(0.05)
    provider.shutdown()
    report(drained=not spool_left)
"""


def run_app(tmp_path: Path, environ: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "app.py", *args],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    return {"runs": [json.loads(line) for line in done.stdout.splitlines()]}


def stored(endpoint: LocalCloudWatchLogs, group: str) -> Counter[int]:
    return Counter(e["extra"]["n"] for e in endpoint.events(group))


@pytest.mark.slow
def test_an_outage_with_a_restart_a_fork_and_a_sigkill_loses_and_doubles_nothing(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path
) -> None:
    (tmp_path / "app.py").write_text(APP)
    spool = tmp_path / "spool"
    environ = {**os.environ, **cloudwatch_logs.environ, "SPOOL": str(spool)}
    down = [True]
    cloudwatch_logs.inject(lambda call: OUTAGE if call.operation == "PutLogEvents" and down[0] else None)

    first = run_app(tmp_path, environ, "0", "300", "fork")["runs"]  # then a graceful restart
    assert len(spool_files(spool)) == 2  # the parent's file and the child's
    killed = subprocess.Popen(
        [sys.executable, "app.py", "300", "300", "kill-me"],
        cwd=tmp_path,
        env=environ,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert killed.stdout is not None
    second = json.loads(killed.stdout.readline())
    killed.send_signal(signal.SIGKILL)
    killed.wait(10)
    assert len(spool_files(spool)) == 3
    assert cloudwatch_logs.puts == []  # nothing stored during the outage

    down[0] = False  # the outage ends; the next start replays every earlier run's spool
    last = run_app(tmp_path, environ, "600", "100", "drain")["runs"][0]
    counts = stored(cloudwatch_logs, "outage")
    logged = [*range(700), *range(10_000, 10_050)]
    assert sorted(counts) == logged and set(counts.values()) == {1}, [n for n, c in counts.items() if c != 1]
    spooled = sum(run["spooled"] for run in first) + second["spooled"]
    # The last run replays the 650 the earlier runs kept, and what it kept itself (on a busy machine its
    # first export may come before its replay proved delivery works again).
    assert spooled == 650 and last["replayed"] == 650 + last["spooled"] and last["drained"], (first, second, last)
    assert spool_files(spool) == []
    assert all(not run["dropped"] for run in [*first, second, last]), (first, second, last)
    print(
        f"outage: logged {len(logged)}, spooled {spooled}, replayed {last['replayed']}, stored {sum(counts.values())}"
    )


WSGI = """
import logging, os, time
import otel_cw_exporter
from otel_cw_exporter.app import configure

otel_cw_exporter.setup(
    service_name="web", log_group_name="workers", log_stream_name="s", create_log_group=True,
    bridge_stdlib=True, timeout=0.5, spool_dir=os.environ["SPOOL"],
    processor_options={"schedule_delay_millis": 100},
)
configure.exporter()._replay._probe_base = configure.exporter()._replay._probe_cap = 0.2
log = logging.getLogger("web")


def wsgi(environ, start_response):
    path = environ["PATH_INFO"].strip("/")
    if path != "ready":
        log.info("served", extra={"n": int(path)})
        time.sleep(0.05)  # a busy sync worker accepts nothing: concurrent requests reach every worker
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
"""


def spooled_events(spool: Path) -> dict[Path, int]:
    held: dict[Path, int] = {}
    for path in spool_files(spool):
        try:
            store = Store(path, readonly=True)
        except UnreadableSpool:  # made a moment ago by a live worker: its schema is not written yet
            held[path] = 0
            continue
        held[path] = store.events
        store.close()
    return held


def wait_until(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.slow
def test_gunicorn_workers_spool_on_their_own_and_a_killed_ones_file_is_adopted_once(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path
) -> None:
    (tmp_path / "app.py").write_text(WSGI)
    spool = tmp_path / "spool"
    environ = {**os.environ, **cloudwatch_logs.environ, "SPOOL": str(spool)}
    down = [True]
    cloudwatch_logs.inject(lambda call: OUTAGE if call.operation == "PutLogEvents" and down[0] else None)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "3", "-b", f"127.0.0.1:{port}", "app:wsgi"],
        cwd=tmp_path,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_ready(server, url)
        with ThreadPoolExecutor(6) as pool:
            list(pool.map(lambda n: get(f"{url}/{n}"), range(90)))
        wait_until(lambda: sum(spooled_events(spool).values()) == 90)
        files = spooled_events(spool)
        victim = max(files, key=lambda path: files[path])  # the worker that holds the most
        os.kill(pid_of(victim) or 0, signal.SIGKILL)
        down[0] = False
        for n in range(90, 150):
            get(f"{url}/{n}")
        wait_until(lambda: not victim.exists() and sum(stored(cloudwatch_logs, "workers").values()) >= 150)
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert "Traceback" not in stderr, stderr
    counts = stored(cloudwatch_logs, "workers")
    assert sorted(counts) == list(range(150)) and set(counts.values()) == {1}, counts
    assert len(files) >= 2 and all(pid_of(path) for path in files)  # one file per worker that spooled
    assert sum(spooled_events(spool).values()) == 0
