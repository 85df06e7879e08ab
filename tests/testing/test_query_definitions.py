"""The local endpoint keeps query definitions as AWS does."""

from __future__ import annotations

import pytest

from otel_cw_exporter.testing import LocalCloudWatchLogs
from tests.support import definitions


def test_the_local_endpoint_keeps_query_definitions_as_aws_does(cloudwatch_logs: LocalCloudWatchLogs) -> None:
    client = cloudwatch_logs.client()
    made = client.put_query_definition(name="team/b", queryString="fields @message", logGroupNames=["g"])
    ident = made["queryDefinitionId"]
    client.put_query_definition(name="team/a", queryString="fields @timestamp")
    client.put_query_definition(name="other", queryString="fields @timestamp")
    listed = client.describe_query_definitions(queryDefinitionNamePrefix="team/")["queryDefinitions"]
    assert [d["name"] for d in listed] == ["team/a", "team/b"]
    assert set(listed[1]) == {
        "queryLanguage",
        "queryDefinitionId",
        "name",
        "queryString",
        "lastModified",
        "logGroupNames",
    }
    assert listed[1]["queryDefinitionId"] == ident and listed[1]["logGroupNames"] == ["g"]
    page = client.describe_query_definitions(maxResults=2)
    assert len(page["queryDefinitions"]) == 2
    rest = client.describe_query_definitions(maxResults=2, nextToken=page["nextToken"])
    assert len(rest["queryDefinitions"]) == 1 and "nextToken" not in rest
    assert (
        client.put_query_definition(queryDefinitionId=ident, name="team/b", queryString="x")["queryDefinitionId"]
        == ident
    )
    assert definitions(cloudwatch_logs)[ident]["queryString"] == "x"
    with pytest.raises(client.exceptions.InvalidParameterException, match="less than or equal to 255"):
        client.put_query_definition(name="n" * 256, queryString="fields @message")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.put_query_definition(queryDefinitionId="no-such-id", name="team/c", queryString="x")
    assert client.delete_query_definition(queryDefinitionId=ident)["success"] is True
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.delete_query_definition(queryDefinitionId=ident)
    assert len(definitions(cloudwatch_logs)) == 2
    cloudwatch_logs.reset()
    assert client.describe_query_definitions()["queryDefinitions"] == []
