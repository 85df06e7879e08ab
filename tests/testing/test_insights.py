"""The local Logs Insights evaluator: the users' saved queries, every operator, errors, and properties."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_cw_exporter.testing.insights import (
    MAX_ROWS,
    Compare,
    Field,
    Fields,
    Filter,
    InsightsQueryError,
    Limit,
    Literal,
    Query,
    Sort,
    event_from_log_event,
    flatten,
    parse,
    run,
)

# The users' saved queries, verbatim (the second one's comment has no space after '#', and its
# last line holds two commands).
SECURITY_QUERY = """# Security events by user in the last 24h
fields @timestamp, extra.user_email, message, extra.resource_type
| filter extra.log_type = "Security"
| sort @timestamp desc
| limit 100"""

ERRORS_QUERY = """#Errors in critical operations
fields @timestamp, message, extra.operation
| filter level = "ERROR"
| sort @timestamp desc | limit 50"""

# The queries we ship.
AUDIT_QUERY = """fields @timestamp, message, extra.operation
| filter extra.log_type = "Audit" and extra.user_email = "jdoe@example.com"
| sort @timestamp desc"""

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
XRAY_ID = "1-0af76519-16cd43dd8448eb211c80319c"
TRACE_QUERY = f'filter trace_id = "{TRACE_ID}" or xray_trace_id = "{XRAY_ID}"'

COUNTS_QUERY = "stats count(*) by extra.log_type"

BASE_MS = 1_795_000_000_000


def event(offset_s: int, level: str, message: str, **fields: Any) -> dict[str, Any]:
    """An event as the caller hands it over: the parsed JSON plus CloudWatch's ``@`` fields."""
    body: dict[str, Any] = {
        "timestamp": f"2026-11-24T09:{offset_s // 60:02d}:{offset_s % 60:02d}.000000Z",
        "level": level,
        "message": message,
        "logger": "transactional",
        **fields,
        "resource": {"service.name": "integrates", "deployment.environment.name": "production"},
    }
    text = json.dumps(body)
    return {
        **body,
        "@timestamp": BASE_MS + offset_s * 1000,
        "@message": text,
        "@logStream": "integrates-web",
        "@log": "integrates",
    }


def at(offset_s: int) -> int:
    return BASE_MS + offset_s * 1000


# A mix like production: Security, Audit, errors, plain INFO, missing fields, odd spellings.
EVENTS: list[dict[str, Any]] = [
    event(
        10,
        "INFO",
        "Added secret",
        extra={
            "environment": "production",
            "user_email": "jdoe@example.com",
            "log_type": "Security",
            "resource_type": "GitRoot",
        },
        trace_id=TRACE_ID,
        span_id="b7ad6b7169203331",
    ),
    event(
        20,
        "ERROR",
        "Blocked attempt to create ROOT type secret for GitRoot",
        extra={"user_email": "mallory@example.com", "log_type": "Security", "operation": "add_secret"},
    ),
    event(
        30,
        "INFO",
        "GraphQL mutation executed",
        extra={"user_email": "jdoe@example.com", "log_type": "Audit", "operation": "update_group"},
    ),
    event(40, "ERROR", "Sync failed", extra={"operation": "sync_repos"}, xray_trace_id=XRAY_ID),
    event(50, "INFO", "Heartbeat"),
    # Security without a user: the row simply has no extra.user_email.
    event(60, "WARN", "Token revoked", extra={"log_type": "Security", "resource_type": "Token"}),
    # Lowercase spellings do not match: Insights compares strings case-sensitively.
    event(70, "error", "lowercase level", extra={"log_type": "security", "user_email": "x@example.com"}),
    # A dotted key flattens to the same name as a nested one.
    event(80, "ERROR", "Dotted keys", **{"extra.log_type": "Security", "extra.user_email": "dot@example.com"}),
    event(
        90,
        "INFO",
        "Audit by someone else",
        extra={"user_email": "other@example.com", "log_type": "Audit", "operation": "remove_user"},
    ),
]


