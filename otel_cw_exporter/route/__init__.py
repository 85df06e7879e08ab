"""Record -> log group and stream, and whether it is exported at all. Pure: no I/O, no threads.

- :mod:`.routes`: :class:`Route` (first match wins, one destination per record) and the :class:`Router`;
- :mod:`.templates`: group and stream names filled from each record (``{service.name}``, ``{date}``...);
- :mod:`.environments`: the environment allowlist, in the exporter and as a stdlib ``logging.Filter``.
"""

from otel_cw_exporter.route.environments import EnvironmentAllowlist, EnvironmentFilter
from otel_cw_exporter.route.routes import Route, Router, routes_from_json, routes_to_json
from otel_cw_exporter.route.templates import NameTemplate

__all__ = [
    "EnvironmentAllowlist",
    "EnvironmentFilter",
    "NameTemplate",
    "Route",
    "Router",
    "routes_from_json",
    "routes_to_json",
]
