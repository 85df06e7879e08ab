"""A Starlette GraphQL-style API that logs Security and Audit events, the user read from a JWT cookie.

The ``cloudwatch_log`` call sites are the application's existing ones, unchanged but for the import;
one ``setup`` call (``configure`` below) wires the exporter, the routes and the identity. A middleware
opens one span per request, so each request's events share its trace id.

``python examples/starlette_app.py`` (needs starlette and httpx, as in the ``test`` extra; no AWS
account) starts a local CloudWatch Logs endpoint, sends one ``addSecret`` mutation through the app with
jdoe@example.com's session cookie, and prints the two events stored, one line each: the stream, then the
event's JSON. The Security event "Added secret" is in the stream ``security``, the Audit event "GraphQL
mutation executed" in ``audit``, both with jdoe@example.com as ``extra.user_email`` and the same trace id.
"""

from __future__ import annotations

import os
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route as HttpRoute
from starlette.types import ASGIApp, Receive, Scope, Send

import otel_cw_exporter
from otel_cw_exporter import JWTIdentityResolver, Route
from otel_cw_exporter import audit as logs_utils  # was: from integrates.custom_utils import logs as logs_utils

JWT_SECRET = os.environ.get("JWT_SECRET", "demo-secret-please-change-0123456789")
tracer = trace.get_tracer("integrates.api")


def configure(**exporter_options: Any) -> None:
    """The one setup call (group, routes, identity); exporter options can point at a local endpoint."""
    otel_cw_exporter.setup(
        service_name="integrates",
        environment="production",
        log_group_name="integrates",
        log_stream_name="application",
        routes=[
            Route(when={"log_type": "Security"}, log_stream_name="security"),
            Route(when={"log_type": "Audit"}, log_stream_name="audit"),
        ],
        identity=JWTIdentityResolver(keys=JWT_SECRET, algorithms=["HS256"], cookie_name="integrates_session"),
        **exporter_options,
    )


class TracingMiddleware:
    """One server span per HTTP request, so every log line of the request carries its trace."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with tracer.start_as_current_span(f"{scope['method']} {scope['path']}", kind=trace.SpanKind.SERVER):
            await self.app(scope, receive, send)


async def graphql(request: Request) -> JSONResponse:
    payload = await request.json()
    operation_name = payload.get("operationName", "")
    kwargs = payload.get("variables", {})
    if operation_name == "addSecret":
        resource_type = "GitRoot"
        if kwargs.get("root_type") == "ROOT":
            logs_utils.cloudwatch_log(
                request,
                "Blocked attempt to create ROOT type secret for GitRoot",
                extra={
                    "group_name": kwargs["group_name"],
                    "resource_type": resource_type,
                    "resource_id": kwargs["resource_id"],
                    "root_type": "GitRoot",
                    "log_type": "Security",
                },
            )
            return JSONResponse({"errors": [{"message": "forbidden"}]}, status_code=403)
        logs_utils.cloudwatch_log(
            request,
            "Added secret",
            extra={
                "group_name": kwargs["group_name"],
                "resource_type": resource_type,
                "resource_id": kwargs["resource_id"],
                "log_type": "Security",
            },
        )
    logs_utils.cloudwatch_log(
        request,
        "GraphQL mutation executed",
        extra={"operation": operation_name, "log_type": "Audit"},
    )
    return JSONResponse({"data": {operation_name: {"success": True}}})


trace.set_tracer_provider(TracerProvider())
app = Starlette(routes=[HttpRoute("/api", graphql, methods=["POST"])])
app.add_middleware(TracingMiddleware)


async def add_secret(token: str) -> int:
    """One mutation through the ASGI app in this process, as a browser with that session cookie sends it."""
    import httpx

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", cookies={"integrates_session": token}
    ) as client:
        response = await client.post(
            "/api",
            json={"operationName": "addSecret", "variables": {"group_name": "unittesting", "resource_id": "4039d098"}},
        )
    return response.status_code


def main() -> None:
    import asyncio
    import json

    import jwt

    from otel_cw_exporter import teardown
    from otel_cw_exporter.testing import LocalCloudWatchLogs

    with LocalCloudWatchLogs() as cloudwatch:
        configure(client=cloudwatch.client(), create_log_group=True)
        token = jwt.encode({"user_email": "jdoe@example.com", "exp": 4102444800}, JWT_SECRET, algorithm="HS256")
        status = asyncio.run(add_secret(token))
        if status != 200:
            raise SystemExit(f"the mutation answered {status}")
        teardown()
        for stream in ("security", "audit"):
            for event in cloudwatch.events("integrates", stream):
                print(stream, json.dumps({k: v for k, v in event.items() if not k.startswith("@")}))


if __name__ == "__main__":
    main()
