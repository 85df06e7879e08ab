"""The boto3 client the exporter calls: its settings, its copy in a forked child, and our request body.

botocore keeps everything that makes a call an AWS call (the credential chain, endpoint resolution,
``AWS_ENDPOINT_URL*``, proxies, SigV4). Two things are ours: a client we build makes one attempt per call
(our retries run under the export's deadline), and PutLogEvents carries the body :mod:`.wire` wrote,
swapped in by a ``before-call`` hook on the thread that makes the call.
"""

from __future__ import annotations

import os
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


def client_config(config: ExporterConfig) -> Config:
    """Our retries live in the exporter (under its deadline), so botocore makes one attempt."""
    return Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=max(0.5, min(config.timeout / 4, 5.0)),
        read_timeout=max(1.0, min(config.timeout / 2, 15.0)),
        max_pool_connections=max(10, config.max_concurrency),
        user_agent_extra=USER_AGENT,
    )


def clone_client(client: Any) -> Any:
    """A new client with the same region, endpoint, settings and credentials, for a forked child."""
    meta = client.meta
    fresh: Any = boto3.session.Session(region_name=meta.region_name).client(
        "logs", endpoint_url=meta.endpoint_url, config=meta.config
    )
    get_credentials = getattr(client, "_get_credentials", None)
    credentials = get_credentials() if callable(get_credentials) else None
    if credentials is not None:
        fresh._request_signer._credentials = credentials
    return fresh


def client_factory(client: Any, config: ExporterConfig) -> Callable[[], Any]:
    """Makes this process's client: the one given (cloned in a forked child), else one from boto3's chain."""
    if client is not None:
        owner = os.getpid()
        return lambda: client if os.getpid() == owner else clone_client(client)
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


def register_body_hook(client: Any) -> None:
    """Let :func:`sending_body` put our PutLogEvents body into this client's calls (once per client)."""
    client.meta.events.register("before-call.cloudwatch-logs.PutLogEvents", _swap_in_body, unique_id=_BODY_HOOK_ID)


@contextmanager
def sending_body(data: bytes) -> Iterator[None]:
    """The next PutLogEvents call on this thread, inside the block, sends ``data`` as its body."""
    _body.data = data
    try:
        yield
    finally:
        _body.data = None
