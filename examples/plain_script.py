"""A plain script (a nightly job): one ``setup`` call, stdlib logging in both styles, an exception.

The two styles: a nested ``extra`` dict, as in ``logger.info(msg, extra={"extra": {...}})``, and flat
keys, as in ``logger.info(msg, extra={...})``; both land under ``extra.*`` in the event.

``python examples/plain_script.py`` (needs the ``local`` extra; no AWS account) starts a local CloudWatch
Logs endpoint, logs "started" and "processed" (one record in each style) and "failed" with a
ZeroDivisionError, and prints the three events stored in the log group ``jobs``, stream
``nightly-job/<today, UTC>``, one line each: the stream, then the event's JSON.
"""

from __future__ import annotations

import json
import logging

import otel_cw_exporter
from otel_cw_exporter import teardown
from otel_cw_exporter.testing import LocalCloudWatchLogs


def main() -> None:
    with LocalCloudWatchLogs() as cloudwatch:
        otel_cw_exporter.setup(
            service_name="nightly-job",
            environment="production",
            log_group_name="jobs",
            log_stream_name="{service.name}/{date}",
            bridge_stdlib=logging.INFO,
            client=cloudwatch.client(),
            create_log_group=True,
        )
        log = logging.getLogger("jobs.nightly")
        log.info("started", extra={"extra": {"log_type": "Audit", "user_email": "cron@example.com"}})
        log.info("processed", extra={"rows": 1200, "log_type": "Audit"})
        try:
            raise ZeroDivisionError("division by zero")
        except ZeroDivisionError:
            log.exception("failed", extra={"operation": "nightly"})
        teardown()
        for event in cloudwatch.events("jobs"):
            print(event["@logStream"], json.dumps({k: v for k, v in event.items() if not k.startswith("@")}))


if __name__ == "__main__":
    main()
