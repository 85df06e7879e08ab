"""cloudwatch_log: the application code's call sites, through the real pipeline."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.trace import TracerProvider

import otel_cw_exporter
from otel_cw_exporter import JWTIdentityResolver, telemetry
from otel_cw_exporter.app import audit
from otel_cw_exporter.testing import LocalCloudWatchLogs
from tests.support import GROUP, SECRET, FakeRequest, clean_environ, flush


def token(email: str = "jdoe@example.com", expires_in: int = 3600) -> str:
    return jwt.encode({"user_email": email, "exp": int(time.time()) + expires_in}, SECRET, algorithm="HS256")


def who(endpoint: LocalCloudWatchLogs) -> list[tuple[str, bool, str | None]]:
    """Each audit event's user, whether verified, and the verified one beside it, in the calls' order."""
    extras = [e["extra"] for e in sorted(endpoint.events(GROUP, "audit"), key=lambda e: e["extra"]["n"])]
    return [(x["user_email"], x["user_verified"], x.get("verified_user_email")) for x in extras]


def test_with_user_email_in_the_seed_shape(cloudwatch_logs: LocalCloudWatchLogs, configured: LoggerProvider) -> None:
    with TracerProvider().get_tracer("t").start_as_current_span("mutation") as span:
        otel_cw_exporter.cloudwatch_log(
            FakeRequest(),
            "Blocked attempt to create ROOT type secret for GitRoot",
            extra={"group_name": "unittesting", "resource_type": "GitRoot", "log_type": "Security"},
            user_email="admin@example.com",
        )
    flush(configured)
    [event] = cloudwatch_logs.events(GROUP, "security")
    assert event["logger"] == "transactional"
    assert event["extra"] == {
        "environment": "production",
        "user_email": "admin@example.com",
        "user_verified": False,  # given by the caller, not from a verified token
        "group_name": "unittesting",
        "resource_type": "GitRoot",
        "log_type": "Security",
    }
    assert event["trace_id"] == format(span.get_span_context().trace_id, "032x")


def test_user_from_the_jwt_cookie_or_header_and_unauthenticated_otherwise(
    cloudwatch_logs: LocalCloudWatchLogs, configured: LoggerProvider
) -> None:
    calls = [
        (FakeRequest(cookie=token("cookie@example.com")), "cookie@example.com"),
        (FakeRequest(headers={"Authorization": f"Bearer {token('header@example.com')}"}), "header@example.com"),
        (FakeRequest(cookie=token(expires_in=-60)), "unauthenticated"),
        (FakeRequest(cookie="not.a.jwt"), "unauthenticated"),
        (FakeRequest(), "unauthenticated"),
        (object(), "unauthenticated"),
    ]
    for index, (request, _) in enumerate(calls):
        otel_cw_exporter.cloudwatch_log(request, f"call {index}", {"log_type": "Audit", "n": index})
    flush(configured)
    events = sorted(cloudwatch_logs.events(GROUP, "audit"), key=lambda e: e["extra"]["n"])
    assert [e["extra"]["user_email"] for e in events] == [expected for _, expected in calls]
    assert [e["extra"]["user_verified"] for e in events] == [True, True, False, False, False, False]


def test_a_thousand_concurrent_calls_in_an_event_loop(
    cloudwatch_logs: LocalCloudWatchLogs, configured: LoggerProvider
) -> None:
    # 1,000 different RS256 tokens: no cache hit, each call costs a real signature check (~0.1 ms).
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    audit.configure(identity=JWTIdentityResolver(keys=public, algorithms=["RS256"], cookie_name="session"))
    expires = int(time.time()) + 3600
    requests = [
        FakeRequest(cookie=jwt.encode({"user_email": f"user{i}@example.com", "exp": expires}, key, algorithm="RS256"))
        for i in range(1000)
    ]

    async def scenario() -> tuple[float, float, float]:
        lag = 0.0
        stop = False

        async def ticker() -> None:
            nonlocal lag
            while not stop:
                started = time.perf_counter()
                await asyncio.sleep(0.001)
                lag = max(lag, time.perf_counter() - started - 0.001)

        async def handle(i: int) -> None:  # one request handler per call, as a GraphQL server runs them
            otel_cw_exporter.cloudwatch_log(requests[i], f"mutation {i}", {"log_type": "Audit", "n": i})

        ticking = asyncio.create_task(ticker())
        await asyncio.sleep(0.01)
        started = time.perf_counter()
        await asyncio.gather(*(handle(i) for i in range(1000)))
        calls = time.perf_counter() - started
        lag = 0.0  # from here on, the stalls of the loop while the worker checks 1,000 signatures
        resolving = time.perf_counter()
        while audit._worker._queue.unfinished_tasks:  # the worker resolves while the loop keeps ticking
            await asyncio.sleep(0.005)
        resolved = time.perf_counter() - resolving
        stop = True
        await ticking
        return lag, calls, resolved

    # What the test process built up before (a suite's worth of objects) is frozen: a full collection of
    # it would stall the loop for a few hundred ms on its own, whoever resolves the signatures.
    gc.collect()
    gc.freeze()
    try:
        lag, calls, resolved = asyncio.run(scenario())
    finally:
        gc.unfreeze()
    flush(configured)
    events = cloudwatch_logs.events(GROUP, "audit")
    assert sorted(e["extra"]["n"] for e in events) == list(range(1000))
    by_time = sorted(events, key=lambda e: (e["@timestamp"], e["timestamp"]))
    assert [e["extra"]["n"] for e in by_time] == list(range(1000))  # call order kept in event time
    assert all(e["extra"]["user_email"] == f"user{e['extra']['n']}@example.com" for e in events)
    print(
        f"event loop: 1,000 calls took {calls * 1000:.1f} ms; the worker resolved them in {resolved * 1000:.1f} ms,"
        f" the loop's longest stall meanwhile: {lag * 1000:.1f} ms"
    )
    # Resolved on the loop, the loop would stall for as long as the resolving takes (600+ ms here). Off
    # the loop a stall is a GIL switch or so: a ratio of the two, so a busy machine slows both alike.
    assert lag < resolved / 3


def test_outside_an_event_loop_a_worker_keeps_order(
    cloudwatch_logs: LocalCloudWatchLogs, configured: LoggerProvider
) -> None:
    request = FakeRequest(cookie=token())
    for i in range(300):
        otel_cw_exporter.cloudwatch_log(request, f"job {i}", {"log_type": "Audit", "n": i})
    flush(configured)
    events = sorted(cloudwatch_logs.events(GROUP, "audit"), key=lambda e: e["timestamp"])
    assert [e["extra"]["n"] for e in events] == list(range(300))


def test_async_form_and_nothing_raises_into_the_caller(
    cloudwatch_logs: LocalCloudWatchLogs, configured: LoggerProvider
) -> None:
    class Hostile:
        @property
        def headers(self) -> Any:
            raise RuntimeError("no headers for you")

        @property
        def cookies(self) -> Any:
            raise RuntimeError("no cookies either")

    asyncio.run(otel_cw_exporter.cloudwatch_log_async(FakeRequest(cookie=token()), "awaited", {"log_type": "Audit"}))
    otel_cw_exporter.cloudwatch_log(Hostile(), "hostile", {"log_type": "Audit"})
    asyncio.run(otel_cw_exporter.cloudwatch_log_async(Hostile(), "hostile async", {"log_type": "Audit"}))
    flush(configured)
    users = {e["message"]: e["extra"]["user_email"] for e in cloudwatch_logs.events(GROUP)}
    assert users["awaited"] == "jdoe@example.com"
    assert users["hostile"] == users["hostile async"] == "unauthenticated"


def test_an_extra_that_is_not_a_mapping_is_kept_and_said(
    cloudwatch_logs: LocalCloudWatchLogs,
    configured: LoggerProvider,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A log type passed where ``extra`` goes, a list, a number, a mapping that cannot be read: every
    event is stored (the value under ``extra.value``) and the mistake is said, once a minute; none raises."""
    monkeypatch.setattr(telemetry, "_process_warned", {})  # no earlier test's warning within the minute

    class Unreadable(dict[str, Any]):
        def __iter__(self) -> Any:
            raise RuntimeError("lazy proxy outside its context")

        def keys(self) -> Any:
            raise RuntimeError("lazy proxy outside its context")

    jdoe = FakeRequest(cookie=token())
    calls: list[tuple[Any, Any]] = [
        ("Security", "Security"),
        ([("not", "a mapping")], "[('not', 'a mapping')]"),
        (7, 7),
        (Unreadable(a=1), "{'a': 1}"),
    ]
    with caplog.at_level(logging.WARNING, logger="otel_cw_exporter"):
        for n, (extra, _) in enumerate(calls):
            otel_cw_exporter.cloudwatch_log(jdoe, f"call {n}", extra)
        asyncio.run(otel_cw_exporter.cloudwatch_log_async(jdoe, "awaited", "Audit"))  # type: ignore[arg-type]
        otel_cw_exporter.cloudwatch_log(None, "named", 3.5, user_email="a@b.c")  # type: ignore[arg-type]
        flush(configured)
    stored = {e["message"]: e["extra"] for e in cloudwatch_logs.events(GROUP)}
    assert [stored[f"call {n}"]["value"] for n in range(len(calls))] == [shown for _, shown in calls]
    assert stored["awaited"]["value"] == "Audit" and stored["named"]["value"] == 3.5
    assert all(x["user_email"] in ("jdoe@example.com", "a@b.c") for x in stored.values())
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("cloudwatch_log: extra was")]
    assert said == [
        "cloudwatch_log: extra was a str, not a mapping: the event keeps it as extra.value"
    ]  # once a minute


