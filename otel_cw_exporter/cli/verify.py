"""The ``verify`` command: read a log group's stored events and check its integrity trail.

It needs nothing from the writers (they may be long gone): only logs:FilterLogEvents and, for keyed
trails, the key. Pages are read one after another, at most :data:`PAGES_PER_SECOND` a second, within
FilterLogEvents' quota.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Iterator, Mapping
from typing import Any

from otel_cw_exporter.cli.aws import Aws, call, connect, render_template
from otel_cw_exporter.cli.codes import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from otel_cw_exporter.cli.errors import CliError
from otel_cw_exporter.cli.options import since_ms
from otel_cw_exporter.cli.render import stamp
from otel_cw_exporter.cli.tail import require_stream
from otel_cw_exporter.config import ConfigError, env_name, read_key_file
from otel_cw_exporter.limits import MAX_EVENT_AHEAD_MS
from otel_cw_exporter.trail.chain import KEYED, UNKEYED
from otel_cw_exporter.trail.verifier import KeyNeeded, Report, WriterReport, verify
from otel_cw_exporter.trail.writer import ranges

#: How far ahead of now the read goes by default: CloudWatch accepts events up to 2 hours ahead.
AHEAD_MS = MAX_EVENT_AHEAD_MS + 3_600_000
#: FilterLogEvents calls per second at most (its quota is 5 per second per account and region by default).
PAGES_PER_SECOND = 4.0


def read_key(args: argparse.Namespace) -> bytes | None:
    """The key from ``--key-env VAR`` or ``--key-file F`` (trailing newline ignored); None without either."""
    if args.key_env:
        text = os.environ.get(args.key_env, "").strip()
        if not text:
            raise CliError(f"the variable {args.key_env} is not set or empty", "export it with the key", EXIT_USAGE)
        return text.encode("utf-8")
    if args.key_file:
        try:
            return read_key_file(args.key_file, "--key-file")
        except ConfigError as error:
            raise CliError(error.problem, error.fix, EXIT_USAGE) from None
    return None


def stored_events(
    client: Any, aws: Aws, group: str, *, stream: str | None, start_ms: int, end_ms: int
) -> Iterator[tuple[str, str, int]]:
    """``(stream, message, timestamp)`` of every stored event in the window, page after page."""
    kwargs: dict[str, Any] = {"logGroupName": group, "startTime": start_ms, "endTime": end_ms}
    if stream:
        kwargs["logStreamNames"] = [stream]
    last_call = 0.0
    while True:
        wait = last_call + 1.0 / PAGES_PER_SECOND - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        last_call = time.monotonic()
        page = call(aws, client.filter_log_events, **kwargs)
        for event in page.get("events", ()):
            yield str(event.get("logStreamName", "")), str(event.get("message", "")), int(event.get("timestamp", 0))
        token = page.get("nextToken")
        if not token or token == kwargs.get("nextToken"):
            return
        kwargs["nextToken"] = token


def cmd_verify(args: argparse.Namespace) -> int:
    key = read_key(args)
    aws = connect(args, args.group)
    assert aws.config is not None
    if key is None:  # as the exporter reads it: OTEL_EXPORTER_CLOUDWATCH_LOGS_INTEGRITY_KEY or ..._KEY_FILE
        key = aws.config.integrity_secret()
    group = render_template(aws.config.log_group_name, "group")
    client = aws.logs()
    if args.stream:
        require_stream(client, aws, group, args.stream)
    start = since_ms(args.since) if args.since else 0
    # CloudWatch takes events up to 2 hours ahead: by default read those too.
    end = since_ms(args.until) if args.until else int(time.time() * 1000) + AHEAD_MS
    if end < start:
        raise CliError("--until is before --since", "give an --until after --since", EXIT_USAGE)
    began = time.monotonic()
    events = stored_events(client, aws, group, stream=args.stream, start_ms=start, end_ms=end)
    try:
        report = verify(events, key, group=group, windowed=bool(args.since))
    except KeyNeeded as error:
        raise CliError(
            f"{error}: the chains cannot be checked without it",
            f"pass --key-env VAR or --key-file FILE (or set {env_name('integrity_key')})",
            EXIT_USAGE,
        ) from None
    seconds = time.monotonic() - began
    ok = report.ok(strict=args.strict)  # nothing read proves nothing: not ok
    if args.json:
        document = report.as_json(strict=args.strict)
        document.update(group=group, seconds=round(seconds, 3), strict=args.strict)
        print(json.dumps(document, indent=2))
    else:
        for line in render(report, group, seconds, strict=args.strict, since=start if args.since else None):
            print(line)
    return EXIT_OK if ok else EXIT_FAILED


def _runs(runs: list[tuple[int, int]]) -> str:
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs)


def _drop_text(entry: Mapping[str, Any]) -> str:
    reason = entry.get("reason", "?")
    by = f", said by writer {entry['by']}" if "by" in entry else ""
    if "count" in entry:
        return f"{entry['count']} {reason} (before numbering{by})"
    first, last = entry.get("from"), entry.get("to")
    count = last - first + 1 if isinstance(first, int) and isinstance(last, int) else "?"
    where = f"seq {first}" if first == last else f"seq {first}-{last}"
    return f"{count} {reason} ({where}{by})"


def _writer_lines(writer: WriterReport, strict: bool) -> list[str]:
    opened = writer.opened
    who = (
        f" (pid {opened.get('pid')} on {opened.get('host')}, {opened.get('service') or 'no service'}, "
        f"started {opened.get('started')})"
        if opened
        else ""
    )
    good = writer.intact and not (strict and (writer.known_drops or not writer.closed))
    good = good and not (strict and writer.alg != KEYED)
    lines = [f"stream {writer.stream!r}, writer {writer.writer}{who}: {'intact' if good else 'NOT INTACT'}"]
    if writer.events:
        span = f"seq {writer.first}-{writer.last}"
        if writer.before_window:
            span += f" (seq 1-{writer.first - 1} before --since, not read: not checked)"
        lines.append(f"  {writer.events} event(s), {span}")
    else:
        lines.append("  no event stored: every one another writer announced as dropped")
    if writer.alg == UNKEYED:
        lines.append("  unkeyed (sha256): detects loss and accidental change, not a forger, who can recompute it")
    if writer.missing:
        count = sum(b - a + 1 for a, b in writer.missing)
        lines.append(f"  MISSING {count} event(s), seq {_runs(writer.missing)}: written, then lost or deleted")
    if writer.broken:
        lines.append(
            f"  BROKEN {len(writer.broken)} event(s), seq {_runs(ranges(writer.broken))}: the text does not "
            "verify (changed, inserted, or written with another key)"
        )
    if writer.broken_links:
        lines.append(
            f"  BROKEN LINK at seq {_runs(ranges(writer.broken_links))}: its prev is not its predecessor's chain"
        )
    if writer.conflicts:
        lines.append(
            f"  CONFLICT at seq {_runs(ranges(writer.conflicts))}: the same number stored with different texts"
        )
    if writer.known_drops:
        said = "; ".join(_drop_text(entry) for entry in writer.known_drops)
        lines.append(f"  known drops, announced by the exporter: {said}")
    if writer.duplicates:
        lines.append(f"  {writer.duplicates} duplicate(s): identical re-sends (at-least-once delivery), harmless")
    if writer.closed:
        lines.append(f"  closed after seq {writer.close_last}")
    elif writer.events:
        lines.append(
            f"  not closed: last seq {writer.last} (still running, or stopped without a shutdown: a crash, a "
            "SIGKILL); events after it cannot be ruled out"
        )
    return lines


def render(report: Report, group: str, seconds: float, *, strict: bool, since: int | None) -> list[str]:
    """The human report: per writer and stream, then the verdict."""
    streams = {writer.stream for writer in report.writers} | set(report.unsigned)
    rate = f", {report.events_read / seconds:,.0f} events/s" if seconds > 0 and report.events_read else ""
    window = f" since {stamp(since)} UTC" if since is not None else ""
    lines = [
        f"Log group {group!r}{window}: {report.events_read:,} event(s) read in {seconds:.1f} s{rate}; "
        f"{len(report.writers)} writer(s) in {len(streams)} stream(s)"
    ]
    for writer in report.writers:
        lines.extend(_writer_lines(writer, strict))
    for stream, count in sorted(report.unsigned.items()):
        lines.append(
            f"stream {stream!r}: {count} event(s) without integrity fields: NOT written by an integrity writer "
            "(inserted, or from an exporter without integrity=True)"
        )
    if not report.events_read:
        lines.append("no events in this window: nothing to verify (exit code 1)")
        return lines
    if report.ok(strict=strict):
        lines.append("Result: intact" + (" (strict)" if strict else ""))
    else:
        lines.append("Result: NOT INTACT (exit code 1)")
    return lines
