"""Every example runs as its docstring says, against the local endpoint; zero-code too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from otel_cw_exporter.testing import LocalCloudWatchLogs
from tests.support import ROOT, run_example


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


def test_example_dictconfig_keeps_production_only(tmp_path: Path) -> None:
    lines = [json.loads(line) for line in run_example("dictconfig_setup.py").splitlines()]
    assert sorted(e["message"] for e in lines) == ["flat style", "kept"]
    assert {e["extra"]["log_type"] for e in lines} == {"Security", "Audit"}


def test_example_starlette_app_writes_security_and_audit_with_one_trace() -> None:
    out = run_example("starlette_app.py").splitlines()
    streams = [line.split(" ", 1)[0] for line in out]
    events = [json.loads(line.split(" ", 1)[1]) for line in out]
    assert streams == ["security", "audit"]
    assert [e["message"] for e in events] == ["Added secret", "GraphQL mutation executed"]
    assert all(e["extra"]["user_email"] == "jdoe@example.com" for e in events)
    assert events[0]["trace_id"] == events[1]["trace_id"] and len(events[0]["trace_id"]) == 32


def test_example_plain_script() -> None:
    out = run_example("plain_script.py").splitlines()
    events = [json.loads(line.split(" ", 1)[1]) for line in out]
    assert [e["message"] for e in events] == ["started", "processed", "failed"]
    assert events[2]["exception"]["type"] == "ZeroDivisionError"
    assert all(line.startswith("nightly-job/") for line in out)


def test_zero_code_under_opentelemetry_instrument(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    script = "import logging; logging.getLogger('app').warning('zero code', extra={'log_type': 'Audit'})"
    environ = {
        **os.environ,
        **cloudwatch_logs.environ,
        "OTEL_LOGS_EXPORTER": "cloudwatch",
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_SERVICE_NAME": "zero",
        "OTEL_EXPORTER_CLOUDWATCH_LOGS_GROUP_NAME": "zero-group",
        "OTEL_EXPORTER_CLOUDWATCH_LOGS_STREAM_NAME": "{service.name}",
        "OTEL_EXPORTER_CLOUDWATCH_LOGS_CREATE_GROUP": "true",
        "OTEL_EXPORTER_CLOUDWATCH_LOGS_ROUTES": '[{"when": {"log_type": "Audit"}, "log_stream_name": "audit"}]',
    }
    instrument = str(Path(sys.executable).with_name("opentelemetry-instrument"))
    done = subprocess.run(
        [instrument, sys.executable, "-c", script], env=environ, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    [event] = cloudwatch_logs.events("zero-group", "audit")
    assert event["message"] == "zero code" and event["resource"]["service.name"] == "zero"

    assert "deprecated" not in done.stderr.lower()  # the bridge is opentelemetry-instrumentation-logging's

    # A bad value: the start-up says what to change, once; the application itself still runs (the
    # instrumentation catches a failing configurator) and nothing is exported.
    environ["OTEL_EXPORTER_CLOUDWATCH_LOGS_TIMEOUT"] = "soon"
    cloudwatch_logs.reset()
    bad = subprocess.run(
        [instrument, sys.executable, "-c", script], env=environ, capture_output=True, text=True, timeout=60, check=False
    )
    assert bad.returncode == 0
    assert "OTEL_EXPORTER_CLOUDWATCH_LOGS_TIMEOUT='soon': expected a number of seconds" in bad.stderr
    assert cloudwatch_logs.calls("PutLogEvents") == 0
