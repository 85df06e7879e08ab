"""Routing, templates, the environment allowlist and group settings against the local endpoint."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.resources import Resource

from otel_cw_exporter import CloudWatchLogRecordExporter, ConfigError, Route
from otel_cw_exporter.testing import LocalCloudWatchLogs
from tests.support import make_record

RESOURCE = Resource.create(
    {"service.name": "integrates", "host.name": "web-1", "deployment.environment.name": "production"}
)


def exporter(endpoint: LocalCloudWatchLogs, **options: Any) -> CloudWatchLogRecordExporter:
    options.setdefault("create_log_group", True)
    return CloudWatchLogRecordExporter(client=endpoint.client(), environ={}, **options)


def test_security_audit_and_other_records_reach_their_streams(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    cw = exporter(
        cloudwatch_logs,
        log_group_name="integrates",
        log_stream_name="application",
        routes=[
            Route(when={"log_type": "Security"}, log_stream_name="security"),
            Route(when={"log_type": ["Audit", "Admin"]}, log_group_name="integrates-audit", log_stream_name="audit"),
        ],
    )
    cw.export(
        [
            make_record("nested security", {"extra": {"log_type": "Security"}}, resource=RESOURCE),
            make_record("flat security", {"log_type": "Security"}, resource=RESOURCE),
            make_record("audit", {"extra": {"log_type": "Audit"}}, resource=RESOURCE),
            make_record("admin", {"log_type": "Admin"}, resource=RESOURCE),
            make_record("plain", {"operation": "x"}, resource=RESOURCE),
        ]
    )
    assert sorted(e["message"] for e in cloudwatch_logs.events("integrates", "security")) == [
        "flat security",
        "nested security",
    ]
    assert sorted(e["message"] for e in cloudwatch_logs.events("integrates-audit", "audit")) == ["admin", "audit"]
    assert [e["message"] for e in cloudwatch_logs.events("integrates", "application")] == ["plain"]


KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_templates_from_resource_attributes_logger_level_and_date(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    stamp = int(time.time() * 1000)
    cw = exporter(
        cloudwatch_logs,
        log_group_name="/app/{service.name}",
        log_stream_name="{host.name}/{log_type}/{logger}/{level}/{date:%Y/%m/%d}/{pid}",
    )
    cw.export(
        [
            make_record("a", {"log_type": "Security"}, resource=RESOURCE, logger="graphql:api*v2", timestamp_ms=stamp),
            make_record("b", {}, resource=RESOURCE, logger="jobs", severity_text="ERROR", timestamp_ms=stamp),
        ]
    )
    streams = sorted(cloudwatch_logs.streams("/app/integrates"))
    day = time.strftime("%Y/%m/%d", time.gmtime(stamp / 1000))
    assert len(streams) == 2
    security = next(s for s in streams if "/Security/" in s)
    assert security.startswith("web-1/Security/graphql_api_v2/INFO/" + day)
    assert security.endswith(f"/{os.getpid()}")
    assert ":" not in security and "*" not in security
    missing = next(s for s in streams if "/Security/" not in s)
    assert missing.startswith("web-1/unknown-log_type/jobs/ERROR/")  # missing log_type: a placeholder


def test_records_outside_the_environment_allowlist_are_held_back(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    cw = exporter(cloudwatch_logs, log_group_name="prod", log_stream_name="s", environments={"production"})
    dev = Resource.create({"service.name": "s", "deployment.environment.name": "development"})
    cw.export(
        [
            make_record("resource prod", resource=RESOURCE),
            make_record("attribute dev", {"environment": "development"}, resource=RESOURCE),
            make_record("resource dev", resource=dev),
            make_record("attribute prod", {"extra": {"environment": "production"}}, resource=dev),
        ]
    )
    assert sorted(e["message"] for e in cloudwatch_logs.events("prod")) == ["attribute prod", "resource prod"]
    assert cw.stats.events_filtered == 2


def test_one_environment_given_as_text_is_one_name_not_letters(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    cw = exporter(cloudwatch_logs, log_group_name="prod", log_stream_name="s", environments="production")
    keep = exporter(cloudwatch_logs, log_group_name="keep", log_stream_name="s", redact_keys="password, token")
    assert cw.config.environments == frozenset({"production"})
    assert keep.config.redact_keys == frozenset({"password", "token"})
    cw.export([make_record("kept", resource=RESOURCE)])
    keep.export([make_record("m", {"user_email": "a@x", "password": "hunter2"}, resource=RESOURCE)])
    assert [e["message"] for e in cloudwatch_logs.events("prod")] == ["kept"]
    [event] = cloudwatch_logs.events("keep")
    assert event["extra"]["user_email"] == "a@x" and event["extra"]["password"] != "hunter2"


def test_created_group_gets_retention_tags_once(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    cw = exporter(
        cloudwatch_logs,
        log_group_name="created",
        log_stream_name="s",
        retention_days=30,
        tags={"team": "security", "app": "integrates"},
        kms_key_id=KMS_KEY,
    )
    cw.export([make_record("one")])
    cw.export([make_record("two")])
    client = cloudwatch_logs.client()
    [group] = client.describe_log_groups(logGroupNamePrefix="created")["logGroups"]
    assert group["retentionInDays"] == 30
    assert group["kmsKeyId"] == KMS_KEY
    assert client.list_tags_log_group(logGroupName="created")["tags"] == {"team": "security", "app": "integrates"}
    assert cloudwatch_logs.calls("CreateLogGroup") == 1
    assert cloudwatch_logs.calls("PutRetentionPolicy") == 1


def test_existing_group_is_left_untouched(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    client = cloudwatch_logs.client()
    client.create_log_group(logGroupName="existing", tags={"owner": "iac"})
    client.put_retention_policy(logGroupName="existing", retentionInDays=400)
    cw = exporter(cloudwatch_logs, log_group_name="existing", log_stream_name="s", retention_days=1, tags={"x": "y"})
    cw.export([make_record("one")])
    [group] = client.describe_log_groups(logGroupNamePrefix="existing")["logGroups"]
    assert group["retentionInDays"] == 400
    assert client.list_tags_log_group(logGroupName="existing")["tags"] == {"owner": "iac"}
    assert [e["message"] for e in cloudwatch_logs.events("existing")] == ["one"]


def test_nothing_touches_the_network_at_construction(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    exporter(cloudwatch_logs, log_group_name="lazy", log_stream_name="s", retention_days=7, tags={"a": "b"})
    assert sum(cloudwatch_logs.calls(op) for op in ("CreateLogGroup", "CreateLogStream", "PutRetentionPolicy")) == 0


def test_entity_is_sent_and_a_rejected_entity_is_counted_not_fatal(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    seen: list[Any] = []

    def capture(call: Any) -> None:
        if call.operation == "PutLogEvents":
            seen.append(call.payload.get("entity"))

    cloudwatch_logs.inject(capture)
    cw = exporter(cloudwatch_logs, log_group_name="entity", log_stream_name="s", entity=True)
    cw.export([make_record("one", resource=RESOURCE)])
    assert seen[-1] == {
        "keyAttributes": {"Type": "Service", "Name": "integrates", "Environment": "production"},
        "attributes": {"PlatformType": "Generic"},
    }
    assert cw.stats.events_sent == 1 and cw.stats.rejected_entities == 0

    cloudwatch_logs.reject_entities = True  # CloudWatch stores the events and says the entity was not
    assert cw.export([make_record("two", resource=RESOURCE)]) is LogRecordExportResult.SUCCESS
    assert cw.stats.rejected_entities == 1 and cw.stats.events_sent == 2
    assert [e["message"] for e in cloudwatch_logs.events("entity")] == ["one", "two"]


def test_routing_from_environment_variables(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    environ = {
        "OTEL_EXPORTER_CLOUDWATCH_LOGS_GROUP_NAME": "from-env",
        "OTEL_EXPORTER_CLOUDWATCH_LOGS_STREAM_NAME": "default",
        "OTEL_EXPORTER_CLOUDWATCH_LOGS_ROUTES": '[{"when": {"log_type": "Security"}, "log_stream_name": "security"}]',
        "OTEL_EXPORTER_CLOUDWATCH_LOGS_ENVIRONMENTS": "production, staging",
        "OTEL_EXPORTER_CLOUDWATCH_LOGS_CREATE_GROUP": "true",
        "OTEL_EXPORTER_CLOUDWATCH_LOGS_RETENTION_DAYS": "14",
        "OTEL_EXPORTER_CLOUDWATCH_LOGS_TAGS": "team=security,app=integrates",
    }
    cw = CloudWatchLogRecordExporter(client=cloudwatch_logs.client(), environ=environ)
    cw.export(
        [
            make_record("sec", {"log_type": "Security"}, resource=RESOURCE),
            make_record("other", resource=RESOURCE),
            make_record("dev", {"environment": "development"}),
        ]
    )
    assert [e["message"] for e in cloudwatch_logs.events("from-env", "security")] == ["sec"]
    assert [e["message"] for e in cloudwatch_logs.events("from-env", "default")] == ["other"]
    client = cloudwatch_logs.client()
    assert client.list_tags_log_group(logGroupName="from-env")["tags"] == {"team": "security", "app": "integrates"}
    # An explicit argument wins over the variable.
    cw = CloudWatchLogRecordExporter(client=client, environ=environ, log_group_name="explicit")
    assert cw.config.log_group_name == "explicit"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retention_days": 2}, "retention_days=2: CloudWatch accepts only 1, 3, 5"),
        ({"timeout": 0}, "timeout=0"),
        ({"max_concurrency": 0}, "max_concurrency=0"),
        ({"environments": set()}, "environments is empty"),
        ({"tags": {f"k{i}": "v" for i in range(51)}}, "at most 50 tags"),
        ({"log_group_name": ""}, "log_group_name is required"),
        ({"log_group_name": "bad group name!"}, "log_group_name"),
        ({"log_stream_name": "{unclosed"}, "log_stream_name"),
        ({"routes": "[not json"}, "ROUTES"),
    ],
)
def test_bad_configuration_fails_at_construction_saying_what_to_change(options: dict[str, Any], message: str) -> None:
    options = {"log_group_name": "g", **options}
    with pytest.raises(ConfigError) as caught:
        CloudWatchLogRecordExporter(environ={}, **options)
    assert message in str(caught.value)


def test_bad_environment_variable_names_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        CloudWatchLogRecordExporter(
            environ={
                "OTEL_EXPORTER_CLOUDWATCH_LOGS_GROUP_NAME": "g",
                "OTEL_EXPORTER_CLOUDWATCH_LOGS_CREATE_GROUP": "maybe",
            }
        )
    assert "OTEL_EXPORTER_CLOUDWATCH_LOGS_CREATE_GROUP='maybe': expected true or false" in str(caught.value)
