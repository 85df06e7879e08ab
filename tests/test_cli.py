"""The ``otel-cw-exporter`` command, end to end: each command in a subprocess against the local endpoint.

Faults (access denied...) are injected into the local endpoint, which runs in this test process, so the
command in its subprocess meets them over HTTP as it would meet AWS. ``queries`` talks to the same
shipped local endpoint, which keeps Logs Insights query definitions itself (moto has none). A few
finer checks (the polling window of ``tail``, its page cap, argument types) run the command in this
process, against the same endpoint.

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
import types
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from otel_cw_exporter import cli
from otel_cw_exporter.cli import catalog as queries
from otel_cw_exporter.cli import aws as cli_aws
from otel_cw_exporter.cli import demo
from otel_cw_exporter.cli import doctor as cli_doctor
from otel_cw_exporter.cli import options as cli_options
from otel_cw_exporter.cli import tail as cli_tail
from otel_cw_exporter.testing.insights import run as run_query
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


def in_process(monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]) -> None:
    """This process's environment as ``environ`` says, for running :func:`cli.main` here."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "OTEL_")):
            monkeypatch.delenv(name)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)


def here(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str, str]:
    """The command run in this process (after :func:`in_process`): exit code, stdout, stderr."""
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


def put(
    endpoint: LocalCloudWatchLogs, group: str, stream: str, *messages: dict[str, Any], at: int | None = None
) -> None:
    """Store events shaped as the exporter writes them (at ``at`` ms, 1 ms apart; default now)."""
    client = endpoint.client()
    with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
        client.create_log_group(logGroupName=group)
    with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
        client.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000) if at is None else at
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


AWS_OPTIONS = ("--region REGION", "--endpoint-url URL", "--profile PROFILE")
#: Each command's options as its --help shows them, and words of what it says it does.
HELP = {
    "": (("--version", "--debug", "demo", "doctor", "queries", "tail"), ("Exit codes",)),
    "demo": (("--endpoint-url URL", "--aws", "--region REGION", "--profile PROFILE", "--group GROUP"), ("local",)),
    "doctor": (
        (*AWS_OPTIONS, "--group GROUP", "--stream STREAM", "--create-group", "--put-test-event"),
        ("each route", "CREATE_STREAM=false", "SKIP"),
    ),
    "queries": (("install", "list"), ("query definitions",)),
    "queries install": ((*AWS_OPTIONS, "--group GROUP", "--dry-run"), ("Idempotent", "PutQueryDefinition")),
    "queries list": ((*AWS_OPTIONS, "--group GROUP", "--catalog"), ("outdated",)),
    "tail": (
        (
            *AWS_OPTIONS,
            "--group GROUP",
            "--stream STREAM",
            "--log-type TYPE",
            "--user EMAIL",
            "--trace-id ID",
            "--level LEVEL",
            "--since SINCE",
            "--interval SECONDS",
            "--no-follow",
            "--json",
        ),
        ("Ctrl-C", "at least 0.1"),
    ),
}


