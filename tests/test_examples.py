"""Every example runs as its docstring says, against the local endpoint; zero-code too."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from otel_cw_exporter.testing import LocalCloudWatchLogs
from tests.support import ROOT, clean_environ, run_example, section_of


def test_example_quickstart_is_the_readme_lines_and_delivers() -> None:
    event = json.loads(run_example("quickstart.py"))  # exactly one event, printed as one JSON document
    assert event["message"] == "Added secret" and event["logger"] == "transactional"
    assert event["extra"] == {"user_email": "jdoe@example.com", "log_type": "Security", "environment": "production"}
    assert len(event["trace_id"]) == 32 and event["resource"]["service.name"] == "integrates"
    readme = (ROOT / "README.md").read_text()
    for line in (
        "logging.getLogger().addHandler(OTelHandler(logger_provider=provider))",
        "logging.getLogger().setLevel(logging.INFO)",
    ):
        assert line in readme and line in (ROOT / "examples" / "quickstart.py").read_text()


def stream_and_event(line: str) -> tuple[str, dict[str, Any]]:
    """An example's output line: the stream, a space, the event's JSON."""
    stream, message = line.split(" ", 1)
    return stream, json.loads(message)


def test_example_dictconfig_keeps_production_only() -> None:
    lines = [stream_and_event(line) for line in run_example("dictconfig_setup.py").splitlines()]
    assert sorted(e["message"] for _, e in lines) == ["flat style", "kept"]  # "held back" is development
    assert {stream for stream, _ in lines} == {"transactional"}
    assert {e["extra"]["log_type"] for _, e in lines} == {"Security", "Audit"}
    assert all(e["extra"]["environment"] == "production" for _, e in lines)


def test_example_starlette_app_writes_security_and_audit_with_one_trace() -> None:
    out = [stream_and_event(line) for line in run_example("starlette_app.py").splitlines()]
    assert [stream for stream, _ in out] == ["security", "audit"]
    events = [e for _, e in out]
    assert [e["message"] for e in events] == ["Added secret", "GraphQL mutation executed"]
    assert [e["extra"]["log_type"] for e in events] == ["Security", "Audit"]
    assert all(e["extra"]["user_email"] == "jdoe@example.com" for e in events)
    assert events[0]["trace_id"] == events[1]["trace_id"] and len(events[0]["trace_id"]) == 32


def test_example_plain_script() -> None:
    out = [stream_and_event(line) for line in run_example("plain_script.py").splitlines()]
    assert all(re.fullmatch(r"nightly-job/\d{4}-\d{2}-\d{2}", stream) for stream, _ in out), out
    events = [e for _, e in out]
    assert [e["message"] for e in events] == ["started", "processed", "failed"]
    assert events[0]["extra"]["user_email"] == "cron@example.com"  # the nested style
    assert events[1]["extra"]["rows"] == 1200  # the flat style
    assert events[2]["level"] == "ERROR" and events[2]["exception"]["type"] == "ZeroDivisionError"


def test_example_lambda_handler_runs_bare_and_each_flush_delivers(tmp_path: Path) -> None:
    """Run as a user would, with no AWS variables at all: it starts its own endpoint; twice, one event each."""
    out = run_example("lambda_handler.py", clean=clean_environ(tmp_path)).splitlines()
    assert out[0] == out[2] == 'returned {"ok": true}', out
    first, second = [stream_and_event(line) for line in out[1:2]], [stream_and_event(line) for line in out[3:]]
    assert [e["extra"]["user_email"] for _, e in first] == ["jdoe@example.com"]  # stored before the 2nd call
    assert [e["extra"]["user_email"] for _, e in second] == ["jdoe@example.com", "mallory@example.com"]
    assert all(re.fullmatch(r"audit-lambda/\d{4}/\d{2}/\d{2}", stream) for stream, _ in first + second)
    assert all(e["extra"]["log_type"] == "Audit" and e["resource"]["service.name"] == "audit-lambda" for _, e in second)


#: The application the README's zero-code command runs: a Security event through stdlib logging, at INFO
#: (so botocore's INFO lines at exit reach the bridge: the case that printed "Shutdown called").
ZERO_CODE_APP = """\
import logging
logging.basicConfig(level=logging.INFO)
logging.getLogger("transactional").info(
    "Added secret", extra={"extra": {"user_email": "jdoe@example.com", "log_type": "Security"}}
)
"""


def zero_code_command() -> str:
    """The README's "## Zero-code" command block, without its ``pip install`` line (the test venv has the extra)."""
    section = section_of(ROOT / "README.md", "Zero-code")
    block = re.search(r"```sh\n(.+?)\n```", section, re.S)
    assert block is not None, "no sh block in the README's Zero-code section"
    lines = [line for line in block.group(1).splitlines() if not line.lstrip().startswith("pip install")]
    command = "\n".join(lines)
    assert "opentelemetry-instrument python app.py" in command
    return command


