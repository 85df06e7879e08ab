"""Options that cannot work fail at construction with a ConfigError that names the option (or the variable)
and says what to change, never at the first export, never as another exception."""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import os
import pickle
import tempfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import InvalidRegionError
from botocore.utils import validate_region_name
from hypothesis import given, settings
from hypothesis import strategies as st

import otel_cw_exporter
from otel_cw_exporter import CloudWatchLogRecordExporter, ConfigError
from otel_cw_exporter.app import configure
from otel_cw_exporter.config import ENVIRONMENT, env_name, resolve

#: A stand-in client: the exporter then reads none of boto3's variables (the tests of those say so).
CLIENT = object()


def exporter(environ: dict[str, str] | None = None, **options: Any) -> CloudWatchLogRecordExporter:
    options.setdefault("client", CLIENT)
    if environ is None:
        options.setdefault("log_group_name", "g")
    return CloudWatchLogRecordExporter(environ=environ or {}, **options)


def refused(environ: dict[str, str] | None = None, **options: Any) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        exporter(environ, **options)
    return caught.value


# -- the cases of the issue -----------------------------------------------------------------------------


def test_a_region_botocore_refuses_fails_at_construction() -> None:
    error = refused(region_name="not a region!")
    assert str(error) == (
        "region_name='not a region!' is not an AWS region name (letters, digits and '-', as in us-east-1); "
        "fix: use a region name, as in region_name='us-east-1'"
    )
    error = refused({env_name("log_group_name"): "g", env_name("region_name"): "not a region!"})
    assert error.problem.startswith("OTEL_EXPORTER_CLOUDWATCH_LOGS_REGION='not a region!' is not an AWS region")
    assert error.fix == "use a region name, as in OTEL_EXPORTER_CLOUDWATCH_LOGS_REGION=us-east-1"


def test_an_endpoint_without_a_scheme_fails_at_construction_with_the_url_to_use() -> None:
    error = refused(endpoint_url="127.0.0.1:4599")
    assert str(error) == (
        "endpoint_url='127.0.0.1:4599' has no scheme (http:// or https://); "
        "fix: set endpoint_url='http://127.0.0.1:4599'"
    )
    error = refused({env_name("log_group_name"): "g", env_name("endpoint_url"): "127.0.0.1:4599"})
    assert str(error) == (
        "OTEL_EXPORTER_CLOUDWATCH_LOGS_ENDPOINT='127.0.0.1:4599' has no scheme (http:// or https://); "
        "fix: set OTEL_EXPORTER_CLOUDWATCH_LOGS_ENDPOINT=http://127.0.0.1:4599"
    )
    assert exporter(endpoint_url="http://127.0.0.1:4599").config.endpoint_url == "http://127.0.0.1:4599"


@pytest.mark.parametrize(
    ("url", "problem", "instead"),
    [
        ("localhost:4566", "has no scheme (http:// or https://)", "http://localhost:4566"),
        ("[::1]:4566", "has no scheme (http:// or https://)", "http://[::1]:4566"),
        ("logs.eu-west-1.amazonaws.com", "has no scheme (http:// or https://)", "https://logs.eu-west-1.amazonaws.com"),
        ("ftp://127.0.0.1:21", "has the scheme 'ftp': only http and https work", "http://127.0.0.1:21"),
        ("http://", "has no valid host name", "http://127.0.0.1:4599"),
        ("https://bad_host", "has no valid host name", "https://logs.us-east-1.amazonaws.com"),
        (" http://127.0.0.1:4599", "has spaces around it", "http://127.0.0.1:4599"),
    ],
)
def test_each_unusable_endpoint_says_which_url_to_use(url: str, problem: str, instead: str) -> None:
    error = refused(endpoint_url=url)
    assert error.problem == f"endpoint_url={url!r} {problem}"
    assert error.fix == f"set endpoint_url={instead!r}"
    assert exporter(endpoint_url=instead).config.endpoint_url == instead  # the fix is accepted


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ("team", "tags: expected key=value pairs separated by commas, got 'team'"),
        ("=x", "tags: expected key=value pairs separated by commas, got '=x'"),
        ('{"team": ', "tags: not valid JSON"),
        ("[1, 2]", "tags: expected key=value pairs"),
        (5, "tags=5: expected a mapping of tag names to values"),
        ([("team", "x")], "expected a mapping of tag names to values"),
        ({"team": 42}, "tags: tag 'team'=42: keys and values must be text"),
        ({"team!": "x"}, "tags hold only letters, digits, spaces and _.:/=+-@"),
        ({"aws:team": "x"}, "the prefix 'aws:' is AWS's own"),
        ({"k" * 129: "x"}, "a key has 1 to 128 characters"),
        ({"team": "v" * 257}, "a value at most 256"),
    ],
)
def test_bad_tags_are_a_config_error(tags: Any, message: str) -> None:
    assert message in str(refused(tags=tags))


