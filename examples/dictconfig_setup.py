"""The seed's logging config, with watchtower's handler swapped for ours (one handler per stream).

python examples/dictconfig_setup.py
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
            print(json.dumps({k: v for k, v in event.items() if not k.startswith("@")}))


if __name__ == "__main__":
    main()
