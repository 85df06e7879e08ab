"""Process lifecycles in subprocesses: exit, shutdown, SIGTERM, fork, and the logging feedback loop."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from otel_cw_exporter.testing import LocalCloudWatchLogs
from tests.support import silent_server

ROOT = Path(__file__).resolve().parent.parent

PRELUDE = """
import logging, os, signal, sys, time
from opentelemetry._logs import set_logger_provider
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from otel_cw_exporter import CloudWatchLogRecordExporter

import boto3
user_client = boto3.session.Session().client("logs") if os.environ.get("USER_CLIENT") else None
exporter = CloudWatchLogRecordExporter(
    log_group_name="life",
    log_stream_name=os.environ["STREAM"],
    create_log_group=True,
    timeout=float(os.environ.get("TIMEOUT", "2")),
    client=user_client,
)
provider = LoggerProvider(resource=Resource.create({"service.name": "life"}))
provider.add_log_record_processor(
    BatchLogRecordProcessor(exporter, schedule_delay_millis=int(os.environ.get("DELAY", "60000")), max_queue_size=20000)
)
set_logger_provider(provider)
logger = provider.get_logger("app")

def emit(n, who):
    for i in range(n):
        logger.emit(body=f"{who} {i}", attributes={"i": i, "who": who})
"""


def run(
    script: str, endpoint_env: dict[str, str], stream: str, timeout: float = 90, **env: str
) -> tuple[int, float, str]:
    environ = {**os.environ, **endpoint_env, "STREAM": stream, **env}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(script)],
        env=environ,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done.returncode, time.monotonic() - started, done.stderr


def arrived(endpoint: LocalCloudWatchLogs, stream: str) -> Counter[tuple[str, int]]:
    return Counter((e["extra"]["who"], e["extra"]["i"]) for e in endpoint.events("life", stream))


@pytest.mark.parametrize(
    "ending",
    [
        "pass  # interpreter exit: the provider's atexit hook drains the queue",
        "provider.shutdown()",
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(0)); os.kill(os.getpid(), signal.SIGTERM); time.sleep(30)",
    ],
    ids=["interpreter-exit", "provider-shutdown", "sigterm-handled"],
)
def test_everything_queued_is_delivered_at_normal_exit(cloudwatch_logs: LocalCloudWatchLogs, ending: str) -> None:
    code, _, stderr = run(f"emit(5000, 'app')\n{ending}\n", cloudwatch_logs.environ, "exit")
    assert code == 0, stderr
    counts = arrived(cloudwatch_logs, "exit")
    assert len(counts) == 5000 and set(counts.values()) == {1}


def test_exit_with_a_dead_endpoint_is_bounded(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**cloudwatch_logs.environ, "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": f"http://127.0.0.1:{port}"}
    code, elapsed, stderr = run("emit(5000, 'app')\n", env, "dead")
    assert code == 0, stderr
    # One export spends its 2 s timeout, the endpoint is then known down: the rest fail at once.
    assert elapsed < 25, elapsed  # a hang bound, far above the ~3 s it takes
    print(f"exit with a dead endpoint took {elapsed:.2f} s")


def test_prefork_children_deliver_their_own_and_the_parents_records_go_once(
    cloudwatch_logs: LocalCloudWatchLogs,
) -> None:
    script = """
    emit(10, "parent")
    children = []
    for c in range(3):
        pid = os.fork()
        if pid == 0:
            emit(10, f"child{c}")
            sys.exit(0)  # gunicorn-style worker exit: atexit runs in the child
        children.append(pid)
    for pid in children:
        assert os.waitpid(pid, 0)[1] == 0
    """
    code, _, stderr = run(script, cloudwatch_logs.environ, "fork")
    assert code == 0, stderr
    counts = arrived(cloudwatch_logs, "fork")
    assert set(counts.values()) == {1}  # nothing twice: the parent's queue is not inherited
    assert Counter(who for who, _ in counts) == {"parent": 10, "child0": 10, "child1": 10, "child2": 10}


@pytest.mark.parametrize("user_client", ["", "1"], ids=["built-client", "user-client"])
def test_a_forked_child_never_uses_the_parents_client(cloudwatch_logs: LocalCloudWatchLogs, user_client: str) -> None:
    # The parent has sent before forking, so its client (and connection pool) exists when it forks.
    script = """
    emit(10, "parent")
    provider.force_flush()
    parent_client = exporter._delivery.client()
    read_end, write_end = os.pipe()
    children = []
    for c in range(2):
        pid = os.fork()
        if pid == 0:
            emit(10, f"child{c}")
            provider.force_flush()
            own = exporter._delivery.client()
            sent = exporter.stats.events_sent
            os.write(write_end, b"new" if own is not parent_client and sent == 10 else b"SHARED")
            sys.exit(0)
        children.append(pid)
    for pid in children:
        assert os.waitpid(pid, 0)[1] == 0
    answers = os.read(read_end, 64)
    assert answers == b"newnew", answers
    emit(10, "parent-after")  # the parent's own client still works after its children came and went
    """
    code, _, stderr = run(script, cloudwatch_logs.environ, "fork-client", USER_CLIENT=user_client)
    assert code == 0, stderr
    counts = arrived(cloudwatch_logs, "fork-client")
    assert set(counts.values()) == {1}
    assert Counter(who for who, _ in counts) == {"parent": 10, "child0": 10, "child1": 10, "parent-after": 10}


def test_multiprocessing_fork_children_deliver(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    script = """
    import multiprocessing
    emit(10, "parent")
    def work(c):
        emit(10, f"worker{c}")
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=work, args=(c,)) for c in range(2)]
    for w in workers: w.start()
    for w in workers: w.join(); assert w.exitcode == 0
    pool = ctx.Pool(2)
    pool.map(work, [10, 11])
    pool.close()  # not terminate(): that kills workers before they flush
    pool.join()
    """
    code, _, stderr = run(script, cloudwatch_logs.environ, "mp")
    assert code == 0, stderr
    counts = arrived(cloudwatch_logs, "mp")
    assert set(counts.values()) == {1}
    assert Counter(who for who, _ in counts) == {
        "parent": 10,
        "worker0": 10,
        "worker1": 10,
        "worker10": 10,
        "worker11": 10,
    }


@pytest.mark.parametrize("handler", ["ours", "sdk"])
def test_debug_bridging_goes_quiet(cloudwatch_logs: LocalCloudWatchLogs, handler: str) -> None:
    script = f"""
    import warnings
    warnings.simplefilter("ignore")
    if "{handler}" == "ours":
        from otel_cw_exporter.stdlib import OTelHandler as Handler
    else:
        from opentelemetry.sdk._logs import LoggingHandler as Handler
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    root.addHandler(Handler(logger_provider=provider))
    app = logging.getLogger("app")
    for i in range(100):
        app.info("app %d", i, extra={{"i": i, "who": "app"}})
    provider.force_flush()
    before = exporter.stats.requests
    time.sleep(1.0)  # ten schedule cycles: a loop would keep exporting
    provider.force_flush()
    stats = exporter.stats
    print("requests", before, stats.requests, "ignored", stats.events_ignored_feedback, file=sys.stderr)
    assert stats.requests == before, (before, stats.requests)
    assert stats.events_sent == 100, stats
    provider.shutdown()
    """
    code, _, stderr = run(script, cloudwatch_logs.environ, "quiet", DELAY="100")
    assert code == 0, stderr
    events = cloudwatch_logs.events("life", "quiet")
    assert len(events) == 100
    assert all(e["logger"] == "app" for e in events)


def test_debug_bridging_stays_bounded_when_the_endpoint_fails(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    from otel_cw_exporter.testing import Fault

    cloudwatch_logs.inject(
        lambda call: Fault("ServiceUnavailableException", 503) if call.operation == "PutLogEvents" else None
    )
    script = """
    import warnings
    warnings.simplefilter("ignore")
    from opentelemetry.sdk._logs import LoggingHandler
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    root.addHandler(LoggingHandler(logger_provider=provider))
    for i in range(100):
        logging.getLogger("app").info("app %d", i, extra={"i": i, "who": "app"})
    time.sleep(3)
    provider.shutdown()
    stats = exporter.stats
    print("dropped", dict(stats.dropped), "ignored", stats.events_ignored_feedback, file=sys.stderr)
    # Only the application's 100 records were ever attempted: the failures' own logs were not exported.
    assert sum(stats.dropped.values()) == 100, stats
    """
    code, _, stderr = run(script, cloudwatch_logs.environ, "failing", DELAY="100")
    assert code == 0, stderr


@pytest.mark.parametrize("ending", ["pass", "provider.shutdown()"], ids=["interpreter-exit", "provider-shutdown"])
def test_exit_is_bounded_when_the_endpoint_never_answers_and_every_event_is_counted(
    cloudwatch_logs: LocalCloudWatchLogs, ending: str
) -> None:
    # Before: each of the ten queued batches got one attempt and waited a whole read timeout (9.1 s with
    # timeout=2), and the one warning said "dropped 512" when 5,000 were lost.
    code, baseline, stderr = run("emit(0, 'app')\n", cloudwatch_logs.environ, "baseline")
    assert code == 0, stderr
    with silent_server() as url:
        env = {**cloudwatch_logs.environ, "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": url}
        code, elapsed, stderr = run(f"emit(5000, 'app')\n{ending}\n", env, "silent", TIMEOUT="2")
    assert code == 0, stderr
    assert elapsed - baseline < 2 + 1 + 1.5, (elapsed, baseline)  # timeout, GRACE, and slack for a busy machine
    [final] = [line for line in stderr.splitlines() if "since start" in line]
    assert final.endswith("5000 CloudWatch event(s) were not stored since start (5000 retry_budget)"), stderr
    print(f"exit against an endpoint that never answers: {elapsed - baseline:.2f} s over a {baseline:.2f} s start")


QUICKSTART = """
import logging
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from otel_cw_exporter import CloudWatchLogRecordExporter, OTelHandler