@pytest.mark.parametrize("command", list(HELP), ids=lambda command: command or "top")
def test_help_on_every_command_shows_its_options(
    command: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    with pytest.raises(SystemExit) as exited:
        cli.main([*command.split(), "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: otel-cw-exporter {command}".rstrip())
    assert all(len(line) <= 100 for line in out.splitlines())
    options, words = HELP[command]
    text = " ".join(out.split())
    for option in (*options, *words):
        assert option in text, option
    listed = out.partition("\noptions:\n")[2]
    shown = set(re.findall(r"^  (?:-\w, )?(--[a-z][a-z-]+)", listed, re.M)) - {"--help"}
    assert shown == {option.split()[0] for option in options if option.startswith("--")}, shown


def test_console_script_and_module_both_run(tmp_path: Path) -> None:
    done = run_cli(["--version"], clean_environ(tmp_path), tmp_path, module=False)
    assert done.returncode == 0 and done.stdout.strip() == "otel-cw-exporter 0.1.0", done.stderr
    done = run_cli([], clean_environ(tmp_path), tmp_path)
    assert done.returncode == 2
    assert "demo" in done.stderr and "tail" in done.stderr


def test_exit_codes_are_one_rule_said_the_same_everywhere(capsys: pytest.CaptureFixture[str]) -> None:
    def words(text: str) -> str:
        return " ".join(text.replace("`", "").split())

    rule = words(cli.EXIT_CODES)
    assert "0 ok; 1 an AWS call or a check failed" in rule and "2 a usage or configuration error" in rule
    assert rule in words(cli.__doc__ or "")
    assert rule in words(cli.EPILOG)
    with pytest.raises(SystemExit):
        cli.main(["doctor", "--help"])
    doctor_help = words(capsys.readouterr().out)
    assert "Exit code 0 when no check fails; 2 when a failed check is the configuration, the credentials" in doctor_help
    # What the rule says, as the code does it (the commands themselves: the tests of each one below).
    assert (cli.EXIT_OK, cli.EXIT_FAILED, cli.EXIT_USAGE, cli.EXIT_INTERRUPTED) == (0, 1, 2, 130)
    doctor = cli_doctor.Doctor(types.SimpleNamespace(), lambda line: None)
    doctor.checks = [cli_doctor.Check("log group", "FAIL", "missing"), cli_doctor.Check("retention", "PASS", "")]
    assert doctor.finish() == 1
    doctor.checks.append(cli_doctor.Check("region", "FAIL", "no AWS region configured", exit_code=cli.EXIT_USAGE))
    assert doctor.finish() == 2
    doctor.checks = [cli_doctor.Check("log group", "SKIP", "not checked")]
    assert doctor.finish() == 0


def test_a_usage_error_is_one_line_with_exit_code_2(tmp_path: Path) -> None:
    done = run_cli(["tail", "--group", GROUP, "--since", "yesterday"], clean_environ(tmp_path), tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "otel-cw-exporter tail: error: argument --since: 'yesterday' is not a duration (10m, 90s, 2h, 1d) or an "
        "ISO-8601 time (2026-11-24T09:00:00Z) (see otel-cw-exporter tail --help)"
    ]


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
    # At 100 columns the table shows 8 hex digits; the whole ids, usable with tail --trace-id, follow it.
    legend = dict(re.findall(r"^  ([0-9a-f]{8})  ([0-9a-f]{32})  [a-z, ]+$", out, re.M))
    assert "Trace ids (whole, for `otel-cw-exporter tail --trace-id ID`):" in out
    assert len(legend) == 4 and all(whole.startswith(short) for short, whole in legend.items())
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
    assert {r[5] for rows_of_stream in rows.values() for r in rows_of_stream} == set(legend)
    assert cli_options.trace_id_type(legend[rows["security"][0][5]]) == legend[rows["security"][0][5]]

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


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--region", "eu-west-1"], "--region applies"),
        (["--profile", "p", "--region", "r"], "--region and --profile apply"),
    ],
)
def test_demo_region_or_profile_without_aws_is_a_usage_error(
    options: list[str], named: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[str] = []
    monkeypatch.setattr(demo, "run_local", lambda group, out=print: started.append(group) or 0)
    assert cli.main(["demo", *options]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"otel-cw-exporter: error: {named} only with --aws or --endpoint-url"), line
    assert "fix: add --aws (or --endpoint-url URL)" in line
    assert started == []  # nothing ran
    assert cli.main(["demo"]) == 0 and started == ["integrates"]


def test_demo_tables_show_whole_trace_ids_when_they_fit() -> None:
    events = [
        {**event("Added secret", user_email="jdoe@example.com", log_type="Security"), "@logStream": "security"},
        {**event("Mutation failed", level="ERROR", trace_id=T2), "@logStream": "application"},
    ]
    for item in events:
        item["@timestamp"] = 1_795_000_000_000
    wide: list[str] = []
    demo.show_events(events, wide.append, 120)
    assert any(line.rstrip().endswith(T1) for line in wide) and any(line.rstrip().endswith(T2) for line in wide)
    assert not any(line.startswith("Trace ids") for line in wide)
    assert all(len(line) <= 120 for line in wide)
    narrow: list[str] = []
    demo.show_events(events, narrow.append, 100)
    assert any(line.rstrip().endswith(f"  {T1[:8]}") for line in narrow)
    assert f"  {T1[:8]}  {T1}  security" in narrow and f"  {T2[:8]}  {T2}  application" in narrow
    assert all(len(line) <= 100 for line in narrow)


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
    done = run_cli(["doctor", "--put-test-event"], environ, tmp_path, module=False)  # the console script
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


def test_doctor_without_credentials_region_or_endpoint(tmp_path: Path, cloudwatch_logs: LocalCloudWatchLogs) -> None:
    no_credentials = clean_environ(tmp_path, AWS_DEFAULT_REGION="us-east-1")
    no_region = local_environ(tmp_path, cloudwatch_logs, AWS_DEFAULT_REGION="")
    no_region.pop("AWS_DEFAULT_REGION")
    dead = local_environ(tmp_path, cloudwatch_logs, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS="http://127.0.0.1:9")
    credentials, region, unreachable, unset = run_all(
        [
            (["doctor", "--group", GROUP], no_credentials),
            (["doctor", "--group", GROUP], no_region),
            (["doctor", "--group", GROUP], dead),
            (["doctor"], local_environ(tmp_path, cloudwatch_logs)),
        ],
        tmp_path,
    )
    # No credentials, no region: configuration errors, exit code 2 as for every command.
    assert credentials.returncode == 2, credentials.stdout
    found = checks(credentials.stdout)
    assert found["credentials"] == "FAIL" and found["region"] == "PASS" and found["endpoint"] == "SKIP"
    assert "configure AWS credentials (environment, profile, or instance role)" in credentials.stdout

    assert no_region["AWS_REGION"] == "us-east-1"  # set, but boto3 does not read it
    assert region.returncode == 2, region.stdout
    found = checks(region.stdout)
    assert found["credentials"] == "PASS" and found["region"] == "FAIL" and found["endpoint"] == "SKIP"
    text = " ".join(region.stdout.split())
    assert "FAIL region no AWS region configured" in text
    assert (
        "fix: pass --region, or set AWS_DEFAULT_REGION (or OTEL_EXPORTER_CLOUDWATCH_LOGS_REGION); boto3 ignores" in text
    )
    assert "AWS_REGION is set, but boto3 reads AWS_DEFAULT_REGION" in text

    assert unreachable.returncode == 1
    found = checks(unreachable.stdout)
    assert found["endpoint"] == "FAIL" and found["log group"] == "SKIP"
    assert "cannot reach http://127.0.0.1:9 (EndpointConnectionError)" in unreachable.stdout
    assert "AWS_DEFAULT_REGION; boto3 ignores AWS_REGION" in " ".join(unreachable.stdout.split())
    assert "Traceback" not in unreachable.stdout + unreachable.stderr

    assert unset.returncode == 2  # a configuration error
    assert checks(unset.stdout)["configuration"] == "FAIL"
    assert "pass --group NAME, or set OTEL_EXPORTER_CLOUDWATCH_LOGS_GROUP_NAME" in unset.stdout


def test_doctor_checks_the_destination_of_each_route(
    tmp_path: Path,
    cloudwatch_logs: LocalCloudWatchLogs,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    put(cloudwatch_logs, GROUP, "app", event("hello"))
    routes = [
        {"when": {"log_type": "Audit"}, "log_group_name": "audit-missing"},
        {"when": {"log_type": ["Security", "Admin"]}, "log_stream_name": "security"},
        {"when": {"level": "ERROR"}, "log_stream_name": "{log_type}-errors"},
        {"when": {"logger": "jobs"}, "log_group_name": "{service.name}-jobs"},
        {"when": {"log_type": "Audit2"}, "log_group_name": "audit-missing"},  # the same destination: one line
    ]
    environ = local_environ(
        tmp_path,
        cloudwatch_logs,
        OTEL_EXPORTER_CLOUDWATCH_LOGS_GROUP_NAME=GROUP,
        OTEL_EXPORTER_CLOUDWATCH_LOGS_STREAM_NAME="app",
        OTEL_EXPORTER_CLOUDWATCH_LOGS_ROUTES=json.dumps(routes),
    )
    in_process(monkeypatch, environ)
    code, out, err = here(capsys, ["doctor"])
    assert code == 1, out + err
    text = " ".join(out.split())
    found = re.findall(r"^  (PASS|FAIL|SKIP)  (route \[\d\])", out, re.M)
    assert found == [("FAIL", "route [0]"), ("PASS", "route [1]"), ("SKIP", "route [2]"), ("SKIP", "route [3]")]
    assert "5 routes" in text
    assert (
        'FAIL route [0] log_type=Audit -> group "audit-missing", stream "app": log group "audit-missing" does not '
        "exist in us-east-1 fix: create it (aws logs create-log-group --log-group-name audit-missing" in text
    )
    assert 'PASS route [1] log_type=Security|Admin -> group "integrates", stream "security"' in text
    assert '"security" can be created (created it, as the exporter would)' in text
    assert 'stream not checked ahead: the stream name comes from the template "{log_type}-errors"' in text
    assert "{log_type} has no value here" in text
    assert 'SKIP route [3] logger=jobs -> group "{service.name}-jobs", stream "app": not checked ahead' in text
    assert "{service.name} is not set here (set OTEL_SERVICE_NAME" in text
    assert text.endswith("1 of 12 checks failed (8 passed, 3 not checked).")
    assert sorted(cloudwatch_logs.streams(GROUP)) == ["app", "security"]  # nothing made from a template
    assert [g["logGroupName"] for g in cloudwatch_logs.client().describe_log_groups()["logGroups"]] == [GROUP]

    code, out, _ = here(capsys, ["doctor", "--create-group"])  # as the exporter would: it creates it
    assert code == 0, out
    assert 'log group "audit-missing" did not exist: created it' in " ".join(out.split())
    assert cloudwatch_logs.streams("audit-missing") == ["app"]

    monkeypatch.setenv("OTEL_EXPORTER_CLOUDWATCH_LOGS_ROUTES", '[{"when": {}, "log_group_name": "x"}]')
    code, out, _ = here(capsys, ["doctor"])
    assert code == 2
    assert checks(out)["configuration"] == "FAIL"
    assert "OTEL_EXPORTER_CLOUDWATCH_LOGS_ROUTES: route [0]: when is empty" in " ".join(out.split())


def test_doctor_creates_no_stream_the_exporter_would_not(
    tmp_path: Path,
    cloudwatch_logs: LocalCloudWatchLogs,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    put(cloudwatch_logs, GROUP, "app", event("hello"))
    environ = local_environ(
        tmp_path,
        cloudwatch_logs,
        OTEL_EXPORTER_CLOUDWATCH_LOGS_GROUP_NAME=GROUP,
        OTEL_EXPORTER_CLOUDWATCH_LOGS_CREATE_STREAM="false",
    )
    lookups: list[dict[str, Any]] = []

    def record(call: Call) -> Fault | None:
        if call.operation == "DescribeLogStreams":
            lookups.append(call.payload)
        return None

    cloudwatch_logs.inject(record)
    in_process(monkeypatch, environ)
    code, out, _ = here(capsys, ["doctor", "--stream", "missing", "--put-test-event"])
    assert code == 1, out
    text = " ".join(out.split())
    assert checks(out)["log stream"] == "FAIL" and checks(out)["test event"] == "SKIP"
    assert (
        'FAIL log stream "missing" does not exist in "integrates", and the exporter will not create it '
        "(OTEL_EXPORTER_CLOUDWATCH_LOGS_CREATE_STREAM is false) fix: create it (aws logs create-log-stream "
        "--log-group-name integrates --log-stream-name missing --region us-east-1), or set "
        "OTEL_EXPORTER_CLOUDWATCH_LOGS_CREATE_STREAM=true" in text
    )
    assert {"logGroupName": GROUP, "logStreamNamePrefix": "missing", "limit": 5} in lookups

    code, out, _ = here(capsys, ["doctor", "--stream", "app"])
    assert code == 0, out
    assert '"app" exists (OTEL_EXPORTER_CLOUDWATCH_LOGS_CREATE_STREAM is false' in " ".join(out.split())

    # The default stream name, {service.name}, has no service here: not a name to create.
    monkeypatch.setenv("OTEL_EXPORTER_CLOUDWATCH_LOGS_CREATE_STREAM", "true")
    code, out, _ = here(capsys, ["doctor"])
    assert code == 0, out
    assert checks(out)["log stream"] == "SKIP"
    assert (
        'not checked ahead: the stream name comes from the template "{service.name}" and {service.name} is not '
        "set here (set OTEL_SERVICE_NAME as the service does)" in " ".join(out.split())
    )
    assert cloudwatch_logs.streams(GROUP) == ["app"]  # none created
    assert cloudwatch_logs.calls("CreateLogStream") == 1  # put()'s own


# --------------------------------------------------------------------------- tail


def test_tail_prints_and_filters_client_and_server_side(tmp_path: Path, populated: LocalCloudWatchLogs) -> None:
    patterns: list[str | None] = []

    def record(call: Call) -> Fault | None:
        if call.operation == "FilterLogEvents":
            patterns.append(call.payload.get("filterPattern"))
        return None

    populated.inject(record)
    environ = local_environ(tmp_path, populated, OTEL_EXPORTER_CLOUDWATCH_LOGS_GROUP_NAME=GROUP)

    done = run_cli(["tail", "--no-follow"], environ, tmp_path, module=False)  # the console script
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
    assert [r.stderr.rstrip().splitlines()[-1] for r in runs] == [
        "2 event(s).",
        "2 event(s).",
        "2 event(s).",
        "1 event(s).",
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
    assert began - 3_600_000 - 1000 <= starts[0] <= began - 3_600_000 + 1000  # --since 1h
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


# --------------------------------------------------------------------------- queries


def definitions(endpoint: LocalCloudWatchLogs) -> dict[str, dict[str, Any]]:
    """The endpoint's query definitions by id."""
    return {item["queryDefinitionId"]: item for item in endpoint.query_definitions.items()}


@pytest.fixture
def short_pages(cloudwatch_logs: LocalCloudWatchLogs) -> LocalCloudWatchLogs:
    """Fewer definitions a page than asked for, as AWS may answer: the command must follow nextToken."""
    cloudwatch_logs.query_definitions.page_size = 3
    return cloudwatch_logs


def test_the_local_endpoint_keeps_query_definitions_as_aws_does(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    client = cloudwatch_logs.client()
    made = client.put_query_definition(name="team/b", queryString="fields @message", logGroupNames=["g"])
    ident = made["queryDefinitionId"]
    client.put_query_definition(name="team/a", queryString="fields @timestamp")
    client.put_query_definition(name="other", queryString="fields @timestamp")
    listed = client.describe_query_definitions(queryDefinitionNamePrefix="team/")["queryDefinitions"]
    assert [d["name"] for d in listed] == ["team/a", "team/b"]
    assert set(listed[1]) == {
        "queryLanguage",
        "queryDefinitionId",
        "name",
        "queryString",
        "lastModified",
        "logGroupNames",
    }
    assert listed[1]["queryDefinitionId"] == ident and listed[1]["logGroupNames"] == ["g"]
    page = client.describe_query_definitions(maxResults=2)
    assert len(page["queryDefinitions"]) == 2
    rest = client.describe_query_definitions(maxResults=2, nextToken=page["nextToken"])
    assert len(rest["queryDefinitions"]) == 1 and "nextToken" not in rest
    assert (
        client.put_query_definition(queryDefinitionId=ident, name="team/b", queryString="x")["queryDefinitionId"]
        == ident
    )
    assert definitions(cloudwatch_logs)[ident]["queryString"] == "x"
    with pytest.raises(client.exceptions.InvalidParameterException, match="less than or equal to 255"):
        client.put_query_definition(name="n" * 256, queryString="fields @message")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.put_query_definition(queryDefinitionId="no-such-id", name="team/c", queryString="x")
    assert client.delete_query_definition(queryDefinitionId=ident)["success"] is True
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.delete_query_definition(queryDefinitionId=ident)
    assert len(definitions(cloudwatch_logs)) == 2
    cloudwatch_logs.reset()
    assert client.describe_query_definitions()["queryDefinitions"] == []


def test_queries_install_is_idempotent_and_touches_only_its_own(
    tmp_path: Path, short_pages: LocalCloudWatchLogs
) -> None:
    endpoint = short_pages
    client = endpoint.client()
    client.put_query_definition(name="team/mine", queryString="fields @message")
    client.put_query_definition(name="otel-cw-exporter/integrates/Own query", queryString="x")
    environ = local_environ(tmp_path, endpoint)
    install = ["queries", "install", "--group", GROUP, "--group", "integrates-audit"]

    done = run_cli(install, environ, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "10 created, 0 updated, 0 unchanged in us-east-1" in done.stdout
    assert re.search(r"^  created +integrates +Security events by user in the last 24h$", done.stdout, re.M)
    store = definitions(endpoint)
    ours = {d["name"]: d for d in store.values() if d["name"].startswith("otel-cw-exporter/integrates/")}
    assert ours["otel-cw-exporter/integrates/Security events by user in the last 24h"]["queryString"] == SEED_SECURITY
    assert ours["otel-cw-exporter/integrates/Errors in critical operations"]["queryString"] == SEED_ERRORS
    assert ours["otel-cw-exporter/integrates/Errors in critical operations"]["logGroupNames"] == [GROUP]
    assert len(store) == 12

    before = definitions(endpoint)
    puts = endpoint.calls("PutQueryDefinition")
    done = run_cli(install, environ, tmp_path)
    assert "0 created, 0 updated, 10 unchanged" in done.stdout
    assert endpoint.calls("PutQueryDefinition") == puts and definitions(endpoint) == before

    [ident] = [k for k, d in before.items() if d["name"].endswith("integrates/Audit trail of one user")]
    client.put_query_definition(
        queryDefinitionId=ident, name=before[ident]["name"], queryString="fields @timestamp", logGroupNames=[GROUP]
    )
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
    assert definitions(endpoint)[ident]["queryString"] == "fields @timestamp"

    done = run_cli(install, environ, tmp_path)
    assert "0 created, 1 updated, 9 unchanged" in done.stdout
    after = definitions(endpoint)
    assert after[ident]["queryString"] == queries.USER_AUDIT_TRAIL.query  # updated in place, same id
    assert before.keys() == after.keys()
    assert {k: v for k, v in before.items() if k != ident} == {k: v for k, v in after.items() if k != ident}
    assert next(d for d in after.values() if d["name"] == "team/mine")["queryString"] == "fields @message"


def test_queries_keep_definition_names_within_255_characters(
    tmp_path: Path,
    cloudwatch_logs: LocalCloudWatchLogs,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    long_group = "/aws/lambda/" + "integrates-" * 40  # 452 characters: a valid log group name
    other = long_group[:-1] + "x"  # the same start: shortened, it must not name the same definitions
    in_process(monkeypatch, local_environ(tmp_path, cloudwatch_logs))
    install = ["queries", "install", "--group", long_group, "--group", other]
    code, out, err = here(capsys, install)
    assert code == 0, err
    assert "10 created, 0 updated, 0 unchanged" in out
    names = [d["name"] for d in cloudwatch_logs.query_definitions.items()]
    assert len(set(names)) == 10 and all(len(name) <= 255 for name in names), names
    assert {tuple(d["logGroupNames"]) for d in cloudwatch_logs.query_definitions.items()} == {(long_group,), (other,)}
    part = queries.group_part(long_group)
    assert part == queries.group_part(long_group) != queries.group_part(other)
    assert re.fullmatch(r"/aws/lambda/integrates-.+~[0-9a-f]{8}", part)
    assert f"otel-cw-exporter/{part}/Errors in critical operations" in names
    assert queries.group_part(GROUP) == GROUP  # names that fit are kept whole

    code, out, err = here(capsys, install)
    assert "0 created, 0 updated, 10 unchanged" in out, err
    code, out, err = here(capsys, ["queries", "list", "--group", long_group])
    assert code == 0, err
    statuses = re.findall(r"^  (current|outdated|missing|unknown) ", out, re.M)
    assert statuses == ["current"] * 5, out


def test_queries_install_reads_the_exporters_groups_from_its_variables(
    tmp_path: Path, short_pages: LocalCloudWatchLogs
) -> None:
    routes = [
        {"when": {"log_type": "Audit"}, "log_group_name": "integrates-audit"},
        {"when": {"log_type": "Debug"}, "log_group_name": "{service.name}-debug"},  # a template: skipped
        {"when": {"log_type": "Security"}, "log_stream_name": "security"},
    ]
    environ = local_environ(
        tmp_path,
        short_pages,
        OTEL_EXPORTER_CLOUDWATCH_LOGS_GROUP_NAME=GROUP,
        OTEL_EXPORTER_CLOUDWATCH_LOGS_ROUTES=json.dumps(routes),
    )
    done = run_cli(["queries", "install"], environ, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "10 created" in done.stdout
    assert {d["logGroupNames"][0] for d in short_pages.query_definitions.items()} == {GROUP, "integrates-audit"}


def test_queries_list_shows_missing_ones_and_the_catalog_needs_no_aws(
    tmp_path: Path, cloudwatch_logs: LocalCloudWatchLogs
) -> None:
    environ = local_environ(tmp_path, cloudwatch_logs)
    listed, catalog = run_all(
        [(["queries", "list", "--group", GROUP], environ), (["queries", "list", "--catalog"], clean_environ(tmp_path))],
        tmp_path,
    )
    assert listed.returncode == 0, listed.stderr
    assert len(re.findall(r"^  missing +integrates  ", listed.stdout, re.M)) == 5
    assert "`otel-cw-exporter queries install` creates the missing ones" in listed.stdout

    assert catalog.returncode == 0, catalog.stderr
    assert "\n".join("    " + line for line in SEED_SECURITY.splitlines()) in catalog.stdout
    assert "\n".join("    " + line for line in SEED_ERRORS.splitlines()) in catalog.stdout
    for query in queries.SAVED_QUERIES:
        assert query.title in catalog.stdout


@pytest.fixture
def html_endpoint() -> Iterator[str]:
    """Something on 127.0.0.1 that answers every request with an HTML error page, as a proxy might."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = b"<html><body><h1>404 Not Found</h1></body></html>"
            self.send_response(404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_queries_errors_are_one_line(tmp_path: Path, cloudwatch_logs: LocalCloudWatchLogs, html_endpoint: str) -> None:
    environ = local_environ(tmp_path, cloudwatch_logs)
    cloudwatch_logs.inject(
        lambda call: (
            Fault("AccessDeniedException", 400, "not authorized: logs:PutQueryDefinition")
            if call.operation == "PutQueryDefinition"
            else None
        )
    )
    no_credentials = clean_environ(tmp_path, AWS_DEFAULT_REGION="us-east-1")
    denied, unset, credentials, html = run_all(
        [
            (["queries", "install", "--group", GROUP], environ),
            (["queries", "install"], environ),
            (["queries", "install", "--group", GROUP], no_credentials),
            (["queries", "list"], {**environ, "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": html_endpoint}),
        ],
        tmp_path,
    )
    assert one_error_line(denied, 1) == (
        "otel-cw-exporter: error: access denied: not allowed to call logs:PutQueryDefinition (AccessDeniedException); "
        'fix: grant logs:PutQueryDefinition on "*"'
    )
    assert "no log group configured" in one_error_line(unset, 2)
    assert "no AWS credentials found" in one_error_line(credentials, 2)
    line = one_error_line(html, 1)  # not a CloudWatch Logs endpoint: said in one line too
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
