"""User code, as ``mypy --strict`` sees it: the public API keeps its types (checked by ``mypy``, not pytest).

A misspelt option is an error (each ``type: ignore`` below must be needed: mypy's strict mode reports an
ignore that is not), and a decorated Lambda handler keeps its signature.
"""

from __future__ import annotations

from typing import Any

from typing_extensions import assert_type

import otel_cw_exporter
from otel_cw_exporter.aws_lambda import flush_after
from otel_cw_exporter.stdlib import OTelHandler, cloudwatch_handler


@flush_after
def handler(event: dict[str, Any], context: object) -> dict[str, int]:
    return {"statusCode": 200}


@flush_after(timeout=1.0)
def quick(event: dict[str, Any], context: object) -> str:
    return "ok"


def typed() -> None:
    assert_type(handler({}, None), dict[str, int])
    assert_type(quick({}, None), str)
    handler({}, None, "extra")  # type: ignore[call-arg]
    quick(event=1, context=None)  # type: ignore[arg-type]

    otel_cw_exporter.setup(service_name="integrates", log_group_name="integrates", create_log_group=True)
    otel_cw_exporter.setup(log_group_name="integrates", log_groop_name="typo")  # type: ignore[call-arg]
    otel_cw_exporter.setup(log_group_name="integrates", timeout="10")  # type: ignore[arg-type]
    assert_type(cloudwatch_handler(stream_name="transactional", log_group_name="integrates"), OTelHandler)
    cloudwatch_handler(stream_name="s", retention_day=7)  # type: ignore[call-arg]
