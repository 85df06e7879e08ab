"""The ``otel-cw-exporter`` command: ``demo``, ``doctor``, ``queries install|list`` and ``tail``.

Every failure a person can fix ends as one line on stderr (what went wrong, then ``fix:`` and what to
do) and a non-zero exit code, never a traceback (``--debug`` shows it). Exit codes, the same for every
command, ``doctor`` included: 0 ok; 1 an AWS call or a check failed (access denied, a missing log group
or stream, an unreachable endpoint...); 2 a usage or configuration error (bad arguments, an invalid
option or variable, no log group, no region, no credentials or credentials AWS rejects); 130
interrupted, except ``tail``, which Ctrl-C ends with 0. AWS options come from the arguments, then the
exporter's ``OTEL_EXPORTER_CLOUDWATCH_LOGS_*`` variables, then boto3's usual chain, exactly as the
exporter reads them.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import math
import os
import re
import shutil
import signal
import sys
import textwrap
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal, NoReturn
from urllib.parse import urlparse

from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from . import __version__
from .config import PREFIX, ConfigError, ExporterConfig, env_name, resolve
from .delivery import GroupSettings
from .retry import HINTS, error_code

PROG = "otel-cw-exporter"
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
#: The rule, as the module's docstring, ``--help`` and the README state it.
EXIT_CODES = (
    "Exit codes, the same for every command, doctor included: 0 ok; 1 an AWS call or a check failed "
    "(access denied, a missing log group or stream, an unreachable endpoint...); 2 a usage or configuration "
    "error (bad arguments, an invalid option or variable, no log group, no region, no credentials or "
    "credentials AWS rejects); 130 interrupted, except tail, which Ctrl-C ends with 0."
)

_ACCESS_DENIED = frozenset({"AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "UnauthorizedException"})
_BAD_CREDENTIALS = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
    }
)
_THROTTLED = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"})
_UNREACHABLE = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ConnectionClosedError,
    ReadTimeoutError,
    BotoConnectionError,
)
#: Operations whose IAM resource is the account, not one log group.
_ACCOUNT_LEVEL = frozenset(
    {"DescribeQueryDefinitions", "PutQueryDefinition", "DeleteQueryDefinition", "GetCallerIdentity"}
)


class CliError(Exception):
    """A failure to report as one line: what went wrong, and what to do about it."""

    def __init__(self, message: str, fix: str = "", exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.exit_code = exit_code

    def line(self) -> str:
        text = f"{PROG}: error: {self.message}" + (f"; fix: {self.fix}" if self.fix else "")
        return " ".join(text.split())


# --------------------------------------------------------------------------- output


def terminal_width() -> int:
    """The terminal's width (100 when not a terminal), at least 60."""
    return max(60, shutil.get_terminal_size((100, 24)).columns)


def clock(ms: Any) -> str:
    """``HH:MM:SS.mmm`` (UTC) of a CloudWatch timestamp in milliseconds."""
    try:
        moment = datetime.fromtimestamp(int(ms) / 1000, timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return str(ms)
    return moment.strftime("%H:%M:%S.%f")[:-3]


def day(ms: Any) -> str:
    try:
        return datetime.fromtimestamp(int(ms) / 1000, timezone.utc).strftime("%Y-%m-%d")
    except (TypeError, ValueError, OverflowError, OSError):
        return ""


def stamp(ms: Any) -> str:
    """``YYYY-MM-DD HH:MM:SS.mmm`` (UTC), as the Insights console shows ``@timestamp``."""
    return f"{day(ms)} {clock(ms)}".strip()


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(0, width - 3)] + "..."


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    width: int | None = None,
    wrap: int | None = None,
    indent: str = "  ",
    max_column: int = 40,
) -> list[str]:
    """A plain-text table that fits ``width``: column ``wrap`` wraps (newlines in it start lines), others are cut."""
    width = terminal_width() if width is None else width
    count = len(headers)
    widths = [len(h) for h in headers]
    for row in rows:
        for index, cell in enumerate(row):
            longest = max((len(part) for part in cell.split("\n")), default=0)
            widths[index] = max(widths[index], longest)
    for index in range(count):
        if index != wrap:
            widths[index] = min(widths[index], max_column)
    if wrap is not None:
        others = sum(w for i, w in enumerate(widths) if i != wrap) + 2 * (count - 1) + len(indent)
        widths[wrap] = max(16, min(widths[wrap], width - others))

    def line(cells: Sequence[str]) -> str:
        return (indent + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(cells))).rstrip()

    out = [line(headers)]
    for row in rows:
        columns: list[list[str]] = []
        for index, cell in enumerate(row):
            if index == wrap:
                wrapped: list[str] = []
                for part in cell.split("\n"):
                    wrapped.extend(textwrap.wrap(part, widths[index], break_on_hyphens=False) or [""])
                columns.append(wrapped)
            else:
                columns.append([_cut(cell.replace("\n", " "), widths[index])])
        for number in range(max(len(c) for c in columns)):
            out.append(line([c[number] if number < len(c) else "" for c in columns]))
    return out


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def event_message(event: Mapping[str, Any]) -> str:
    """The event's ``message`` field, else its raw message (not JSON)."""
    message = event.get("message")
    if isinstance(message, str):
        return message
    return _text(event.get("@message", ""))


def event_extra(event: Mapping[str, Any]) -> dict[str, Any]:
    extra = event.get("extra")
    return dict(extra) if isinstance(extra, Mapping) else {}


def exception_line(event: Mapping[str, Any]) -> str:
    """``Type: message`` of the event's exception, or ``""``."""
    exception = event.get("exception")
    if not isinstance(exception, Mapping):
        return ""
    kind = _text(exception.get("type"))
    text = _text(exception.get("message"))
    return f"{kind}: {text}" if kind and text else kind or text


_SHOWN_EXTRA = ("environment", "user_email", "log_type")


def render_event(event: Mapping[str, Any], *, show_stream: bool = True, width: int | None = None) -> list[str]:
    """One event as ``tail`` prints it: a summary line, then its details indented and wrapped."""
    width = terminal_width() if width is None else width
    extra = event_extra(event)
    head = [clock(event.get("@timestamp"))]
    if show_stream:
        head.append(_cut(str(event.get("@logStream", "")), 14).ljust(14))
    head.append(str(event.get("level", "") or "-").ljust(5))
    head.append((_text(extra.get("log_type")) or "-").ljust(8))
    user = _text(extra.get("user_email"))
    if user:
        head.append(user)
    first = "  ".join(head) + "  " + event_message(event)
    details = [f"{key}={_text(value)}" for key, value in extra.items() if key not in _SHOWN_EXTRA]
    problem = exception_line(event)
    if problem:
        details.append(f"exception={problem}")
    if event.get("trace_id"):
        details.append(f"trace={event['trace_id']}")
    lines = textwrap.wrap(first, width, subsequent_indent=" " * 14, break_on_hyphens=False) or [first]
    if details:
        lines.extend(
            textwrap.wrap(
                "  ".join(details),
                width,
                initial_indent=" " * 14,
                subsequent_indent=" " * 14,
                break_on_hyphens=False,
            )
        )
    return lines