# --------------------------------------------------------------------------- the users' queries


def test_security_query_verbatim() -> None:
    rows = run(SECURITY_QUERY, EVENTS)
    assert rows == [
        {"@timestamp": at(80), "extra.user_email": "dot@example.com", "message": "Dotted keys"},
        {"@timestamp": at(60), "message": "Token revoked", "extra.resource_type": "Token"},
        {
            "@timestamp": at(20),
            "extra.user_email": "mallory@example.com",
            "message": "Blocked attempt to create ROOT type secret for GitRoot",
        },
        {
            "@timestamp": at(10),
            "extra.user_email": "jdoe@example.com",
            "message": "Added secret",
            "extra.resource_type": "GitRoot",
        },
    ]
    assert [list(row) for row in rows][-1] == [
        "@timestamp",
        "extra.user_email",
        "message",
        "extra.resource_type",
    ]


def test_security_query_returns_the_newest_100() -> None:
    events = [
        event(i, "INFO", f"event {i}", extra={"log_type": "Security", "user_email": f"u{i}@example.com"})
        for i in random.Random(7).sample(range(250), 250)
    ]
    rows = run(SECURITY_QUERY, events)
    assert [row["@timestamp"] for row in rows] == [at(i) for i in range(249, 149, -1)]
    assert rows[0] == {"@timestamp": at(249), "extra.user_email": "u249@example.com", "message": "event 249"}


def test_errors_query_verbatim() -> None:
    assert run(ERRORS_QUERY, EVENTS) == [
        {"@timestamp": at(80), "message": "Dotted keys"},
        {"@timestamp": at(40), "message": "Sync failed", "extra.operation": "sync_repos"},
        {
            "@timestamp": at(20),
            "message": "Blocked attempt to create ROOT type secret for GitRoot",
            "extra.operation": "add_secret",
        },
    ]


def test_errors_query_returns_the_newest_50() -> None:
    events = [event(i, "ERROR" if i % 2 else "INFO", f"e{i}") for i in range(200)]
    rows = run(ERRORS_QUERY, events)
    assert [row["@timestamp"] for row in rows] == [at(i) for i in range(199, 99, -2)]


def test_seed_queries_parse_to_the_expected_commands() -> None:
    assert parse(ERRORS_QUERY).commands == (
        Fields((("@timestamp", "@timestamp"), ("message", "message"), ("extra.operation", "extra.operation"))),
        Filter(Compare("=", Field("level"), Literal("ERROR"))),
        Sort((("@timestamp", True),)),
        Limit(50),
    )


def test_audit_trail_of_one_user() -> None:
    assert run(AUDIT_QUERY, EVENTS) == [
        {"@timestamp": at(30), "message": "GraphQL mutation executed", "extra.operation": "update_group"}
    ]


def test_events_of_one_trace_default_to_timestamp_and_message() -> None:
    rows = run(TRACE_QUERY, EVENTS)
    assert rows == [
        {"@timestamp": at(10), "@message": EVENTS[0]["@message"]},
        {"@timestamp": at(40), "@message": EVENTS[3]["@message"]},
    ]


def test_counts_per_log_type() -> None:
    assert run(COUNTS_QUERY, EVENTS) == [
        {"extra.log_type": "Security", "count(*)": 4},
        {"extra.log_type": "Audit", "count(*)": 2},
        {"count(*)": 2},  # events without a log type form their own group
        {"extra.log_type": "security", "count(*)": 1},
    ]
    assert run("stats count(*) as n by extra.log_type | sort n desc, extra.log_type asc | limit 2", EVENTS) == [
        {"extra.log_type": "Security", "n": 4},
        {"extra.log_type": "Audit", "n": 2},
    ]


def test_a_query_object_runs_like_its_text() -> None:
    query = parse(SECURITY_QUERY)
    assert isinstance(query, Query)
    assert query.text == SECURITY_QUERY
    assert run(query, EVENTS) == run(SECURITY_QUERY, EVENTS)
    assert run(query, iter(EVENTS)) == run(query, EVENTS)  # any iterable, read once


