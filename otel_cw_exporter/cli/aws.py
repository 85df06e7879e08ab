"""Talking to AWS from the command line: the exporter's configuration, the session, calls and paging.

Options come from the arguments, then the exporter's variables, then boto3's chain, exactly as the
exporter resolves them; a name template is filled the way the exporter would fill it for this process.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlparse

from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ProfileNotFound,
)

from otel_cw_exporter.cli.errors import EXIT_USAGE, PROG, CliError, describe_error, hint, region_fix, warn
from otel_cw_exporter.cli.render import stamp
from otel_cw_exporter.config import (
    ConfigError,
    ExporterConfig,
    check_aws_endpoint,
    env_name,
    region_problem,
    resolve,
)
from otel_cw_exporter.version import __version__


def client_config() -> Config:
    return Config(
        retries={"total_max_attempts": 2, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
        user_agent_extra=f"otel-cw-exporter-cli/{__version__}",
    )


def is_loopback(url: str | None) -> bool:
    host = urlparse(url or "").hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Aws:
    """Where the command talks to: the resolved configuration, a boto3 session, the region."""

    config: ExporterConfig | None
    session: Any
    region: str
    endpoint_url: str | None
    """The endpoint asked for (None: boto3's, from AWS_ENDPOINT_URL_CLOUDWATCH_LOGS or the region)."""
    endpoint_used: str | None = None
    """The endpoint the client talks to, once :meth:`logs` made one."""

    def logs(self, config: Config | None = None) -> Any:
        client = self.session.client(
            "logs", region_name=self.region, endpoint_url=self.endpoint_url, config=config or client_config()
        )
        self.endpoint_used = client.meta.endpoint_url
        return client

    @property
    def endpoint(self) -> str | None:
        return self.endpoint_used or self.endpoint_url


def require_group_text() -> str:
    return f"pass --group NAME, or set {env_name('log_group_name')}"


def exporter_config(args: argparse.Namespace, group: str | None, *, need_group: bool = True) -> ExporterConfig | None:
    """The exporter's configuration as it would resolve it, with this command's arguments winning."""
    arguments: dict[str, Any] = {
        "log_group_name": group,
        "log_stream_name": getattr(args, "stream", None),
        "region_name": getattr(args, "region", None),
        "endpoint_url": getattr(args, "endpoint_url", None),
    }
    if getattr(args, "create_group", False):
        arguments["create_log_group"] = True
    has_group = bool(group) or bool(os.environ.get(env_name("log_group_name"), "").strip())
    if not has_group:
        arguments["log_group_name"] = "-"  # resolve everything else first: a bad value is named even then
    try:
        config = resolve(arguments)
    except ConfigError as error:
        raise InvalidConfiguration(error) from None
    if not has_group and need_group:
        raise CliError("no log group configured", require_group_text(), EXIT_USAGE)
    return config if has_group else None


class InvalidConfiguration(CliError):
    """An option or variable the exporter refuses: nothing after it can be checked with these values."""

    def __init__(self, error: ConfigError) -> None:
        super().__init__(
            f"invalid configuration: {error.problem}", error.fix or "correct the option or variable named", EXIT_USAGE
        )


def refused_region(region: str, source: str) -> CliError | None:
    """The error for a region botocore would refuse (exit 2, before any call), or None when it is fine."""
    problem = region_problem(region)
    if problem is None:
        return None
    return CliError(
        f"invalid configuration: the region {region!r} (from {source}) {problem}",
        f"pass --region us-east-1 (your region), or correct {source}",
        EXIT_USAGE,
    )


def check_endpoint_variables() -> None:
    """boto3's endpoint variables (``AWS_ENDPOINT_URL_CLOUDWATCH_LOGS``...), read when no endpoint is given:
    one boto3 cannot use fails here, with exit 2, not as an unexpected error at the first call."""
    try:
        check_aws_endpoint(os.environ)
    except ConfigError as error:
        raise InvalidConfiguration(error) from None


def region_source(args: argparse.Namespace) -> str:
    """Where the region comes from: ``--region``, a variable, else the AWS profile."""
    if getattr(args, "region", None):
        return "--region"
    for name in (env_name("region_name"), "AWS_DEFAULT_REGION"):
        if os.environ.get(name):
            return name
    return "the AWS profile"


def make_session(profile: str | None) -> Any:
    import boto3

    try:
        return boto3.session.Session(profile_name=profile)
    except ProfileNotFound as error:
        raise CliError(
            f"AWS profile not found: {error.kwargs.get('profile', profile)}",
            "check --profile or AWS_PROFILE against ~/.aws/config",
            EXIT_USAGE,
        ) from None


def connect(args: argparse.Namespace, group: str | None, *, need_group: bool = True) -> Aws:
    """Configuration, session, region and credentials, or a CliError saying which is missing."""
    config = exporter_config(args, group, need_group=need_group)
    region_option = getattr(args, "region", None) or (config.region_name if config else None)
    endpoint = getattr(args, "endpoint_url", None) or (config.endpoint_url if config else None)
    if config is None and not region_option:
        region_option = os.environ.get(env_name("region_name")) or None
    if config is None and not endpoint:
        endpoint = os.environ.get(env_name("endpoint_url")) or None
    if not endpoint:
        check_endpoint_variables()
    session = make_session(getattr(args, "profile", None))
    region = region_option or session.region_name
    if not region:
        raise CliError("no AWS region configured", region_fix(), EXIT_USAGE)
    refused = refused_region(region, region_source(args))
    if refused is not None:
        raise refused
    try:
        credentials = session.get_credentials()
    except BotoCoreError as error:
        raise CliError(f"could not load AWS credentials: {error}", hint("NoCredentialsError"), EXIT_USAGE) from None
    if credentials is None:
        raise CliError(
            "no AWS credentials found",
            hint("NoCredentialsError") + f"; `{PROG} demo` needs none",
            EXIT_USAGE,
        )
    return Aws(config, session, region, endpoint)


def call(aws: Aws, function: Callable[..., Any], /, **kwargs: Any) -> Any:
    """An AWS call whose failure becomes a one-line CliError."""
    try:
        return function(**kwargs)
    except Exception as error:
        raise describe_error(
            error,
            group=kwargs.get("logGroupName"),
            stream=(kwargs.get("logStreamNames") or [kwargs.get("logStreamName")])[0],
            region=aws.region,
            endpoint=aws.endpoint,
        ) from None


def name_template(template: str, kind: Literal["group", "stream"]) -> Any:
    from otel_cw_exporter.route.templates import NameTemplate

    try:
        return NameTemplate(template, kind)
    except ValueError as error:
        raise CliError(f"invalid log {kind} name: {error}", f"correct the log {kind} name", EXIT_USAGE) from None


def process_record() -> Any:
    """A record as this process would emit it: no attributes, the resource the SDK builds from
    ``OTEL_SERVICE_NAME``/``OTEL_RESOURCE_ATTRIBUTES``."""
    from opentelemetry._logs import LogRecord
    from opentelemetry.sdk._logs import ReadableLogRecord
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    now = time.time_ns()
    return ReadableLogRecord(
        log_record=LogRecord(timestamp=now, observed_timestamp=now, attributes={}),
        resource=Resource.create(),
        instrumentation_scope=InstrumentationScope("transactional"),
    )


def render_template(template: str, kind: Literal["group", "stream"]) -> str:
    """A group or stream name template (``{service.name}``...) as the exporter would fill it for a record of
    this process: the resource the SDK builds from ``OTEL_SERVICE_NAME``/``OTEL_RESOURCE_ATTRIBUTES``."""
    name = name_template(template, kind)
    if name.constant is not None:
        return str(name.constant)
    return str(name.render(process_record(), time.time_ns()))


#: Placeholders whose value comes from each record (or each process), never from the configuration.
_PER_RECORD = frozenset({"logger", "level", "pid"})


def _placeholders(template: str) -> list[str]:
    return re.findall(r"\{([^{}]*)\}", template.replace("{{", "").replace("}}", ""))


def name_ahead(template: str, kind: Literal["group", "stream"]) -> tuple[str, str]:
    """``(name, why_not)``: the name the exporter would use, as :func:`render_template` fills it, and, when
    that name cannot be known before a record arrives (a placeholder filled from each record, or one
    with no value in this configuration, like the default ``unknown_service``), why not; else ``""``."""
    name = name_template(template, kind)
    if name.constant is not None:
        return str(name.constant), ""
    record = process_record()
    now = time.time_ns()
    rendered = str(name.render(record, now))
    from otel_cw_exporter.route.templates import MISSING_PREFIX

    for field in _placeholders(template):
        key = field.partition(":")[0]
        if key == "pid":
            return rendered, "{pid} is the id of the process that exports"
        if key in _PER_RECORD or key.startswith("attributes."):
            return rendered, f"{{{field}}} is filled from each record"
        value = str(name_template("{" + field + "}", kind).render(record, now))
        if value.startswith(MISSING_PREFIX):
            return rendered, f"{{{field}}} has no value here (each record, or the service's resource, gives it)"
        if key in ("service.name", "resource.service.name") and value.startswith("unknown_service"):
            return rendered, "{service.name} is not set here (set OTEL_SERVICE_NAME as the service does)"
    return rendered, ""


def configured_routes(config: ExporterConfig) -> list[Any]:
    """The exporter's routes (``OTEL_EXPORTER_CLOUDWATCH_LOGS_ROUTES`` or the configuration's), checked."""
    from otel_cw_exporter.route.routes import Route, routes_from_json

    try:
        if isinstance(config.routes, str):
            return list(routes_from_json(config.routes, source=env_name("routes")))
        return [route if isinstance(route, Route) else Route.from_dict(route) for route in config.routes]
    except ConfigError as error:
        raise CliError(f"invalid configuration: {error}", "correct the routes", EXIT_USAGE) from None


#: FilterLogEvents pages one poll reads at most (a page holds up to 10,000 events or 1 MB).
MAX_PAGES = 100


#: Events to ask for per FilterLogEvents page (None: as many as the endpoint gives).
PAGE_EVENTS: int | None = None


def filter_pages(
    client: Any,
    aws: Aws,
    group: str,
    *,
    stream: str | None = None,
    start_ms: int,
    pattern: str | None = None,
    max_pages: int | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """FilterLogEvents from ``start_ms``, page after page: ``(events, complete)``, ``complete`` False when
    ``max_pages`` (default :data:`MAX_PAGES`) pages were read and the endpoint had more."""
    kwargs: dict[str, Any] = {"logGroupName": group, "startTime": start_ms}
    if stream:
        kwargs["logStreamNames"] = [stream]
    if pattern:
        kwargs["filterPattern"] = pattern
    if PAGE_EVENTS is not None:
        kwargs["limit"] = PAGE_EVENTS
    found: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES if max_pages is None else max_pages):
        page = call(aws, client.filter_log_events, **kwargs)
        found.extend(page.get("events", []))
        token = page.get("nextToken")
        if not token or token == kwargs.get("nextToken"):
            return found, True
        kwargs["nextToken"] = token
    return found, False


def cap_text(events: Sequence[Mapping[str, Any]], pages: int | None = None) -> str:
    """What a poll that stopped at the page cap read (``pages``, default :data:`MAX_PAGES`)."""
    pages = MAX_PAGES if pages is None else pages
    newest = max((int(e.get("timestamp", 0)) for e in events), default=0)
    return f"stopped reading at {pages} pages of FilterLogEvents ({len(events)} events, up to {stamp(newest)} UTC)"


def fetch_events(
    client: Any,
    aws: Aws,
    group: str,
    *,
    stream: str | None = None,
    start_ms: int,
    pattern: str | None = None,
    max_pages: int | None = None,
) -> list[dict[str, Any]]:
    """FilterLogEvents from ``start_ms``, all pages (at most ``max_pages``: a warning on stderr says so)."""
    pages = MAX_PAGES if max_pages is None else max_pages
    found, complete = filter_pages(
        client, aws, group, stream=stream, start_ms=start_ms, pattern=pattern, max_pages=pages
    )
    if not complete:
        warn(cap_text(found, pages) + "; later events were not read")
    return found
