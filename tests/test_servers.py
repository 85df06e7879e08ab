"""Real servers in subprocesses, stopped as a process manager stops them: SIGTERM loses nothing.

uvicorn, and gunicorn with uvicorn's worker, shut down gracefully on SIGTERM and then raise SIGTERM again
with the default action, so ``atexit`` never ran: before, 50 of 50 events were lost under uvicorn and
28 of 200 under gunicorn. ``setup()`` alone (no code in the application) must make them deliver.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from otel_cw_exporter.testing import LocalCloudWatchLogs
from otel_cw_exporter.trail.verifier import verify

KEY = "servers' integrity key, 32 bytes"

APP = """
import logging, os
import otel_cw_exporter

otel_cw_exporter.setup(
    service_name="web",
    log_group_name="servers",
    log_stream_name=os.environ["STREAM"],
    create_log_group=True,
    bridge_stdlib=True,
    processor_options={"schedule_delay_millis": 60000},  # everything still queued when SIGTERM comes
)
log = logging.getLogger("web")


def record(n):
    otel_cw_exporter.cloudwatch_log(None, "request", {"log_type": "Audit", "n": n}, user_email="a@b.c")
    log.info("served", extra={"n": n})


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"].strip("/")
    if path != "ready":
        record(int(path))
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


def wsgi(environ, start_response):
    path = environ["PATH_INFO"].strip("/")
    if path != "ready":
        record(int(path))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> None:
    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.status == 200


def wait_ready(server: subprocess.Popen[str], url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, server.communicate()[1]
        try:
            get(url + "/ready")
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the server did not start")


SERVERS = {
    "uvicorn": lambda port: [sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", str(port)],
    "gunicorn-uvicorn-worker": lambda port: [
        *(sys.executable, "-m", "gunicorn", "-k", "uvicorn.workers.UvicornWorker", "-w", "2"),
        *("-b", f"127.0.0.1:{port}", "app:app"),
    ],
    "gunicorn-sync": lambda port: [
        *(sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "app:wsgi"),
    ],
}


@pytest.mark.parametrize("server", sorted(SERVERS))
def test_sigterm_delivers_every_event_the_server_logged(
    cloudwatch_logs: LocalCloudWatchLogs, tmp_path: Path, server: str
) -> None:
    (tmp_path / "app.py").write_text(APP)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    environ = {
        **os.environ,
        **cloudwatch_logs.environ,
        "STREAM": server,
        "OTEL_EXPORTER_CLOUDWATCH_LOGS_INTEGRITY": "true",
        "OTEL_EXPORTER_CLOUDWATCH_LOGS_INTEGRITY_KEY": KEY,
    }
    process = subprocess.Popen(
        SERVERS[server](port), cwd=tmp_path, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_ready(process, url)
        count = 50 if server == "uvicorn" else 200
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda n: get(f"{url}/{n}"), range(count)))
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=40)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert "Traceback" not in stderr, stderr
    events = cloudwatch_logs.events("servers", server)
    audit = sorted(e["extra"]["n"] for e in events if e["message"] == "request")
    served = sorted(e["extra"]["n"] for e in events if e["message"] == "served")
    assert audit == served == list(range(count)), (len(audit), len(served), stderr[-2000:])
    # Each worker process is a writer of its own, numbered from 1, and closed at its graceful exit.
    report = verify([(server, e["@message"], e["@timestamp"]) for e in events], KEY.encode(), group="servers")
    assert report.ok(strict=True), report.as_json()
    pids = {writer.opened["pid"] for writer in report.writers if writer.opened}
    workers = 1 if server == "uvicorn" else 2  # a gunicorn worker that served nothing wrote nothing
    assert len(pids) == len(report.writers) and 1 <= len(pids) <= workers, report.as_json()
    assert sum(writer.events - 1 for writer in report.writers) == 2 * count
