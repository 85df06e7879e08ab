"""otel-cw-exporter doctor: each check, its fix and its exit code."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest

from otel_cw_exporter.cli import doctor as cli_doctor
from otel_cw_exporter.testing import Call, Fault, LocalCloudWatchLogs
from tests.support import (
    GROUP,
    clean_environ,
    event,
    here,
    in_process,
    local_environ,
    put,
    run_all,
    run_cli,
    start_cli,
)

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


def test_doctor_says_what_it_waits_for_and_ends_against_an_endpoint_that_never_answers(tmp_path: Path) -> None:
    # Something that takes the connection (the kernel's backlog) and never answers.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        environ = clean_environ(
            tmp_path,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=url,
        )
        running = start_cli(["doctor", "--group", GROUP], environ, tmp_path)
        try:
            before = running.read_until("waiting for")
            assert running.process.poll() is None  # printed before the wait, not after it
            assert (
                before[-1].rstrip()
                == f"  ....  endpoint      waiting for {url} (at most 3 s to connect, 5 s to answer)"
            )
            # The whole run ends within the bound its --help states.
            assert running.process.wait(timeout=cli_doctor.RUN_LIMIT + 10) == 1
            running.read_until("checks failed")
        finally:
            running.kill()
    out = "".join(running.out)
    text = " ".join(out.split())
    assert checks(out)["endpoint"] == "FAIL" and checks(out)["log group"] == "SKIP"
    assert (
        f"FAIL endpoint {url} took the connection but sent no answer in 5 s (ReadTimeoutError) fix: check that "
        "this is a CloudWatch Logs endpoint and that it runs (not stopped or stuck)" in text
    )
    assert "Traceback" not in out + "".join(running.err)


def test_doctor_starts_no_call_after_its_time_limit(
    tmp_path: Path,
    cloudwatch_logs: LocalCloudWatchLogs,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    put(cloudwatch_logs, GROUP, "app", event("hello"))
    cloudwatch_logs.inject(lambda call: Fault(status=None, delay=1.2))  # every call answers, slowly
    monkeypatch.setattr(cli_doctor, "CALL_LIMIT", 1.0)
    in_process(monkeypatch, local_environ(tmp_path, cloudwatch_logs))
    code, out, _ = here(capsys, ["doctor", "--group", GROUP, "--stream", "app"])
    assert code == 1, out
    found = checks(out)
    assert found["endpoint"] == "PASS"  # the first call, within the limit
    assert found["log group"] == "SKIP" and found["log stream"] == "SKIP"
    text = " ".join(out.split())
    assert "SKIP log group not checked: doctor starts no AWS call after 1 s, and the calls were slow" in text
    assert text.endswith("Doctor's time limit was reached (no AWS call after 1 s): 5 passed, 0 failed, 3 not checked.")
    assert cloudwatch_logs.calls("DescribeLogGroups") == 1  # only the endpoint's


def test_a_retention_of_one_day_is_said_in_the_singular() -> None:
    assert cli_doctor._retention_text({"retentionInDays": 1}) == "events for 1 day"
    assert cli_doctor._retention_text({"retentionInDays": 7}) == "events for 7 days"
    assert cli_doctor._retention_text({}) == "events forever (no retention policy)"


def test_a_region_botocore_does_not_know_is_noted(tmp_path: Path, cloudwatch_logs: LocalCloudWatchLogs) -> None:
    """``mars-1`` (a typo, say): not a failure (a new region may be unknown to an older botocore), but
    said beside the region, before the endpoint's own complaint about it."""
    environ = local_environ(tmp_path, cloudwatch_logs)
    done = run_cli(["doctor", "--group", GROUP, "--region", "mars-1"], environ, tmp_path)
    text = " ".join(done.stdout.split())
    assert "PASS region mars-1 (from --region; not a region botocore knows for CloudWatch Logs)" in text, text
    known = run_cli(["doctor", "--group", GROUP], environ, tmp_path)
    assert "not a region botocore knows" not in known.stdout
