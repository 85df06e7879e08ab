"""otel-cw-exporter tail: filters, windows, following, Ctrl-C."""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import pytest

from otel_cw_exporter import cli
from otel_cw_exporter.cli import aws as cli_aws
from otel_cw_exporter.cli import tail as cli_tail
from otel_cw_exporter.testing import Call, Fault, LocalCloudWatchLogs
from tests.support import (
    AS_BACKGROUND_JOB,
    GROUP,
    T1,
    T2,
    clean_environ,
    event,
    in_process,
    local_environ,
    one_error_line,
    put,
    run_all,
    run_cli,
)


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


@pytest.mark.parametrize("interval", ["-1", "0", "0.05", "nan", "inf", "soon"])
def test_tail_interval_must_be_at_least_a_tenth_of_a_second(interval: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["tail", "--group", GROUP, "--interval", interval])
    assert exited.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"otel-cw-exporter tail: error: argument --interval: {interval!r} is not a number of seconds >= 0.1 "
        "(see otel-cw-exporter tail --help)"
    ]
    assert cli.build_parser().parse_args(["tail", "--interval", "0.1"]).interval == 0.1


def test_tail_prints_and_filters_client_and_server_side(tmp_path: Path, populated: LocalCloudWatchLogs) -> None:
    patterns: list[str | None] = []

    def record(call: Call) -> Fault | None:
        if call.operation == "FilterLogEvents":
            patterns.append(call.payload.get("filterPattern"))
        return None

    populated.inject(record)
    put(populated, GROUP, "security", event("lower case", user_email="JDOE@example.com", log_type="security"))
    environ = local_environ(tmp_path, populated, OTEL_EXPORTER_CLOUDWATCH_LOGS_GROUP_NAME=GROUP)

    done = run_cli(["tail", "--no-follow"], environ, tmp_path, module=False)  # the console script
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert re.match(r"^-- \d{4}-\d\d-\d\d \(UTC\) --$", lines[0])
    assert re.match(r"^\d\d:\d\d:\d\d\.\d{3}  security +INFO   Security  jdoe@example.com  Added secret$", lines[1])
    assert lines[2].split() == ["resource_type=GitRoot", f"trace={T1}"]
    assert "exception=RuntimeError: still has roots" in done.stdout
    assert done.stderr.startswith('Showing log group "integrates" in us-east-1 since ')
    assert done.stderr.rstrip().endswith("6 event(s).")

    filters = [
        ["--log-type", "Security"],
        ["--user", "jdoe@example.com"],
        ["--trace-id", f"1-{T2[:8]}-{T2[8:]}", "--level", "warning"],  # an X-Ray id, a stdlib level name
        ["--trace-id", T2.upper(), "--level", "ERROR", "--stream", "application"],
        # --log-type and --user match in any case, as --level does.
        ["--log-type", "security"],
        ["--user", "JDoe@Example.COM", "--log-type", "AUDIT"],
    ]
    patterns.clear()
    runs = run_all([(["tail", "--no-follow", "--json", *f], environ) for f in filters], tmp_path)
    assert [r.returncode for r in runs] == [0] * len(filters), [r.stderr for r in runs]
    shown = [[json.loads(line)["message"] for line in r.stdout.splitlines()] for r in runs]
    assert shown == [
        ["Added secret", "Blocked attempt", "lower case"],
        ["Added secret", "GraphQL mutation executed", "lower case"],
        ["Slow resolver", "Mutation failed"],
        ["Mutation failed"],
        ["Added secret", "Blocked attempt", "lower case"],
        ["GraphQL mutation executed"],
    ]
    assert [r.stderr.rstrip().splitlines()[-1] for r in runs] == [
        "3 event(s).",
        "3 event(s).",
        "2 event(s).",
        "1 event(s).",
        "3 event(s).",
        "1 event(s).",
    ]
    assert '  matched here, in any case: extra.log_type = "security"' in runs[4].stderr
    assert 'matched here, in any case: extra.log_type = "AUDIT", extra.user_email = "JDoe@Example.COM"' in " ".join(
        runs[5].stderr.split()
    )
    levels = (
        '($.level = "WARN" || $.level = "WARNING" || $.level = "ERROR" || $.level = "FATAL" || $.level = "CRITICAL")'
    )
    # CloudWatch's patterns are case-sensitive: the any-case filters are not sent (they would hide "security").
    assert sorted(p or "" for p in patterns) == sorted(
        [
            "",
            "",
            f'{{ ($.trace_id = "{T2}") && {levels} }}',
            f'{{ ($.trace_id = "{T2}") && ($.level = "ERROR" || $.level = "FATAL" || $.level = "CRITICAL") }}',
            "",
            "",
        ]
    )

    done = run_cli(["tail", "--no-follow", "--stream", "application"], environ, tmp_path)
    assert re.match(r"^\d\d:\d\d:\d\d\.\d{3}  WARN   - +Slow resolver$", done.stdout.splitlines()[1])