def test_tags_as_text_read_as_the_variable_does() -> None:
    assert exporter(tags="team=platform, cost center=42").config.tags == {"team": "platform", "cost center": "42"}
    assert exporter(tags='{"team": "platform"}').config.tags == {"team": "platform"}
    error = refused({env_name("log_group_name"): "g", env_name("tags"): "team=platform!"})
    assert error.problem.startswith("OTEL_EXPORTER_CLOUDWATCH_LOGS_TAGS: tag 'team'='platform!'")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"create_log_group": "maybe"}, "create_log_group='maybe': expected true or false"),
        ({"entity": 1}, "entity=1: expected True or False"),
        ({"timeout": True}, "timeout=True: expected a positive number"),
        ({"max_concurrency": True}, "max_concurrency=True: expected a whole number"),
        ({"retention_days": True}, "retention_days=True: CloudWatch accepts only"),
        ({"kms_key_id": 5}, "kms_key_id=5: expected a KMS key id"),
        ({"environments": 5}, "environments=5: expected names"),
        ({"environments": [1]}, "environments=[1] holds 1: list names"),
        ({"redact_keys": [1]}, "redact_keys=[1] holds 1: list key names"),
        ({"redact_keys": ["-"]}, "redact_keys=['-'] holds '-'"),
        ({"routes": 5}, "routes=5: expected a list of routes"),
        ({"routes": {"when": {"a": 1}, "log_stream_name": "s"}}, "fix: wrap the one route in [...]"),
        ({"region_name": 5}, "region_name=5 is not text"),
        ({"endpoint_url": 5}, "endpoint_url=5: expected a URL"),
    ],
)
def test_values_of_the_wrong_kind_are_a_config_error(options: dict[str, Any], message: str) -> None:
    assert message in str(refused(**options))


def test_text_for_an_option_that_is_not_text_reads_as_its_variable() -> None:
    """``logging.config.fileConfig`` passes every argument as text."""
    config = exporter(create_log_group="false", xray_trace_id="yes", timeout="2.5", retention_days="7").config
    assert (config.create_log_group, config.xray_trace_id, config.timeout, config.retention_days) == (
        False,
        True,
        2.5,
        7,
    )


def test_a_variable_names_itself_in_every_message() -> None:
    base = {env_name("log_group_name"): "g"}
    cases = {
        "retention_days": "8",
        "timeout": "-1",
        "max_concurrency": "0",
        "tags": "team",
        "region_name": "a b",
        "endpoint_url": "127.0.0.1:1",
        "log_stream_name": "a:b",
    }
    for option, text in cases.items():
        error = refused({**base, env_name(option): text})
        assert str(error).startswith(env_name(option)), (option, str(error))
    assert str(refused({env_name("log_group_name"): "bad name!"})).startswith(env_name("log_group_name"))


def test_boto3_variables_the_built_client_would_read_are_checked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "not a region!")
    error = refused(client=None)
    assert error.problem.startswith("AWS_DEFAULT_REGION='not a region!' is not an AWS region name")
    assert exporter(client=None, region_name="us-east-1").config.region_name == "us-east-1"
    assert exporter().config.region_name is None  # a client given: the variables are its business
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "127.0.0.1:4599")
    assert refused(client=None).fix == "set AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=http://127.0.0.1:4599"
    assert exporter(client=None, endpoint_url="http://127.0.0.1:4599").config.endpoint_url
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
    assert exporter(client=None).config.endpoint_url is None


