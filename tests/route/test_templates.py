"""Name templates: placeholders from any resource or attribute key, always-valid names, fail-fast config."""

from __future__ import annotations

import calendar
import os
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk.resources import Resource

from otel_cw_exporter.limits import MAX_NAME_LENGTH
from otel_cw_exporter.route.templates import (
    EMPTY_NAME,
    NameTemplate,
    is_valid_group_name,
    is_valid_stream_name,
    valid_group_name,
    valid_stream_name,
)
from tests.support import make_record

RESOURCE = Resource.create(
    {"service.name": "integrates", "host.name": "web-1", "deployment.environment.name": "production"}
)
# 2020-02-29 23:30:00 UTC: already March 1st in Tokyo; its UTC midnight is still the 28th in Los Angeles.
LEAP_NIGHT_MS = calendar.timegm((2020, 2, 29, 23, 30, 0)) * 1000


def render(template: str, kind: Any = "stream", attributes: dict[str, Any] | None = None, **record: Any) -> str:
    record.setdefault("resource", RESOURCE)
    rec = make_record("x", attributes, **record)
    return NameTemplate(template, kind).render(rec, rec.log_record.timestamp or 0)


# CloudWatch's own rules, written out independently of the module under test.
AWS_GROUP_NAME = re.compile(r"[.\-_/#A-Za-z0-9]{1,512}")
AWS_STREAM_NAME = re.compile(r"[^:*]+", re.DOTALL)


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# -- constant templates ------------------------------------------------------------------------------------


def test_template_without_placeholders_is_a_constant() -> None:
    template = NameTemplate("/app/integrates", "group")
    assert template.is_constant
    assert template.constant == "/app/integrates"
    assert template.render(make_record(), 0) == "/app/integrates"


def test_escaped_braces_are_literal_and_stay_constant() -> None:
    template = NameTemplate("a{{b}}c", "stream")
    assert template.is_constant and template.constant == "a{b}c"


def test_template_with_a_placeholder_is_not_constant() -> None:
    template = NameTemplate("{service.name}", "stream")
    assert not template.is_constant
    assert template.constant is None


# -- placeholders ------------------------------------------------------------------------------------------


def test_resource_keys_fill_group_and_stream() -> None:
    assert render("/app/{service.name}", "group") == "/app/integrates"
    assert render("{host.name}/{resource.service.name}") == "web-1/integrates"


def test_attributes_flat_and_nested_extra_nested_wins() -> None:
    assert render("{log_type}", attributes={"log_type": "Security"}) == "Security"
    assert render("{log_type}", attributes={"extra": {"log_type": "Audit"}}) == "Audit"
    both = {"log_type": "flat", "extra": {"log_type": "nested"}}
    assert render("{log_type}", attributes=both) == "nested"


def test_bare_key_reads_the_attribute_before_the_resource() -> None:
    attributes = {"service.name": "from-attribute"}
    assert render("{service.name}", attributes=attributes) == "from-attribute"
    assert render("{resource.service.name}", attributes=attributes) == "integrates"
    assert render("{attributes.service.name}") == "unknown-attributes.service.name"


def test_special_names_logger_level_environment() -> None:
    assert render("{logger}", logger="transactional") == "transactional"
    assert render("{level}", severity_text="ERROR") == "ERROR"
    assert render("{level}", severity_text=None, severity_number=SeverityNumber.WARN) == "WARN"
    assert render("{environment}") == "production"
    assert render("{environment}", attributes={"extra": {"environment": "development"}}) == "development"


def test_attributes_prefix_reaches_an_attribute_hidden_by_a_special_name() -> None:
    attributes = {"level": "custom", "logger": "mine"}
    assert render("{level}/{attributes.level}/{attributes.logger}", attributes=attributes) == "INFO/custom/mine"


def test_pid_is_this_process() -> None:
    assert render("worker-{pid}") == f"worker-{os.getpid()}"


