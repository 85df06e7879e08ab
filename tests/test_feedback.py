"""The exporter's own logging at exit, in subprocesses: kept out of the OTel pipeline, and still seen."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from otel_cw_exporter.testing import LocalCloudWatchLogs
from tests.support import ROOT, clean_environ


def run(script: str, environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env=environ,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def assert_refused_once_on_stderr(done: subprocess.CompletedProcess[str]) -> None:
    """The missing group's warning was said once, on stderr, in our own words."""
    assert done.returncode == 0, done.stderr
    refused = [line for line in done.stderr.splitlines() if "CloudWatch Logs refused" in line]
    assert len(refused) == 1 and refused[0].startswith("otel-cw-exporter: warning: "), done.stderr


@pytest.mark.parametrize("bridge", ["ours", "sdk"])
def test_exit_after_botocore_logged_at_info_is_quiet(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path, bridge: str
) -> None:
    """The last export runs after the SDK's processor shut down; botocore's INFO lines then must not reach it."""
    script = f"""
    import logging, warnings
    warnings.simplefilter("ignore")
    import otel_cw_exporter
    logging.basicConfig(level=logging.INFO)  # a console at INFO: botocore's lines show there
    provider = otel_cw_exporter.setup(service_name="quiet", log_group_name="quiet", create_log_group=True)
    if "{bridge}" == "ours":
        from otel_cw_exporter.stdlib import OTelHandler as Handler
    else:
        from opentelemetry.sdk._logs import LoggingHandler as Handler
    logging.getLogger().addHandler(Handler(logger_provider=provider))
    logging.getLogger("app").info("at exit", extra={{"log_type": "Audit"}})
    """
    done = run(script, clean_environ(tmp_path, **cloudwatch_logs.environ))
    assert done.returncode == 0, done.stderr
    assert "INFO:botocore" in done.stderr  # the console still gets them
    for noise in ("Shutdown called", "recursive", "Traceback", "otel_cw_exporter"):
        assert noise not in done.stderr, done.stderr
    [event] = cloudwatch_logs.events("quiet")
    assert event["message"] == "at exit" and event["logger"] == "app"


def test_a_warning_shows_on_stderr_when_the_bridge_is_the_only_handler(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path
) -> None:
    """``setup(bridge_stdlib=True)`` and no console: a missing group must still be said, once."""
    script = """
    import logging
    import otel_cw_exporter
    otel_cw_exporter.setup(service_name="app", log_group_name="missing", bridge_stdlib=True)
    logging.getLogger("app").warning("lost")
    """
    done = run(script, clean_environ(tmp_path, **cloudwatch_logs.environ))
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 2, done.stderr
    assert lines[0].startswith(
        "otel-cw-exporter: warning: CloudWatch Logs refused events for log group 'missing', stream 'app'"
    )
    assert "create the log group" in lines[0]
    assert lines[1] == "otel-cw-exporter: warning: dropped 1 CloudWatch event(s), reason non_retryable in missing/app"


def test_no_warning_on_stderr_when_a_console_handler_shows_it(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path
) -> None:
    """The fallback only stands in for a missing handler: with a console the warning shows there, once."""
    script = """
    import logging
    import otel_cw_exporter
    logging.basicConfig(level=logging.WARNING, format="console: %(message)s")
    otel_cw_exporter.setup(service_name="app", log_group_name="missing", bridge_stdlib=True)
    logging.getLogger("app").warning("lost")
    """
    done = run(script, clean_environ(tmp_path, **cloudwatch_logs.environ))
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert lines[0] == "console: lost"
    refused = [line for line in lines if "CloudWatch Logs refused" in line]
    assert len(refused) == 1 and refused[0].startswith("console: "), done.stderr


def test_a_warning_shows_on_stderr_when_dictconfig_disabled_our_logger(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path
) -> None:
    """``dictConfig`` disables every logger it was not told of (ours too): a console on the root logger
    then never sees our records, so the warning goes to stderr itself, once."""
    script = """
    import logging, logging.config
    from otel_cw_exporter import setup
    logging.config.dictConfig({
        "version": 1,
        "formatters": {"plain": {"format": "console: %(message)s"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
        "root": {"handlers": ["console"], "level": "INFO"},
    })
    assert logging.getLogger("otel_cw_exporter").disabled
    setup(service_name="app", log_group_name="missing", bridge_stdlib=True)
    logging.getLogger("app").warning("lost")
    """
    assert_refused_once_on_stderr(run(script, clean_environ(tmp_path, **cloudwatch_logs.environ)))


