"""What the tests share: builders for records and pipelines, and helpers of each part's tests, in one place."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from otel_cw_exporter import cli
from otel_cw_exporter.app import audit
from otel_cw_exporter.encode import jsonsafe
from otel_cw_exporter.encode.event import EventEncoder
from otel_cw_exporter.limits import EVENT_OVERHEAD
from otel_cw_exporter.testing import LocalCloudWatchLogs

RESOURCE = Resource.create({"service.name": "integrates", "deployment.environment.name": "production"})


def make_record(
    body: Any = "hello",
    attributes: dict[str, Any] | None = None,
    *,
    timestamp_ms: int | None = None,
    severity_text: str | None = "INFO",
    severity_number: SeverityNumber | None = SeverityNumber.INFO,
    resource: Resource = RESOURCE,
    logger: str = "transactional",
    trace_id: int = 0,
    span_id: int = 0,
    event_name: str | None = None,
) -> ReadableLogRecord:
    """A record as the SDK hands it to an exporter (attributes are not validated: anything goes)."""
    ts = (timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)) * 1_000_000
    record = LogRecord(
        timestamp=ts,
        observed_timestamp=ts,
        trace_id=trace_id,
        span_id=span_id,
        severity_text=severity_text,
        severity_number=severity_number,
        body=body,
        attributes=attributes or {},
        event_name=event_name,
    )
    return ReadableLogRecord(log_record=record, resource=resource, instrumentation_scope=InstrumentationScope(logger))


# --------------------------------------------------------------------------- encoding


TRACE = 0x0AF7651916CD43DD8448EB211C80319C


SPAN = 0xB7AD6B7169203331


def encode(record: Any, **options: Any) -> dict[str, Any]:
    event = EventEncoder(**options).encode(record)
    assert event.size == len(event.message.encode("utf-8")) + EVENT_OVERHEAD
    return json.loads(event.message)


@contextlib.contextmanager
def orjson_tier(enabled: bool) -> Iterator[None]:
    was = jsonsafe.use_orjson(enabled)
    try:
        yield
    finally:
        jsonsafe.use_orjson(was)


# --------------------------------------------------------------------------- routing


ROUTE_RESOURCE = Resource.create(
    {
        "service.name": "integrates",
        "host.name": "web-1",
        "team": "platform",
        "deployment.environment.name": "production",
    }
)


DEV = Resource.create({"service.name": "integrates", "deployment.environment": "development"})


BARE = Resource({"service.name": "bare"})


def record(attributes: dict[str, Any] | None = None, **options: Any) -> ReadableLogRecord:
    options.setdefault("resource", ROUTE_RESOURCE)
    return make_record("x", attributes, **options)


# --------------------------------------------------------------------------- the application side and the examples


ROOT = Path(__file__).resolve().parent.parent


SECRET = "test-secret-0123456789-0123456789-abcdef"


GROUP = "integrates"


class FakeRequest:
    """Anything with headers and cookies works, like the GraphQL ``info.context``."""

    def __init__(self, cookie: str | None = None, headers: dict[str, str] | None = None) -> None:
        self.cookies = {"session": cookie} if cookie else {}
        self.headers = headers or {}


def flush(provider: LoggerProvider) -> None:
    audit.drain()
    assert provider.force_flush()


def run_example(name: str, environ: dict[str, str] | None = None, clean: dict[str, str] | None = None) -> str:
    """An example's stdout; it must exit 0 and write nothing on stderr (no warning, no traceback)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / name)],
        cwd=ROOT,
        env={**(os.environ if clean is None else clean), **(environ or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    return done.stdout


# --------------------------------------------------------------------------- the command line


SCRIPT = Path(sys.executable).with_name("otel-cw-exporter")


T1 = "0af7651916cd43dd8448eb211c80319c"


T2 = "4bf92f3577b34da6a3ce929d0e0e4736"


VERBATIM_SECURITY = """fields @timestamp, extra.user_email, message, extra.resource_type
| filter extra.log_type = "Security"
| sort @timestamp desc
| limit 100"""


VERBATIM_ERRORS = """fields @timestamp, message, extra.operation
| filter level = "ERROR"
| sort @timestamp desc | limit 50"""


#: Words a user of the command cannot know (the team's name for the code this replaces), and a typo.
UNKNOWN_WORDS = re.compile(r"\bseed|the issue's|attept", re.IGNORECASE)


# --------------------------------------------------------------------------- running the command


def clean_environ(tmp_path: Path, **extra: str) -> dict[str, str]:
    """This process's environment without AWS or exporter settings, and no way to reach real AWS creds."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OTEL_"))}
    environ.update(
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        COLUMNS="100",
        PYTHONUNBUFFERED="1",
    )
    environ.pop("PYTHONPATH", None)
    environ.update(extra)
    return environ


def local_environ(tmp_path: Path, endpoint: LocalCloudWatchLogs, **extra: str) -> dict[str, str]:
    """Credentials, region and endpoint of the local endpoint (STS too), as boto3 reads them."""
    return clean_environ(tmp_path, **{**endpoint.environ, "AWS_ENDPOINT_URL_STS": endpoint.url, **extra})


def error_without_moto(tmp_path: Path, command: str) -> str:
    """The one error line of ``command`` run where the ``local`` extra (moto) is not installed."""
    script = (
        f"import sys; sys.modules['moto'] = None\nfrom otel_cw_exporter.cli import main\nsys.exit(main([{command!r}]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=clean_environ(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return one_error_line(done, 2)


def run_cli(
    args: list[str], environ: dict[str, str], cwd: Path, timeout: float = 60, module: bool = True
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "otel_cw_exporter", *args] if module else [str(SCRIPT), *args]
    return subprocess.run(command, env=environ, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


def run_all(
    runs: list[tuple[list[str], dict[str, str]]], cwd: Path, timeout: float = 60
) -> list[subprocess.CompletedProcess[str]]:
    """Independent runs of the command at once (each one mostly waits: Python's start, then HTTP)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda run: run_cli(run[0], run[1], cwd, timeout), runs))


def one_error_line(done: subprocess.CompletedProcess[str], code: int) -> str:
    """The command failed with ``code`` and said why in exactly one line, with no traceback."""
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("otel-cw-exporter: error: ")
    return lines[0]


def in_process(monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]) -> None:
    """This process's environment as ``environ`` says, for running :func:`cli.main` here."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "OTEL_")):
            monkeypatch.delenv(name)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)


def here(capsys: pytest.CaptureFixture[str], args: list[str]) -> tuple[int, str, str]:
    """The command run in this process (after :func:`in_process`): exit code, stdout, stderr."""
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


def put(
    endpoint: LocalCloudWatchLogs, group: str, stream: str, *messages: dict[str, Any], at: int | None = None
) -> None:
    """Store events shaped as the exporter writes them (at ``at`` ms, 1 ms apart; default now)."""
    client = endpoint.client()
    with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
        client.create_log_group(logGroupName=group)
    with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
        client.create_log_stream(logGroupName=group, logStreamName=stream)
    now = int(time.time() * 1000) if at is None else at
    client.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": now + i, "message": json.dumps(m)} for i, m in enumerate(messages)],
    )


def event(message: str, level: str = "INFO", trace_id: str = T1, **extra: Any) -> dict[str, Any]:
    return {
        "timestamp": "2026-11-24T09:15:02.123456Z",
        "level": level,
        "message": message,
        "logger": "transactional",
        "extra": {"environment": "production", **extra},
        "trace_id": trace_id,
        "span_id": "b7ad6b7169203331",
    }


# --------------------------------------------------------------------------- queries


def definitions(endpoint: LocalCloudWatchLogs) -> dict[str, dict[str, Any]]:
    """The endpoint's query definitions by id."""
    return {item["queryDefinitionId"]: item for item in endpoint.query_definitions.items()}


# --------------------------------------------------------------------------- endpoints that misbehave


@contextlib.contextmanager
def answering_server(
    status: int = 200, body: bytes = b"<html><body>Sign in to continue</body></html>", content_type: str = "text/html"
) -> Iterator[str]:
    """Something on 127.0.0.1 answering every request with the same page: a proxy, a captive portal."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """Something on 127.0.0.1 that accepts connections and never answers: a hung proxy, a black hole."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(256)
    listener.settimeout(0.05)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            accepted.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(1)
        for connection in accepted:
            connection.close()
        listener.close()


# --------------------------------------------------------------------------- the documents


def section_of(path: Path, title: str) -> str:
    """The text of a Markdown file's ``## title`` section, up to the next ``## `` heading."""
    text = path.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


# --------------------------------------------------------------------------- long-running commands


#: Runs its arguments with SIGINT ignored, as a shell starts a background job (``cmd &``).
AS_BACKGROUND_JOB = ["sh", "-c", 'trap \'\' INT; exec "$0" "$@"']


class Running:
    """A command running in a subprocess: its stdout read line by line as it comes, stderr kept."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        self.out: list[str] = []
        self.err: list[str] = []
        threading.Thread(target=self._read_out, daemon=True).start()
        threading.Thread(target=lambda: self.err.extend(process.stderr or ()), daemon=True).start()

    def _read_out(self) -> None:
        for line in self.process.stdout or ():
            self.lines.put(line)

    def read_until(self, text: str, timeout: float = 30) -> list[str]:
        """Lines of stdout up to the first that holds ``text`` (that one included)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    break
                continue
            self.out.append(line)
            if text in line:
                return self.out
        raise AssertionError(f"{text!r} not printed; stdout: {''.join(self.out)}; stderr: {''.join(self.err)}")

    def stop(self, signum: int = signal.SIGINT, timeout: float = 30) -> int:
        """Send ``signum``; the exit code, once the process ended (and its output was read)."""
        self.process.send_signal(signum)
        code = self.process.wait(timeout=timeout)
        time.sleep(0.1)  # the reader threads drain the pipes
        while not self.lines.empty():
            self.out.append(self.lines.get())
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def start_cli(
    args: list[str], environ: dict[str, str], cwd: Path, *, background: bool = False, merge: bool = False
) -> Running:
    """The command started in a subprocess (``background``: with SIGINT ignored, as ``cmd &`` does);
    ``merge`` sends stderr into stdout, as a terminal shows them."""
    process = subprocess.Popen(
        [*(AS_BACKGROUND_JOB if background else []), str(SCRIPT), *args],
        env=environ,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge else subprocess.PIPE,
        text=True,
    )
    return Running(process)


def exported(lines: list[str]) -> dict[str, str]:
    """The variables of ``export NAME=value`` lines, as a shell would set them."""
    found: dict[str, str] = {}
    for line in lines:
        if line.startswith("export "):
            [assignment] = shlex.split(line[len("export ") :])
            name, _, value = assignment.partition("=")
            found[name] = value
    return found


@contextlib.contextmanager
def local_endpoint(tmp_path: Path, *, background: bool = False) -> Iterator[tuple[Running, dict[str, str]]]:
    """``otel-cw-exporter local --port 0`` in a subprocess: it, and the variables it printed."""
    running = start_cli(["local", "--port", "0"], clean_environ(tmp_path), tmp_path, background=background)
    try:
        variables = exported(running.read_until("# Serving"))
        yield running, variables
    finally:
        running.kill()