# --------------------------------------------------------------------------- filter operators

ROWS: list[dict[str, Any]] = [
    {"id": "a", "n": 5, "s": "Error: disk full", "tag": "x", "flag": True, "ns": "10"},
    {"id": "b", "n": 10, "s": "warning", "tag": "y", "ns": "9"},
    {"id": "c", "n": 7.5, "s": "ERROR 500", "nested": {"k": "v", "list": ["p", "q"]}},
    {"id": "d", "s": "", "tag": "x"},
    {"id": "e", "n": "12", "s": "   ", "tag": None},
]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("n = 5", "a"),
        ("n != 5", "bce"),  # d has no n: != on a missing field is false
        ("n < 10", "ac"),
        ("n <= 10", "abc"),
        ("n > 7.5", "be"),  # "12" is numeric text compared with a number
        ("n >= 7.5", "bce"),
        ("n = -3", ""),
        ('n = "5"', "a"),
        ("ns > 9", "a"),  # numeric: "10" > 9
        ('ns > "9"', ""),  # both strings: "10" < "9"
        ('s like "rror"', "a"),  # substring, case-sensitive
        ("s like 'ERROR'", "c"),
        ("s like /(?i)error/", "ac"),
        ("s like /^E/", "ac"),
        (r"s =~ /\d+/", "c"),
        ('s not like "rror"', "bcde"),
        ("s not like /^E/", "bde"),
        ('tag in ["x", "z"]', "ad"),
        ('tag not in ["x"]', "b"),  # c and e have no tag
        ("n in [5, 10]", "ab"),
        ("tag in []", ""),
        ('not tag = "x"', "bce"),  # only the not operator makes a missing field count
        ("ispresent(tag)", "abd"),
        ("not ispresent(n)", "d"),
        ("isempty(s)", "d"),
        ("isempty(tag)", "ce"),
        ("isblank(s)", "de"),
        ('tag = "x" and n > 1', "a"),
        ('tag = "y" or n > 7', "bce"),
        ('(tag = "x" or tag = "y") and not n = 5', "bd"),
        ('tag = "x" or tag = "y" and n = 5', "ad"),  # and binds tighter than or
        ('tag = "x" AND n = 5', "a"),  # keywords are case-insensitive
        ("nested.k = 'v'", "c"),
        ('`nested.k` = "v"', "c"),
        ('nested.list.1 = "q"', "c"),
        ('id = "A"', ""),  # case-sensitive equality
        ('flag = "true"', "a"),
        ("5 < n", "bce"),  # a literal on the left
        ('s = "#not a comment"', ""),
        ('id = "a" # a comment ends at the newline\n', "a"),
    ],
)
def test_filter_operator(condition: str, expected: str) -> None:
    rows = run(f"filter {condition} | display id", ROWS)
    assert "".join(str(row["id"]) for row in rows) == expected


def test_where_is_an_alias_of_filter() -> None:
    assert run("where n = 5 | display id", ROWS) == [{"id": "a"}]


def test_timestamp_compares_numerically() -> None:
    rows = run(f"filter @timestamp >= {at(80)} | display message", EVENTS)
    assert rows == [{"message": "Dotted keys"}, {"message": "Audit by someone else"}]


def test_dotted_resource_keys_are_reachable() -> None:
    rows = run('filter resource.service.name = "integrates" | stats count(*)', EVENTS)
    assert rows == [{"count(*)": len(EVENTS)}]


def test_unparsed_messages_match_only_system_fields() -> None:
    plain = {"@timestamp": 1, "@message": "plain text ERROR line"}
    assert run('filter level = "ERROR"', [plain]) == []
    assert run('filter @message like "ERROR"', [plain]) == [plain]


# --------------------------------------------------------------------------- fields, display, sort


def test_fields_accumulate_and_display_wins() -> None:
    query = "fields id | fields n as number | filter number > 6 | display id, s | display id"
    assert run(query, ROWS) == [{"id": "b"}, {"id": "c"}, {"id": "e"}]
    assert run("fields id | fields n as number | filter number > 6", ROWS) == [
        {"id": "b", "number": 10},
        {"id": "c", "number": 7.5},
        {"id": "e", "number": "12"},
    ]


