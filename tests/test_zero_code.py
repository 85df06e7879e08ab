"""The ``cloudwatch`` entry point: our exporter from the variables, or one line naming the variable and the fix."""

from __future__ import annotations

import pytest

from otel_cw_exporter.exporter import CloudWatchLogRecordExporter
from otel_cw_exporter.zero_code import ZeroCodeLogRecordExporter
from tests.support import make_record

P = "OTEL_EXPORTER_CLOUDWATCH_LOGS_"


@pytest.mark.parametrize(
    ("suffix", "value", "says"),
    [
        ("TIMEOUT", "soon", f"{P}TIMEOUT='soon': expected a number of seconds"),
        ("TIMEOUT", "-1", f"{P}TIMEOUT=-1.0: expected a positive number of seconds"),
        ("MAX_CONCURRENCY", "100", f"{P}MAX_CONCURRENCY=100: expected a whole number from 1 to 64"),
        ("RETENTION_DAYS", "2", f"{P}RETENTION_DAYS=2: CloudWatch accepts only 1, 3"),
        ("ROUTES", "nojson", f"routes ({P}ROUTES): not valid JSON"),
        ("STREAM_NAME", "{unclosed", f"{P}STREAM_NAME='{{unclosed': log stream name template"),
        ("ENVIRONMENTS", ",", f"{P}ENVIRONMENTS is empty"),
        ("CREATE_GROUP", "maybe", f"{P}CREATE_GROUP='maybe': expected true or false"),
    ],
)
def test_a_bad_variable_is_one_line_naming_it_and_the_fix(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], suffix: str, value: str, says: str
) -> None:
    monkeypatch.setenv(f"{P}GROUP_NAME", "g")
    monkeypatch.setenv(P + suffix, value)
    exporter = ZeroCodeLogRecordExporter()
    out, err = capsys.readouterr()
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith(f"otel-cw-exporter: error: {says}"), line
    assert line.endswith(
        f"; fix: set {P}{suffix} to a valid value or unset it (no log is exported to CloudWatch until then)"
    ), line
    # Exports nothing and never raises, as the SDK's processor expects of any exporter.
    assert exporter.exporter is None and exporter.stats.events_sent == 0
    assert exporter.export([make_record()]).name == "FAILURE"
    assert exporter.force_flush() is True
    exporter.shutdown()


def test_no_group_names_the_variable(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv(f"{P}GROUP_NAME", raising=False)
    ZeroCodeLogRecordExporter()
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("otel-cw-exporter: error: log_group_name is required")
    assert line.endswith(f"; fix: set {P}GROUP_NAME to a valid value (no log is exported to CloudWatch until then)")


def test_good_variables_build_our_exporter(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(f"{P}GROUP_NAME", "g")
    monkeypatch.setenv(f"{P}TIMEOUT", "3")
    wrapper = ZeroCodeLogRecordExporter()
    assert isinstance(wrapper.exporter, CloudWatchLogRecordExporter)
    assert wrapper.exporter.config.timeout == 3.0 and wrapper.exporter.config.log_group_name == "g"
    assert capsys.readouterr().err == ""
    wrapper.shutdown(timeout_millis=100)
    assert wrapper.stats.events_sent == 0