def test_a_user_email_argument_is_checked_against_the_token_too(
    cloudwatch_logs: LocalCloudWatchLogs, configured: LoggerProvider
) -> None:
    """The argument is the caller's word, as a key of ``extra`` is: kept, and the token's user beside it."""
    jdoe = FakeRequest(cookie=token("jdoe@example.com"))
    calls: list[tuple[Any, str]] = [
        (jdoe, "mallory@example.com"),
        (jdoe, "jdoe@example.com"),
        (FakeRequest(), "x@y.z"),
        (None, "job@example.com"),
    ]
    for n, (request, email) in enumerate(calls):
        otel_cw_exporter.cloudwatch_log(request, "named", {"log_type": "Audit", "n": n}, user_email=email)
    flush(configured)
    assert who(cloudwatch_logs) == [
        ("mallory@example.com", False, "jdoe@example.com"),  # an auditor sees who the token said it was
        ("jdoe@example.com", True, None),
        ("x@y.z", False, None),
        ("job@example.com", False, None),  # no request: emitted at once, nothing to check it against
    ]


def test_where_the_user_came_from_cannot_be_set_through_extra(
    cloudwatch_logs: LocalCloudWatchLogs, configured: LoggerProvider
) -> None:
    """``user_verified`` and ``verified_user_email`` in a caller's ``extra`` (a request's JSON merged in)
    are replaced by what the token says; an address that differs only in case is the same user."""
    jdoe = FakeRequest(cookie=token("jdoe@example.com"))
    forged = {"user_email": "admin@example.com", "user_verified": True, "verified_user_email": "admin@example.com"}
    calls: list[tuple[Any, dict[str, Any]]] = [
        (FakeRequest(), forged),
        (jdoe, forged),
        (jdoe, {"user_email": "JDoe@Example.com"}),
        (jdoe, {"user_verified": False}),
    ]
    for n, (request, extra) in enumerate(calls):
        otel_cw_exporter.cloudwatch_log(request, "forged", {"log_type": "Audit", "n": n, **extra})
    flush(configured)
    assert who(cloudwatch_logs) == [
        ("admin@example.com", False, None),  # no token: nothing verified, whatever extra says
        ("admin@example.com", False, "jdoe@example.com"),
        ("JDoe@Example.com", True, None),
        ("jdoe@example.com", True, None),
    ]