def test_alias_of_a_missing_field_is_missing() -> None:
    rows = [{"id": "a", "other": "o"}, {"id": "b", "user": "u", "other": "o"}]
    assert run("fields id, user as other | filter ispresent(other)", rows) == [{"id": "b", "other": "u"}]


def test_newlines_separate_commands_and_continue_expressions() -> None:
    query = """fields id
filter tag = "x"
    or n > 9
sort id desc
limit 2"""
    assert run(query, ROWS) == [{"id": "e"}, {"id": "d"}]  # e passes only by the continued "or n > 9"


# Insights' documented ascending order: non-numbers (natural order), then numbers.
INSIGHTS_SORT_EXAMPLE = [
    "!:",
    "#",
    "*%04",
    "0#",
    "5A",
    "111A",
    "2345_",
    "@",
    "@_",
    "A",
    "A9876fghj",
    "a12345hfh",
    "0",
    "01",
    "1",
    "2",
    "3",
]


def test_sort_follows_insights_documented_order() -> None:
    shuffled = INSIGHTS_SORT_EXAMPLE[:]
    random.Random(3).shuffle(shuffled)
    rows = [{"v": v} for v in shuffled]
    assert [r["v"] for r in run("sort v asc | display v", rows)] == INSIGHTS_SORT_EXAMPLE
    assert [r["v"] for r in run("sort v desc | display v", rows)] == INSIGHTS_SORT_EXAMPLE[::-1]
    assert [r["v"] for r in run("sort v | display v", rows)] == INSIGHTS_SORT_EXAMPLE


def test_sort_numbers_numerically_missing_last_and_stable() -> None:
    rows: list[dict[str, Any]] = [
        {"id": 1, "t": 900},
        {"id": 2},
        {"id": 3, "t": 10000, "g": "b"},
        {"id": 4, "t": 1000, "g": "a"},
        {"id": 5, "t": 1000, "g": "b"},
        {"id": 6, "t": 1000, "g": "a"},
    ]
    assert [r["id"] for r in run("sort t asc | display id", rows)] == [1, 4, 5, 6, 3, 2]
    assert [r["id"] for r in run("sort t desc | display id", rows)] == [3, 4, 5, 6, 1, 2]
    assert [r["id"] for r in run("sort g desc, t asc | display id", rows)] == [5, 3, 4, 6, 1, 2]


def test_commands_apply_in_order() -> None:
    rows = [{"id": i} for i in range(5)]
    assert run("limit 3 | sort id desc | display id", rows) == [{"id": 2}, {"id": 1}, {"id": 0}]
    assert run("sort id desc | limit 3 | display id", rows) == [{"id": 4}, {"id": 3}, {"id": 2}]


def test_without_limit_at_most_10000_rows() -> None:
    rows = run("display i", ({"i": i} for i in range(MAX_ROWS + 5)))
    assert len(rows) == MAX_ROWS
    assert rows[-1] == {"i": MAX_ROWS - 1}


def test_dedup_keeps_the_first_row_of_each_value() -> None:
    query = "sort @timestamp desc | dedup extra.user_email | display message"
    assert run(query, EVENTS) == [
        {"message": "Audit by someone else"},
        {"message": "Dotted keys"},
        {"message": "lowercase level"},
        {"message": "Token revoked"},  # no user: never a duplicate
        {"message": "Heartbeat"},
        {"message": "Sync failed"},
        {"message": "GraphQL mutation executed"},
        {"message": "Blocked attempt to create ROOT type secret for GitRoot"},
    ]


# --------------------------------------------------------------------------- stats