def test_setup_and_the_zero_code_entry_point_fail_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="has no scheme"):
        otel_cw_exporter.setup(log_group_name="g", endpoint_url="127.0.0.1:4599", client=CLIENT, set_global=False)
    assert configure.provider() is None  # nothing half-built stays behind
    [point] = [
        p for p in importlib.metadata.entry_points(group="opentelemetry_logs_exporter") if p.name == "cloudwatch"
    ]
    monkeypatch.setenv(env_name("log_group_name"), "g")
    monkeypatch.setenv(env_name("region_name"), "not a region!")
    built = point.load()()  # one line on stderr, never a traceback (see tests/test_zero_code.py)
    assert built.exporter is None


def test_a_config_error_survives_pickling() -> None:
    """Errors cross process boundaries (multiprocessing, concurrent.futures) whole."""
    error = refused(endpoint_url="127.0.0.1:4599")
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), again.problem, again.fix, str(again)) == (ConfigError, error.problem, error.fix, str(error))


# -- properties -------------------------------------------------------------------------------------------------


def botocore_accepts(region: str) -> bool:
    try:
        validate_region_name(region)
    except InvalidRegionError:
        return False
    return True


REGION_TEXT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_ !.AZ", max_size=70)


@settings(max_examples=300, deadline=None)
@given(st.one_of(REGION_TEXT, st.from_regex(r"[a-z]{2}(-gov|-iso)?-[a-z]{4,9}-[0-9]", fullmatch=True)))
def test_a_region_is_refused_exactly_when_botocore_refuses_it(region: str) -> None:
    if botocore_accepts(region):
        assert exporter(region_name=region).config.region_name == region
    else:
        assert refused(region_name=region).fix == "use a region name, as in region_name='us-east-1'"


HOST = st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9](\.[a-z][a-z0-9-]{0,20}[a-z0-9]){0,3}", fullmatch=True)
IP = st.ip_addresses(v=4).map(str)
PORT = st.integers(1, 65535)


ENDPOINT = st.builds(
    lambda host, port: host if port is None else f"{host}:{port}",
    st.one_of(HOST, IP, st.just("localhost")),
    st.none() | PORT,
)


def fix_of(url: str) -> str:
    """The URL the error for ``url`` says to use instead (which the exporter must then accept)."""
    error = refused(endpoint_url=url)
    instead = error.fix.removeprefix("set endpoint_url=").strip("'")
    assert instead.endswith("://" + url)
    assert exporter(endpoint_url=instead).config.endpoint_url == instead
    return instead


@settings(max_examples=200, deadline=None)
@given(ENDPOINT)
def test_an_endpoint_without_a_scheme_gets_a_fix_the_exporter_accepts(url: str) -> None:
    fix_of(url)


@functools.cache
def session() -> Any:
    """One session for the clients below: it loads the service model once."""
    return boto3.session.Session(region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")


@settings(max_examples=20, deadline=None)
@given(ENDPOINT)
def test_the_fix_is_an_endpoint_boto3_builds_a_client_for(url: str) -> None:
    instead = fix_of(url)
    assert session().client("logs", endpoint_url=instead).meta.endpoint_url == instead
    with pytest.raises(ValueError, match="Invalid endpoint"):  # what the unfixed one did, at the first export
        session().client("logs", endpoint_url=url)


ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5000),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.lists(st.one_of(st.text(max_size=6), st.integers()), max_size=3),
    st.dictionaries(st.text(max_size=6), st.one_of(st.text(max_size=6), st.integers()), max_size=3),
)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(ENVIRONMENT)), ANYTHING)
def test_any_value_of_any_option_is_accepted_or_a_config_error(option: str, value: Any) -> None:
    # A text taken as spool_dir is a directory the exporter makes: in a scratch directory, not the checkout ("..",
    # "/" and "/x" included).
    with tempfile.TemporaryDirectory() as scratch, _inside(os.path.join(scratch, "a", "b")):
        if option == "spool_dir" and isinstance(value, str) and os.path.isabs(value):
            value = scratch + value
        try:
            made = exporter(**{"log_group_name": "g", option: value})
        except ConfigError as error:
            assert str(error)
        else:
            made.shutdown()
    # anything else (TypeError, a plain ValueError) fails the test


