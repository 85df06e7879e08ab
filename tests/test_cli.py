"""The ``otel-cw-exporter`` command, end to end: each command in a subprocess against the local endpoint.

Faults (access denied...) are injected into the local endpoint, which runs in this test process, so the
command in its subprocess meets them over HTTP as it would meet AWS. moto has no Logs Insights query
definitions: ``queries`` talks to :class:`QueryDefinitionsProxy`, a small in-memory stand-in for those
three operations that forwards every other call to the local endpoint.

The slowest test, :func:`test_readme_first_command_in_a_clean_venv` (marked ``slow``), installs the
package with its ``local`` extra into a new virtual environment exactly as the README says and runs
the demo (about a minute).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from otel_cw_exporter import cli, queries
from otel_cw_exporter.insights import run as run_query
from otel_cw_exporter.testing import Call, Fault, LocalCloudWatchLogs

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).with_name("otel-cw-exporter")
GROUP = "integrates"
T1 = "0af7651916cd43dd8448eb211c80319c"
T2 = "4bf92f3577b34da6a3ce929d0e0e4736"
SEED_SECURITY = """fields @timestamp, extra.user_email, message, extra.resource_type
| filter extra.log_type = "Security"
| sort @timestamp desc
| limit 100"""
SEED_ERRORS = """fields @timestamp, message, extra.operation
| filter level = "ERROR"
| sort @timestamp desc | limit 50"""


# --------------------------------------------------------------------------- running the command


def clean_environ(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This process's environment without AWS or exporter settings, and no way to reach real AWS creds."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OTEL_"))}
    environ.update(
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        COLUMNS="100",
        PYTHONUNBUFFERED="1",
    )
    environ.pop("PYTHONPATH", None)
    environ.update(extra)
    return environ


def local_environ(tmp_path: Path, endpoint: LocalCloudWatchLogs, **extra: str) -> dict[str, str]:
    """Credentials, region and endpoint of the local endpoint (STS too), as boto3 reads them."""
    return clean_environ(tmp_path, **{**endpoint.environ, "AWS_ENDPOINT_URL_STS": endpoint.url, **extra})


def run_cli(
    args: list[str], environ: dict[str, str], cwd: Path, timeout: float = 60, module: bool = True
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "otel_cw_exporter", *args] if module else [str(SCRIPT), *args]
    return subprocess.run(command, env=environ, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def run_all(
    runs: list[tuple[list[str], dict[str, str]]], cwd: Path, timeout: float = 60
) -> list[subprocess.CompletedProcess[str]]:
    """Independent runs of the command at once (each one mostly waits: Python's start, then HTTP)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda run: run_cli(run[0], run[1], cwd, timeout), runs))


def one_error_line(done: subprocess.CompletedProcess[str], code: int) -> str:
    """The command failed with ``code`` and said why in exactly one line, with no traceback."""
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("otel-cw-exporter: error: ")
    return lines[0]


def put(endpoint: LocalCloudWatchLogs, group: str, stream: str, *messages: dict[str, Any]) -> None:
    """Store events shaped as the exporter writes them."""
    client = endpoint.client()
    with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
        client.create_log_group(logGroupName=group)
    with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
        client.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000)
    client.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": now + i, "message": json.dumps(m)} for i, m in enumerate(messages)],
    )


def event(message: str, level: str = "INFO", trace_id: str = T1, **extra: Any) -> dict[str, Any]:
    return {
        "timestamp": "2026-11-24T09:15:02.123456Z",
        "level": level,
        "message": message,
        "logger": "transactional",
        "extra": {"environment": "production", **extra},
        "trace_id": trace_id,
        "span_id": "b7ad6b7169203331",
    }


@pytest.fixture
def populated(cloudwatch_logs: LocalCloudWatchLogs) -> LocalCloudWatchLogs:
    put(
        cloudwatch_logs,
        GROUP,
        "security",
        event("Added secret", user_email="jdoe@example.com", log_type="Security", resource_type="GitRoot"),
        event("Blocked attempt", trace_id=T2, user_email="mallory@example.com", log_type="Security"),
    )
    put(
        cloudwatch_logs,
        GROUP,
        "audit",
        event("GraphQL mutation executed", user_email="jdoe@example.com", log_type="Audit", operation="addSecret"),
    )
    failed = event("Mutation failed", level="ERROR", trace_id=T2, operation="removeGroup")
    failed["exception"] = {"type": "RuntimeError", "message": "still has roots", "stacktrace": "..."}
    put(cloudwatch_logs, GROUP, "application", event("Slow resolver", level="WARN", trace_id=T2), failed)
    return cloudwatch_logs