def test_stats_functions_and_groups() -> None:
    rows = [
        {"g": "a", "h": 1, "v": 2, "u": "x"},
        {"g": "a", "h": 1, "v": "4", "u": "x"},
        {"g": "a", "h": 2, "v": "n/a", "u": "y"},
        {"g": "b", "h": 1, "u": "z"},
    ]
    query = "stats count(*), count(v) as with_v, count_distinct(u), sum(v), avg(v), min(v), max(v) by g | sort g asc"
    assert run(query, rows) == [
        {
            "g": "a",
            "count(*)": 3,
            "with_v": 3,
            "count_distinct(u)": 2,
            "sum(v)": 6,
            "avg(v)": 3.0,
            "min(v)": 2,
            "max(v)": 4,
        },
        # no numeric v: sum/avg/min/max are absent, like Insights' empty cells
        {"g": "b", "count(*)": 1, "with_v": 0, "count_distinct(u)": 1},
    ]
    assert run("stats count() by g, h | sort g, h", rows) == [
        {"g": "a", "h": 1, "count()": 2},
        {"g": "a", "h": 2, "count()": 1},
        {"g": "b", "h": 1, "count()": 1},
    ]
    assert run("stats count(*)", rows) == [{"count(*)": 4}]
    assert run("stats count(*) by g", []) == []
    assert run("stats count(*) as n by g | filter n > 1 | fields g", rows) == [{"g": "a", "n": 3}]


# --------------------------------------------------------------------------- fields discovery


class Thing:
    def __str__(self) -> str:
        return "thing"


def test_flatten_like_insights_json_discovery() -> None:
    assert flatten(
        {
            "a": {"b": {"c": 1}, "d.e": "x"},
            "list": [1, {"k": "v"}, []],
            "none": None,
            "empty": {},
            "flag": False,
            "other": Thing(),
        }
    ) == {"a.b.c": 1, "a.d.e": "x", "list.0": 1, "list.1.k": "v", "flag": False, "other": "thing"}
    assert flatten({"a": {"b": 1}, "a.b": 2}) == {"a.b": 2}  # the later spelling wins


def test_event_from_log_event() -> None:
    message = json.dumps({"level": "ERROR", "extra": {"log_type": "Security"}})
    item = {"timestamp": 5, "message": message, "ingestionTime": 7, "logStreamName": "web", "eventId": "1"}
    built = event_from_log_event(item, "integrates")
    assert built == {
        "level": "ERROR",
        "extra": {"log_type": "Security"},
        "@timestamp": 5,
        "@message": message,
        "@ingestionTime": 7,
        "@logStream": "web",
        "@log": "integrates",
    }
    assert run('filter extra.log_type = "Security" | display @logStream', [built]) == [{"@logStream": "web"}]
    plain = event_from_log_event({"timestamp": 5, "message": "[1, 2]"}, log_stream="s")
    assert plain == {"@timestamp": 5, "@message": "[1, 2]", "@logStream": "s"}
    assert event_from_log_event({"timestamp": 5, "message": "not json {"}) == {
        "@timestamp": 5,
        "@message": "not json {",
    }


