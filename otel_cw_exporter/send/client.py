"""The boto3 client the exporter calls: its settings, a copy of a client given to it, and two hooks.

botocore keeps everything that makes a call an AWS call (the credential chain, endpoint resolution,
``AWS_ENDPOINT_URL*``, proxies, SigV4). What is ours:

- the client makes one attempt per call, so our retries, counters and deadline hold. A client the
  application passes in is never used or changed: the exporter calls through a copy of it (same region,
  endpoint, credentials and settings) with botocore's retries off and timeouts no longer than ours;
- PutLogEvents carries the body :mod:`otel_cw_exporter.send.wire` wrote, swapped in by a ``before-call``
  hook on the thread that makes the call;
- an HTTP 200 that is not an AWS JSON answer (a JSON object, with an ``x-amzn-RequestId`` header or an
  ``application/x-amz-json`` type: a proxy's HTML page, a captive portal, a wrong ``endpoint_url``) is
  marked by a ``before-parse`` hook, so it is not counted as stored.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.config import Config

from otel_cw_exporter.config import ExporterConfig
from otel_cw_exporter.version import USER_AGENT

#: The body :func:`sending_body` holds for the hook below, on the thread making the call.
_body = threading.local()
_BODY_HOOK_ID = "otel-cw-exporter-body"
_RESPONSE_HOOK_ID = "otel-cw-exporter-response"
#: The key the response hook adds to a PutLogEvents answer that is not one (its value says what came).
INVALID_RESPONSE_KEY = "otelCwExporterInvalidResponse"


def _timeouts(config: ExporterConfig) -> tuple[float, float]:
    """Connect and read timeouts: a quarter and a half of the export's ``timeout``, within bounds."""
    return max(0.5, min(config.timeout / 4, 5.0)), max(1.0, min(config.timeout / 2, 15.0))


def client_config(config: ExporterConfig) -> Config:
    """Our retries live in the exporter (under its deadline), so botocore makes one attempt."""
    connect, read = _timeouts(config)
    return Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=connect,
        read_timeout=read,
        max_pool_connections=max(10, config.max_concurrency),
        user_agent_extra=USER_AGENT,
    )


def derive_client(client: Any, config: ExporterConfig) -> Any:
    """A new client like ``client`` (region, endpoint, settings, credentials) that makes one attempt per
    call and never waits longer than the exporter's own client would."""
    meta = client.meta
    given = meta.config
    connect, read = _timeouts(config)
    connect = min(float(getattr(given, "connect_timeout", None) or connect), connect)
    read = min(float(getattr(given, "read_timeout", None) or read), read)
    settings = given.merge(
        Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=connect,
            read_timeout=read,
            user_agent_extra=USER_AGENT,
        )
    )
    fresh: Any = boto3.session.Session(region_name=meta.region_name).client(
        "logs", endpoint_url=meta.endpoint_url, config=settings
    )
    get_credentials = getattr(client, "_get_credentials", None)
    credentials = get_credentials() if callable(get_credentials) else None
    if credentials is not None:  # the given client's own (refreshable) credentials, shared
        fresh._request_signer._credentials = credentials
    return fresh


def client_factory(client: Any, config: ExporterConfig) -> Callable[[], Any]:
    """Makes this process's client: a copy of the one given (see :func:`derive_client`), else one from boto3's chain."""
    if client is not None:
        return lambda: derive_client(client, config)
    return lambda: boto3.session.Session().client(
        "logs",
        region_name=config.region_name,
        endpoint_url=config.endpoint_url,
        config=client_config(config),
    )


def _swap_in_body(params: dict[str, Any], **_: Any) -> None:
    """botocore's ``before-call`` hook: our body replaces the placeholder's before signing.

    Registered on the client (a user's too); it acts only inside :func:`sending_body` on this thread,
    so other callers of the same client are untouched.
    """
    data = getattr(_body, "data", None)
    if data is not None:
        params["body"] = data
        _body.data = None


def _check_response(response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any) -> None:
    """botocore's ``before-parse`` hook: a 200 whose body is not a CloudWatch Logs JSON answer is marked."""
    if response_dict.get("status_code") != 200:
        return
    headers = {str(k).lower(): str(v) for k, v in (response_dict.get("headers") or {}).items()}
    kind = headers.get("content-type", "no content type")
    body = response_dict.get("body") or b""
    try:
        parsed = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        parsed = None
    from_aws = "amz-json" in kind or "x-amzn-requestid" in headers  # what every AWS JSON API answer has
    if isinstance(parsed, dict) and from_aws:
        return
    start = body[:60].decode("utf-8", "replace") if isinstance(body, bytes) else str(body)[:60]
    customized_response_dict[INVALID_RESPONSE_KEY] = (
        f"the endpoint answered PutLogEvents with HTTP 200 and {kind} that is not a CloudWatch Logs answer "
        f"({' '.join(start.split())!r}...): the events are not counted as stored"
    )


def register_hooks(client: Any) -> None:
    """Our PutLogEvents body in, and non-answers marked, on this client (the exporter's own; once each)."""
    events = client.meta.events
    events.register("before-call.cloudwatch-logs.PutLogEvents", _swap_in_body, unique_id=_BODY_HOOK_ID)
    events.register("before-parse.cloudwatch-logs.PutLogEvents", _check_response, unique_id=_RESPONSE_HOOK_ID)


@contextmanager
def sending_body(data: bytes | memoryview) -> Iterator[None]:
    """The next PutLogEvents call on this thread, inside the block, sends ``data`` as its body."""
    _body.data = data
    try:
        yield
    finally:
        _body.data = None
