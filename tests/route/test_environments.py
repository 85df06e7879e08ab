"""The environment allowlist, in the exporter and as a stdlib logging filter."""

from __future__ import annotations

import logging
import logging.config
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.resources import Resource

from otel_cw_exporter.config import ConfigError
from otel_cw_exporter.route.environments import EnvironmentAllowlist, EnvironmentFilter
from tests.support import BARE, DEV, ROUTE_RESOURCE, record

# -- environment allowlist ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attributes", "resource", "allowed"),
    [
        (None, ROUTE_RESOURCE, True),  # deployment.environment.name
        (None, DEV, False),  # the older deployment.environment
        ({"environment": "development"}, ROUTE_RESOURCE, False),  # the record's attribute wins
        ({"extra": {"environment": "production"}}, DEV, True),
        ({"environment": "Production "}, DEV, True),  # without regard to case and spaces
        (None, BARE, False),  # no environment at all
    ],
)
def test_environment_allowlist(attributes: dict[str, Any] | None, resource: Resource, allowed: bool) -> None:
    allowlist = EnvironmentAllowlist({"production", "Staging"})
    assert allowlist.allows(record(attributes, resource=resource)) is allowed
    assert allowlist.environments == frozenset({"production", "staging"})


def test_environment_allowlist_takes_one_name_as_a_str() -> None:
    assert EnvironmentAllowlist("production").environments == frozenset({"production"})


@pytest.mark.parametrize(("environments", "message"), [((), "it would drop every record"), ([""], "an empty name")])
def test_environment_allowlist_errors(environments: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        EnvironmentAllowlist(environments)


# -- the stdlib filter -------------------------------------------------------------------------------------


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, ListHandler]]:
    log = logging.getLogger("test_routing.filter")
    handler = ListHandler()
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    yield log, handler
    log.removeHandler(handler)
    log.filters.clear()


def emit_both_styles(log: logging.Logger) -> None:
    log.info("nested prod", extra={"extra": {"environment": "production", "log_type": "Security"}})
    log.info("nested dev", extra={"extra": {"environment": "development"}})
    log.info("flat prod", extra={"environment": "production"})
    log.info("flat dev", extra={"environment": "development"})
    log.info("nested wins", extra={"environment": "development", "extra": {"environment": "production"}})
    log.info("no environment")


def test_filter_reads_both_record_styles(
    logger: tuple[logging.Logger, ListHandler], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    log, handler = logger
    log.addFilter(EnvironmentFilter(environments={"production"}))
    emit_both_styles(log)
    assert handler.messages == ["nested prod", "flat prod", "nested wins"]


def test_filter_falls_back_to_the_given_process_environment(logger: tuple[logging.Logger, ListHandler]) -> None:
    log, handler = logger
    log.addFilter(EnvironmentFilter(environments=["production"], environment="production"))
    emit_both_styles(log)
    assert handler.messages == ["nested prod", "flat prod", "nested wins", "no environment"]


@pytest.mark.parametrize(
    ("variable", "expected"),
    [
        ("service.name=x,deployment.environment.name=production", "production"),
        ("deployment.environment=production", "production"),
        ("deployment.environment.name=staging", None),
        ("service.name=x", None),
    ],
)
def test_filter_falls_back_to_otel_resource_attributes(
    logger: tuple[logging.Logger, ListHandler], monkeypatch: pytest.MonkeyPatch, variable: str, expected: str | None
) -> None:
    monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", variable)
    log, handler = logger
    log.addFilter(EnvironmentFilter(["production"]))
    log.info("no environment")
    log.info("dev", extra={"environment": "development"})
    assert handler.messages == (["no environment"] if expected else [])


def test_filter_defaults_to_production_and_rejects_an_empty_list() -> None:
    assert EnvironmentFilter(environment="x").allowlist.environments == frozenset({"production"})
    with pytest.raises(ConfigError, match="it would drop every record"):
        EnvironmentFilter(environments=[])


def test_filter_from_dictconfig(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    handler = ListHandler()
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": {
                "production_only": {
                    "()": "otel_cw_exporter.EnvironmentFilter",
                    "environments": ["production", "staging"],
                }
            },
            "handlers": {"memory": {"()": lambda: handler, "filters": ["production_only"]}},
            "loggers": {
                "test_routing.dictconfig": {"handlers": ["memory"], "level": "INFO", "propagate": False},
            },
        }
    )
    log = logging.getLogger("test_routing.dictconfig")
    try:
        emit_both_styles(log)
        log.info("staging", extra={"extra": {"environment": "staging"}})
        assert handler.messages == ["nested prod", "flat prod", "nested wins", "staging"]
        [installed] = handler.filters
        assert isinstance(installed, EnvironmentFilter)
    finally:
        log.removeHandler(handler)