# --------------------------------------------------------------------------- parse errors


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "the query has no commands"),
        ("# only a comment", "the query has no commands"),
        ("parse @message '* *' as a, b", "unsupported command 'parse'"),
        (
            "fields a\nparse @message /(?<x>\\S+)/ | display x",
            "unsupported command 'parse': this local approximation of Insights runs only fields, display,"
            " filter, where, sort, limit, stats, dedup (line 2, column 1)",
        ),
        ("fields a | frobnicate b", "unsupported command 'frobnicate' (supported: fields, display, filter"),
        ('"fields" a', "expected a command, found 'fields' (line 1, column 1)"),
        ("fields strlen(message)", "unsupported function 'strlen' in fields (line 1, column 8)"),
        ("filter strlen(message) > 3", "unsupported function 'strlen' in filter"),
        ("filter tolower(level) = 'error'", "unsupported function 'tolower' in filter"),
        ("stats count(*) by bin(5m)", "unsupported function 'bin' in stats"),
        ("stats pct(latency, 50)", "unsupported stats function 'pct' (supported: count"),
        ("stats sum(*)", "sum() needs a field in stats"),
        ("stats count(*), count(*)", "stats names the column 'count(*)' twice"),
        ("stats count(*) by", "expected a field name in stats, found the end of the command"),
        ("filter level == 'ERROR'", "'==' is not Insights syntax, use '=' in filter (line 1, column 14)"),
        ("filter level", "expected an operator in filter, found the end of the command"),
        ("filter level ~ 'x'", "unexpected character '~' (line 1, column 14)"),
        ("filter n > 1 + 2", "unsupported operator '+': arithmetic is not supported (line 1, column 14)"),
        ("fields bytes/1024 as kb", "unsupported operator '/': arithmetic is not supported (line 1, column 13)"),
        ("filter n > 1 2", "unexpected token in filter, found '2'"),
        ("filter and = 1", "expected a field, string or number in filter, found 'and'"),
        ("filter (level = 'x'", "expected ')' in filter, found the end of the command (line 1, column 20)"),
        ("filter level = 'x", "unterminated string: missing closing ' (line 1, column 16)"),
        ("filter `level = 'x'", "unterminated field name"),
        ("filter m like /abc", "unterminated regular expression"),
        ("filter m like /(/", "invalid regular expression /(/"),
        ("filter m like 5", "expected a \"string\" or /regex/ in filter, found '5'"),
        ("filter m =~ 'x'", "expected a /regex/ after =~ in filter"),
        ("filter m in 'x'", "expected '[' in filter"),
        ("filter m in ['x' 'y']", "expected ',' in filter, found 'y'"),
        ("filter m in [level]", "expected a string or number in filter, found 'level'"),
        ("sort @timestamp sideways", "unexpected token in sort, found 'sideways'"),
        ("fields a,", "expected a field name in fields, found the end of the command"),
        ("display a b", "unexpected token in display, found 'b'"),
        ("dedup", "expected a field name in dedup"),
        ("limit 0", "expected a positive whole number of rows in limit, found '0'"),
        ("limit 2.5", "expected a positive whole number of rows in limit"),
        ("limit x", "expected a positive whole number of rows in limit, found 'x'"),
        ("limit 10001", "limit 10001 is above Insights' maximum of 10000"),
        ("limit 5 6", "unexpected token in limit, found '6'"),
        ("fields a |", "empty command after '|' (line 1, column 10)"),
        ("fields a | | limit 1", "empty command before '|' (line 1, column 12)"),
        (
            # The second seed query with its comment and commands on one line: the comment hides them.
            '#Errors in critical operations fields @timestamp, message | filter level = "ERROR"\n'
            "| sort @timestamp desc | limit 50",
            "empty command before '|' (a '#' comment runs to the end of its line) (line 2, column 1)",
        ),
        ("filter " + "(" * 5000 + "a = 1" + ")" * 5000, "too deeply"),
    ],
)
def test_parse_errors_say_what_and_where(query: str, message: str) -> None:
    with pytest.raises(InsightsQueryError) as caught:
        parse(query)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)
    with pytest.raises(InsightsQueryError):
        run(query, EVENTS)


def test_error_positions_count_lines() -> None:
    with pytest.raises(InsightsQueryError, match=r"unsupported command 'unmask'.*\(line 3, column 3\)"):
        parse("# comment\nfields a\n| unmask @message")


# --------------------------------------------------------------------------- properties

