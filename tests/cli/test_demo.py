"""otel-cw-exporter demo: the whole pipeline without an AWS account."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from otel_cw_exporter import cli
from otel_cw_exporter.cli import demo
from otel_cw_exporter.cli import options as cli_options
from otel_cw_exporter.testing import LocalCloudWatchLogs
from tests.support import (
    T1,
    T2,
    UNKNOWN_WORDS,
    VERBATIM_ERRORS,
    VERBATIM_SECURITY,
    clean_environ,
    error_without_moto,
    event,
    exported,
    local_endpoint,
    one_error_line,
    run_cli,
    start_cli,
)


def test_demo_runs_locally_and_shows_streams_and_the_saved_queries(tmp_path: Path) -> None:
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
        ("INFO", "Security", "mallory@example.com", "Blocked attempt to create ROOT type"),
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
    assert "\n".join("    " + line for line in VERBATIM_SECURITY.splitlines()) in first
    assert "selects 2 of 6 events:" in first
    assert first.index("mallory@example.com") < first.index("jdoe@example.com")  # sort @timestamp desc
    assert "\n".join("    " + line for line in VERBATIM_ERRORS.splitlines()) in second
    assert "selects 1 of 6 events:" in second
    assert re.search(r"Mutation failed +removeGroup", second)
    assert UNKNOWN_WORDS.search(out) is None, UNKNOWN_WORDS.search(out)

    # Its endpoint is gone: the next steps say how to keep one, and each is a command that parses.
    hints = next_commands(out)
    assert hints == ["otel-cw-exporter demo --keep", "otel-cw-exporter local", "otel-cw-exporter demo --aws"]
    for hint in hints:
        cli.build_parser().parse_args(shlex.split(hint)[1:])


def test_demo_without_the_local_extra_says_how_to_install_it(tmp_path: Path) -> None:
    line = error_without_moto(tmp_path, "demo")
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
    monkeypatch.setattr(demo, "run_local", lambda group, out=print, keep=False: started.append(group) or 0)
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


def next_commands(out: str) -> list[str]:
    """The commands of the output's last "Next" block (its comment lines left out)."""
    block = out[out.rindex("\nNext") :]
    return [line.strip() for line in block.splitlines() if line.startswith("  otel-cw-exporter ")]


def run_hints(hints: list[str], environ: dict[str, str], cwd: Path) -> list[subprocess.CompletedProcess[str]]:
    """Each hint, as a person pastes it into a shell with these variables."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{environ.get('PATH', '')}"
    return [
        subprocess.run(
            ["sh", "-c", hint],
            env={**environ, "PATH": path},
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        for hint in hints
    ]


def check_hints(hints: list[str], done: list[subprocess.CompletedProcess[str]], group: str) -> None:
    """The demo's next steps, run: each exits 0 and shows what its comment says, on the demo's events."""
    assert [run.returncode for run in done] == [0] * len(hints), [
        (h, r.stdout, r.stderr) for h, r in zip(hints, done, strict=True)
    ]
    security, trace, doctor, queries = done
    assert security.stderr.rstrip().endswith("2 event(s).")
    assert security.stdout.count("  Security  ") == 2
    assert trace.stderr.rstrip().endswith("2 event(s).")  # jdoe's addSecret: its Security and Audit events
    assert "All checks passed" in doctor.stdout
    assert f'"{group}" exists' in doctor.stdout
    assert "5 created, 0 updated, 0 unchanged" in queries.stdout


def test_demo_keep_serves_its_events_and_its_next_steps_work_there(tmp_path: Path) -> None:
    running = start_cli(["demo", "--keep"], clean_environ(tmp_path), tmp_path, background=True)
    try:
        out = "".join(running.read_until("Serving until Ctrl-C or SIGTERM.", timeout=90))
        variables = exported(out.splitlines())
        assert variables["AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"].startswith("http://127.0.0.1:")
        assert set(variables) == {
            "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_DEFAULT_REGION",
        }
        hints = next_commands(out)
        assert [shlex.split(hint)[1] for hint in hints] == ["tail", "tail", "doctor", "queries"]
        check_hints(hints, run_hints(hints, clean_environ(tmp_path, **variables), tmp_path), "integrates")
        assert running.stop(signal.SIGINT, timeout=30) == 0  # also as a background job
    finally:
        running.kill()
    assert "Traceback" not in "".join(running.err)
    assert UNKNOWN_WORDS.search(out) is None


def test_demo_into_otel_cw_exporter_local_keeps_the_events_there(tmp_path: Path) -> None:
    with local_endpoint(tmp_path) as (_, variables):
        url = variables["AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"]
        environ = clean_environ(tmp_path, **variables)
        done = run_cli(["demo", "--endpoint-url", url], environ, tmp_path, timeout=120)
        assert done.returncode == 0, done.stderr
        out = done.stdout
        assert out.startswith(f'Sending to {url} (region us-east-1), log group "otel-cw-exporter-demo".')
        assert "(the local endpoint cannot run Logs Insights queries)" in " ".join(out.split())
        assert "Next (the events stay at that endpoint;" in out
        hints = next_commands(out)
        assert all(hint.endswith(f" --endpoint-url {url}") for hint in hints), hints
        check_hints(hints, run_hints(hints, environ, tmp_path), "otel-cw-exporter-demo")


def test_demo_keep_is_only_for_the_local_demo(tmp_path: Path) -> None:
    done = run_cli(["demo", "--keep", "--aws"], clean_environ(tmp_path), tmp_path)
    line = one_error_line(done, 2)
    assert "--keep applies only to the local demo" in line
