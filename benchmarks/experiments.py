"""Measure what the proposed optimisations would save, without changing the package.

    .venv/bin/python -m benchmarks.experiments [--rounds 5] [--batch-size 10000]

Each variant wraps an unchanged ``CloudWatchLogRecordExporter`` from the outside (a client built with
other settings, a botocore event hook, or a module attribute swapped for the duration of the variant),
exports the same pre-built batches to the benchmark sink, and reports exporter-own CPU per event. The
numbers are estimates of the gain of each change the README proposes, to rank them; the package's
owner makes the real change (and keeps its guarantees: NaN as strings, invalid text replaced...).
"""

from __future__ import annotations

import argparse
import copy
import gc
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import Any

from .contenders import ACCESS_KEY, REGION, SECRET_KEY, SinkClient, stdlib_bridge
from .workload import GROUP, STREAM, build_records, dumps_bytes

ROOT = Path(__file__).resolve().parent.parent


def _client(url: str, *, validate: bool) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(parameter_validation=validate, retries={"total_max_attempts": 1, "mode": "standard"})
    return boto3.session.Session().client(
        "logs",
        endpoint_url=url,
        config=config,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


def _prebuilt_body(exporter: Any, client: Any) -> None:
    """Serialize PutLogEvents bodies ourselves and hand botocore an empty event list.

    ``_put`` builds the body with orjson and calls the client with ``logEvents=[]`` (validation must be
    off: the model wants at least one event); a ``before-call`` hook swaps the body in before signing.
    """
    local = threading.local()

    def before_call(params: dict[str, Any], **_: Any) -> None:
        body = getattr(local, "body", None)
        if body is not None:
            params["body"] = body
            local.body = None

    client.meta.events.register("before-call.cloudwatch-logs.PutLogEvents", before_call)
    delivery = exporter._delivery

    def put(request: Any, events: list[Any]) -> Any:
        local.body = dumps_bytes(
            {
                "logGroupName": request.group,
                "logStreamName": request.stream,
                "logEvents": [{"timestamp": event.timestamp, "message": event.message} for event in events],
            }
        )
        delivery._telemetry.add("requests")
        return delivery.client().put_log_events(logGroupName=request.group, logStreamName=request.stream, logEvents=[])

    delivery._put = put


def install_orjson_encoding() -> Callable[[], None]:
    """Event JSON with orjson, falling back to the package's encoder for anything orjson refuses.

    Swaps ``otel_cw_exporter.encoding.dumps``; returns the function that puts the original back.
    """
    import orjson

    from otel_cw_exporter import encoding

    module: Any = encoding  # ``encoding.dumps`` is its import of ``jsonsafe.dumps``
    safe: Callable[[Any], str] = module.dumps

    def fast(value: Any) -> str:
        try:
            return orjson.dumps(value, default=dict).decode()
        except (TypeError, ValueError):
            return safe(value)

    module.dumps = fast

    def restore() -> None:
        module.dumps = safe

    return restore


@contextmanager
def _orjson_encoding() -> Iterator[None]:
    restore = install_orjson_encoding()
    try:
        yield
    finally:
        restore()


def _plain_attributes(batch: list[Any]) -> list[Any]:
    """The same records with plain-dict attributes: what reading ``BoundedAttributes`` directly would save.

    ``BoundedAttributes`` is a ``MutableMapping``: ``items()`` and ``get()`` run Python-level ``__iter__``
    (a locked copy) and ``__getitem__`` per key; a plain dict does both in C.
    """
    plain = []
    for record in batch:
        log_record = copy.copy(record.log_record)
        log_record.attributes = dict(record.log_record.attributes or {})
        plain.append(replace(record, log_record=log_record))
    return plain


def _no_redaction(exporter: Any, client: Any) -> None:
    """Not a proposal: redaction stays. This only shows what the three ``redact`` calls per record cost."""
    exporter._encoder._redact = None


def _lean_fields(exporter: Any, client: Any) -> None:
    """A leaner ``EventEncoder.fields`` with the same output: what rewriting its hot loop would save.

    Reads ``BoundedAttributes``' underlying dict (C-speed iteration instead of the Mapping ABC's
    Python ``__iter__``/``__getitem__``), classifies each attribute key once (a dict lookup instead of
    two ``startswith`` per key per record), and skips redacting an empty ``exception``.
    """
    from collections.abc import Mapping

    from otel_cw_exporter import encoding

    encoder = exporter._encoder
    kinds: dict[str, int] = {}  # 0 extra, 1 exception.*, 2 code.*, 3 the nested "extra"
    redact = encoder._redact

    def fields(record: Any, ns: int) -> dict[str, Any]:
        log_record = record.log_record
        attributes = log_record.attributes
        items = getattr(attributes, "_dict", attributes) or {}
        extra: dict[str, Any] = {}
        nested: Any = None
        exception: dict[str, Any] = {}
        code: dict[str, Any] = {}
        for key, value in items.items():
            kind = kinds.get(key)
            if kind is None:
                kind = 1 if key.startswith("exception.") else 2 if key.startswith("code.") else 0
                kind = 3 if key == encoding.NESTED_EXTRA_KEY else kind
                if len(kinds) < 4096:
                    kinds[key] = kind
            if kind == 0:
                extra[key] = value
            elif kind == 2:
                code[key[5:]] = value
            elif kind == 1:
                exception[key[10:]] = value
            elif type(value) is dict or isinstance(value, Mapping):
                nested = value
            else:
                extra[key] = value
        if nested is not None:
            extra.update(nested)
        resource, environment = encoder._resource(record.resource)
        if environment is not None and "environment" not in extra:
            extra["environment"] = environment
        body = log_record.body
        if redact is not None:
            body = redact(body)
            extra = redact(extra)
            if exception:
                exception = redact(exception)
        severity_text = log_record.severity_text
        scope = record.instrumentation_scope
        fields = {
            "timestamp": encoder._clock.iso(ns),
            "level": severity_text if severity_text else encoding.level_name(record),
            "message": "" if body is None else body,
            "logger": scope.name if scope is not None else "",
            "extra": extra,
        }
        if exception:
            fields["exception"] = exception
        if code:
            fields["code"] = code
        span_id, trace_id = log_record.span_id, log_record.trace_id
        if span_id and trace_id:
            hex_trace_id = format(trace_id, "032x")
            fields["trace_id"] = hex_trace_id
            fields["span_id"] = format(span_id, "016x")
            if encoder._xray:
                fields["xray_trace_id"] = encoding.xray_trace_id(hex_trace_id)
        fields["resource"] = resource
        if log_record.event_name:
            fields["event_name"] = log_record.event_name
        dropped = record.dropped_attributes
        if dropped:
            fields["dropped_attributes"] = dropped
        return fields

    encoder.fields = fields


def _and(*patches: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    def both(exporter: Any, client: Any) -> None:
        for patch in patches:
            patch(exporter, client)

    return both


Patch = Callable[[Any, Any], None] | None
Context = Callable[[], AbstractContextManager[None]]
Prepare = Callable[[list[Any]], list[Any]] | None
#: name -> (validate parameters, patch the exporter, context around the exports, batch transform)
VARIANTS: dict[str, tuple[bool, Patch, Context, Prepare]] = {
    "as is (plain boto3 client)": (True, None, nullcontext, None),
    "client with parameter_validation=False": (False, None, nullcontext, None),
    "+ body pre-serialized (orjson, before-call hook)": (False, _prebuilt_body, nullcontext, None),
    "+ orjson for each event's JSON": (False, _prebuilt_body, _orjson_encoding, None),
    "+ plain-dict attributes": (False, _prebuilt_body, _orjson_encoding, _plain_attributes),
    "+ lean fields() instead": (False, _and(_prebuilt_body, _lean_fields), _orjson_encoding, None),
    "orjson for each event's JSON alone": (True, None, _orjson_encoding, None),
    "plain-dict attributes alone": (True, None, nullcontext, _plain_attributes),
    "lean fields() alone": (True, _lean_fields, nullcontext, None),
    "no redaction at all (for scale only)": (True, _no_redaction, nullcontext, None),
}


def tuned_exporter(sink_url: str) -> Any:
    """Ours with every proposal that keeps the output identical: the ``ours-tuned`` contender.

    Validation off, body pre-serialized, lean ``fields()``, orjson event JSON (installed for the
    whole process: a benchmark worker runs one contender only).
    """
    from otel_cw_exporter.exporter import CloudWatchLogRecordExporter

    client = _client(sink_url, validate=False)
    exporter = CloudWatchLogRecordExporter(log_group_name=GROUP, log_stream_name=STREAM, client=client)
    _prebuilt_body(exporter, client)
    _lean_fields(exporter, client)
    install_orjson_encoding()  # for good: the worker process runs this contender only
    return exporter


def check_same_output(batch: list[Any]) -> None:
    """The encoding variants must not change a byte of any event (else their gain means nothing)."""
    from otel_cw_exporter.exporter import CloudWatchLogRecordExporter

    def texts(patch: Patch, context: Context) -> list[str]:
        exporter = CloudWatchLogRecordExporter(log_group_name=GROUP, log_stream_name=STREAM, client=object())
        if patch is not None:
            patch(exporter, None)
        with context():
            return [exporter._encoder.encode(record).message for record in batch]

    reference = texts(None, nullcontext)
    for name, patch, context in (
        ("orjson", None, _orjson_encoding),
        ("lean fields()", _lean_fields, nullcontext),
        ("lean fields() + orjson", _lean_fields, _orjson_encoding),
    ):
        if texts(patch, context) != reference:
            raise RuntimeError(f"{name} changes the events: its figure would not be comparable")


def measure(url: str, batch: list[Any], rounds: int) -> dict[str, float]:
    """Exporter-own process CPU per event for every variant, on the same batch."""
    from otel_cw_exporter.exporter import CloudWatchLogRecordExporter

    sink = SinkClient(url)
    found: dict[str, float] = {}
    for name, (validate, patch, context, prepare) in VARIANTS.items():
        records = prepare(batch) if prepare is not None else batch
        client = _client(url, validate=validate)
        exporter = CloudWatchLogRecordExporter(log_group_name=GROUP, log_stream_name=STREAM, client=client)
        if patch is not None:
            patch(exporter, client)
        with context():
            exporter.export(records[:100])
            gc.collect()
            base = sink.count()
            best = float("inf")
            for _ in range(rounds):
                start = time.process_time()
                exporter.export(records)
                best = min(best, time.process_time() - start)
        exporter.shutdown()
        accepted = sink.wait(base + rounds * len(records), timeout=30) - base
        if accepted != rounds * len(records):
            raise RuntimeError(f"{name}: the sink accepted {accepted} of {rounds * len(records)} events")
        found[name] = best * 1e6 / len(records)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="exports per variant (the best one counts)")
    parser.add_argument("--batch-size", type=int, default=10_000)
    args = parser.parse_args(argv)
    sink = subprocess.Popen([sys.executable, "-m", "benchmarks.sink"], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout is not None
        url = f"http://127.0.0.1:{int(sink.stdout.readline().split()[1])}"
        batch = build_records(args.batch_size, stdlib_bridge)
        gc.freeze()
        check_same_output(batch)
        results = measure(url, batch, args.rounds)
    finally:
        sink.terminate()
        sink.wait(5)
    baseline = results["as is (plain boto3 client)"]
    print(f"exporter-own CPU per event, best of {args.rounds} exports of {args.batch_size} records:")
    for name, value in results.items():
        print(f"  {name:<52} {value:6.2f} us/event  ({100 * (value - baseline) / baseline:+.0f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
