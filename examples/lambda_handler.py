"""An AWS Lambda handler: ``setup()`` at import (the cold start), a flush at the end of every invocation.

Lambda freezes the sandbox between invocations, so what an invocation logged must be sent before it
returns: ``@flush_after`` does that. In Lambda, boto3's chain gives the region and the function's role;
the service is named after ``AWS_LAMBDA_FUNCTION_NAME`` and the log group defaults to
``/aws/lambda/audit-lambda`` (``OTEL_EXPORTER_CLOUDWATCH_LOGS_GROUP_NAME`` changes it).

``python examples/lambda_handler.py`` (needs the ``local`` extra; no AWS account) runs it here instead:
it starts a local CloudWatch Logs endpoint, points boto3 at it with the endpoint's variables, creates the
log group (as Lambda does for a function), then invokes the handler twice, for two users. After each
invocation it prints what the handler returned and the events stored so far, one line each: the stream,
then the event's JSON. The processor here waits a minute before sending on its own, so each event is
stored right after its invocation only because the flush sent it.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import otel_cw_exporter
from otel_cw_exporter.aws_lambda import flush_after

if __name__ == "__main__":  # a local run: a local endpoint stands in for CloudWatch Logs, before setup()
    from otel_cw_exporter.testing import LocalCloudWatchLogs

    local = LocalCloudWatchLogs().start()
    os.environ.update(local.environ)  # AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, dummy credentials, region
    local.client().create_log_group(logGroupName="/aws/lambda/audit-lambda")

otel_cw_exporter.setup(
    service_name=os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "audit-lambda"),
    log_group_name=os.environ.get("OTEL_EXPORTER_CLOUDWATCH_LOGS_GROUP_NAME", "/aws/lambda/audit-lambda"),
    log_stream_name="{service.name}/{date:%Y/%m/%d}",
    bridge_stdlib=logging.INFO,
    processor_options={"schedule_delay_millis": 60_000},  # only the flush sends: proof it works
)
log = logging.getLogger("audit")


@flush_after(timeout=2.0)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    log.info("invoked", extra={"extra": {"log_type": "Audit", "user_email": event.get("user", "anonymous")}})
    return {"ok": True}


def main(endpoint: Any) -> None:
    """Two invocations; after each, what the handler returned and every event stored so far."""
    for user in ("jdoe@example.com", "mallory@example.com"):
        print("returned", json.dumps(handler({"user": user}, None)))
        for event in endpoint.events("/aws/lambda/audit-lambda"):
            print(event["@logStream"], json.dumps({k: v for k, v in event.items() if not k.startswith("@")}))


if __name__ == "__main__":
    try:
        main(local)
    finally:
        otel_cw_exporter.teardown()
        local.stop()