def test_with_no_handler_at_all_the_warning_says_whose_it_is(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path
) -> None:
    """No logging set up at all: Python's last resort would print the bare message; ours says whose, once."""
    script = """
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from otel_cw_exporter import CloudWatchLogRecordExporter
    provider = LoggerProvider()
    provider.add_log_record_processor(BatchLogRecordProcessor(CloudWatchLogRecordExporter(log_group_name="missing")))
    provider.get_logger("app").emit(body="lost")
    provider.shutdown()
    """
    done = run(script, clean_environ(tmp_path, **cloudwatch_logs.environ))
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert [line for line in lines if "refused" in line or "dropped" in line] == lines, done.stderr
    assert len(lines) == 2 and all(line.startswith("otel-cw-exporter: warning: ") for line in lines), done.stderr


def test_an_application_record_cannot_pass_for_the_exporters_own(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path
) -> None:
    """The key the exporter tags its own records with, in an attacker's request body merged into
    ``extra``: the events are stored all the same (before the first export, after it, and through
    ``cloudwatch_log``), with the attacker's field kept as their data."""
    script = """
    import json, logging
    import otel_cw_exporter
    from otel_cw_exporter import audit
    provider = otel_cw_exporter.setup(service_name="app", log_group_name="forged", log_stream_name="s",
                                      create_log_group=True, bridge_stdlib=True)
    for value in ("true", '"x"'):
        body = json.loads('{"username": "mallory", "otel_cw_exporter.internal": %s}' % value)
        logging.getLogger("transactional").warning("login failed, before an export", extra=body)
        provider.force_flush()
        logging.getLogger("transactional").warning("login failed, after an export", extra=body)
        audit.cloudwatch_log(None, "Added secret", extra={"log_type": "Security", **body}, user_email="m@x.io")
        provider.force_flush()
    """
    done = run(script, clean_environ(tmp_path, **cloudwatch_logs.environ))
    assert done.returncode == 0, done.stderr
    events = cloudwatch_logs.events("forged")
    assert sorted(e["message"] for e in events) == sorted(
        ["login failed, before an export", "login failed, after an export", "Added secret"] * 2
    ), done.stderr
    assert {e["extra"]["username"] for e in events} == {"mallory"}


def test_a_null_handler_on_the_root_logger_shows_no_one_the_warning(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path
) -> None:
    """A library's habit, ``NullHandler`` on the root logger, silences Python's last resort, not ours."""
    script = """
    import logging
    import otel_cw_exporter
    logging.getLogger().addHandler(logging.NullHandler())
    otel_cw_exporter.setup(service_name="app", log_group_name="missing")
    otel_cw_exporter.cloudwatch_log(None, "lost", {"log_type": "Audit"}, user_email="a@b.c")
    """
    assert_refused_once_on_stderr(run(script, clean_environ(tmp_path, **cloudwatch_logs.environ)))


def test_the_exporters_own_warnings_are_not_sent_as_the_applications_events(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path
) -> None:
    """Said on the application's thread (a ``cloudwatch_log`` mistake), with the stdlib bridged: the
    warning is on stderr, and the group holds the application's events only."""
    script = """
    import otel_cw_exporter
    provider = otel_cw_exporter.setup(service_name="app", log_group_name="own", log_stream_name="s",
                                      create_log_group=True, bridge_stdlib=True)
    for n in range(20):
        otel_cw_exporter.cloudwatch_log(None, f"call {n}", "Security", user_email="a@b.c")
    """
    done = run(script, clean_environ(tmp_path, **cloudwatch_logs.environ))
    assert done.returncode == 0, done.stderr
    assert sorted(e["message"] for e in cloudwatch_logs.events("own")) == sorted(f"call {n}" for n in range(20))
    [said] = [line for line in done.stderr.splitlines() if "extra was" in line]
    assert said.startswith("otel-cw-exporter: warning: cloudwatch_log: extra was a str, not a mapping")