@pytest.fixture(params=["Asia/Tokyo", "America/Los_Angeles"])
def local_time_zone(request: pytest.FixtureRequest) -> Iterator[str]:
    """A local zone east and one west of UTC: a local-time date would be off by a day in one of them."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    yield request.param
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


def test_date_is_the_events_utc_date(local_time_zone: str) -> None:
    event, utc_midnight = LEAP_NIGHT_MS / 1000, LEAP_NIGHT_MS / 1000 - 23.5 * 3600
    # The premise: in local time, the event (Tokyo) or its UTC day's start (Los Angeles) is another day.
    local_days = (time.localtime(event).tm_mday, time.localtime(utc_midnight).tm_mday)
    assert local_days == ((1, 29) if local_time_zone == "Asia/Tokyo" else (29, 28))
    assert render("{date}", timestamp_ms=LEAP_NIGHT_MS) == "2020-02-29"
    assert render("{date:%Y/%m/%d}", timestamp_ms=LEAP_NIGHT_MS) == "2020/02/29"
    assert render("{date:%d-%H%M}", timestamp_ms=LEAP_NIGHT_MS) == "29-2330"


def test_date_cache_follows_the_event_time() -> None:
    daily = NameTemplate("{date:%Y/%m/%d}", "stream")
    hourly = NameTemplate("{date:%Y%m%d-%H}", "stream")
    day = 86_400 * 10**9
    night = LEAP_NIGHT_MS * 10**6
    record = make_record()
    assert [daily.render(record, ns) for ns in (night, night + day, night)] == [
        "2020/02/29",
        "2020/03/01",
        "2020/02/29",
    ]
    assert hourly.render(record, night) == "20200229-23"
    assert hourly.render(record, night + 3600 * 10**9) == "20200301-00"


def test_date_in_a_group_name_with_a_percent_escape_is_refused() -> None:
    with pytest.raises(ValueError, match="'%'"):
        NameTemplate("{date:%Y%%}", "group")
    assert NameTemplate("{date:%Y%%}", "stream").render(make_record(), LEAP_NIGHT_MS * 10**6) == "2020%"


def test_date_of_an_impossible_timestamp_is_a_placeholder() -> None:
    assert NameTemplate("{date}", "stream").render(make_record(), 10**30) == "unknown-date"


def test_logger_with_colon_and_star_gives_a_valid_stream_and_group() -> None:
    stream = render("{logger}/x", logger="graphql:api*v2")
    assert stream == "graphql_api_v2/x"
    assert is_valid_stream_name(stream)
    assert render("/app/{logger}", "group", logger="graphql:api v2.é") == "/app/graphql_api_v2._"


def test_missing_key_becomes_a_visible_placeholder() -> None:
    assert render("{host.name}/{log_type}") == "web-1/unknown-log_type"
    assert render("{log_type}", attributes={"log_type": None}) == "unknown-log_type"
    assert render("{log_type}", attributes={"log_type": ""}) == "unknown-log_type"
    assert render("{resource.team}", "group") == "unknown-resource.team"
    assert render("{logger}", logger="") == "unknown-logger"


def test_placeholder_of_a_key_with_invalid_characters_is_valid_too() -> None:
    assert render("{my key}", "group") == "unknown-my_key"


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no")

    def __repr__(self) -> str:
        raise RuntimeError("no")


def test_values_of_any_type_render() -> None:
    attributes = {"n": 42, "b": True, "l": ["a", "b"], "u": Unprintable()}
    assert render("{n}-{b}", attributes=attributes) == "42-True"
    assert render("{l}", "group", attributes=attributes) == "__a____b__"
    assert render("{u}", "group", attributes=attributes) == "_unprintable_Unprintable_"


def test_huge_values_are_cut_to_512() -> None:
    assert render("{v}", "group", attributes={"v": "g" * 100_000}) == "g" * MAX_NAME_LENGTH
    assert render("p-{v}", attributes={"v": "s" * 100_000}) == "p-" + "s" * (MAX_NAME_LENGTH - 2)


def test_names_are_cut_in_utf16_units_never_inside_a_character() -> None:
    stream = render("{v}", attributes={"v": "😀" * 400})
    assert stream == "😀" * 256
    assert utf16_units(stream) == MAX_NAME_LENGTH
    stream = render("a{v}", attributes={"v": "😀" * 400})
    assert stream == "a" + "😀" * 255 and is_valid_stream_name(stream)


# -- construction errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "kind", "message"),
    [
        ("", "stream", "is empty"),
        ("{service.name", "stream", "'{' at position 0 is never closed"),
        ("a{b{c}", "stream", "'{' at position 1 is never closed"),
        ("a}b", "stream", "'}' at position 1 closes nothing"),
        ("x{}", "stream", "an empty placeholder"),
        ("{date:%Q}", "stream", "'%Q' is not a strftime directive we accept"),
        ("{date:%Y%}", "stream", "ends with a lone '%'"),
        ("{date:}", "stream", "{date:} has no format"),
        ("{date:%c}", "stream", "'%c' is not a strftime directive"),
        ("{level:upper}", "stream", "only {date:...} takes a format"),
        ("{ service.name }", "stream", "has spaces around it"),
        ("{resource.}", "stream", "'resource.' names no key"),
        ("{attributes.}", "group", "'attributes.' names no key"),
        ("my app", "group", "holds ' '"),
        ("app:{service.name}", "group", "holds ':'"),
        ("{{literal}}", "group", "holds '{'"),
        ("{date:%Y %m}", "group", "the date format of {date:%Y %m} holds ' '"),
        ("a:b", "stream", "holds ':'"),
        ("logs*", "stream", "holds '*'"),
        ("tab\there", "stream", "holds '\\t'"),
        ("{date:%H:%M}", "stream", "holds ':'"),
        ("x" * 513, "stream", "513 characters of literal text"),
        ("{pid}" + "x" * 513, "group", "513 characters of literal text"),
        ("😀" * 257, "stream", "514 characters of literal text"),
    ],
)
def test_construction_errors_say_what_to_change(template: str, kind: Any, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        NameTemplate(template, kind)
    assert message in str(caught.value)
    assert f"log {kind} name template" in str(caught.value)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="expected 'group' or 'stream'"):
        NameTemplate("x", "file")  # type: ignore[arg-type]


def test_literal_of_exactly_512_characters_is_accepted() -> None:
    assert NameTemplate("x" * 512, "group").constant == "x" * 512


# -- the sanitising functions ------------------------------------------------------------------------------


def test_valid_group_name() -> None:
    assert valid_group_name("/aws/app-1_x.y#z") == "/aws/app-1_x.y#z"
    assert valid_group_name("my app:é") == "my_app__"
    assert valid_group_name("") == EMPTY_NAME
    assert valid_group_name("a" * 600) == "a" * 512
    assert is_valid_group_name("/app/x") and not is_valid_group_name("a b")
    assert not is_valid_group_name("") and not is_valid_group_name("a" * 513)


def test_valid_stream_name() -> None:
    assert valid_stream_name("web-1/é 日本") == "web-1/é 日本"
    assert valid_stream_name("a:b*c\nd\x00e\ud800f") == "a_b_c_d_e_f"
    assert valid_stream_name("") == EMPTY_NAME
    assert is_valid_stream_name("a b/c") and not is_valid_stream_name("a:b")
    assert not is_valid_stream_name("") and not is_valid_stream_name("😀" * 257)
    assert is_valid_stream_name("😀" * 256)


# -- properties --------------------------------------------------------------------------------------------

nasty_text = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from(list(":*/#._- é日😀\x00\n\ud800\udfff{}%"))),
    st.text(alphabet=st.characters(categories=("Cs", "Cc", "So", "Lo")), max_size=50),
    st.builds(lambda char, count: char * count, st.characters(), st.integers(0, 3000)),
)
any_value = st.one_of(
    nasty_text,
    st.none(),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.lists(nasty_text, max_size=3),
    st.dictionaries(nasty_text, nasty_text, max_size=2),
)
GROUPS = [NameTemplate(t, "group") for t in ("/app/{service.name}/{log_type}", "{logger}{level}{date:%Y/%m/%d}")]
STREAMS = [
    NameTemplate(t, "stream")
    for t in ("{host.name}/{log_type}/{logger}/{level}/{date}/{pid}", "{attributes.x}{resource.x}{environment}")
]


@settings(max_examples=300, deadline=None)
@given(
    log_type=any_value,
    nested=any_value,
    x=any_value,
    logger=nasty_text,
    level=st.one_of(st.none(), nasty_text),
    service=nasty_text,
    timestamp_ns=st.integers(-(10**30), 10**30),
)
def test_every_rendered_name_is_valid_and_render_never_raises(
    *, log_type: Any, nested: Any, x: Any, logger: str, level: str | None, service: str, timestamp_ns: int
) -> None:
    resource = Resource({"service.name": service, "host.name": service, "x": service})
    attributes = {"log_type": log_type, "x": x, "extra": {"environment": nested}}
    record = make_record(attributes=attributes, resource=resource, logger=logger, severity_text=level)
    for template in GROUPS:
        name = template.render(record, timestamp_ns)
        assert AWS_GROUP_NAME.fullmatch(name), name
        assert is_valid_group_name(name)
    for template in STREAMS:
        name = template.render(record, timestamp_ns)
        assert AWS_STREAM_NAME.fullmatch(name) and 1 <= utf16_units(name) <= MAX_NAME_LENGTH, name
        assert is_valid_stream_name(name)


@settings(max_examples=300, deadline=None)
@given(text=nasty_text)
def test_sanitisers_always_give_valid_names_and_keep_valid_ones(text: str) -> None:
    group, stream = valid_group_name(text), valid_stream_name(text)
    assert is_valid_group_name(group) and is_valid_stream_name(stream)
    assert valid_group_name(group) == group and valid_stream_name(stream) == stream
    if is_valid_stream_name(text):
        assert stream == text
    if is_valid_group_name(text):
        assert group == text


@settings(max_examples=300, deadline=None)
@given(template=nasty_text, kind=st.sampled_from(["group", "stream"]), value=any_value)
def test_any_template_either_fails_at_construction_or_renders_valid_names(template: str, kind: Any, value: Any) -> None:
    try:
        compiled = NameTemplate(template, kind)
    except ValueError:
        return
    record = make_record(attributes={"x": value}, logger=str(value))
    name = compiled.render(record, LEAP_NIGHT_MS * 10**6)
    assert (is_valid_group_name if kind == "group" else is_valid_stream_name)(name), name


def test_a_missing_key_after_a_present_one_is_still_the_placeholder() -> None:
    # The last value is cached per placeholder: a record without the key must not reuse or print None.
    template = NameTemplate("{log_type}", "stream")
    assert template.render(make_record("a", {"log_type": "Security"}), 0) == "Security"
    assert template.render(make_record("b", {}), 0) == "unknown-log_type"
    assert template.render(make_record("c", {"log_type": None}), 0) == "unknown-log_type"
    assert template.render(make_record("d", {"log_type": "Security"}), 0) == "Security"
