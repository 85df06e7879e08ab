"""Which environments are exported at all: development logs stay out of production.

:class:`EnvironmentAllowlist` filters in the exporter (counted as ``events_filtered``);
:class:`EnvironmentFilter` is the same rule as a stdlib ``logging.Filter``, before the OTel pipeline.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.resources import OTELResourceDetector

from otel_cw_exporter.config import ConfigError
from otel_cw_exporter.encode.jsonsafe import safe_str
from otel_cw_exporter.records import ENVIRONMENT_RESOURCE_KEYS, NESTED_EXTRA_KEY, environment_of


class EnvironmentAllowlist:
    """Only records of these environments are exported: keeps development logs out of production.

    A record's environment is its event's ``extra.environment`` (the attribute, flat or nested, else the
    resource's ``deployment.environment.name`` or ``deployment.environment``). Names are compared
    without regard to case or surrounding spaces, so ``Production`` does not silently drop production
    logs. A record with no environment at all is not exported: it cannot be shown to be allowed.
    """

    __slots__ = ("_allowed",)

    def __init__(self, environments: Collection[str] | str) -> None:
        names = [environments] if isinstance(environments, str) else list(environments)
        if not names:
            raise ConfigError("environments is empty: it would drop every record; leave it unset to keep all")
        allowed = {_environment_key(name) for name in names}
        if "" in allowed:
            raise ConfigError(f"environments={names!r} holds an empty name: list names such as 'production'")
        self._allowed = frozenset(allowed)

    @property
    def environments(self) -> frozenset[str]:
        """The allowed names, lowercased."""
        return self._allowed

    def allows_environment(self, environment: object) -> bool:
        """True when ``environment`` (None: unknown) is one of the allowed names."""
        return environment is not None and _environment_key(environment) in self._allowed

    def allows(self, record: ReadableLogRecord) -> bool:
        return self.allows_environment(environment_of(record))


def _environment_key(value: object) -> str:
    return (value if isinstance(value, str) else safe_str(value)).strip().casefold()


def process_environment() -> str | None:
    """This process's deployment environment from ``OTEL_RESOURCE_ATTRIBUTES``, parsed as the SDK does."""
    attributes = OTELResourceDetector().detect().attributes
    for key in ENVIRONMENT_RESOURCE_KEYS:
        value = attributes.get(key)
        if value:
            return safe_str(value)
    return None


class EnvironmentFilter(logging.Filter):
    """A stdlib ``logging`` filter passing only records of the allowed environments (a ``production_only`` filter).

    A record's environment is, in order: ``environment`` inside its nested ``extra`` dict
    (``log.info(msg, extra={"extra": {"environment": ...}})``), its own ``environment`` attribute
    (``extra={"environment": ...}``), else the process's: ``environment=``, else
    ``deployment.environment.name`` (or ``deployment.environment``) in ``OTEL_RESOURCE_ATTRIBUTES``, read
    once here. With none of them the record is dropped. For ``logging.config.dictConfig``::

        "filters": {"production_only": {"()": "otel_cw_exporter.EnvironmentFilter",
                                        "environments": ["production"]}}
    """

    def __init__(
        self, environments: Collection[str] | str = frozenset({"production"}), environment: str | None = None
    ) -> None:
        super().__init__()
        self.allowlist = EnvironmentAllowlist(environments)
        self.environment = environment if environment is not None else process_environment()

    def record_environment(self, record: logging.LogRecord) -> object:
        """The environment ``record`` belongs to, or None when nothing says."""
        nested = getattr(record, NESTED_EXTRA_KEY, None)
        if isinstance(nested, Mapping):
            value = nested.get("environment")
            if value is not None:
                return value
        value = getattr(record, "environment", None)
        return self.environment if value is None else value

    def filter(self, record: logging.LogRecord) -> bool:
        return self.allowlist.allows_environment(self.record_environment(record))