def run_zero_code(
    tmp_path: Path, endpoint: LocalCloudWatchLogs, app: str = ZERO_CODE_APP, **extra: str
) -> subprocess.CompletedProcess[str]:
    """The command with a shell, exactly as written, in a folder holding app.py; the venv's tools first on PATH."""
    (tmp_path / "app.py").write_text(app)
    environ = clean_environ(tmp_path, **endpoint.environ, **extra)
    environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), environ.get("PATH", "")])
    return subprocess.run(
        ["bash", "-c", zero_code_command()],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def assert_quiet(stderr: str) -> None:
    """No traceback, no SDK complaint about records after shutdown, no recursion warning, no deprecation."""
    for noise in ("Traceback", "Shutdown called", "recursive", "deprecated", "Requested component", "Failed to"):
        assert noise not in stderr, stderr


def test_zero_code_readme_command_delivers_and_exits_quietly(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path
) -> None:
    command = zero_code_command()
    assert "OTEL_EXPORTER_CLOUDWATCH_LOGS_GROUP_NAME=integrates" in command
    assert '"log_stream_name": "security"' in command
    cloudwatch_logs.client().create_log_group(logGroupName="integrates")  # "The group must exist already"
    done = run_zero_code(tmp_path, cloudwatch_logs)
    assert done.returncode == 0, done.stderr
    assert_quiet(done.stderr)
    [event] = cloudwatch_logs.events("integrates", "security")
    assert event["message"] == "Added secret" and event["level"] == "INFO" and event["logger"] == "transactional"
    assert event["extra"] == {"user_email": "jdoe@example.com", "log_type": "Security"}
    assert event["resource"]["service.name"] == "integrates"
    # The application's own console line and botocore's still reach its console handler.
    assert "INFO:transactional:Added secret" in done.stderr


def test_zero_code_missing_group_is_said_on_stderr(cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path) -> None:
    """No console handler: the only root handler is the OTel bridge, and the exporter's warning still shows."""
    app = "import logging\nlogging.getLogger('transactional').warning('Added secret', extra={'log_type': 'Security'})\n"
    done = run_zero_code(tmp_path, cloudwatch_logs, app)
    assert done.returncode == 0, done.stderr
    assert_quiet(done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 2, done.stderr  # each warning once, though the bridge refused it
    assert lines[0].startswith(
        "otel-cw-exporter: warning: CloudWatch Logs refused events for log group 'integrates', stream 'security'"
    )
    assert "ResourceNotFoundException" in lines[0] and "create the log group" in lines[0]
    assert (
        lines[1]
        == "otel-cw-exporter: warning: dropped 1 CloudWatch event(s), reason non_retryable in integrates/security"
    )
    assert cloudwatch_logs.calls("PutLogEvents") >= 1


def test_zero_code_bad_variable_is_one_line(cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path) -> None:
    done = run_zero_code(tmp_path, cloudwatch_logs, OTEL_EXPORTER_CLOUDWATCH_LOGS_TIMEOUT="soon")
    assert done.returncode == 0, done.stderr  # the application itself still runs
    assert_quiet(done.stderr)
    ours = [line for line in done.stderr.splitlines() if "otel-cw-exporter" in line or "OTEL_" in line]
    assert ours == [
        "otel-cw-exporter: error: OTEL_EXPORTER_CLOUDWATCH_LOGS_TIMEOUT='soon': expected a number of seconds; "
        "fix: set OTEL_EXPORTER_CLOUDWATCH_LOGS_TIMEOUT to a valid value or unset it "
        "(no log is exported to CloudWatch until then)"
    ], done.stderr
    assert done.stderr.splitlines() == [ours[0], "INFO:transactional:Added secret"], done.stderr
    assert ours[0] in (ROOT / "README.md").read_text()  # the README shows the line as it is
    assert cloudwatch_logs.calls("PutLogEvents") == 0