# --------------------------------------------------------------------------- argument types

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|m|min|mins|h|hr|hrs|d|day|days|w)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def since_ms(text: str, now_ms: int | None = None) -> int:
    """``10m``, ``90s``, ``2h``, ``1d`` ago, or an ISO-8601 time (UTC when it has no offset), in ms."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    match = _DURATION.match(text)
    if match:
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)[0].lower()]
        return now_ms - int(seconds * 1000)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration (10m, 90s, 2h, 1d) or an ISO-8601 time (2026-11-24T09:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def _since_type(text: str) -> str:
    since_ms(text)
    return text


_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
_XRAY = re.compile(r"^1-([0-9a-fA-F]{8})-([0-9a-fA-F]{24})$")


def trace_id_type(text: str) -> str:
    """A W3C trace id (32 hex digits) or an X-Ray one (``1-xxxxxxxx-yyyy...``), as 32 lowercase hex digits."""
    text = text.strip()
    if _HEX32.match(text):
        return text.lower()
    xray = _XRAY.match(text)
    if xray:
        return (xray.group(1) + xray.group(2)).lower()
    raise argparse.ArgumentTypeError(f"{text!r} is not a trace id (32 hex digits, or X-Ray's 1-xxxxxxxx-yyyy...)")


LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
_LEVEL_RANK = {"TRACE": 1, "DEBUG": 5, "INFO": 9, "WARN": 13, "WARNING": 13, "ERROR": 17, "FATAL": 21, "CRITICAL": 21}


def level_rank(level: Any) -> int:
    """The OTel severity of a level name (``ERROR2`` counts as ``ERROR``); 0 when unknown."""
    name = re.sub(r"\d+$", "", str(level or "").strip().upper())
    return _LEVEL_RANK.get(name, 0)


def level_type(text: str) -> str:
    name = text.strip().upper()
    name = {"WARNING": "WARN", "CRITICAL": "FATAL"}.get(name, name)
    if name not in LEVELS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a level: one of {', '.join(LEVELS)}")
    return name


# --------------------------------------------------------------------------- AWS plumbing


def _client_config() -> Config:
    return Config(
        retries={"total_max_attempts": 2, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
        user_agent_extra=f"otel-cw-exporter-cli/{__version__}",
    )


#: Where a region comes from, for every piece of advice that names one.
REGION_ADVICE = "--region or AWS_DEFAULT_REGION; boto3 ignores AWS_REGION"


def region_fix() -> str:
    """What to do when boto3 finds no region (it reads AWS_DEFAULT_REGION, not AWS_REGION)."""
    fix = f"pass --region, or set AWS_DEFAULT_REGION (or {env_name('region_name')}); boto3 ignores AWS_REGION"
    if os.environ.get("AWS_REGION") and not os.environ.get("AWS_DEFAULT_REGION"):
        fix += "; AWS_REGION is set, but boto3 reads AWS_DEFAULT_REGION"
    return fix


def hint(code: str, default: str = "") -> str:
    """The fix for an error code; advice that names the region says where the region comes from."""
    text = HINTS.get(code, default)
    if "region" in text and "AWS_DEFAULT_REGION" not in text:
        text += f" (the region: {REGION_ADVICE})"
    return text


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
            "logs", region_name=self.region, endpoint_url=self.endpoint_url, config=config or _client_config()
        )
        self.endpoint_used = client.meta.endpoint_url
        return client

    @property
    def endpoint(self) -> str | None:
        return self.endpoint_used or self.endpoint_url


def _require_group_text() -> str:
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
        if need_group:
            raise CliError("no log group configured", _require_group_text(), EXIT_USAGE)
        arguments["log_group_name"] = "-"  # resolve everything else; the group is not used
    try:
        config = resolve(arguments)
    except ConfigError as error:
        raise CliError(f"invalid configuration: {error}", "correct the option or variable named", EXIT_USAGE) from None
    return config if has_group else None


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
    session = make_session(getattr(args, "profile", None))
    region = region_option or session.region_name
    if not region:
        raise CliError("no AWS region configured", region_fix(), EXIT_USAGE)
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


def describe_error(
    error: BaseException,
    *,
    group: str | None = None,
    stream: str | None = None,
    region: str | None = None,
    endpoint: str | None = None,
) -> CliError:
    """One line for an exception from boto3: what happened, and the fix."""
    if isinstance(error, CliError):
        return error
    if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
        return CliError("no AWS credentials found", hint("NoCredentialsError"), EXIT_USAGE)
    if isinstance(error, NoRegionError):
        return CliError("no AWS region configured", region_fix(), EXIT_USAGE)
    if isinstance(error, ProfileNotFound):
        return CliError(str(error), "check --profile or AWS_PROFILE", EXIT_USAGE)
    if isinstance(error, _UNREACHABLE):
        where = endpoint or "the CloudWatch Logs endpoint"
        reason = type(error).__name__
        return CliError(
            f"cannot reach {where} ({reason})",
            "check --endpoint-url (or AWS_ENDPOINT_URL_CLOUDWATCH_LOGS), the region "
            f"({REGION_ADVICE}), the network and any proxy",
        )
    if isinstance(error, ParamValidationError):
        return CliError(str(error), "check the arguments", EXIT_USAGE)
    if isinstance(error, ClientError):
        code = error_code(error)
        operation = error.operation_name or "the call"
        message = str(error.response.get("Error", {}).get("Message", "")).strip()
        if message.startswith("<"):  # an HTML error page, not an AWS answer
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
            message = f"HTTP {status} with an HTML page (not a CloudWatch Logs endpoint, or it lacks {operation})"
        message = _cut(" ".join(message.split()), 300)
        service = "sts" if operation == "GetCallerIdentity" else "logs"
        action = f"{service}:{operation}"
        where = f' on log group "{group}"' if group and operation not in _ACCOUNT_LEVEL else ""
        if code in _ACCESS_DENIED:
            resource = f"arn:aws:logs:{region or '*'}:*:log-group:{group}:*" if where else '"*"'
            return CliError(
                f"access denied: not allowed to call {action}{where} ({code})", f"grant {action} on {resource}"
            )
        if code == "ResourceNotFoundException":
            if "stream" in message.lower() and stream:
                return CliError(
                    f'log stream "{stream}" does not exist in log group "{group}"',
                    "check --stream (or create the stream)",
                )
            if group:
                return CliError(
                    f'log group "{group}" does not exist in {region or "this region"}',
                    f"check --group and the region ({REGION_ADVICE}); `{PROG} doctor` checks the whole configuration",
                )
            return CliError(f"not found: {message or code}", f"check --group and the region ({REGION_ADVICE})")
        if code in _BAD_CREDENTIALS:
            return CliError(
                f"AWS rejected the credentials ({code}: {message})",
                hint(code, "check the credentials, their account and the region"),
                EXIT_USAGE,
            )
        if code in _THROTTLED:
            return CliError(f"{operation} was throttled ({code})", "try again in a moment")
        detail = f": {message}" if message else ""
        return CliError(f"{operation} failed: {code}{detail}", hint(code))
    if isinstance(error, BotoCoreError):
        return CliError(str(error), "")
    return CliError(f"unexpected error: {type(error).__name__}: {error}", f"run `{PROG} --debug ...` for the traceback")


def _call(aws: Aws, function: Callable[..., Any], /, **kwargs: Any) -> Any:
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


def _name_template(template: str, kind: Literal["group", "stream"]) -> Any:
    from .templates import NameTemplate

    try:
        return NameTemplate(template, kind)
    except ValueError as error:
        raise CliError(f"invalid log {kind} name: {error}", f"correct the log {kind} name", EXIT_USAGE) from None


def _process_record() -> Any:
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
    name = _name_template(template, kind)
    if name.constant is not None:
        return str(name.constant)
    return str(name.render(_process_record(), time.time_ns()))


#: Placeholders whose value comes from each record (or each process), never from the configuration.
_PER_RECORD = frozenset({"logger", "level", "pid"})


def _placeholders(template: str) -> list[str]:
    return re.findall(r"\{([^{}]*)\}", template.replace("{{", "").replace("}}", ""))


def name_ahead(template: str, kind: Literal["group", "stream"]) -> tuple[str, str]:
    """``(name, why_not)``: the name the exporter would use, as :func:`render_template` fills it, and, when
    that name cannot be known before a record arrives (a placeholder filled from each record, or one
    with no value in this configuration, like the default ``unknown_service``), why not; else ``""``."""
    name = _name_template(template, kind)
    if name.constant is not None:
        return str(name.constant), ""
    record = _process_record()
    now = time.time_ns()
    rendered = str(name.render(record, now))
    from .templates import MISSING_PREFIX

    for field in _placeholders(template):
        key = field.partition(":")[0]
        if key == "pid":
            return rendered, "{pid} is the id of the process that exports"
        if key in _PER_RECORD or key.startswith("attributes."):
            return rendered, f"{{{field}}} is filled from each record"
        value = str(_name_template("{" + field + "}", kind).render(record, now))
        if value.startswith(MISSING_PREFIX):
            return rendered, f"{{{field}}} has no value here (each record, or the service's resource, gives it)"
        if key in ("service.name", "resource.service.name") and value.startswith("unknown_service"):
            return rendered, "{service.name} is not set here (set OTEL_SERVICE_NAME as the service does)"
    return rendered, ""


# --------------------------------------------------------------------------- demo


def cmd_demo(args: argparse.Namespace) -> int:
    from . import demo

    return demo.run(args)


# --------------------------------------------------------------------------- doctor

Status = Literal["PASS", "FAIL", "SKIP"]


@dataclass
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""
    exit_code: int = EXIT_FAILED
    """What a FAIL of this check exits with: EXIT_USAGE for the configuration, credentials and region."""

    def lines(self, width: int) -> list[str]:
        head = f"  {self.status}  {self.name:<13} {self.detail}"
        out = textwrap.wrap(head, width, subsequent_indent=" " * 22, break_on_hyphens=False) or [head]
        if self.fix:
            out.extend(
                textwrap.wrap(
                    f"fix: {self.fix}",
                    width,
                    initial_indent=" " * 22,
                    subsequent_indent=" " * 27,
                    break_on_hyphens=False,
                )
            )
        return out


@dataclass(frozen=True)
class Outcome:
    """What looking at one log group or stream found."""

    status: Status
    detail: str
    fix: str = ""

    @property
    def usable(self) -> bool:
        """Whether what comes after (the stream in the group, the event in the stream) can be checked."""
        return self.status != "FAIL"


@dataclass(frozen=True)
class Destination:
    """Where the records of one route go, as name templates (the exporter's own where the route sets none)."""

    label: str
    when: str
    group: str
    stream: str


def _credentials_source(credentials: Any) -> str:
    method = str(getattr(credentials, "method", "") or "unknown source")
    try:
        key = str(credentials.access_key or "")
    except Exception:
        key = ""
    masked = f"{key[:4]}****{key[-4:]}" if len(key) >= 12 else "****"
    return f"{method}, access key {masked}"


def _region_source(args: argparse.Namespace) -> str:
    if getattr(args, "region", None):
        return "--region"
    for name in (env_name("region_name"), "AWS_DEFAULT_REGION"):
        if os.environ.get(name):
            return name
    return "the AWS profile"


def configured_routes(config: ExporterConfig) -> list[Any]:
    """The exporter's routes (``OTEL_EXPORTER_CLOUDWATCH_LOGS_ROUTES`` or the configuration's), checked."""
    from .routing import Route, routes_from_json

    try:
        if isinstance(config.routes, str):
            return list(routes_from_json(config.routes, source=env_name("routes")))
        return [route if isinstance(route, Route) else Route.from_dict(route) for route in config.routes]
    except ConfigError as error:
        raise CliError(f"invalid configuration: {error}", "correct the routes", EXIT_USAGE) from None


def _when_text(when: Mapping[str, Any]) -> str:
    def values(value: Any) -> str:
        return "|".join(_text(v) for v in value) if isinstance(value, tuple) else _text(value)

    return ", ".join(f"{key}={values(value)}" for key, value in when.items())


def destinations(config: ExporterConfig, routes: Sequence[Any]) -> list[Destination]:
    """The routes' destinations other than the exporter's own, each once (labelled by its first route)."""
    seen = {(config.log_group_name, config.log_stream_name)}
    found: list[Destination] = []
    for index, route in enumerate(routes):
        key = (route.log_group_name or config.log_group_name, route.log_stream_name or config.log_stream_name)
        if key in seen:
            continue
        seen.add(key)
        found.append(Destination(f"route [{index}]", _when_text(route.when), *key))
    return found


def _ahead_text(kind: str, template: str, why: str) -> str:
    return f'not checked ahead: the {kind} name comes from the template "{template}" and {why}'


class Doctor:
    """The checks of ``doctor``, run in order; each later one needs the earlier ones to pass."""

    def __init__(self, args: argparse.Namespace, out: Callable[[str], None]) -> None:
        self.args = args
        self.out = out
        self.width = terminal_width()
        self.checks: list[Check] = []
        self.config: ExporterConfig | None = None
        self.group_info: dict[str, Any] | None = None
        self.destinations: list[Destination] = []
        self._groups: dict[str, Outcome] = {}
        self._main_group = ""

    def report(self, check: Check) -> Check:
        self.checks.append(check)
        for line in check.lines(self.width):
            self.out(line)
        return check

    def skip(self, names: Iterable[str], why: str) -> None:
        for name in names:
            self.report(Check(name, "SKIP", f"not checked: {why}"))

    def run(self) -> int:
        args = self.args
        config_error: CliError | None = None
        group = stream = group_why = stream_why = ""
        routes: list[Any] = []
        try:
            self.config = exporter_config(args, args.group)
            if self.config is not None:
                group, group_why = name_ahead(self.config.log_group_name, "group")
                stream, stream_why = name_ahead(self.config.log_stream_name, "stream")
                routes = configured_routes(self.config)
                self.destinations = destinations(self.config, routes)
        except CliError as error:
            config_error = error
            self.config = None
        config = self.config
        intro = f"Checking the exporter's configuration (arguments, then {PREFIX}* variables, then boto3's chain):"
        for line in textwrap.wrap(intro, self.width):
            self.out(line)
        if config is not None:
            count = len(routes)
            self.report(
                Check(
                    "configuration",
                    "PASS",
                    f'group "{group}"'
                    + _name_note(config.log_group_name, group, config.create_log_group)
                    + f', stream "{stream}"'
                    + _name_note(config.log_stream_name, stream, config.create_log_stream)
                    + (f", {count} route{'s' if count != 1 else ''}" if count else ""),
                )
            )
        else:
            assert config_error is not None
            self.report(Check("configuration", "FAIL", config_error.message, config_error.fix, EXIT_USAGE))
        later = ("log group", "log stream", *(d.label for d in self.destinations), "test event", "retention")

        session: Any = None
        try:
            session = make_session(args.profile)
        except CliError as error:
            self.report(Check("credentials", "FAIL", error.message, error.fix, EXIT_USAGE))
            self.skip(("region", "endpoint", *later), "no AWS profile")
            return self.finish()
        region = args.region or (config.region_name if config else None) or session.region_name
        credentials = None
        try:
            credentials = session.get_credentials()
        except BotoCoreError as error:
            self.report(
                Check(
                    "credentials",
                    "FAIL",
                    f"could not load credentials: {error}",
                    hint("NoCredentialsError"),
                    EXIT_USAGE,
                )
            )
        if credentials is None:
            if not any(c.name == "credentials" for c in self.checks):
                self.report(
                    Check("credentials", "FAIL", "no AWS credentials found", hint("NoCredentialsError"), EXIT_USAGE)
                )
        else:
            self.report(self.check_identity(session, credentials, region, config))
        if region:
            self.report(Check("region", "PASS", f"{region} (from {_region_source(args)})"))
        else:
            self.report(Check("region", "FAIL", "no AWS region configured", region_fix(), EXIT_USAGE))
        if credentials is None or not region:
            self.skip(("endpoint", *later), "needs credentials and a region")
            return self.finish()
        endpoint = (
            args.endpoint_url or (config.endpoint_url if config else None) or os.environ.get(env_name("endpoint_url"))
        )
        client = session.client(
            "logs",
            region_name=region,
            endpoint_url=endpoint or None,
            config=Config(retries={"total_max_attempts": 1}, connect_timeout=3, read_timeout=10),
        )
        if not self.check_endpoint(client, group or "-"):
            self.skip(later, "needs the endpoint")
            return self.finish()
        if config is None:
            self.skip(later, "needs a log group")
            return self.finish()
        stream_ok = False
        if group_why:
            self.report(Check("log group", "SKIP", _ahead_text("group", config.log_group_name, group_why)))
            self.skip(("log stream",), "the log group is known only when a record arrives")
        else:
            outcome = self.group_outcome(client, config, group, region, main=True)
            self.report(Check("log group", outcome.status, outcome.detail, outcome.fix))
            if not outcome.usable:
                self.skip(("log stream",), "needs the log group")
            elif stream_why:
                self.report(Check("log stream", "SKIP", _ahead_text("stream", config.log_stream_name, stream_why)))
            else:
                found = self.stream_outcome(client, config, group, stream, region)
                self.report(Check("log stream", found.status, found.detail, found.fix))
                stream_ok = found.status == "PASS"
        for destination in self.destinations:
            self.report(self.check_destination(client, config, destination, region))
        if not args.put_test_event:
            self.report(Check("test event", "SKIP", "not sent: pass --put-test-event to store one test event"))
        elif not stream_ok:
            self.skip(("test event",), "needs the log stream")
        else:
            self.check_put(client, group, stream, region)
        if group_why:
            self.skip(("retention",), "the log group is known only when a record arrives")
        else:
            self.check_retention(config, group)
        return self.finish()

    def finish(self) -> int:
        """The summary line; the exit code: the most severe failed check's (EXIT_USAGE over EXIT_FAILED)."""
        failed = [c for c in self.checks if c.status == "FAIL"]
        passed = sum(c.status == "PASS" for c in self.checks)
        skipped = sum(c.status == "SKIP" for c in self.checks)
        self.out("")
        if failed:
            self.out(f"{len(failed)} of {len(self.checks)} checks failed ({passed} passed, {skipped} not checked).")
        else:
            self.out(f"All checks passed ({passed} passed, {skipped} not checked).")
        return max((c.exit_code for c in failed), default=EXIT_OK)

    def check_identity(
        self, session: Any, credentials: Any, region: str | None, config: ExporterConfig | None
    ) -> Check:
        source = _credentials_source(credentials)
        if not region:
            return Check("credentials", "PASS", f"found ({source}); caller identity not checked: no region")
        logs_endpoint = self.args.endpoint_url or (config.endpoint_url if config else None)
        if logs_endpoint is None:
            logs_endpoint = session.client("logs", region_name=region).meta.endpoint_url
        sts = session.client(
            "sts",
            region_name=region,
            config=Config(retries={"total_max_attempts": 1}, connect_timeout=3, read_timeout=5),
        )
        if is_loopback(logs_endpoint) and not is_loopback(sts.meta.endpoint_url):
            return Check(
                "credentials",
                "PASS",
                f"found ({source}); caller identity not asked: the logs endpoint is local "
                "(set AWS_ENDPOINT_URL_STS to ask a local STS)",
            )
        try:
            arn = sts.get_caller_identity().get("Arn", "?")
        except ClientError as error:
            code = error_code(error)
            if code in _BAD_CREDENTIALS:
                return Check(
                    "credentials",
                    "FAIL",
                    f"found ({source}) but AWS rejected them ({code})",
                    hint(code, "check the credentials, their account and the region"),
                    EXIT_USAGE,
                )
            return Check(
                "credentials", "PASS", f"found ({source}); caller identity unknown: sts:GetCallerIdentity {code}"
            )
        except Exception as error:
            return Check("credentials", "PASS", f"found ({source}); caller identity unknown ({type(error).__name__})")
        return Check("credentials", "PASS", f"found ({source}); caller {arn}")

    def check_endpoint(self, client: Any, group: str) -> bool:
        url = client.meta.endpoint_url
        started = time.monotonic()
        try:
            client.describe_log_groups(logGroupNamePrefix=group, limit=1)
        except ClientError:
            pass  # an answer all the same: the endpoint is there (the group check says more)
        except Exception as error:
            problem = describe_error(error, endpoint=url)
            self.report(Check("endpoint", "FAIL", problem.message, problem.fix))
            return False
        elapsed = (time.monotonic() - started) * 1000
        self.report(Check("endpoint", "PASS", f"{url} answered in {elapsed:.0f} ms"))
        return True

    def group_outcome(
        self, client: Any, config: ExporterConfig, group: str, region: str, *, main: bool = False
    ) -> Outcome:
        """Whether ``group`` exists, or was created as the exporter would (create_log_group); once per group."""
        if group in self._groups:
            return self._groups[group]
        outcome, info = self._look_at_group(client, config, group, region)
        self._groups[group] = outcome
        if main:
            self.group_info = info
            self._main_group = group
        return outcome

    def _look_at_group(
        self, client: Any, config: ExporterConfig, group: str, region: str
    ) -> tuple[Outcome, dict[str, Any] | None]:
        try:
            answer = client.describe_log_groups(logGroupNamePrefix=group, limit=5)
        except ClientError as error:
            code = error_code(error)
            if code in _ACCESS_DENIED:
                return Outcome(
                    "SKIP",
                    f'"{group}" not checked: logs:DescribeLogGroups is not allowed ({code}); the exporter does '
                    "not need it, the stream check shows whether the group exists",
                ), None
            problem = describe_error(error, group=group, region=region)
            return Outcome("FAIL", problem.message, problem.fix), None
        except Exception as error:
            problem = describe_error(error, group=group, region=region)
            return Outcome("FAIL", problem.message, problem.fix), None
        info = next((g for g in answer.get("logGroups", []) if g.get("logGroupName") == group), None)
        if info is not None:
            return Outcome("PASS", f'"{group}" exists; it keeps {_retention_text(info)}'), info
        if not config.create_log_group:
            return Outcome(
                "FAIL",
                f'"{group}" does not exist in {region}',
                f"create it (aws logs create-log-group --log-group-name {group} --region {region}), or set "
                f"{env_name('create_log_group')}=true (or pass --create-group) to let the exporter create it",
            ), None
        settings = GroupSettings.of(config)
        try:  # as the exporter creates it
            client.create_log_group(**settings.create_log_group_kwargs(group))
            if config.retention_days:
                client.put_retention_policy(logGroupName=group, retentionInDays=config.retention_days)
        except Exception as error:
            problem = describe_error(error, group=group, region=region)
            return Outcome(
                "FAIL", f'"{group}" does not exist and cannot be created: {problem.message}', problem.fix
            ), None
        info = {"logGroupName": group, "retentionInDays": config.retention_days}
        return Outcome("PASS", f'"{group}" did not exist: created it, as the exporter would'), info

    def stream_outcome(self, client: Any, config: ExporterConfig, group: str, stream: str, region: str) -> Outcome:
        """Whether the exporter can write to ``stream``: it exists, or (create_log_stream) it can be created.
        With create_log_stream off the stream is only looked up, never created."""
        if not config.create_log_stream:
            return self._look_up_stream(client, group, stream, region)
        try:
            client.create_log_stream(logGroupName=group, logStreamName=stream)
        except ClientError as error:
            if error_code(error) == "ResourceAlreadyExistsException":
                return Outcome("PASS", f'"{stream}" exists')
            problem = describe_error(error, group=group, stream=stream, region=region)
            return Outcome("FAIL", f'"{stream}" cannot be created: {problem.message}', problem.fix)
        except Exception as error:
            problem = describe_error(error, group=group, stream=stream, region=region)
            return Outcome("FAIL", problem.message, problem.fix)
        return Outcome("PASS", f'"{stream}" can be created (created it, as the exporter would)')

    def _look_up_stream(self, client: Any, group: str, stream: str, region: str) -> Outcome:
        variable = env_name("create_log_stream")
        try:
            answer = client.describe_log_streams(logGroupName=group, logStreamNamePrefix=stream, limit=5)
        except ClientError as error:
            code = error_code(error)
            problem = describe_error(error, group=group, stream=stream, region=region)
            if code in _ACCESS_DENIED:
                return Outcome(
                    "SKIP",
                    f'"{stream}" not checked: {problem.message}; the exporter does not need '
                    f"logs:DescribeLogStreams ({variable} is false: it only writes to the stream)",
                )
            return Outcome("FAIL", problem.message, problem.fix)
        except Exception as error:
            problem = describe_error(error, group=group, stream=stream, region=region)
            return Outcome("FAIL", problem.message, problem.fix)
        if any(s.get("logStreamName") == stream for s in answer.get("logStreams", [])):
            return Outcome("PASS", f'"{stream}" exists ({variable} is false: the exporter creates no stream)')
        return Outcome(
            "FAIL",
            f'"{stream}" does not exist in "{group}", and the exporter will not create it ({variable} is false)',
            f"create it (aws logs create-log-stream --log-group-name {group} --log-stream-name {stream} "
            f"--region {region}), or set {variable}=true",
        )

    def check_destination(self, client: Any, config: ExporterConfig, destination: Destination, region: str) -> Check:
        """One line for one route's destination: its group, then its stream, as the exporter would meet them."""
        group, group_why = name_ahead(destination.group, "group")
        stream, stream_why = name_ahead(destination.stream, "stream")
        shown_group = destination.group if group_why else group
        shown_stream = destination.stream if stream_why else stream
        head = f'{destination.when} -> group "{shown_group}", stream "{shown_stream}": '
        label = destination.label
        if group_why:
            return Check(label, "SKIP", head + _ahead_text("group", destination.group, group_why))
        if group == self._main_group and not self._groups[group].usable:
            return Check(label, "SKIP", f"{head}not checked: needs the log group")
        found = self.group_outcome(client, config, group, region)
        if not found.usable:
            return Check(label, "FAIL", head + "log group " + found.detail, found.fix)
        group_text = "log group as above" if group == self._main_group else "log group " + found.detail
        if stream_why:
            return Check(
                label, "SKIP", f"{head}{group_text}; stream " + _ahead_text("stream", destination.stream, stream_why)
            )
        written = self.stream_outcome(client, config, group, stream, region)
        return Check(label, written.status, f"{head}{group_text}; stream {written.detail}", written.fix)

    def check_put(self, client: Any, group: str, stream: str, region: str) -> None:
        now = time.time()
        message = {
            "timestamp": datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": "INFO",
            "message": f"{PROG} doctor: test event",
            "logger": "otel_cw_exporter.doctor",
        }
        try:
            answer = client.put_log_events(
                logGroupName=group,
                logStreamName=stream,
                logEvents=[{"timestamp": int(now * 1000), "message": json.dumps(message)}],
            )
        except Exception as error:
            problem = describe_error(error, group=group, stream=stream, region=region)
            self.report(Check("test event", "FAIL", problem.message, problem.fix))
            return
        rejected = answer.get("rejectedLogEventsInfo")
        if rejected:
            self.report(Check("test event", "FAIL", f"CloudWatch rejected it: {rejected}", "check the machine's clock"))
            return
        self.report(Check("test event", "PASS", f"stored one event in {group}/{stream}"))

    def check_retention(self, config: ExporterConfig, group: str) -> None:
        wanted = config.retention_days
        if self.group_info is None:
            if wanted is None:
                self.report(Check("retention", "PASS", "not configured (the group keeps its own retention)"))
            else:
                self.report(
                    Check("retention", "SKIP", f"not checked: the group's retention is unknown (wanted {wanted} days)")
                )
            return
        actual = self.group_info.get("retentionInDays")
        if wanted is None:
            self.report(
                Check(
                    "retention",
                    "PASS",
                    f"not configured; the group keeps {_retention_text(self.group_info)} "
                    f"({env_name('retention_days')} sets it on groups the exporter creates)",
                )
            )
        elif actual == wanted:
            self.report(Check("retention", "PASS", f"{wanted} days, as configured"))
        else:
            self.report(
                Check(
                    "retention",
                    "FAIL",
                    f"configured {wanted} days, but the group keeps {_retention_text(self.group_info)}",
                    f"aws logs put-retention-policy --log-group-name {group} --retention-in-days {wanted} "
                    "(the exporter sets retention only on groups it creates)",
                )
            )


def _name_note(template: str, rendered: str, create: bool) -> str:
    notes = [] if template == rendered else [f'from "{template}"']
    if rendered.startswith("unknown_service"):
        notes.append("set OTEL_SERVICE_NAME as your service does, or pass --stream")
    notes.append(f"create if missing: {'yes' if create else 'no'}")
    return f" ({'; '.join(notes)})"


def _retention_text(group: Mapping[str, Any]) -> str:
    days = group.get("retentionInDays")
    return f"events for {days} days" if days else "events forever (no retention policy)"


def cmd_doctor(args: argparse.Namespace) -> int:
    return Doctor(args, print).run()


# --------------------------------------------------------------------------- queries


def _query_groups(args: argparse.Namespace, *, required: bool) -> list[str]:
    """``--group`` values, else the exporter's group and the constant groups of its routes (variables)."""
    groups = [g for g in (args.group or []) if g]
    if not groups:
        configured = os.environ.get(env_name("log_group_name"), "").strip()
        if configured:
            groups = [render_template(configured, "group")]
            groups.extend(g for g in _route_groups() if g not in groups)
    if required and not groups:
        raise CliError("no log group configured", _require_group_text() + " (--group may be repeated)", EXIT_USAGE)
    for group in groups:
        if "{" in group:
            raise CliError(f'log group "{group}" is a template', "pass the real name(s) with --group", EXIT_USAGE)
    return groups


def _route_groups() -> list[str]:
    """The log groups named (without placeholders) by ``OTEL_EXPORTER_CLOUDWATCH_LOGS_ROUTES``."""
    from .routing import routes_from_json

    text = os.environ.get(env_name("routes"), "")
    try:
        routes = routes_from_json(text, source=env_name("routes"))
    except ConfigError as error:
        raise CliError(f"invalid configuration: {error}", "correct the variable", EXIT_USAGE) from None
    constants = (_name_template(route.log_group_name, "group").constant for route in routes if route.log_group_name)
    return [str(name) for name in constants if name is not None]


def cmd_queries_install(args: argparse.Namespace) -> int:
    from . import queries

    groups = _query_groups(args, required=True)
    aws = connect(args, groups[0])
    client = aws.logs()
    try:
        results = queries.install(client, groups, dry_run=args.dry_run)
    except Exception as error:
        raise describe_error(error, group=groups[0], region=aws.region, endpoint=aws.endpoint) from None
    rows = [[r.action + (" (dry run)" if args.dry_run else ""), r.group, r.title] for r in results]
    for line in render_table(["action", "log group", "query"], rows, wrap=2):
        print(line)
    counts = {action: sum(r.action == action for r in results) for action in ("created", "updated", "unchanged")}
    summary = ", ".join(f"{n} {action}" for action, n in counts.items())
    where = f"in {aws.region} ({aws.endpoint})"
    print()
    print(f"{summary} {where}{' (dry run: nothing written)' if args.dry_run else ''}.")
    print(f"Definitions are named {queries.PREFIX}<log group>/<query>; other definitions are not touched.")
    for result in results:
        if result.duplicates:
            print(f'note: {result.duplicates} more definition(s) named "{result.name}" exist; only one is kept current')
    return EXIT_OK


def cmd_queries_list(args: argparse.Namespace) -> int:
    from . import queries

    if args.catalog:
        for query in queries.SAVED_QUERIES:
            origin = "the seed's, verbatim" if query.origin == "seed" else "added"
            print(f"{query.title}  ({origin})")
            if query.description:
                print(f"  {query.description}")
            for line in query.query.splitlines():
                print(f"    {line}")
            print()
        return EXIT_OK
    groups = _query_groups(args, required=False)
    aws = connect(args, groups[0] if groups else None, need_group=False)
    client = aws.logs()
    try:
        listed = queries.list_ours(client, groups or None)
    except Exception as error:
        raise describe_error(error, region=aws.region, endpoint=aws.endpoint) from None
    order = {query.title: index for index, query in enumerate(queries.SAVED_QUERIES)}
    found: list[tuple[str, int, str, str]] = [
        (item.group, order.get(item.title, len(order)), item.status, item.title) for item in listed
    ]
    absent = queries.missing(listed, groups) if groups else []
    found.extend((group, order[query.title], "missing", query.title) for group, query in absent)
    rows = [[status, group, title] for group, _, status, title in sorted(found)]
    if not rows:
        print(
            f"No query definitions named {queries.PREFIX}... in {aws.region}. "
            f"Run `{PROG} queries install --group NAME`."
        )
        return EXIT_OK
    for line in render_table(["status", "log group", "query"], rows, wrap=2):
        print(line)
    if any(row[0] in ("missing", "outdated") for row in rows):
        print()
        print(f"`{PROG} queries install` creates the missing ones and updates the outdated ones.")
    return EXIT_OK


# --------------------------------------------------------------------------- tail


@dataclass(frozen=True)
class TailFilter:
    log_type: str | None = None
    user: str | None = None
    trace_id: str | None = None
    level: str | None = None

    def pattern(self) -> str | None:
        """A CloudWatch JSON filter pattern for what can be matched server-side; None for none."""
        terms: list[str] = []
        for selector, value in (
            ("$.extra.log_type", self.log_type),
            ("$.extra.user_email", self.user),
            ("$.trace_id", self.trace_id),
        ):
            if value is not None and _pattern_safe(value):
                terms.append(f'({selector} = "{value}")')
        if self.level is not None:
            rank = level_rank(self.level)
            names = [name for name, r in _LEVEL_RANK.items() if r >= rank]
            terms.append("(" + " || ".join(f'$.level = "{name}"' for name in names) + ")")
        return "{ " + " && ".join(terms) + " }" if terms else None

    def matches(self, event: Mapping[str, Any]) -> bool:
        """The same filter, client-side (endpoints that ignore JSON patterns, and exactness)."""
        extra = event_extra(event)
        if self.log_type is not None and _text(extra.get("log_type")) != self.log_type:
            return False
        if self.user is not None and _text(extra.get("user_email")) != self.user:
            return False
        if self.trace_id is not None and str(event.get("trace_id", "")).lower() != self.trace_id:
            return False
        return not (self.level is not None and level_rank(event.get("level")) < level_rank(self.level))


def _pattern_safe(value: str) -> bool:
    return bool(value) and not any(ch in value for ch in '"\\*{}') and len(value) < 512


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
        page = _call(aws, client.filter_log_events, **kwargs)
        found.extend(page.get("events", []))
        token = page.get("nextToken")
        if not token or token == kwargs.get("nextToken"):
            return found, True
        kwargs["nextToken"] = token
    return found, False


def warn(text: str) -> None:
    print(f"{PROG}: warning: {text}", file=sys.stderr, flush=True)


def _cap_text(pages: int, events: Sequence[Mapping[str, Any]]) -> str:
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
        warn(_cap_text(pages, found) + "; later events were not read")
    return found


#: How far back each poll looks again for events stored late (the exporter batches for seconds).
TAIL_OVERLAP_MS = 60_000


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop_on_sigterm() -> Any:
    """SIGTERM (a process manager, ``timeout``) ends ``tail`` as cleanly as Ctrl-C; the old handler, or None."""
    try:
        return signal.signal(signal.SIGTERM, _interrupt)
    except ValueError:  # not the main thread: leave signals alone
        return None


def _now_ms() -> int:
    return int(time.time() * 1000)


def cmd_tail(args: argparse.Namespace) -> int:
    from .insights import event_from_log_event

    aws = connect(args, args.group)
    assert aws.config is not None
    group = render_template(aws.config.log_group_name, "group")
    stream = args.stream
    client = aws.logs()
    flt = TailFilter(args.log_type, args.user, args.trace_id, args.level)
    pattern = flt.pattern()
    start = since_ms(args.since)
    width = terminal_width()
    seen: dict[str, int] = {}
    window = start
    current_day = ""
    where = f'log group "{group}"' + (f', stream "{stream}"' if stream else "")
    how = "Following" if args.follow else "Showing"
    header = [f"{how} {where} in {aws.region} since {stamp(start)} UTC"]
    if pattern:
        header.append(f"  filter pattern: {pattern}")
    if args.follow:
        header.append(f"  every {args.interval:g} s (Ctrl-C to stop)")
    announced = False
    shown = 0
    failures = 0
    previous = _stop_on_sigterm()
    try:
        while True:
            polled = _now_ms()
            try:
                events, complete = filter_pages(client, aws, group, stream=stream, start_ms=window, pattern=pattern)
                failures = 0
                if not announced:  # after the first answer, so a failure is the only line
                    for text in header:
                        for line in textwrap.wrap(text, width, subsequent_indent="    ", break_on_hyphens=False):
                            print(line, file=sys.stderr, flush=True)
                    announced = True
            except CliError as error:
                transient = error.message.startswith("cannot reach") or "throttled" in error.message
                if not (args.follow and transient and announced):
                    raise
                failures += 1
                if failures == 1:
                    warn(f"{error.message}; retrying")
                time.sleep(min(30.0, args.interval * 2**failures))
                continue
            events.sort(key=lambda e: (e.get("timestamp", 0), str(e.get("eventId", ""))))
            for raw in events:
                key = str(raw.get("eventId") or (raw.get("logStreamName"), raw.get("timestamp"), raw.get("message")))
                if key in seen:
                    continue
                timestamp = int(raw.get("timestamp", 0))
                seen[key] = timestamp
                event = event_from_log_event(raw, group)
                if not flt.matches(event):
                    continue
                shown += 1
                if args.json:
                    print(event.get("@message", ""), flush=True)
                    continue
                if day(timestamp) != current_day:
                    current_day = day(timestamp)
                    print(f"-- {current_day} (UTC) --")
                for line in render_event(event, show_stream=not stream, width=width):
                    print(line)
                sys.stdout.flush()
            if complete:
                # Everything stored before this poll began was read, matching or not: the next poll
                # starts there, less an overlap for events stored late (seen ones are not shown twice).
                upto = min(polled, _now_ms()) - TAIL_OVERLAP_MS
            else:
                # More than a poll reads: go on from the newest event read (events come oldest first).
                upto = max((int(e.get("timestamp", 0)) for e in events), default=window)
                more = "the next poll goes on from there" if args.follow else "narrow --since or add a filter"
                warn(f"{_cap_text(MAX_PAGES, events)}; {more}")
            window = max(window, upto)  # never backwards
            seen = {key: t for key, t in seen.items() if t >= window}
            if not args.follow:
                break
            time.sleep(args.interval)
    except KeyboardInterrupt:
        print(f"\nStopped after {shown} event(s).", file=sys.stderr, flush=True)
        return EXIT_OK
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    print(f"{shown} event(s).", file=sys.stderr, flush=True)
    return EXIT_OK


# --------------------------------------------------------------------------- the parser


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line, with where to look."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


EPILOG = (
    f"""\
Start with `{PROG} demo` (no AWS account needed). Every command has --help.

Options not given come from the exporter's variables ({env_name("log_group_name")},
..._STREAM_NAME, ..._REGION, ..._ENDPOINT...), then from boto3's chain (AWS_DEFAULT_REGION, not
AWS_REGION; AWS_PROFILE; an instance role...).

"""
    + textwrap.fill(EXIT_CODES, 96)
    + "\n"
)


def interval_type(text: str) -> float:
    """Seconds between polls: a number, at least :data:`MIN_INTERVAL`."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= MIN_INTERVAL):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds >= {MIN_INTERVAL}")
    return value


#: The shortest --interval: more often than this only loads the endpoint (and the account's quota).
MIN_INTERVAL = 0.1


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Tools for otel-cw-exporter: an OpenTelemetry log exporter for AWS CloudWatch Logs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    aws = _Parser(add_help=False)
    aws.add_argument(
        "--region",
        help=f"AWS region (default: {env_name('region_name')}, then AWS_DEFAULT_REGION or the profile's; "
        "boto3 ignores AWS_REGION)",
    )
    aws.add_argument(
        "--endpoint-url",
        metavar="URL",
        help=f"CloudWatch Logs endpoint (default: {env_name('endpoint_url')}, then AWS_ENDPOINT_URL_CLOUDWATCH_LOGS)",
    )
    aws.add_argument("--profile", help="AWS profile from ~/.aws/config (default: AWS_PROFILE)")

    demo = commands.add_parser(
        "demo",
        help="run a traced workload through the exporter into a local endpoint and show the events",
        description=(
            "Start a local CloudWatch Logs endpoint (127.0.0.1; needs the 'local' extra), run a small traced "
            "workload through the real pipeline (setup(), Security and Audit routes, a JWT-identified user, an "
            "exception), read the events back and print them per stream, then run the seed's two Logs Insights "
            "queries over them locally. With --endpoint-url or --aws the events go to that endpoint instead."
        ),
    )
    demo.add_argument(
        "--endpoint-url", metavar="URL", help="send to this CloudWatch Logs endpoint instead of a local one"
    )
    demo.add_argument(
        "--aws", action="store_true", help="send to AWS with boto3's credentials and region (creates the group)"
    )
    demo.add_argument(
        "--region",
        help="region, only with --aws/--endpoint-url (default: AWS_DEFAULT_REGION or the profile's; "
        "boto3 ignores AWS_REGION)",
    )
    demo.add_argument("--profile", help="AWS profile, only with --aws/--endpoint-url (default: AWS_PROFILE)")
    demo.add_argument(
        "--group",
        help="log group (default: integrates locally, otel-cw-exporter-demo with --aws/--endpoint-url)",
    )
    demo.set_defaults(func=cmd_demo)

    doctor = commands.add_parser(
        "doctor",
        parents=[aws],
        help="check that the exporter's configuration can deliver events",
        description=(
            "Check, in order: configuration, credentials (and whose, via STS), region, endpoint reachable, log "
            "group exists or can be created, log stream exists or can be created (looked up only when "
            f"{env_name('create_log_stream')}=false), the group and stream of each route "
            f"({env_name('routes')}), one test event (--put-test-event), retention as configured. Each check "
            "prints PASS, FAIL (with the fix) or SKIP (with why: a name made from each record can't be checked "
            "ahead). Exit code 0 when no check fails; 2 when a failed check is the configuration, the "
            "credentials or the region; else 1."
        ),
    )
    doctor.add_argument("--group", help=f"log group (default: {env_name('log_group_name')})")
    doctor.add_argument("--stream", help=f"log stream (default: {env_name('log_stream_name')}, else {{service.name}})")
    doctor.add_argument(
        "--create-group", action="store_true", help="create the group if missing, as the exporter would"
    )
    doctor.add_argument("--put-test-event", action="store_true", help="also store one test event in the stream")
    doctor.set_defaults(func=cmd_doctor)

    queries = commands.add_parser(
        "queries",
        help="install or list the saved Logs Insights queries",
        description="Saved CloudWatch Logs Insights queries (query definitions) for the exporter's events.",
    )
    queries.set_defaults(func=lambda _: _usage(queries))
    verbs = queries.add_subparsers(dest="verb", metavar="VERB", parser_class=_Parser)
    install = verbs.add_parser(
        "install",
        parents=[aws],
        help="create or update the saved queries for the log group(s)",
        description=(
            "Put the saved queries (the seed's two, verbatim, and a few more) as Logs Insights query definitions "
            "named otel-cw-exporter/<group>/<title>, one set per log group. Idempotent: our definitions are updated "
            "in place, definitions with other names are never touched. Needs logs:DescribeQueryDefinitions and "
            "logs:PutQueryDefinition."
        ),
    )
    install.add_argument(
        "--group", action="append", help=f"log group, may be repeated (default: {env_name('log_group_name')})"
    )
    install.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    install.set_defaults(func=cmd_queries_install)
    listing = verbs.add_parser(
        "list",
        parents=[aws],
        help="show the saved queries installed (or, with --catalog, the queries themselves)",
        description=(
            "List our query definitions in the account (those of --group when given) and whether each is current, "
            "outdated or missing. --catalog prints the queries without calling AWS."
        ),
    )
    listing.add_argument("--group", action="append", help="only this log group's definitions (may be repeated)")
    listing.add_argument("--catalog", action="store_true", help="print the queries themselves; no AWS call")
    listing.set_defaults(func=cmd_queries_list)

    tail = commands.add_parser(
        "tail",
        parents=[aws],
        help="follow a log group (or one stream) and print events as they arrive",
        description=(
            "Print a log group's events, pretty, then follow it (poll every --interval seconds) until Ctrl-C. "
            "Filters are sent to CloudWatch as a JSON filter pattern and applied here too (endpoints that ignore "
            "patterns, like the local one, still filter). Needs logs:FilterLogEvents."
        ),
    )
    tail.add_argument("--group", help=f"log group (default: {env_name('log_group_name')})")
    tail.add_argument("--stream", help="only this log stream")
    tail.add_argument(
        "--log-type", metavar="TYPE", help="only events whose extra.log_type is TYPE (Security, Audit...)"
    )
    tail.add_argument("--user", metavar="EMAIL", help="only events whose extra.user_email is EMAIL")
    tail.add_argument(
        "--trace-id", type=trace_id_type, metavar="ID", help="only events of this trace (W3C or X-Ray id)"
    )
    tail.add_argument("--level", type=level_type, help=f"only events at this level or above ({', '.join(LEVELS)})")
    tail.add_argument(
        "--since",
        type=_since_type,
        default="10m",
        help="start this long ago (10m, 2h, 1d) or at an ISO time (default: 10m)",
    )
    tail.add_argument(
        "--interval",
        type=interval_type,
        default=2.0,
        metavar="SECONDS",
        help=f"seconds between polls, at least {MIN_INTERVAL} (default: 2)",
    )
    tail.add_argument("--no-follow", dest="follow", action="store_false", help="print the events so far and exit")
    tail.add_argument("--json", action="store_true", help="print each event's JSON message, one per line")
    tail.set_defaults(func=cmd_tail)
    return parser


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: parse, run the command, turn failures into one line and an exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        return _usage(parser)
    try:
        return int(args.func(args))
    except CliError as error:
        if args.debug:
            raise
        print(error.line(), file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Reader went away (| head): leave quietly, and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as error:
        if args.debug:
            raise
        print(describe_error(error).line(), file=sys.stderr)
        return EXIT_FAILED