def tail_here(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: list[str], polls: int = 0
) -> tuple[list[str], list[str]]:
    """``tail`` in this process: (stdout lines, stderr lines). With ``polls``, it follows and is
    interrupted, as by Ctrl-C, when it would sleep after that many polls."""
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) >= polls:
            raise KeyboardInterrupt

    clock = types.SimpleNamespace(time=time.time, time_ns=time.time_ns, monotonic=time.monotonic, sleep=sleep)
    monkeypatch.setattr(cli_tail, "time", clock)
    follow = ["--interval", "0.1"] if polls else ["--no-follow"]
    assert cli.main(["tail", "--group", GROUP, *follow, *args]) == 0
    out, err = capsys.readouterr()
    return out.splitlines(), err.splitlines()


def test_tail_since_selects_events_by_time(
    tmp_path: Path,
    cloudwatch_logs: LocalCloudWatchLogs,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    now = int(time.time() * 1000)
    for message, minutes in (("30 minutes ago", 30), ("5 minutes ago", 5), ("just now", 0)):
        put(cloudwatch_logs, GROUP, "app", event(message), at=now - minutes * 60_000)
    in_process(monkeypatch, local_environ(tmp_path, cloudwatch_logs))
    twenty_ago = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now / 1000 - 20 * 60))
    expected = {
        "1h": ["30 minutes ago", "5 minutes ago", "just now"],
        "10m": ["5 minutes ago", "just now"],  # the default
        "90s": ["just now"],
        twenty_ago: ["5 minutes ago", "just now"],
    }
    for since, messages in expected.items():
        out, err = tail_here(monkeypatch, capsys, ["--json", "--since", since])
        assert [json.loads(line)["message"] for line in out] == messages, since
        assert err[-1] == f"{len(messages)} event(s)."
    out, _ = tail_here(monkeypatch, capsys, ["--json"])
    assert [json.loads(line)["message"] for line in out] == expected["10m"]