LEAF = st.one_of(st.text(max_size=8), st.integers(-1000, 1000), st.none())
VALUE = st.one_of(LEAF, st.dictionaries(st.text(max_size=3), LEAF, max_size=2), st.lists(LEAF, max_size=2))
SPELLINGS: list[Callable[[Any], dict[str, Any]]] = [
    lambda v: {"extra": {"user": {"id": v}}},
    lambda v: {"extra": {"user.id": v}},
    lambda v: {"extra.user": {"id": v}},
    lambda v: {"extra.user.id": v},
]
MISSING = object()


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def string_equals(value: Any, wanted: str) -> bool:
    """The spec: a string leaf equals exactly; a number leaf equals numeric text of the same value."""
    if isinstance(value, str):
        return value == wanted
    if isinstance(value, int) and not isinstance(value, bool):
        return re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", wanted) is not None and float(wanted) == value
    return False


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.one_of(VALUE, st.just(MISSING)), st.sampled_from(range(4))), max_size=12),
    st.one_of(st.text(max_size=8), st.integers(-1000, 1000).map(str)),
    st.data(),
)
def test_property_filter_equals_returns_exactly_the_matching_events(
    specs: list[tuple[Any, int]], wanted: str, data: st.DataObject
) -> None:
    present = [v for v, _ in specs if isinstance(v, str)]
    pick_present: bool = data.draw(st.booleans(), label="pick a present value")
    if present and pick_present:
        wanted = data.draw(st.sampled_from(present), label="wanted")
    events: list[dict[str, Any]] = []
    for index, (value, spelling) in enumerate(specs):
        body = {} if value is MISSING else SPELLINGS[spelling](value)
        events.append({"id": index, **body})
    rows = run(f"filter extra.user.id = {quote(wanted)} | display id", events)
    expected = [i for i, (value, _) in enumerate(specs) if value is not MISSING and string_equals(value, wanted)]
    assert [row["id"] for row in rows] == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.integers(-50, 50), st.integers(-50, 50).map(str), st.none()), max_size=12))
def test_property_number_comparisons(values: list[Any]) -> None:
    events = [{"id": i, "n": v} for i, v in enumerate(values)]
    for op, holds in (("=", int.__eq__), ("<", int.__lt__), (">=", int.__ge__), ("!=", int.__ne__)):
        rows = run(f"filter n {op} 7 | display id", events)
        assert [r["id"] for r in rows] == [i for i, v in enumerate(values) if v is not None and holds(int(v), 7)]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.integers(0, 20), st.none()), max_size=30),
    st.integers(1, 40),
    st.booleans(),
)
def test_property_sort_and_limit(stamps: list[int | None], limit: int, descending: bool) -> None:
    events = [{"id": i} if t is None else {"id": i, "@timestamp": t} for i, t in enumerate(stamps)]
    direction = "desc" if descending else "asc"
    rows = run(f"sort @timestamp {direction} | limit {limit} | display id, @timestamp", events)
    assert len(rows) == min(limit, len(events))
    with_time = [(t, i) for i, t in enumerate(stamps) if t is not None]
    ordered = sorted(with_time, key=lambda p: -p[0] if descending else p[0])  # stable: ties keep input order
    expected = [{"id": i, "@timestamp": t} for t, i in ordered] + [{"id": i} for i, t in enumerate(stamps) if t is None]
    assert rows == expected[:limit]
    assert len(run(f"limit {limit}", events)) <= limit


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="abcXYZ _-.:", max_size=6), max_size=15), st.booleans())
def test_property_text_without_digits_sorts_by_code_point(values: list[str], descending: bool) -> None:
    events = [{"v": v} for v in values]
    rows = run(f"sort v {'desc' if descending else 'asc'} | display v", events)
    assert [r["v"] for r in rows] == sorted(values, reverse=descending)


QUERY_PIECES = [
    "fields", "display", "filter", "where", "sort", "limit", "stats", "dedup", "parse", "|", "\n", "#c\n",
    "(", ")", "[", "]", ",", "*", "=", "!=", "<", ">=", "=~", "and", "or", "not", "like", "in", "as", "by",
    "asc", "desc", "count(*)", "sum(n)", "ispresent(a)", "a", "n", "extra.log_type", "@timestamp", "`b c`",
    '"x"', "'y'", "5", "-2.5", "/x+/", "/(/", '"', "~", "strlen(a)",
]  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(QUERY_PIECES), max_size=14).map(" ".join))
def test_property_any_text_parses_or_raises_insights_query_error(text: str) -> None:
    try:
        query = parse(text)
    except InsightsQueryError as exc:
        assert str(exc)
        return
    rows = run(query, [*ROWS, *EVENTS])
    assert all(isinstance(row, dict) for row in rows)
