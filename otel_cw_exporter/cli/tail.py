"""``otel-cw-exporter tail``: print a log group's events, then follow it, filtered on the exporter's fields.

The filters match as a person types them: ``--level`` and ``--trace-id`` are normalised (``warning``,
an X-Ray id) and sent to CloudWatch as a JSON filter pattern; ``--log-type`` and ``--user`` match in
any case, which CloudWatch's case-sensitive patterns cannot say, so only this side applies them. Every
filter is applied here too, so endpoints that ignore patterns (the local one) show the same events.
"""

from __future__ import annotations

import argparse
import signal
import sys
import textwrap
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from otel_cw_exporter.cli.aws import Aws, cap_text, connect, filter_pages, render_template
from otel_cw_exporter.cli.errors import ACCESS_DENIED, EXIT_OK, CliError, describe_error, warn
from otel_cw_exporter.cli.options import LEVEL_RANK, level_rank, since_ms
from otel_cw_exporter.cli.render import as_text, day, event_extra, render_event, stamp, terminal_width
from otel_cw_exporter.cli.stopping import stop_on
from otel_cw_exporter.send.retry import error_code


@dataclass(frozen=True)
class TailFilter:
    log_type: str | None = None
    """Matched in any case, here only."""
    user: str | None = None
    """Matched in any case, here only."""
    trace_id: str | None = None
    level: str | None = None

    def pattern(self) -> str | None:
        """A CloudWatch JSON filter pattern for what can be matched server-side; None for none.

        Patterns compare strings case-sensitively: ``--log-type`` and ``--user``, which match in any
        case, are left out (sending them would hide ``security`` from ``--log-type Security``)."""
        terms: list[str] = []
        if self.trace_id is not None and _pattern_safe(self.trace_id):
            terms.append(f'($.trace_id = "{self.trace_id}")')
        if self.level is not None:
            rank = level_rank(self.level)
            names = [name for name, r in LEVEL_RANK.items() if r >= rank]
            terms.append("(" + " || ".join(f'$.level = "{name}"' for name in names) + ")")
        return "{ " + " && ".join(terms) + " }" if terms else None

    def matches(self, event: Mapping[str, Any]) -> bool:
        """The same filter, client-side (endpoints that ignore JSON patterns, and exactness)."""
        extra = event_extra(event)
        if self.log_type is not None and as_text(extra.get("log_type")).casefold() != self.log_type.casefold():
            return False
        if self.user is not None and as_text(extra.get("user_email")).casefold() != self.user.casefold():
            return False
        if self.trace_id is not None and str(event.get("trace_id", "")).lower() != self.trace_id:
            return False
        return not (self.level is not None and level_rank(event.get("level")) < level_rank(self.level))

    def matched_here(self) -> str:
        """The filters only this side applies, as the header shows them; ``""`` for none."""
        terms = [
            f'{field} = "{value}"'
            for field, value in (("extra.log_type", self.log_type), ("extra.user_email", self.user))
            if value is not None
        ]
        return ", ".join(terms)


def _pattern_safe(value: str) -> bool:
    return bool(value) and not any(ch in value for ch in '"\\*{}') and len(value) < 512


#: How far back each poll looks again for events stored late (the exporter batches for seconds).
TAIL_OVERLAP_MS = 60_000


def require_stream(client: Any, aws: Aws, group: str, stream: str) -> None:
    """A CliError (exit 1) when ``stream`` is not in ``group``: FilterLogEvents on a missing stream may
    answer nothing at all, which would look like a quiet stream. Without logs:DescribeLogStreams
    (``tail`` needs only FilterLogEvents) it cannot tell, and says nothing."""
    try:
        answer = client.describe_log_streams(logGroupName=group, logStreamNamePrefix=stream, limit=50)
    except ClientError as error:
        if error_code(error) in ACCESS_DENIED:
            return
        raise describe_error(error, group=group, region=aws.region, endpoint=aws.endpoint) from None
    except Exception as error:
        raise describe_error(error, group=group, region=aws.region, endpoint=aws.endpoint) from None
    if any(item.get("logStreamName") == stream for item in answer.get("logStreams", [])):
        return
    raise CliError(f'log stream "{stream}" does not exist in log group "{group}"', _streams_fix(client, group))


def _streams_fix(client: Any, group: str) -> str:
    """Check --stream, with the group's most recently written streams when they can be listed."""
    try:
        answer = client.describe_log_streams(logGroupName=group, orderBy="LastEventTime", descending=True, limit=5)
    except Exception:
        return "check --stream"
    names = [str(item.get("logStreamName")) for item in answer.get("logStreams", [])]
    if not names:
        return "check --stream; the group has no stream yet"
    return "check --stream; the group's latest streams: " + ", ".join(names)


def _order(event: Mapping[str, Any]) -> tuple[int, int, str]:
    """Time, then the event id as a number (ids are digits; "10" comes after "9"): call order within a stream."""
    event_id = str(event.get("eventId", ""))
    return int(event.get("timestamp", 0)), len(event_id), event_id


def _now_ms() -> int:
    return int(time.time() * 1000)


def cmd_tail(args: argparse.Namespace) -> int:
    """The ``tail`` command: Ctrl-C or SIGTERM, however early, ends it with exit code 0."""
    progress = _Progress()
    try:
        with stop_on(signal.SIGINT, signal.SIGTERM):
            _tail(args, progress)
    except KeyboardInterrupt:
        print(f"\nStopped after {progress.shown} event(s).", file=sys.stderr, flush=True)
        return EXIT_OK
    print(f"{progress.shown} event(s).", file=sys.stderr, flush=True)
    return EXIT_OK


@dataclass
class _Progress:
    shown: int = 0


def _tail(args: argparse.Namespace, progress: _Progress) -> None:
    from otel_cw_exporter.testing.insights import event_from_log_event

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
    if flt.matched_here():
        header.append(f"  matched here, in any case: {flt.matched_here()}")
    if args.follow:
        header.append(f"  every {args.interval:g} s (Ctrl-C to stop)")
    announced = False
    failures = 0
    if stream:
        require_stream(client, aws, group, stream)
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
        events.sort(key=_order)
        for raw in events:
            key = str(raw.get("eventId") or (raw.get("logStreamName"), raw.get("timestamp"), raw.get("message")))
            if key in seen:
                continue
            timestamp = int(raw.get("timestamp", 0))
            seen[key] = timestamp
            event = event_from_log_event(raw, group)
            if not flt.matches(event):
                continue
            progress.shown += 1
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
            warn(f"{cap_text(events)}; {more}")
        window = max(window, upto)  # never backwards
        seen = {key: t for key, t in seen.items() if t >= window}
        if not args.follow:
            break
        time.sleep(args.interval)
