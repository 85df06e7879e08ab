"""A region or endpoint boto3 cannot use stops every command with exit code 2 and one line saying what to
change, before any AWS call: at parse for an option, at the configuration step for a variable."""

from __future__ import annotations

import re
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import GROUP, clean_environ, one_error_line, run_all

CHECKS = ("configuration", "credentials", "region", "endpoint", "log group", "log stream", "test event", "retention")


class Listener:
    """A TCP port on 127.0.0.1 that counts the connections made to it (and answers none)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    found = Listener()
    yield found
    found.close()


def environ(tmp_path: Path, listener: Listener, **extra: str) -> dict[str, str]:
    """Credentials and a region; CloudWatch Logs and STS both at the counting listener."""
    base = {
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEEXAMPLE01",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": listener.url,
        "AWS_ENDPOINT_URL_STS": listener.url,
    }
    return clean_environ(tmp_path, **{**base, **extra})


def checks(out: str) -> dict[str, str]:
    return {name.strip(): status for status, name in re.findall(r"^  (PASS|FAIL|SKIP)  (.{13})", out, re.M)}


def parse_error(done: subprocess.CompletedProcess[str], command: str, option: str) -> str:
    """Refused at parse: exit 2, nothing on stdout (the command never ran), one line naming the option."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"otel-cw-exporter {command}: error: argument {option}: "), line
    return line


def test_an_option_boto3_would_refuse_is_a_usage_error_at_parse(tmp_path: Path, listener: Listener) -> None:
    env = environ(tmp_path, listener)
    runs = [
        (["doctor", "--group", GROUP, "--region", "not a region!"], env),
        (["doctor", "--group", GROUP, "--endpoint-url", "127.0.0.1:4599"], env),
        (["tail", "--group", GROUP, "--endpoint-url", "localhost:4566"], env),
        (["queries", "install", "--group", GROUP, "--region", "eu_west_1"], env),
        (["queries", "list", "--endpoint-url", "ftp://127.0.0.1:21"], env),
        (["demo", "--aws", "--region=eu-west-1-"], env),
    ]
    region, endpoint, tail, install, listing, demo = run_all(runs, tmp_path)
    assert parse_error(region, "doctor", "--region") == (
        "otel-cw-exporter doctor: error: argument --region: 'not a region!' is not an AWS region name (letters, "
        "digits and '-', as in us-east-1); fix: pass a region, as in --region us-east-1 "
        "(see otel-cw-exporter doctor --help)"
    )
    assert parse_error(endpoint, "doctor", "--endpoint-url") == (
        "otel-cw-exporter doctor: error: argument --endpoint-url: '127.0.0.1:4599' has no scheme (http:// or "
        "https://); fix: pass --endpoint-url http://127.0.0.1:4599 (see otel-cw-exporter doctor --help)"
    )
    assert "fix: pass --endpoint-url http://localhost:4566" in parse_error(tail, "tail", "--endpoint-url")
    assert "'eu_west_1' is not an AWS region name" in parse_error(install, "queries install", "--region")
    assert "only http and https work; fix: pass --endpoint-url http://127.0.0.1:21" in parse_error(
        listing, "queries list", "--endpoint-url"
    )
    assert "'eu-west-1-' is not an AWS region name" in parse_error(demo, "demo", "--region")
    assert listener.connections == 0  # no STS, no CloudWatch Logs call


