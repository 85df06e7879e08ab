"""otel-cw-exporter local: the local endpoint on its own, its variables, and how it stops."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.support import clean_environ, error_without_moto, local_endpoint, one_error_line, run_cli


def test_local_prints_the_variables_then_serves_the_strict_endpoint(tmp_path: Path) -> None:
    with local_endpoint(tmp_path) as (running, variables):
        url = variables["AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"]
        assert url.startswith("http://127.0.0.1:") and int(url.rsplit(":", 1)[1]) > 0  # --port 0: a free one
        assert variables == {
            "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        # Every line is shell: comments and exports, so the whole output can be pasted or eval'd.
        assert all(line.startswith(("# ", "export ")) for line in running.out), running.out
        assert f"at {url};" in running.out[0]
        shell = subprocess.run(
            ["sh", "-c", "".join(running.out) + 'printf %s "$AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"'],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        assert shell.stdout == url

        # A client configured only by those variables reaches it (boto3 reads them as the exporter does).
        client = boto3.session.Session(
            aws_access_key_id=variables["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=variables["AWS_SECRET_ACCESS_KEY"],
            region_name=variables["AWS_DEFAULT_REGION"],
        ).client("logs", endpoint_url=url)
        client.create_log_group(logGroupName="g")
        client.create_log_stream(logGroupName="g", logStreamName="s")
        client.put_log_events(
            logGroupName="g",
            logStreamName="s",
            logEvents=[{"timestamp": 1_000, "message": json.dumps({"message": "too old"})}],
        )
        # The strict endpoint of otel_cw_exporter.testing, not bare moto: an event over 1 MB is refused.
        with pytest.raises(ClientError) as refused:
            client.put_log_events(
                logGroupName="g",
                logStreamName="s",
                logEvents=[{"timestamp": 2_000, "message": "x" * 1_048_576}],
            )
        assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
        # And its query definitions, which moto lacks.
        client.put_query_definition(name="q", queryString="fields @timestamp", logGroupNames=["g"])
        assert [d["name"] for d in client.describe_query_definitions()["queryDefinitions"]] == ["q"]

        assert running.stop(signal.SIGINT) == 0
    assert "Traceback" not in "".join(running.err)
    assert (
        "".join(running.err)
        .strip()
        .endswith("Stopped the local endpoint; its groups, events and query definitions are gone.")
    )


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_local_stops_cleanly_as_a_background_job(tmp_path: Path, stop: signal.Signals) -> None:
    # Started as `otel-cw-exporter local &` is: SIGINT inherited as ignored. kill -INT stops it all the same.
    with local_endpoint(tmp_path, background=True) as (running, variables):
        assert "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS" in variables
        assert running.stop(stop, timeout=20) == 0
    assert "Traceback" not in "".join(running.err) and "KeyboardInterrupt" not in "".join(running.err)


def test_local_on_a_port_in_use_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = run_cli(["local", "--port", str(port)], clean_environ(tmp_path), tmp_path, timeout=60)
    line = one_error_line(done, 2)
    assert line == (
        f"otel-cw-exporter: error: port {port} is in use on 127.0.0.1 (another `otel-cw-exporter local`?); "
        "fix: pass another --port, or --port 0 for any free port"
    )
    assert done.stdout == ""  # no variables for an endpoint that is not there

    done = run_cli(["local", "--port", "65536"], clean_environ(tmp_path), tmp_path)
    assert done.returncode == 2
    assert "argument --port: '65536' is not a port: 0 (any free port) to 65535" in done.stderr


def test_local_binds_127_0_0_1_only(tmp_path: Path) -> None:
    with local_endpoint(tmp_path) as (_, variables):
        port = int(variables["AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"].rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        # 127.0.0.2 is this machine too: only a socket bound to every address (0.0.0.0) would answer there.
        with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.2", port), timeout=5):
            pass


def test_local_without_the_local_extra_says_how_to_install_it(tmp_path: Path) -> None:
    line = error_without_moto(tmp_path, "local")
    assert "the local CloudWatch Logs endpoint needs the 'local' extra (moto is not installed)" in line
    assert "fix: pip install 'otel-cw-exporter[local]'" in line
