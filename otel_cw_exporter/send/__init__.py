"""Events -> PutLogEvents requests -> CloudWatch Logs, the last stage of the pipeline.

- :mod:`.planning`: requests within every API limit (pure);
- :mod:`.wire`: the request body, written once (pure);
- :mod:`.retry`: what an error means and how long to wait (pure);
- :mod:`.groups`: how a missing log group is created;
- :mod:`.client`: the boto3 client: its settings, its copy after a fork, our body in its calls;
- :mod:`.delivery`: the only network I/O and threads of the exporter: retries under a deadline,
  missing streams and groups, bad events isolated, concurrency.
"""

from otel_cw_exporter.send.delivery import Delivery, Request
from otel_cw_exporter.send.groups import GroupSettings
from otel_cw_exporter.send.planning import Plan, plan_requests

__all__ = ["Delivery", "GroupSettings", "Plan", "Request", "plan_requests"]