@contextlib.contextmanager
def _inside(directory: str) -> Iterator[None]:
    """contextlib.chdir, which Python 3.10 lacks."""
    before = os.getcwd()
    os.makedirs(directory)
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(before)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(ENVIRONMENT)), st.text(max_size=20))
def test_any_text_in_any_variable_is_accepted_or_a_config_error_naming_it(option: str, text: str) -> None:
    environ = {env_name("log_group_name"): "g", env_name(option): text}
    try:
        resolve({}, environ)
    except ConfigError as error:
        assert env_name(option) in str(error), str(error)


def test_spool_options_from_arguments_and_variables(tmp_path: Any) -> None:
    from pathlib import Path

    config = resolve({"log_group_name": "g", "spool_dir": Path(tmp_path), "spool_max_bytes": "256MiB"}, {})
    assert (config.spool_dir, config.spool_max_bytes, config.dead_letter_max_bytes) == (
        str(tmp_path),
        256 * 1024**2,
        64 * 1024**2,
    )
    environ = {
        env_name("spool_dir"): str(tmp_path),
        env_name("spool_max_bytes"): "64 KiB",
        env_name("dead_letter_max_bytes"): "2048",
    }
    config = resolve({"log_group_name": "g"}, environ)
    assert (config.spool_dir, config.spool_max_bytes, config.dead_letter_max_bytes) == (str(tmp_path), 65536, 2048)
    assert resolve({"log_group_name": "g"}, {}).spool_dir is None  # no spool unless asked for


@pytest.mark.parametrize(
    ("options", "environ", "message"),
    [
        (
            {"spool_max_bytes": "lots"},
            {},
            "spool_max_bytes='lots': expected a size in bytes; fix: set spool_max_bytes='256MiB' (or KiB, GiB)",
        ),
        (
            {},
            {"OTEL_EXPORTER_CLOUDWATCH_LOGS_SPOOL_MAX_BYTES": "12 MB"},
            "OTEL_EXPORTER_CLOUDWATCH_LOGS_SPOOL_MAX_BYTES='12 MB': expected a size in bytes"
            "; fix: set OTEL_EXPORTER_CLOUDWATCH_LOGS_SPOOL_MAX_BYTES=256MiB (or KiB, GiB)",
        ),
        (
            {"dead_letter_max_bytes": 10},
            {},
            "dead_letter_max_bytes=10: expected a whole number of bytes, at least 1024"
            "; fix: set dead_letter_max_bytes='64MiB'",
        ),
        ({"spool_max_bytes": 2.5e6}, {}, "spool_max_bytes=2500000.0: expected a whole number of bytes, at least 1024"),
        ({"spool_dir": "  "}, {}, "spool_dir='  ': expected a directory path; fix: set spool_dir='/var/spool/myapp'"),
    ],
)
def test_bad_spool_options_fail_at_construction(
    options: dict[str, Any], environ: dict[str, str], message: str | None
) -> None:
    with pytest.raises(ConfigError) as raised:
        resolve({"log_group_name": "g", **options}, environ)
    if message is not None:
        assert str(raised.value).startswith(message), str(raised.value)


def test_a_spool_dir_that_cannot_be_written_fails_at_construction(tmp_path: Any) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ConfigError) as raised:
        exporter(spool_dir=str(blocker / "spool"))
    assert str(raised.value).startswith(f"spool_dir='{blocker / 'spool'}' cannot be used: Not a directory; fix: ")
    made = exporter(spool_dir=str(tmp_path / "new" / "spool"))  # a missing directory is made
    assert (tmp_path / "new" / "spool").is_dir()
    made.shutdown()
