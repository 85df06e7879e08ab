"""An AWS Lambda handler: setup at import (cold start), flush at the end of every invocation.

Lambda freezes the sandbox between invocations, so queued records must be sent before returning.
``python examples/lambda_handler.py`` invokes it twice against the embedded local endpoint.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import otel_cw_exporter
from otel_cw_exporter.aws_lambda import flush_after

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


if __name__ == "__main__":  # a local run: the variables point the exporter at the embedded endpoint
    print(handler({"user": "jdoe@example.com"}, None))
