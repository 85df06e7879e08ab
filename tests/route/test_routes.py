"""Routes: first match wins, conditions, the JSON form, errors at construction."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.resources import Resource

from otel_cw_exporter.config import ConfigError
from otel_cw_exporter.route.routes import Route, Router, routes_from_json, routes_to_json
from tests.support import BARE, DEV, record


def where(router: Router, rec: ReadableLogRecord) -> tuple[str, str]:
    return router.destination(rec, rec.log_record.timestamp or 0)


SEED_ROUTES = [
    Route(when={"log_type": "Security"}, log_stream_name="security"),
    Route(when={"log_type": ["Audit", "Admin"]}, log_group_name="integrates-audit", log_stream_name="audit"),
]


# -- routing -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"log_type": "Security"}, ("integrates", "security")),
        ({"extra": {"log_type": "Security", "user_email": "a@x"}}, ("integrates", "security")),
        ({"log_type": "Audit"}, ("integrates-audit", "audit")),
        ({"extra": {"log_type": "Admin"}}, ("integrates-audit", "audit")),
        ({"log_type": "security"}, ("integrates", "application")),  # values are case-sensitive
        ({"log_type": "Sec"}, ("integrates", "application")),
        ({"operation": "x"}, ("integrates", "application")),
        (None, ("integrates", "application")),
    ],
)
def test_security_audit_and_other_records(attributes: dict[str, Any] | None, expected: tuple[str, str]) -> None:
    router = Router("integrates", "application", SEED_ROUTES)
    assert where(router, record(attributes)) == expected


def test_nested_extra_wins_over_the_flat_attribute() -> None:
    router = Router("g", "s", SEED_ROUTES)
    assert where(router, record({"log_type": "Security", "extra": {"log_type": "Audit"}})) == (
        "integrates-audit",
        "audit",
    )


def test_a_str_value_is_one_value_not_a_collection_of_characters() -> None:
    router = Router("g", "s", [Route(when={"log_type": "Security"}, log_stream_name="sec")])
    assert where(router, record({"log_type": "S"})) == ("g", "s")
    assert Route(when={"log_type": "Security"}, log_stream_name="sec").when["log_type"] == "Security"


@pytest.mark.parametrize("values", [["Audit", "Admin"], ("Audit", "Admin"), {"Audit", "Admin"}, frozenset({"Admin"})])
def test_any_collection_of_values(values: Any) -> None:
    router = Router("g", "s", [Route(when={"log_type": values}, log_stream_name="audit")])
    assert where(router, record({"log_type": "Admin"})) == ("g", "audit")
    assert where(router, record({"log_type": "Other"})) == ("g", "s")


def test_resource_field_and_bare_key_falling_back_to_the_resource() -> None:
    router = Router(
        "g",
        "s",
        [
            Route(when={"resource.team": "security"}, log_stream_name="sec-team"),
            Route(when={"team": "platform", "log_type": "Audit"}, log_stream_name="platform-audit"),
            Route(when={"resource.service.name": "bare"}, log_stream_name="bare"),
        ],
    )
    team = Resource({"team": "security"})
    assert where(router, record(resource=team)) == ("g", "sec-team")
    assert where(router, record({"log_type": "Audit"})) == ("g", "platform-audit")
    assert where(router, record({"log_type": "Audit", "team": "other"})) == ("g", "s")  # the attribute wins
    assert where(router, record(resource=BARE)) == ("g", "bare")
    assert where(router, record({"service.name": "bare"})) == ("g", "s")  # resource. reads only the resource


def test_attributes_prefix_reads_only_attributes() -> None:
    router = Router("g", "s", [Route(when={"attributes.team": "platform"}, log_stream_name="t")])
    assert where(router, record()) == ("g", "s")  # the resource has team=platform, the attributes do not
    assert where(router, record({"extra": {"team": "platform"}})) == ("g", "t")


def test_logger_field_is_the_scope_name() -> None:
    router = Router("g", "s", [Route(when={"logger": ["transactional", "audit"]}, log_stream_name="tx")])
    assert where(router, record(logger="transactional")) == ("g", "tx")
    assert where(router, record(logger="transactional.sub")) == ("g", "s")


@pytest.mark.parametrize(
    ("severity_text", "severity_number", "matches"),
    [
        ("ERROR", SeverityNumber.ERROR, True),
        ("error", SeverityNumber.ERROR, True),
        (None, SeverityNumber.ERROR, True),
        ("WARN", SeverityNumber.WARN, True),  # the stdlib bridge's name for WARNING
        ("FATAL", SeverityNumber.FATAL, False),
        ("INFO", SeverityNumber.INFO, False),
    ],
)
def test_level_ignores_case_and_knows_warn_and_warning(
    severity_text: str | None, severity_number: SeverityNumber, matches: bool
) -> None:
    router = Router("g", "s", [Route(when={"level": ["Error", "warning"]}, log_stream_name="problems")])
    rec = record(severity_text=severity_text, severity_number=severity_number)
    assert where(router, rec) == (("g", "problems") if matches else ("g", "s"))


def test_critical_matches_fatal() -> None:
    router = Router("g", "s", [Route(when={"level": "CRITICAL"}, log_stream_name="fatal")])
    assert where(router, record(severity_text="FATAL", severity_number=SeverityNumber.FATAL)) == ("g", "fatal")


def test_environment_field_is_the_events_environment() -> None:
    router = Router("g", "s", [Route(when={"environment": "development"}, log_group_name="dev")])
    assert where(router, record(resource=DEV)) == ("dev", "s")
    assert where(router, record({"extra": {"environment": "development"}})) == ("dev", "s")
    assert where(router, record()) == ("g", "s")


def test_all_conditions_must_hold() -> None:
    router = Router("g", "s", [Route(when={"log_type": "Security", "logger": "transactional"}, log_stream_name="x")])
    assert where(router, record({"log_type": "Security"}, logger="transactional")) == ("g", "x")
    assert where(router, record({"log_type": "Security"}, logger="other")) == ("g", "s")
    assert where(router, record({"log_type": "Audit"}, logger="transactional")) == ("g", "s")


def test_values_compare_as_text_and_none_matches_a_missing_field() -> None:
    router = Router(
        "g",
        "s",
        [
            Route(when={"status": 500}, log_stream_name="5xx"),
            Route(when={"log_type": None}, log_stream_name="untyped"),
        ],
    )
    assert where(router, record({"status": "500", "log_type": "x"})) == ("g", "5xx")
    assert where(router, record({"status": 500, "log_type": "x"})) == ("g", "5xx")
    assert where(router, record({"status": 404})) == ("g", "untyped")
    assert where(router, record({"status": 404, "log_type": "x"})) == ("g", "s")


def test_first_matching_route_wins() -> None:
    router = Router(
        "g",
        "s",
        [
            Route(when={"log_type": "Security"}, log_stream_name="first"),
            Route(when={"log_type": ["Security", "Audit"]}, log_stream_name="second"),
        ],
    )
    assert where(router, record({"log_type": "Security"})) == ("g", "first")
    assert where(router, record({"log_type": "Audit"})) == ("g", "second")


def test_a_route_setting_one_name_keeps_the_default_template_for_the_other() -> None:
    router = Router(
        "/app/{service.name}",
        "{host.name}/{logger}",
        [
            Route(when={"log_type": "Audit"}, log_group_name="audit"),
            Route(when={"log_type": "Security"}, log_stream_name="security-{host.name}"),
        ],
    )
    assert where(router, record({"log_type": "Audit"}, logger="api")) == ("audit", "web-1/api")
    assert where(router, record({"log_type": "Security"})) == ("/app/integrates", "security-web-1")
    assert where(router, record(logger="jobs")) == ("/app/integrates", "web-1/jobs")


def test_constant_defaults_without_routes_are_one_precomputed_pair() -> None:
    router = Router("g", "s")
    first, second = where(router, record()), where(router, record({"log_type": "Security"}, resource=BARE))
    assert first == ("g", "s")
    assert first is second


def test_router_accepts_routes_as_mappings() -> None:
    router = Router("g", "s", [{"when": {"log_type": "Security"}, "log_stream_name": "security"}])
    assert router.routes == (SEED_ROUTES[0],)
    assert where(router, record({"log_type": "Security"})) == ("g", "security")


# -- route and router validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"when": {}, "log_stream_name": "s"}, "when is empty: the route would take every record"),
        ({"when": {"log_type": "Security"}}, "sets neither log_group_name nor log_stream_name"),
        ({"when": {"log_type": []}, "log_stream_name": "s"}, "empty list: it can never match"),
        ({"when": {"log_type": {"a": 1}}, "log_stream_name": "s"}, "expected a value"),
        ({"when": {"log_type": [["a"]]}, "log_stream_name": "s"}, "list only text, numbers"),
        ({"when": {"log_type": object()}, "log_stream_name": "s"}, "expected a value"),
        ({"when": {1: "a"}, "log_stream_name": "s"}, "expected a field name"),
        ({"when": {"": "a"}, "log_stream_name": "s"}, "the key is empty"),
        ({"when": {"resource.": "a"}, "log_stream_name": "s"}, "'resource.' names no key"),
        ({"when": {" log_type": "a"}, "log_stream_name": "s"}, "has spaces around it"),
        ({"when": "log_type=Security", "log_stream_name": "s"}, "expected a mapping"),
        ({"when": {"a": "b"}, "log_stream_name": "a:b"}, "log_stream_name='a:b'"),
        ({"when": {"a": "b"}, "log_group_name": "bad group"}, "log_group_name='bad group'"),
        ({"when": {"a": "b"}, "log_group_name": "{unclosed"}, "is never closed"),
        ({"when": {"a": "b"}, "log_group_name": 7}, "expected a string"),
    ],
)
def test_route_errors_at_construction(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Route(**arguments)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("bad group name!", "s"), "log_group_name='bad group name!'"),
        (("g", "{unclosed"), "log_stream_name='{unclosed'"),
        (("", "s"), "log_group_name='': log group name template '' is empty"),
        (("g", "s", [{"when": {"a": "b"}}]), "routes[0]: route when={'a': 'b'} sets neither"),
    ],
)
def test_router_errors_name_the_option(arguments: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        Router(*arguments)
    assert message in str(caught.value)


def test_route_is_a_snapshot_of_its_conditions() -> None:
    when: dict[str, Any] = {"log_type": ["Audit"]}
    route = Route(when=when, log_stream_name="audit")
    when["log_type"].append("Security")
    when["other"] = "x"
    assert route.when == {"log_type": ("Audit",)}
    assert route.matches(record({"log_type": "Audit"}))
    assert not route.matches(record({"log_type": "Security"}))
    with pytest.raises(TypeError):
        route.when["x"] = 1  # type: ignore[index]


def test_route_repr_reads_like_its_construction() -> None:
    route = Route(when={"log_type": ["Audit", "Admin"]}, log_group_name="audit")
    assert repr(route) == "Route(when={'log_type': ('Audit', 'Admin')}, log_group_name='audit')"


def test_equal_routes_are_equal_and_hashable() -> None:
    a = Route(when={"log_type": {"Admin", "Audit"}}, log_stream_name="audit")
    b = Route(when={"log_type": ["Admin", "Audit"]}, log_stream_name="audit")
    assert a == b and hash(a) == hash(b)
    assert a != Route(when={"log_type": ["Admin", "Audit"]}, log_stream_name="other")


# -- routes from JSON --------------------------------------------------------------------------------------

README_ROUTES = (
    '[{"when": {"log_type": "Security"}, "log_stream_name": "security"},'
    ' {"when": {"log_type": ["Audit", "Admin"]}, "log_group_name": "audit"}]'
)


def test_routes_from_json_documented_form() -> None:
    routes = routes_from_json(README_ROUTES)
    assert routes == [
        Route(when={"log_type": "Security"}, log_stream_name="security"),
        Route(when={"log_type": ["Audit", "Admin"]}, log_group_name="audit"),
    ]
    router = Router("g", "s", routes)
    assert where(router, record({"extra": {"log_type": "Admin"}})) == ("audit", "s")


def test_routes_round_trip_through_json() -> None:
    routes = [*SEED_ROUTES, Route(when={"status": [500, 503], "flag": True, "gone": None}, log_group_name="x")]
    text = routes_to_json(routes)
    assert json.loads(text)[0] == {"when": {"log_type": "Security"}, "log_stream_name": "security"}
    assert routes_from_json(text) == routes


def test_blank_json_means_no_routes() -> None:
    assert routes_from_json("") == [] and routes_from_json("  \n") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[not json", "not valid JSON"),
        ('{"when": {"a": "b"}, "log_stream_name": "s"}', "wrap the one route in [...]"),
        ("42", "expected a JSON list of routes, got int"),
        ('["security"]', "route [0]: expected an object"),
        ('[{"when": {"a": "b"}, "log_stream_name": "s"}, {"when": {"a": "b"}, "stream": "s"}]', "route [1]: unknown"),
        ('[{"log_stream_name": "s"}]', "route [0]: missing 'when'"),
        ('[{"when": {"a": {"b": 1}}, "log_stream_name": "s"}]', "route [0]: when['a']"),
        ('[{"when": {"a": "b"}, "log_stream_name": "x*"}]', "route [0]: log_stream_name='x*'"),
    ],
)
def test_routes_from_json_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        routes_from_json(text)
    assert "OTEL_EXPORTER_CLOUDWATCH_LOGS_ROUTES" in str(caught.value)
    assert message in str(caught.value)


scalars = st.one_of(
    st.text(max_size=20), st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False, allow_infinity=False)
)


field_names = st.one_of(
    st.sampled_from(["log_type", "logger", "level", "environment", "resource.team", "attributes.x"]),
    st.text(min_size=1, max_size=20),
)


@settings(max_examples=200, deadline=None)
@given(
    when=st.dictionaries(field_names, st.one_of(scalars, st.lists(scalars, min_size=1, max_size=4)), min_size=1),
    stream=st.one_of(st.none(), st.text(min_size=1, max_size=30)),
)
def test_any_valid_route_round_trips_through_json(when: dict[str, Any], stream: str | None) -> None:
    try:
        route = Route(when=when, log_group_name="g", log_stream_name=stream)
    except ConfigError:
        reject()
    [back] = routes_from_json(routes_to_json([route]))
    assert back == route
    assert back.to_dict() == route.to_dict()
