"""otel-cw-exporter queries: the saved queries, installed idempotently."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from otel_cw_exporter.cli import catalog as queries
from otel_cw_exporter.testing import Fault, LocalCloudWatchLogs
from otel_cw_exporter.testing.insights import run as run_query
from tests.support import (
    GROUP,
    T2,
    VERBATIM_ERRORS,
    VERBATIM_SECURITY,
    answering_server,
    clean_environ,
    definitions,
    event,
    here,
    in_process,
    local_environ,
    one_error_line,
    run_all,
    run_cli,
)


@pytest.fixture
def short_pages(cloudwatch_logs: LocalCloudWatchLogs) -> LocalCloudWatchLogs:
    """Fewer definitions a page than asked for, as AWS may answer: the command must follow nextToken."""
    cloudwatch_logs.query_definitions.page_size = 3
    return cloudwatch_logs


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
    assert (
        ours["otel-cw-exporter/integrates/Security events by user in the last 24h"]["queryString"] == VERBATIM_SECURITY
    )
    assert ours["otel-cw-exporter/integrates/Errors in critical operations"]["queryString"] == VERBATIM_ERRORS
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
    assert "\n".join("    " + line for line in VERBATIM_SECURITY.splitlines()) in catalog.stdout
    assert "\n".join("    " + line for line in VERBATIM_ERRORS.splitlines()) in catalog.stdout
    for query in queries.SAVED_QUERIES:
        assert query.title in catalog.stdout


@pytest.fixture
def html_endpoint() -> Iterator[str]:
    """Something on 127.0.0.1 that answers every request with an HTML error page, as a proxy might."""
    with answering_server(404, b"<html><body><h1>404 Not Found</h1></body></html>") as url:
        yield url


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
    assert [q.query for q in queries.VERBATIM_QUERIES] == [VERBATIM_SECURITY, VERBATIM_ERRORS]