def test_tail_moves_its_window_forward_even_when_nothing_matches(
    tmp_path: Path,
    cloudwatch_logs: LocalCloudWatchLogs,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    put(cloudwatch_logs, GROUP, "app", event("not security", log_type="Audit"), at=int(time.time() * 1000) - 1_800_000)
    starts: list[int] = []

    def record(call: Call) -> Fault | None:
        if call.operation == "FilterLogEvents":
            starts.append(call.payload["startTime"])
        return None

    cloudwatch_logs.inject(record)
    in_process(monkeypatch, local_environ(tmp_path, cloudwatch_logs))
    began = int(time.time() * 1000)
    out, err = tail_here(monkeypatch, capsys, ["--since", "1h", "--log-type", "Security"], polls=3)
    ended = int(time.time() * 1000)
    assert out == [] and err[-1] == "Stopped after 0 event(s)."
    assert len(starts) == 3
    assert began - 3_600_000 <= starts[0] <= ended - 3_600_000  # --since 1h, computed during the run
    # Each later poll starts where the one before began, less the overlap: not at --since again.
    for start in starts[1:]:
        assert began - cli_tail.TAIL_OVERLAP_MS <= start <= ended - cli_tail.TAIL_OVERLAP_MS


def test_tail_warns_when_a_poll_reaches_the_page_cap(
    tmp_path: Path,
    cloudwatch_logs: LocalCloudWatchLogs,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    now = int(time.time() * 1000) - 10_000
    put(cloudwatch_logs, GROUP, "app", *(event(f"event {n}") for n in range(5)), at=now)
    in_process(monkeypatch, local_environ(tmp_path, cloudwatch_logs))
    monkeypatch.setattr(cli_aws, "PAGE_EVENTS", 2)
    monkeypatch.setattr(cli_aws, "MAX_PAGES", 2)
    out, err = tail_here(monkeypatch, capsys, ["--json"])
    assert [json.loads(line)["message"] for line in out] == [f"event {n}" for n in range(4)]
    [warning] = [line for line in err if "warning" in line]
    assert warning.startswith(
        "otel-cw-exporter: warning: stopped reading at 2 pages of FilterLogEvents (4 events, up to "
    )
    assert warning.endswith("UTC); narrow --since or add a filter")
    assert err[-1] == "4 event(s)."

    # Following, the next poll goes on from where the cap stopped: every event, once.
    out, err = tail_here(monkeypatch, capsys, ["--json"], polls=3)
    assert [json.loads(line)["message"] for line in out] == [f"event {n}" for n in range(5)]
    [warning] = [line for line in err if "warning" in line]  # the first poll's; the second read the rest
    assert warning.endswith("UTC); the next poll goes on from there")
    assert err[-1] == "Stopped after 5 event(s)."


FAST = ("--interval", "0.2", "--since", "5m")


@pytest.mark.parametrize(
    ("stop", "background"),
    [(signal.SIGINT, False), (signal.SIGTERM, False), (signal.SIGINT, True)],
    ids=["ctrl-c", "sigterm", "ctrl-c-background-job"],
)
def test_tail_follows_new_events_until_ctrl_c(
    tmp_path: Path, cloudwatch_logs: LocalCloudWatchLogs, stop: signal.Signals, background: bool
) -> None:
    """Also as a background job (``tail ... &``), whose SIGINT is inherited as ignored: kill -INT stops it."""
    put(cloudwatch_logs, GROUP, "security", event("Before", user_email="a@example.com", log_type="Security"))
    environ = local_environ(tmp_path, cloudwatch_logs)
    job = AS_BACKGROUND_JOB if background else []
    process = subprocess.Popen(
        [*job, sys.executable, "-m", "otel_cw_exporter", "tail", "--group", GROUP, "--log-type", "Security", *FAST],
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
    assert "(Ctrl-C to stop)" in " ".join(stderr.split()) and stderr.rstrip().endswith("Stopped after 2 event(s).")


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
        "the region (--region or AWS_DEFAULT_REGION; boto3 ignores AWS_REGION); `otel-cw-exporter doctor` "
        "checks the whole configuration"
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


def test_tail_on_a_stream_that_does_not_exist_is_one_line_and_exit_code_1(
    tmp_path: Path, populated: LocalCloudWatchLogs
) -> None:
    environ = local_environ(tmp_path, populated)
    missing, following, group = run_all(
        [
            (["tail", "--group", GROUP, "--stream", "nostream", "--no-follow"], environ),
            (["tail", "--group", GROUP, "--stream", "nostream", "--interval", "0.1"], environ),
            (["tail", "--group", "missing", "--stream", "security", "--no-follow"], environ),
        ],
        tmp_path,
    )
    line = one_error_line(missing, 1)
    assert line == (  # the streams most recently written first
        'otel-cw-exporter: error: log stream "nostream" does not exist in log group "integrates"; fix: check '
        "--stream; the group's latest streams: application, audit, security"
    )
    assert missing.stdout == ""
    assert one_error_line(following, 1) == line  # following too: not a quiet stream to wait on
    assert 'log group "missing" does not exist in us-east-1' in one_error_line(group, 1)

    done = run_cli(["tail", "--group", GROUP, "--stream", "security", "--no-follow"], environ, tmp_path)
    assert done.returncode == 0 and done.stderr.rstrip().endswith("2 event(s).")  # a stream that exists

    # Without logs:DescribeLogStreams (tail needs only FilterLogEvents) it cannot tell, and goes on.
    populated.inject(
        lambda call: Fault("AccessDeniedException", 400, "no") if call.operation == "DescribeLogStreams" else None
    )
    done = run_cli(["tail", "--group", GROUP, "--stream", "nostream", "--no-follow"], environ, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr.rstrip().endswith("0 event(s).")


def test_a_user_the_calling_code_asserted_shows_as_unverified() -> None:
    from otel_cw_exporter.cli.render import render_event

    def head(extra: dict[str, object]) -> str:
        event = {"@timestamp": 0, "@logStream": "audit", "level": "INFO", "message": "m", "extra": extra}
        return render_event(event, width=200)[0]

    assert head({"user_email": "a@b.c", "user_verified": False}).endswith("a@b.c (unverified)  m")
    assert head({"user_email": "a@b.c", "user_verified": True}).endswith("a@b.c  m")
    assert head({"user_email": "unauthenticated", "user_verified": False}).endswith("unauthenticated  m")
    assert "verified_user_email=jdoe@example.com" in " ".join(
        render_event(
            {"extra": {"user_email": "a@b.c", "user_verified": False, "verified_user_email": "jdoe@example.com"}},
            width=200,
        )
    )
