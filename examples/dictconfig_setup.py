"""A ``dictConfig`` like the watchtower setup it replaces: one handler per stream, a production-only filter.

``get_cloudwatch_handler(stream_name=...)`` has the shape of the application's existing
``get_watchtower_handler(stream_name=...)``, with our handler in place of ``watchtower.CloudWatchLogHandler``.

``python examples/dictconfig_setup.py`` (needs the ``local`` extra; no AWS account) starts a local
CloudWatch Logs endpoint, logs three records on the ``transactional`` logger ("kept" and "flat style" in
production, "held back" in development, which the ``production_only`` filter stops), closes the handler,
and prints the two events stored in the log group ``integrates``, one line each: the stream
(``transactional``), then the event's JSON.
"""

from __future__ import annotations

import json
import logging
import logging.config
from typing import Any

from otel_cw_exporter.testing import LocalCloudWatchLogs


def get_cloudwatch_handler(*, stream_name: str, **options: Any) -> dict[str, Any]:
    """Was ``get_watchtower_handler``: same shape, same filter, our handler."""
    return {
        "()": "otel_cw_exporter.stdlib.cloudwatch_handler",
        "filters": ["production_only"],
        "level": "INFO",
        "log_group_name": "integrates",
        "stream_name": stream_name,
        "create_log_stream": True,
        **options,
    }


def logging_config(**options: Any) -> dict[str, Any]:
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "production_only": {
                "()": "otel_cw_exporter.EnvironmentFilter",
                "environments": ["production"],
            }
        },
        "handlers": {"transactional": get_cloudwatch_handler(stream_name="transactional", **options)},
        "loggers": {"transactional": {"handlers": ["transactional"], "level": "INFO", "propagate": False}},
    }


def main() -> None:
    with LocalCloudWatchLogs() as cloudwatch:
        logging.config.dictConfig(logging_config(client=cloudwatch.client(), create_log_group=True))
        log = logging.getLogger("transactional")
        log.info("kept", extra={"extra": {"environment": "production", "log_type": "Security", "user_email": "a@x"}})
        log.info("held back", extra={"extra": {"environment": "development", "log_type": "Security"}})
        log.info("flat style", extra={"environment": "production", "log_type": "Audit", "user_email": "b@x"})
        logging.shutdown()  # closes the handler, which delivers what its pipeline queued
        for event in cloudwatch.events("integrates"):
            print(event["@logStream"], json.dumps({k: v for k, v in event.items() if not k.startswith("@")}))


if __name__ == "__main__":
    main()
