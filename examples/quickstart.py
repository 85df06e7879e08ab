"""The README's Quickstart lines, run against a local CloudWatch Logs endpoint (no AWS account needed).

``python examples/quickstart.py`` (needs the ``local`` extra) starts the local endpoint in this process
and runs the Quickstart's lines, with ``client=`` for the endpoint and ``create_log_group=True`` added,
inside one span (as a request would be). The one event stored, "Added secret" in the log group
``integrates``, stream ``transactional``, is read back and printed as indented JSON.
"""

from __future__ import annotations

import json
import logging

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

from otel_cw_exporter import CloudWatchLogRecordExporter, OTelHandler
from otel_cw_exporter.testing import LocalCloudWatchLogs


def main() -> None:
    with LocalCloudWatchLogs() as cloudwatch:
        # --- the README's lines, with client= for the local endpoint and create_log_group=True -----
        provider = LoggerProvider(
            resource=Resource.create({"service.name": "integrates", "deployment.environment.name": "production"})
        )
        provider.add_log_record_processor(
            BatchLogRecordProcessor(
                CloudWatchLogRecordExporter(
                    log_group_name="integrates",
                    log_stream_name="transactional",
                    client=cloudwatch.client(),
                    create_log_group=True,
                )
            )
        )
        logging.getLogger().addHandler(OTelHandler(logger_provider=provider))
        logging.getLogger().setLevel(logging.INFO)
        with TracerProvider().get_tracer("demo").start_as_current_span("addSecret"):  # the request's span
            logging.getLogger("transactional").info(
                "Added secret", extra={"extra": {"user_email": "jdoe@example.com", "log_type": "Security"}}
            )
        # ----------------------------------------------------------------------------------------
        provider.shutdown()
        for event in cloudwatch.events("integrates", "transactional"):
            print(json.dumps({k: v for k, v in event.items() if not k.startswith("@")}, indent=2))


if __name__ == "__main__":
    main()