# --------------------------------------------------------------------------- help and usage


@pytest.mark.parametrize(
    "args",
    [[], ["demo"], ["doctor"], ["queries"], ["queries", "install"], ["queries", "list"], ["tail"]],
    ids=lambda args: " ".join(args) or "top",
)
def test_help_on_every_command(
    args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit) as exited:
        cli.main([*args, "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: otel-cw-exporter {' '.join(args)}".rstrip())
    assert all(len(line) <= 100 for line in out.splitlines())


def test_console_script_and_module_both_run(tmp_path: Path) -> None:
    done = run_cli(["--version"], clean_environ(tmp_path), tmp_path, module=False)
    assert done.returncode == 0 and done.stdout.strip() == "otel-cw-exporter 0.1.0", done.stderr
    done = run_cli([], clean_environ(tmp_path), tmp_path)
    assert done.returncode == 2
    assert "demo" in done.stderr and "tail" in done.stderr


def test_a_usage_error_is_one_line_with_exit_code_2(tmp_path: Path) -> None:
    done = run_cli(["tail", "--group", GROUP, "--since", "yesterday"], clean_environ(tmp_path), tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "otel-cw-exporter tail: error: argument --since: 'yesterday' is not a duration (10m, 90s, 2h, 1d) or an "
        "ISO-8601 time (2026-11-24T09:00:00Z) (see otel-cw-exporter tail --help)"
    ]


# --------------------------------------------------------------------------- demo


def test_demo_runs_locally_and_shows_streams_and_the_seed_queries(tmp_path: Path) -> None:
    # Settings that would send elsewhere or filter everything must not change the demo: it is local.
    environ = clean_environ(
        tmp_path,
        AWS_ENDPOINT_URL_CLOUDWATCH_LOGS="http://127.0.0.1:9",
        OTEL_EXPORTER_CLOUDWATCH_LOGS_ENDPOINT="http://127.0.0.1:9",
        OTEL_EXPORTER_CLOUDWATCH_LOGS_ENVIRONMENTS="staging",
        OTEL_EXPORTER_CLOUDWATCH_LOGS_GROUP_NAME="elsewhere",
    )
    done = run_cli(["demo"], environ, tmp_path, module=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    out = done.stdout
    assert "Local CloudWatch Logs endpoint at http://127.0.0.1:" in out
    assert "the exporter sent 6 events (none dropped)" in out
    assert 'Log group "integrates": 6 events in 3 streams' in out
    assert all(len(line) <= 100 for line in out.splitlines()), [line for line in out.splitlines() if len(line) > 100]

    sections = re.split(r"\n(?=Stream \"|Saved query )", out)
    streams = {s.split('"')[1]: s for s in sections if s.startswith("Stream")}
    assert list(streams) == ["security", "audit", "application"]
    row = re.compile(r"^  (\d\d:\d\d:\d\d\.\d{3})  (\S+) +(\S+) +(\S+) +(.+?) +([0-9a-f]{8})$", re.M)
    rows = {name: row.findall(text) for name, text in streams.items()}
    assert [(r[1], r[2], r[3], r[4]) for r in rows["security"]] == [
        ("INFO", "Security", "jdoe@example.com", "Added secret"),
        ("INFO", "Security", "mallory@example.com", "Blocked attept to create ROOT type"),
    ]
    assert [(r[2], r[3]) for r in rows["audit"]] == [("Audit", "jdoe@example.com"), ("Audit", "unauthenticated")]
    assert [(r[1], r[4]) for r in rows["application"]] == [("WARN", "Slow resolver"), ("ERROR", "Mutation failed")]
    assert "RuntimeError: group 'unittesting' still" in streams["application"]
    # One request, one trace: the Security and Audit events of jdoe's addSecret share it.
    assert rows["security"][0][5] == rows["audit"][0][5]
    assert rows["application"][0][5] == rows["application"][1][5] != rows["security"][0][5]

    first, second = (s for s in sections if s.startswith("Saved query"))
    assert "\n".join("    " + line for line in SEED_SECURITY.splitlines()) in first
    assert "selects 2 of 6 events:" in first
    assert first.index("mallory@example.com") < first.index("jdoe@example.com")  # sort @timestamp desc
    assert "\n".join("    " + line for line in SEED_ERRORS.splitlines()) in second
    assert "selects 1 of 6 events:" in second
    assert re.search(r"Mutation failed +removeGroup", second)


def test_demo_without_the_local_extra_says_how_to_install_it(tmp_path: Path) -> None:
    script = "import sys; sys.modules['moto'] = None\nfrom otel_cw_exporter.cli import main\nsys.exit(main(['demo']))"
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=clean_environ(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    line = one_error_line(done, 2)
    assert "needs the 'local' extra (moto is not installed)" in line
    assert "pip install 'otel-cw-exporter[local]'" in line


def test_demo_to_an_endpoint_url_sends_there_and_reads_back(
    tmp_path: Path, cloudwatch_logs: LocalCloudWatchLogs
) -> None:
    environ = clean_environ(
        tmp_path,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    done = run_cli(["demo", "--endpoint-url", cloudwatch_logs.url], environ, tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"Sending to {cloudwatch_logs.url} (region us-east-1)" in done.stdout
    assert 'Log group "otel-cw-exporter-demo": 6 events in 3 streams' in done.stdout
    stored = cloudwatch_logs.events("otel-cw-exporter-demo")
    assert sorted(e["@logStream"] for e in stored) == ["application"] * 2 + ["audit"] * 2 + ["security"] * 2
    [group] = cloudwatch_logs.client().describe_log_groups(logGroupNamePrefix="otel-cw-exporter-demo")["logGroups"]
    assert group["retentionInDays"] == 1


def test_demo_with_aws_needs_credentials(tmp_path: Path) -> None:
    done = run_cli(["demo", "--aws"], clean_environ(tmp_path, AWS_DEFAULT_REGION="us-east-1"), tmp_path)
    line = one_error_line(done, 2)
    assert "no AWS credentials found" in line and "without --aws/--endpoint-url" in line


# --------------------------------------------------------------------------- doctor


CHECKS = ("configuration", "credentials", "region", "endpoint", "log group", "log stream", "test event", "retention")


def checks(out: str) -> dict[str, str]:
    """Check name -> PASS/FAIL/SKIP, from doctor's output."""
    return {name.strip(): status for status, name in re.findall(r"^  (PASS|FAIL|SKIP)  (.{13})", out, re.M)}


def test_doctor_all_pass_from_the_exporter_variables(tmp_path: Path, cloudwatch_logs: LocalCloudWatchLogs) -> None:
    environ = local_environ(
        tmp_path,
        cloudwatch_logs,
        OTEL_EXPORTER_CLOUDWATCH_LOGS_GROUP_NAME=GROUP,
        OTEL_EXPORTER_CLOUDWATCH_LOGS_STREAM_NAME="{service.name}-{environment}",
        OTEL_EXPORTER_CLOUDWATCH_LOGS_CREATE_GROUP="true",
        OTEL_EXPORTER_CLOUDWATCH_LOGS_RETENTION_DAYS="30",
        OTEL_SERVICE_NAME="integrates",
        OTEL_RESOURCE_ATTRIBUTES="deployment.environment.name=production",
    )
    done = run_cli(["doctor", "--put-test-event"], environ, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert checks(done.stdout) == dict.fromkeys(CHECKS, "PASS")
    assert all(len(line) <= 100 for line in done.stdout.splitlines())
    assert "caller arn:aws:sts::123456789012:user/moto" in " ".join(done.stdout.split())
    assert '"integrates" did not exist: created it' in done.stdout
    assert '"integrates-production" can be created' in done.stdout
    assert "30 days, as configured" in done.stdout
    assert done.stdout.rstrip().endswith("All checks passed (8 passed, 0 not checked).")
    [test_event] = cloudwatch_logs.events(GROUP, "integrates-production")
    assert test_event["message"] == "otel-cw-exporter doctor: test event"

    again = run_cli(["doctor"], environ, tmp_path)
    assert again.returncode == 0
    assert checks(again.stdout)["test event"] == "SKIP"
    assert '"integrates" exists; it keeps events for 30 days' in again.stdout
    assert '"integrates-production" exists' in again.stdout


def test_doctor_fails_on_a_missing_group_and_a_retention_mismatch(
    tmp_path: Path, cloudwatch_logs: LocalCloudWatchLogs
) -> None:
    environ = local_environ(tmp_path, cloudwatch_logs, OTEL_EXPORTER_CLOUDWATCH_LOGS_RETENTION_DAYS="7")
    done = run_cli(["doctor", "--group", "missing", "--stream", "app"], environ, tmp_path)
    assert done.returncode == 1
    found = checks(done.stdout)
    assert found["log group"] == "FAIL" and found["log stream"] == "SKIP"
    assert "fix: create it (aws logs create-log-group --log-group-name missing" in done.stdout
    assert "OTEL_EXPORTER_CLOUDWATCH_LOGS_CREATE_GROUP=true" in done.stdout.replace("\n", " ").replace("  ", "")

    put(cloudwatch_logs, GROUP, "app", event("hello"))
    done = run_cli(["doctor", "--group", GROUP, "--stream", "app"], environ, tmp_path)
    assert done.returncode == 1
    assert checks(done.stdout)["retention"] == "FAIL"
    assert "configured 7 days, but the group keeps events forever" in done.stdout
    assert "aws logs put-retention-policy --log-group-name integrates --retention-in-days 7" in " ".join(
        done.stdout.split()
    )


def test_doctor_names_the_denied_iam_action(tmp_path: Path, cloudwatch_logs: LocalCloudWatchLogs) -> None:
    def deny(call: Call) -> Fault | None:
        if call.operation == "CreateLogStream":
            return Fault("AccessDeniedException", 400, "not authorized to perform: logs:CreateLogStream")
        return None

    put(cloudwatch_logs, GROUP, "existing", event("hello"))  # the group exists; the stream "app" does not
    cloudwatch_logs.inject(deny)
    done = run_cli(["doctor", "--group", GROUP, "--stream", "app"], local_environ(tmp_path, cloudwatch_logs), tmp_path)
    assert done.returncode == 1
    assert checks(done.stdout)["log stream"] == "FAIL"
    text = " ".join(done.stdout.split())
    assert 'access denied: not allowed to call logs:CreateLogStream on log group "integrates"' in text
    assert "fix: grant logs:CreateLogStream on arn:aws:logs:us-east-1:*:log-group:integrates:*" in text


def test_doctor_without_credentials_or_endpoint(tmp_path: Path, cloudwatch_logs: LocalCloudWatchLogs) -> None:
    done = run_cli(["doctor", "--group", GROUP], clean_environ(tmp_path, AWS_DEFAULT_REGION="us-east-1"), tmp_path)
    assert done.returncode == 1
    found = checks(done.stdout)
    assert found["credentials"] == "FAIL" and found["region"] == "PASS" and found["endpoint"] == "SKIP"
    assert "configure AWS credentials (environment, profile, or instance role)" in done.stdout

    dead = local_environ(tmp_path, cloudwatch_logs, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS="http://127.0.0.1:9")
    done = run_cli(["doctor", "--group", GROUP], dead, tmp_path)
    assert done.returncode == 1
    found = checks(done.stdout)
    assert found["endpoint"] == "FAIL" and found["log group"] == "SKIP"
    assert "cannot reach http://127.0.0.1:9 (EndpointConnectionError)" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr

    done = run_cli(["doctor"], local_environ(tmp_path, cloudwatch_logs), tmp_path)
    assert done.returncode == 2  # a configuration error
    assert checks(done.stdout)["configuration"] == "FAIL"
    assert "pass --group NAME, or set OTEL_EXPORTER_CLOUDWATCH_LOGS_GROUP_NAME" in done.stdout


# --------------------------------------------------------------------------- tail


def test_tail_prints_and_filters_client_and_server_side(tmp_path: Path, populated: LocalCloudWatchLogs) -> None:
    patterns: list[str | None] = []

    def record(call: Call) -> Fault | None:
        if call.operation == "FilterLogEvents":
            patterns.append(call.payload.get("filterPattern"))
        return None

    populated.inject(record)
    environ = local_environ(tmp_path, populated, OTEL_EXPORTER_CLOUDWATCH_LOGS_GROUP_NAME=GROUP)

    done = run_cli(["tail", "--no-follow"], environ, tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert re.match(r"^-- \d{4}-\d\d-\d\d \(UTC\) --$", lines[0])
    assert re.match(r"^\d\d:\d\d:\d\d\.\d{3}  security +INFO   Security  jdoe@example.com  Added secret$", lines[1])
    assert lines[2].split() == ["resource_type=GitRoot", f"trace={T1}"]
    assert "exception=RuntimeError: still has roots" in done.stdout
    assert done.stderr.startswith('Showing log group "integrates" in us-east-1 since ')
    assert done.stderr.rstrip().endswith("5 event(s).")

    filters = [
        ["--log-type", "Security"],
        ["--user", "jdoe@example.com"],
        ["--trace-id", f"1-{T2[:8]}-{T2[8:]}", "--level", "warning"],  # an X-Ray id, a stdlib level name
        ["--trace-id", T2.upper(), "--level", "ERROR", "--stream", "application"],
    ]
    patterns.clear()
    runs = run_all([(["tail", "--no-follow", "--json", *f], environ) for f in filters], tmp_path)
    assert [r.returncode for r in runs] == [0] * len(filters), [r.stderr for r in runs]
    shown = [[json.loads(line)["message"] for line in r.stdout.splitlines()] for r in runs]
    assert shown == [
        ["Added secret", "Blocked attempt"],
        ["Added secret", "GraphQL mutation executed"],
        ["Slow resolver", "Mutation failed"],
        ["Mutation failed"],
    ]
    levels = (
        '($.level = "WARN" || $.level = "WARNING" || $.level = "ERROR" || $.level = "FATAL" || $.level = "CRITICAL")'
    )
    assert sorted(p or "" for p in patterns) == sorted(
        [
            '{ ($.extra.log_type = "Security") }',
            '{ ($.extra.user_email = "jdoe@example.com") }',
            f'{{ ($.trace_id = "{T2}") && {levels} }}',
            f'{{ ($.trace_id = "{T2}") && ($.level = "ERROR" || $.level = "FATAL" || $.level = "CRITICAL") }}',
        ]
    )

    done = run_cli(["tail", "--no-follow", "--stream", "application"], environ, tmp_path)
    assert re.match(r"^\d\d:\d\d:\d\d\.\d{3}  WARN   - +Slow resolver$", done.stdout.splitlines()[1])


FAST = ("--interval", "0.2", "--since", "5m")


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_tail_follows_new_events_until_ctrl_c(
    tmp_path: Path, cloudwatch_logs: LocalCloudWatchLogs, stop: signal.Signals
) -> None:
    put(cloudwatch_logs, GROUP, "security", event("Before", user_email="a@example.com", log_type="Security"))
    environ = local_environ(tmp_path, cloudwatch_logs)
    process = subprocess.Popen(
        [sys.executable, "-m", "otel_cw_exporter", "tail", "--group", GROUP, "--log-type", "Security", *FAST],
        env=environ,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out: queue.Queue[str] = queue.Queue()
    err: list[str] = []

    def read_out() -> None:
        for line in process.stdout or ():
            out.put(line)

    threading.Thread(target=read_out, daemon=True).start()
    threading.Thread(target=lambda: err.extend(process.stderr or ()), daemon=True).start()

    def wait_for(text: str) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if text in out.get(timeout=0.5):
                    return
            except queue.Empty:
                continue
        raise AssertionError(f"{text!r} not printed; stderr: {''.join(err)}")

    try:
        wait_for("Before")
        put(
            cloudwatch_logs,
            GROUP,
            "audit",
            event("Not security", user_email="b@example.com", log_type="Audit"),
        )
        put(cloudwatch_logs, GROUP, "security", event("Arrived later", user_email="b@example.com", log_type="Security"))
        wait_for("Arrived later")
        time.sleep(0.5)  # a few more polls: nothing is printed twice
        process.send_signal(stop)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
    rest = []
    while not out.empty():
        rest.append(out.get())
    assert not any("Before" in line or "Arrived later" in line or "Not security" in line for line in rest)
    stderr = "".join(err)
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    assert "(Ctrl-C to stop)" in stderr and stderr.rstrip().endswith("Stopped after 2 event(s).")


def test_tail_errors_are_one_line(tmp_path: Path, cloudwatch_logs: LocalCloudWatchLogs) -> None:
    args = ["tail", "--group", GROUP, "--no-follow"]
    environ = local_environ(tmp_path, cloudwatch_logs)
    no_credentials = clean_environ(tmp_path, AWS_DEFAULT_REGION="us-east-1")
    no_region = clean_environ(tmp_path, AWS_ACCESS_KEY_ID="a", AWS_SECRET_ACCESS_KEY="b", AWS_REGION="us-east-1")
    credentials, region, group, dead, unset = run_all(
        [
            (args, no_credentials),
            (args, no_region),
            (args, environ),
            ([*args, "--endpoint-url", "http://127.0.0.1:9"], environ),
            (["tail", "--no-follow"], environ),
        ],
        tmp_path,
    )
    line = one_error_line(credentials, 2)
    assert "no AWS credentials found; fix: configure AWS credentials" in line
    line = one_error_line(region, 2)
    assert "no AWS region configured; fix: pass --region, or set AWS_DEFAULT_REGION" in line
    assert "AWS_REGION is set, but boto3 reads AWS_DEFAULT_REGION" in line
    assert one_error_line(group, 1) == (
        'otel-cw-exporter: error: log group "integrates" does not exist in us-east-1; fix: check --group and '
        "--region; `otel-cw-exporter doctor` checks the whole configuration"
    )
    line = one_error_line(dead, 1)
    assert line.startswith("otel-cw-exporter: error: cannot reach http://127.0.0.1:9 (EndpointConnectionError)")
    assert "no log group configured" in one_error_line(unset, 2)

    cloudwatch_logs.inject(
        lambda call: (
            Fault("AccessDeniedException", 400, "User: ci is not authorized to perform: logs:FilterLogEvents")
            if call.operation == "FilterLogEvents"
            else None
        )
    )
    line = one_error_line(run_cli(args, environ, tmp_path), 1)
    assert line == (
        'otel-cw-exporter: error: access denied: not allowed to call logs:FilterLogEvents on log group "integrates" '
        "(AccessDeniedException); fix: grant logs:FilterLogEvents on arn:aws:logs:us-east-1:*:log-group:integrates:*"
    )


# --------------------------------------------------------------------------- queries


class _Definitions:
    """Logs Insights query definitions in memory, as the API keeps them."""

    PAGE = 3  # fewer than asked for, as AWS may answer: the command must follow nextToken

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.denied: set[str] = set()
        self.puts = 0
        self.lock = threading.Lock()

    def handle(self, operation: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if operation in self.denied:
            return 400, {"__type": "AccessDeniedException", "message": f"not authorized: logs:{operation}"}
        with self.lock:
            if operation == "PutQueryDefinition":
                self.puts += 1
                ident = payload.get("queryDefinitionId") or str(uuid.uuid4())
                if payload.get("queryDefinitionId") and ident not in self.items:
                    return 400, {"__type": "ResourceNotFoundException", "message": "no such query definition"}
                self.items[ident] = {
                    "queryDefinitionId": ident,
                    "name": payload["name"],
                    "queryString": payload["queryString"],
                    "logGroupNames": payload.get("logGroupNames", []),
                    "lastModified": int(time.time() * 1000),
                }
                return 200, {"queryDefinitionId": ident}
            if operation == "DescribeQueryDefinitions":
                prefix = payload.get("queryDefinitionNamePrefix", "")
                found = sorted(
                    (d for d in self.items.values() if d["name"].startswith(prefix)), key=lambda d: d["name"]
                )
                start = int(payload.get("nextToken") or 0)
                page = found[start : start + min(self.PAGE, payload.get("maxResults", 1000))]
                answer: dict[str, Any] = {"queryDefinitions": page}
                if start + len(page) < len(found):
                    answer["nextToken"] = str(start + len(page))
                return 200, answer
        return 400, {"__type": "InvalidParameterException", "message": f"{operation} is not faked"}


class QueryDefinitionsProxy:
    """An endpoint on 127.0.0.1: query definitions in memory, everything else forwarded to the local one."""

    OPERATIONS = ("PutQueryDefinition", "DescribeQueryDefinitions", "DeleteQueryDefinition")

    def __init__(self, upstream: str) -> None:
        self.definitions = _Definitions()
        definitions = self.definitions

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                target = self.headers.get("X-Amz-Target", "")
                operation = target.partition(".")[2] if target.startswith("Logs_20140328.") else ""
                if operation in QueryDefinitionsProxy.OPERATIONS:
                    status, answer = definitions.handle(operation, json.loads(body or b"{}"))
                    self.reply(status, json.dumps(answer).encode(), [("Content-Type", "application/x-amz-json-1.1")])
                    return
                skip = {"host", "content-length", "connection", "transfer-encoding"}
                headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                request = urllib.request.Request(upstream + self.path, data=body, headers=headers, method="POST")
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        status, got, data = response.status, response.getheaders(), response.read()
                except urllib.error.HTTPError as error:
                    status, got, data = error.code, list(error.headers.items()), error.read()
                self.reply(status, data, [(k, v) for k, v in got if k.lower() not in skip])

            def reply(self, status: int, data: bytes, headers: list[tuple[str, str]]) -> None:
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(cloudwatch_logs: LocalCloudWatchLogs) -> Iterator[QueryDefinitionsProxy]:
    served = QueryDefinitionsProxy(cloudwatch_logs.url)
    yield served
    served.close()


def test_queries_install_is_idempotent_and_touches_only_its_own(
    tmp_path: Path, cloudwatch_logs: LocalCloudWatchLogs, proxy: QueryDefinitionsProxy
) -> None:
    store = proxy.definitions
    store.handle("PutQueryDefinition", {"name": "team/mine", "queryString": "fields @message"})
    store.handle("PutQueryDefinition", {"name": "otel-cw-exporter/integrates/Own query", "queryString": "x"})
    environ = local_environ(tmp_path, cloudwatch_logs, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=proxy.url)
    install = ["queries", "install", "--group", GROUP, "--group", "integrates-audit"]

    done = run_cli(install, environ, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "10 created, 0 updated, 0 unchanged in us-east-1" in done.stdout
    assert re.search(r"^  created +integrates +Security events by user in the last 24h$", done.stdout, re.M)
    ours = {d["name"]: d for d in store.items.values() if d["name"].startswith("otel-cw-exporter/integrates/")}
    assert ours["otel-cw-exporter/integrates/Security events by user in the last 24h"]["queryString"] == SEED_SECURITY
    assert ours["otel-cw-exporter/integrates/Errors in critical operations"]["queryString"] == SEED_ERRORS
    assert ours["otel-cw-exporter/integrates/Errors in critical operations"]["logGroupNames"] == [GROUP]
    assert len(store.items) == 12

    before = {k: dict(v) for k, v in store.items.items()}
    store.puts = 0
    done = run_cli(install, environ, tmp_path)
    assert "0 created, 0 updated, 10 unchanged" in done.stdout
    assert store.puts == 0 and store.items == before

    [(ident, outdated)] = [
        (k, d) for k, d in store.items.items() if d["name"].endswith("integrates/Audit trail of one user")
    ]
    outdated["queryString"] = "fields @timestamp"
    done = run_cli(["queries", "list", "--group", GROUP], environ, tmp_path)
    assert done.returncode == 0
    listed = {title: status for status, title in re.findall(r"^  (\w+) +integrates  (.+)$", done.stdout, re.M)}
    assert listed == {
        "Security events by user in the last 24h": "current",
        "Errors in critical operations": "current",
        "Audit trail of one user": "outdated",
        "Events of one trace id": "current",
        "Security and audit events per user": "current",
        "Own query": "unknown",
    }

    done = run_cli([*install, "--dry-run"], environ, tmp_path)
    assert re.search(r"^  updated \(dry run\) +integrates +Audit trail of one user$", done.stdout, re.M)
    assert "(dry run: nothing written)" in done.stdout
    assert store.items[ident]["queryString"] == "fields @timestamp"

    done = run_cli(install, environ, tmp_path)
    assert "0 created, 1 updated, 9 unchanged" in done.stdout
    assert store.items[ident]["queryString"] == queries.USER_AUDIT_TRAIL.query  # updated in place, same id
    assert len(store.items) == 12
    assert before.keys() == store.items.keys()
    assert {k: before[k] for k in before if not before[k]["name"].startswith("otel-cw-exporter/integrates")} == {
        k: store.items[k] for k in before if not before[k]["name"].startswith("otel-cw-exporter/integrates")
    }
    assert next(d for d in store.items.values() if d["name"] == "team/mine")["queryString"] == "fields @message"


def test_queries_install_reads_the_exporters_groups_from_its_variables(
    tmp_path: Path, cloudwatch_logs: LocalCloudWatchLogs, proxy: QueryDefinitionsProxy
) -> None:
    routes = [
        {"when": {"log_type": "Audit"}, "log_group_name": "integrates-audit"},
        {"when": {"log_type": "Debug"}, "log_group_name": "{service.name}-debug"},  # a template: skipped
        {"when": {"log_type": "Security"}, "log_stream_name": "security"},
    ]
    environ = local_environ(
        tmp_path,
        cloudwatch_logs,
        AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=proxy.url,
        OTEL_EXPORTER_CLOUDWATCH_LOGS_GROUP_NAME=GROUP,
        OTEL_EXPORTER_CLOUDWATCH_LOGS_ROUTES=json.dumps(routes),
    )
    done = run_cli(["queries", "install"], environ, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "10 created" in done.stdout
    assert {d["logGroupNames"][0] for d in proxy.definitions.items.values()} == {GROUP, "integrates-audit"}


def test_queries_list_shows_missing_ones_and_the_catalog_needs_no_aws(
    tmp_path: Path, cloudwatch_logs: LocalCloudWatchLogs, proxy: QueryDefinitionsProxy
) -> None:
    environ = local_environ(tmp_path, cloudwatch_logs, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=proxy.url)
    done = run_cli(["queries", "list", "--group", GROUP], environ, tmp_path)
    assert done.returncode == 0
    assert len(re.findall(r"^  missing +integrates  ", done.stdout, re.M)) == 5
    assert "`otel-cw-exporter queries install` creates the missing ones" in done.stdout

    done = run_cli(["queries", "list", "--catalog"], clean_environ(tmp_path), tmp_path)
    assert done.returncode == 0, done.stderr
    assert "\n".join("    " + line for line in SEED_SECURITY.splitlines()) in done.stdout
    assert "\n".join("    " + line for line in SEED_ERRORS.splitlines()) in done.stdout
    for query in queries.SAVED_QUERIES:
        assert query.title in done.stdout


def test_queries_errors_are_one_line(
    tmp_path: Path, cloudwatch_logs: LocalCloudWatchLogs, proxy: QueryDefinitionsProxy
) -> None:
    environ = local_environ(tmp_path, cloudwatch_logs, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=proxy.url)
    proxy.definitions.denied.add("PutQueryDefinition")
    line = one_error_line(run_cli(["queries", "install", "--group", GROUP], environ, tmp_path), 1)
    assert line == (
        "otel-cw-exporter: error: access denied: not allowed to call logs:PutQueryDefinition (AccessDeniedException); "
        'fix: grant logs:PutQueryDefinition on "*"'
    )
    line = one_error_line(run_cli(["queries", "install"], environ, tmp_path), 2)
    assert "no log group configured" in line
    no_credentials = clean_environ(tmp_path, AWS_DEFAULT_REGION="us-east-1")
    line = one_error_line(run_cli(["queries", "install", "--group", GROUP], no_credentials, tmp_path), 2)
    assert "no AWS credentials found" in line
    # the plain local endpoint (moto) has no query definitions: said in one line too
    plain = local_environ(tmp_path, cloudwatch_logs)
    line = one_error_line(run_cli(["queries", "list"], plain, tmp_path), 1)
    assert "DescribeQueryDefinitions failed" in line and "HTML page" in line


# --------------------------------------------------------------------------- the catalog itself


def test_the_added_queries_select_what_they_say() -> None:
    events = [
        {**event("Added secret", user_email="jdoe@example.com", log_type="Security"), "@timestamp": 1},
        {**event("Mutation", trace_id=T2, user_email="jdoe@example.com", log_type="Audit"), "@timestamp": 2},
        {**event("Blocked", trace_id=T2, user_email="mallory@example.com", log_type="Security"), "@timestamp": 3},
        {**event("Failed", level="ERROR", trace_id=T2), "@timestamp": 4, "@logStream": "application"},
    ]
    trail = run_query(queries.USER_AUDIT_TRAIL.with_value("jdoe@example.com"), events)
    assert [row["message"] for row in trail] == ["Mutation", "Added secret"]
    assert run_query(queries.USER_AUDIT_TRAIL.query, events) == []  # the placeholder selects nothing
    trace = run_query(queries.TRACE_EVENTS.with_value(T2), events)
    assert [row["message"] for row in trace] == ["Mutation", "Blocked", "Failed"]
    counts = run_query(queries.EVENTS_PER_USER.query, events)
    assert counts[0] == {"extra.user_email": "jdoe@example.com", "extra.log_type": "Security", "events": 1}
    assert len(counts) == 3
    assert 'extra.user_email = "a\\"b"' in queries.USER_AUDIT_TRAIL.with_value('a"b')
    assert [q.query for q in queries.SEED_QUERIES] == [SEED_SECURITY, SEED_ERRORS]


# --------------------------------------------------------------------------- from scratch, as the README says


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_readme_first_command_in_a_clean_venv(tmp_path: Path) -> None:
    """The README's first command, verbatim, in a copy of the repository: a new venv, a real install of
    the package and its ``local`` extra (from the package index), then the demo. About a minute."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    command = re.search(r"```sh\n(.+?)\n```", readme, re.S)
    assert command is not None
    first = command.group(1).strip()
    assert first.endswith("otel-cw-exporter demo"), first
    copy = tmp_path / "repo"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(".venv", ".git", "*.egg-info", "__pycache__", ".*_cache", "build"),
    )
    environ = clean_environ(tmp_path)
    environ.pop("VIRTUAL_ENV", None)
    environ["PATH"] = os.pathsep.join(p for p in environ.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    started = time.monotonic()
    done = subprocess.run(
        ["bash", "-c", first], cwd=copy, env=environ, capture_output=True, text=True, timeout=280, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (copy / ".venv" / "bin" / "otel-cw-exporter").exists()
    assert 'Log group "integrates": 6 events in 3 streams' in done.stdout
    assert "selects 2 of 6 events:" in done.stdout and "selects 1 of 6 events:" in done.stdout
    print(f"clean install and demo: {time.monotonic() - started:.0f} s")