def test_calls_still_resolving_at_exit_are_counted_never_both_stored_and_counted(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path
) -> None:
    """A resolver slower than the calls (20 ms each, 300 calls) and a normal exit: the exit waits its
    drain (shortened here to 0.5 s), then what is left is counted and said; stored + counted = logged."""
    script = tmp_path / "slow.py"
    script.write_text(
        textwrap.dedent(
            """
            import time
            import otel_cw_exporter
            from otel_cw_exporter.app import audit

            class Slow:
                def resolve(self, request):
                    time.sleep(0.02)
                    return "jdoe@example.com"

            otel_cw_exporter.setup(service_name="app", log_group_name="slow", log_stream_name="s",
                                   create_log_group=True, identity=Slow())
            audit.EXIT_DRAIN_SECONDS = 0.5
            for n in range(300):
                otel_cw_exporter.cloudwatch_log(object(), "call", {"n": n})
            """
        )
    )
    environ = clean_environ(tmp_path, **cloudwatch_logs.environ)
    done = subprocess.run(
        [sys.executable, str(script)], env=environ, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    said = re.search(r"warning: (\d+) log record\(s\) not exported since start, reason exit_pending", done.stderr)
    assert said is not None and "token check when the exit's 0.5 s drain ran out" in done.stderr, done.stderr
    stored = sorted(e["extra"]["n"] for e in cloudwatch_logs.events("slow"))
    assert stored == list(range(len(stored)))  # in order, the first ones
    assert 0 < len(stored) < 300 and len(stored) + int(said.group(1)) == 300, (len(stored), done.stderr)


def test_the_raw_jwt_and_secret_keys_never_leave(
    cloudwatch_logs: LocalCloudWatchLogs, configured: LoggerProvider
) -> None:
    raw = token()
    headers = {"authorization": f"Bearer {raw}", "cookie": f"session={raw}", "user-agent": "pytest"}
    otel_cw_exporter.cloudwatch_log(
        FakeRequest(cookie=raw),
        f"login with {raw}",
        {"log_type": "Security", "headers": headers, "nested": {"deeper": {"password": "hunter2", "api_key": "k"}}},
    )
    flush(configured)
    messages = [e["@message"] for e in cloudwatch_logs.events(GROUP)]
    assert messages and all(raw not in m and "hunter2" not in m for m in messages)
    [security] = cloudwatch_logs.events(GROUP, "security")
    assert security["extra"]["headers"]["user-agent"] == "pytest"
    assert security["extra"]["nested"]["deeper"]["password"] == "[REDACTED]"


def test_worker_thread_calls_from_many_threads_are_all_kept(
    cloudwatch_logs: LocalCloudWatchLogs, configured: LoggerProvider
) -> None:
    request = FakeRequest(cookie=token())

    def burst(t: int) -> None:
        for i in range(100):
            otel_cw_exporter.cloudwatch_log(request, "m", {"log_type": "Audit", "n": t * 100 + i})

    threads = [threading.Thread(target=burst, args=(t,)) for t in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    flush(configured)
    assert sorted(e["extra"]["n"] for e in cloudwatch_logs.events(GROUP, "audit")) == list(range(500))


class SlowResolver:
    """A resolver slow enough for a caller to give up waiting (a real one may hit a JWKS cache miss)."""

    def resolve(self, request: Any) -> str:
        time.sleep(0.05)
        return "slow@example.com"


def test_a_cancelled_async_call_still_logs_and_the_worker_survives(
    cloudwatch_logs: LocalCloudWatchLogs, configured: LoggerProvider
) -> None:
    # Before: the worker called set_result on the cancelled future, died, and every later call was lost.
    audit.configure(identity=SlowResolver())

    async def scenario() -> int:
        cancelled = 0
        for n in range(3):  # asyncio.wait_for timeouts, as a request with a deadline would do
            try:
                await asyncio.wait_for(
                    otel_cw_exporter.cloudwatch_log_async(
                        FakeRequest(), f"timed out {n}", {"log_type": "Audit", "n": n}
                    ),
                    timeout=0.001,
                )
            except asyncio.TimeoutError:
                cancelled += 1
        task = asyncio.ensure_future(  # a client that disconnects: its handler task is cancelled
            otel_cw_exporter.cloudwatch_log_async(FakeRequest(), "gone", {"log_type": "Audit", "n": 3})
        )
        await asyncio.sleep(0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        for n in range(4, 10):
            await otel_cw_exporter.cloudwatch_log_async(FakeRequest(), f"later {n}", {"log_type": "Audit", "n": n})
        return cancelled + task.cancelled()

    assert asyncio.run(scenario()) == 4
    for n in range(10, 16):  # the thread-side form goes through the same worker
        otel_cw_exporter.cloudwatch_log(FakeRequest(), f"after {n}", {"log_type": "Audit", "n": n})
    assert audit.drain(10.0)
    flush(configured)
    events = cloudwatch_logs.events(GROUP, "audit")
    assert sorted(e["extra"]["n"] for e in events) == list(range(16))  # every call, the cancelled ones too
    assert {e["extra"]["user_email"] for e in events} == {"slow@example.com"}


def test_a_resolver_that_raises_anything_does_not_stop_the_worker(
    cloudwatch_logs: LocalCloudWatchLogs, configured: LoggerProvider
) -> None:
    class Hostile:
        def resolve(self, request: Any) -> str:
            if request.kind == "exit":
                raise SystemExit(3)
            if request.kind == "interrupt":
                raise KeyboardInterrupt
            raise RecursionError

    class Request:
        def __init__(self, kind: str) -> None:
            self.kind = kind

    audit.configure(identity=Hostile())
    for n, kind in enumerate(["exit", "interrupt", "recursion", "exit"]):
        otel_cw_exporter.cloudwatch_log(Request(kind), f"call {n}", {"log_type": "Audit", "n": n})
    assert audit.drain(10.0)
    flush(configured)
    events = cloudwatch_logs.events(GROUP, "audit")
    assert sorted(e["extra"]["n"] for e in events) == [0, 1, 2, 3]
    assert {e["extra"]["user_email"] for e in events} == {"unauthenticated"}


def test_the_caller_s_user_is_kept_and_the_verified_one_recorded_beside_it(
    cloudwatch_logs: LocalCloudWatchLogs, configured: LoggerProvider
) -> None:
    jdoe = FakeRequest(cookie=token("jdoe@example.com"))
    otel_cw_exporter.cloudwatch_log(
        jdoe, "asserted", {"log_type": "Audit", "n": 0, "user_email": "mallory@example.com"}
    )
    otel_cw_exporter.cloudwatch_log(jdoe, "agrees", {"log_type": "Audit", "n": 1, "user_email": "jdoe@example.com"})
    otel_cw_exporter.cloudwatch_log(FakeRequest(), "no token", {"log_type": "Audit", "n": 2, "user_email": "x@y.z"})
    otel_cw_exporter.cloudwatch_log(jdoe, "from the token", {"log_type": "Audit", "n": 3})
    flush(configured)
    assert who(cloudwatch_logs) == [
        ("mallory@example.com", False, "jdoe@example.com"),  # an auditor sees who the token said it was
        ("jdoe@example.com", True, None),
        ("x@y.z", False, None),
        ("jdoe@example.com", True, None),
    ]


def test_the_user_is_read_on_the_caller_s_thread_from_flask_starlette_django_and_asgi(
    cloudwatch_logs: LocalCloudWatchLogs, configured: LoggerProvider
) -> None:
    import flask
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route as StarletteRoute
    from starlette.testclient import TestClient

    app = flask.Flask("audit")

    @app.post("/mutation/<int:n>")
    def mutation(n: int) -> str:  # the proxy: on the worker thread it resolves to nothing
        otel_cw_exporter.cloudwatch_log(flask.request, "flask", {"log_type": "Audit", "n": n})
        return "ok"

    client = app.test_client()
    for n in range(20):
        client.set_cookie("session", token(f"flask{n}@example.com"))
        assert client.post(f"/mutation/{n}").status_code == 200

    async def endpoint(request: Request) -> PlainTextResponse:
        otel_cw_exporter.cloudwatch_log(request, "starlette", {"log_type": "Audit", "n": 100})
        return PlainTextResponse("ok")

    with TestClient(Starlette(routes=[StarletteRoute("/m", endpoint, methods=["POST"])])) as starlette:
        starlette.post("/m", headers={"Authorization": f"Bearer {token('starlette@example.com')}"})

    class DjangoRequest:  # what Django's HttpRequest offers besides .headers
        def __init__(self, meta: dict[str, str]) -> None:
            self.META = meta

    django = DjangoRequest({"HTTP_COOKIE": f"theme=dark; session={token('django@example.com')}", "REMOTE_ADDR": "1"})
    otel_cw_exporter.cloudwatch_log(django, "django", {"log_type": "Audit", "n": 101})
    scope = {"type": "http", "headers": [(b"authorization", f"Bearer {token('asgi@example.com')}".encode())]}
    otel_cw_exporter.cloudwatch_log(scope, "asgi", {"log_type": "Audit", "n": 102})
    flush(configured)
    users = {e["extra"]["n"]: e["extra"]["user_email"] for e in cloudwatch_logs.events(GROUP, "audit")}
    assert users == {
        **{n: f"flask{n}@example.com" for n in range(20)},
        100: "starlette@example.com",
        101: "django@example.com",
        102: "asgi@example.com",
    }


def test_cloudwatch_log_before_setup_is_counted_and_said(tmp_path: Path) -> None:
    script = tmp_path / "early.py"
    script.write_text(
        "import logging, otel_cw_exporter\n"
        "logging.getLogger().addHandler(otel_cw_exporter.OTelHandler())\n"  # only an OTel bridge: no console
        "for n in range(3):\n"
        "    otel_cw_exporter.cloudwatch_log(None, 'too early', {'log_type': 'Audit'}, user_email='a@b.c')\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0
    [line] = done.stderr.splitlines()  # once, rate-limited, however many calls
    assert line.startswith("otel-cw-exporter: warning: 1 log record(s) not exported since start, reason no_pipeline")
    assert "call setup() at start-up" in line


def test_a_forked_child_counts_what_its_exit_leaves_once(cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path) -> None:
    """The child keeps its parent's exit hook and adds none: three calls left at its exit count three."""
    script = tmp_path / "fork.py"
    script.write_text(
        textwrap.dedent(
            """
            import atexit, os, sys, time
            import otel_cw_exporter
            from otel_cw_exporter.app import audit

            class Slow:
                def resolve(self, request):
                    if request == "stuck":
                        time.sleep(5)
                    return "jdoe@example.com"

            atexit.register(lambda: print("left", dict(otel_cw_exporter.records_not_exported()), file=sys.stderr))
            otel_cw_exporter.setup(service_name="app", log_group_name="fork", create_log_group=True, identity=Slow())
            audit.EXIT_DRAIN_SECONDS = 0.3
            otel_cw_exporter.cloudwatch_log("fast", "parent call")
            audit.drain()
            pid = os.fork()
            if pid == 0:
                for n in range(3):
                    otel_cw_exporter.cloudwatch_log("stuck" if n == 0 else "fast", "child call", {"n": n})
                sys.exit(0)
            os.waitpid(pid, 0)
            """
        )
    )
    environ = clean_environ(tmp_path, **cloudwatch_logs.environ)
    done = subprocess.run(
        [sys.executable, str(script)], env=environ, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    left = [line for line in done.stderr.splitlines() if line.startswith("left ")]
    assert sorted(left) == ["left {'exit_pending': 3}", "left {}"], done.stderr  # the child's, the parent's