provider = LoggerProvider(resource=Resource.create({"service.name": "integrates"}))
provider.add_log_record_processor(
    BatchLogRecordProcessor(CloudWatchLogRecordExporter(log_group_name="missing", log_stream_name="transactional"))
)
logging.getLogger().addHandler(OTelHandler(logger_provider=provider))
logging.getLogger().setLevel(logging.INFO)
for n in range(100):
    logging.getLogger("transactional").info("Added secret", extra={"extra": {"log_type": "Security", "n": n}})
"""


def test_the_quickstart_says_why_nothing_was_stored(cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path) -> None:
    # Only an OTel bridge on the root logger: before, the exporter's warnings were dropped by it and
    # Python's last-resort handler stayed silent. Exit 0, nothing stored, nothing said.
    script = tmp_path / "quickstart.py"
    script.write_text(QUICKSTART)
    done = subprocess.run(
        [sys.executable, str(script)],
        env={**os.environ, **cloudwatch_logs.environ},
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert any("ResourceNotFoundException" in line and "create the log group" in line for line in lines), lines
    assert (
        lines[-1]
        == "otel-cw-exporter: warning: dropped 100 CloudWatch event(s), reason non_retryable in missing/transactional"
    )
    assert all(line.startswith("otel-cw-exporter: warning: ") for line in lines) and len(lines) <= 4  # rate-limited


def test_no_region_is_said_on_stderr(tmp_path: Path) -> None:
    script = tmp_path / "noregion.py"
    script.write_text(
        "import otel_cw_exporter\n"
        "otel_cw_exporter.setup(service_name='s', log_group_name='g', bridge_stdlib=True)\n"
        "otel_cw_exporter.cloudwatch_log(None, 'event', {'log_type': 'Audit'}, user_email='a@b.c')\n"
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OTEL_"))}
    environ.update(AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    done = subprocess.run(
        [sys.executable, str(script)], env=environ, capture_output=True, text=True, timeout=90, check=False
    )
    assert done.returncode == 0
    assert "NoRegionError" in done.stderr and "AWS_DEFAULT_REGION" in done.stderr, done.stderr


SPAWNED = """
import multiprocessing, os, otel_cw_exporter