def test_a_variable_boto3_would_refuse_stops_doctor_at_the_configuration(tmp_path: Path, listener: Listener) -> None:
    runs = [
        (
            ["doctor", "--group", GROUP],
            environ(tmp_path, listener, OTEL_EXPORTER_CLOUDWATCH_LOGS_REGION="not a region!"),
        ),
        (["doctor"], environ(tmp_path, listener, OTEL_EXPORTER_CLOUDWATCH_LOGS_ENDPOINT="127.0.0.1:4599")),
        (["doctor", "--group", GROUP], environ(tmp_path, listener, OTEL_EXPORTER_CLOUDWATCH_LOGS_TAGS="team")),
        (["doctor", "--group", GROUP], environ(tmp_path, listener, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS="127.0.0.1:4599")),
    ]
    region, endpoint, tags, boto_endpoint = run_all(runs, tmp_path)
    for done in (region, endpoint, tags, boto_endpoint):
        assert done.returncode == 2, done.stdout + done.stderr
        assert "Traceback" not in done.stdout + done.stderr and done.stderr == ""
        found = checks(done.stdout)
        assert found == {"configuration": "FAIL", **dict.fromkeys(CHECKS[1:], "SKIP")}, done.stdout
        assert "not checked: needs a valid configuration" in done.stdout
    text = " ".join(region.stdout.split())
    assert (
        "FAIL configuration invalid configuration: OTEL_EXPORTER_CLOUDWATCH_LOGS_REGION='not a region!' is not" in text
    )
    assert "fix: use a region name, as in OTEL_EXPORTER_CLOUDWATCH_LOGS_REGION=us-east-1" in text
    text = " ".join(endpoint.stdout.split())  # no group either: the bad value is what it names
    assert "OTEL_EXPORTER_CLOUDWATCH_LOGS_ENDPOINT='127.0.0.1:4599' has no scheme" in text
    assert "fix: set OTEL_EXPORTER_CLOUDWATCH_LOGS_ENDPOINT=http://127.0.0.1:4599" in text
    assert "OTEL_EXPORTER_CLOUDWATCH_LOGS_TAGS: expected key=value pairs separated by commas, got 'team'" in " ".join(
        tags.stdout.split()
    )
    assert "fix: set AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=http://127.0.0.1:4599" in " ".join(boto_endpoint.stdout.split())
    assert listener.connections == 0


def test_a_region_from_boto3s_chain_that_botocore_refuses_is_exit_2(tmp_path: Path, listener: Listener) -> None:
    bad = environ(tmp_path, listener, AWS_DEFAULT_REGION="not a region!")
    doctor, tail, install, demo = run_all(
        [
            (["doctor", "--group", GROUP], bad),
            (["tail", "--group", GROUP, "--no-follow"], bad),
            (["queries", "install", "--group", GROUP], bad),
            (["demo", "--aws"], bad),
        ],
        tmp_path,
    )
    assert doctor.returncode == 2, doctor.stdout + doctor.stderr
    found = checks(doctor.stdout)
    assert found["region"] == "FAIL" and found["endpoint"] == "SKIP"
    text = " ".join(doctor.stdout.split())
    assert "the region 'not a region!' (from AWS_DEFAULT_REGION) is not an AWS region name" in text
    assert "fix: pass --region us-east-1 (your region), or correct AWS_DEFAULT_REGION" in text
    assert "caller identity not checked: no usable region" in text
    for done in (tail, install, demo):
        line = one_error_line(done, 2)
        assert "the region 'not a region!' (from AWS_DEFAULT_REGION)" in line
        assert line.endswith("fix: pass --region us-east-1 (your region), or correct AWS_DEFAULT_REGION")
    assert listener.connections == 0


def test_an_endpoint_variable_boto3_would_refuse_is_exit_2_with_the_url_to_use(
    tmp_path: Path, listener: Listener
) -> None:
    runs = [
        (["tail", "--group", GROUP, "--no-follow"], environ(tmp_path, listener, AWS_ENDPOINT_URL="127.0.0.1:4599")),
        (
            ["queries", "list"],
            environ(tmp_path, listener, AWS_ENDPOINT_URL_CLOUDWATCH_LOGS="localhost:4566"),
        ),
        (
            ["tail", "--group", GROUP, "--no-follow"],
            environ(tmp_path, listener, OTEL_EXPORTER_CLOUDWATCH_LOGS_ENDPOINT="127.0.0.1:4599"),
        ),
    ]
    environ_without = runs[0][1]
    environ_without.pop("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS")
    generic, specific, ours = run_all(runs, tmp_path)
    assert one_error_line(generic, 2) == (
        "otel-cw-exporter: error: invalid configuration: AWS_ENDPOINT_URL='127.0.0.1:4599' has no scheme "
        "(http:// or https://); fix: set AWS_ENDPOINT_URL=http://127.0.0.1:4599"
    )
    assert one_error_line(specific, 2).endswith("fix: set AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=http://localhost:4566")
    assert one_error_line(ours, 2).endswith("fix: set OTEL_EXPORTER_CLOUDWATCH_LOGS_ENDPOINT=http://127.0.0.1:4599")
    assert listener.connections == 0