def work(n):
    otel_cw_exporter.cloudwatch_log(None, f"child {n}", {"log_type": "Audit", "n": n}, user_email="a@b.c")
    return os.getpid()

if __name__ == "__main__":
    pool = multiprocessing.get_context(os.environ["START_METHOD"]).Pool(2, initializer=otel_cw_exporter.setup)
    pids = set(pool.map(work, range(20)))
    pool.close()
    pool.join()
    print(len(pids))
"""


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_spawned_children_deliver_with_setup_as_their_initializer(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path, method: str
) -> None:
    # A forkserver child leaves through os._exit, skipping atexit: before, its records were lost.
    script = tmp_path / "spawned.py"
    script.write_text(SPAWNED)
    environ = {
        **os.environ,
        **cloudwatch_logs.environ,
        "OTEL_SERVICE_NAME": "spawned",
        "OTEL_EXPORTER_CLOUDWATCH_LOGS_GROUP_NAME": "life",
        "OTEL_EXPORTER_CLOUDWATCH_LOGS_CREATE_GROUP": "true",
        "OTEL_BLRP_SCHEDULE_DELAY": "60000",  # nothing leaves before the child ends: its end must deliver
        "OTEL_EXPORTER_CLOUDWATCH_LOGS_STREAM_NAME": method,
        "START_METHOD": method,
    }
    done = subprocess.run(
        [sys.executable, str(script)], env=environ, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) >= 1
    assert sorted(e["extra"]["n"] for e in cloudwatch_logs.events("life", method)) == list(range(20))


SIGTERMED = """
import os, signal, time
import otel_cw_exporter

otel_cw_exporter.setup(
    service_name="life", log_group_name="life", log_stream_name="sigterm", create_log_group=True,
    processor_options={"schedule_delay_millis": 60000},
)
for n in range(100):
    otel_cw_exporter.cloudwatch_log(None, "queued", {"log_type": "Audit", "n": n}, user_email="a@b.c")
os.kill(os.getpid(), signal.SIGTERM)  # the default action: before, no Python ran and all 100 were lost
time.sleep(30)
"""


def test_sigterm_with_its_default_action_delivers_then_ends_the_process_by_sigterm(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path
) -> None:
    script = tmp_path / "sigtermed.py"
    script.write_text(SIGTERMED)
    done = subprocess.run(
        [sys.executable, str(script)],
        env={**os.environ, **cloudwatch_logs.environ},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == -15, done.stderr  # ended by SIGTERM, as it would have been
    assert sorted(e["extra"]["n"] for e in cloudwatch_logs.events("life", "sigterm")) == list(range(100))
