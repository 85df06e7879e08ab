"""``otel-cw-exporter tail``: print a log group's events, then follow it, filtered on the exporter's fields."""

from __future__ import annotations

import argparse
import signal
import sys
import textwrap
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from otel_cw_exporter.cli.aws import cap_text, connect, filter_pages, render_template
from otel_cw_exporter.cli.errors import EXIT_OK, CliError, warn
from otel_cw_exporter.cli.options import LEVEL_RANK, level_rank, since_ms
from otel_cw_exporter.cli.render import as_text, day, event_extra, render_event, stamp, terminal_width


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
            names = [name for name, r in LEVEL_RANK.items() if r >= rank]
            terms.append("(" + " || ".join(f'$.level = "{name}"' for name in names) + ")")
        return "{ " + " && ".join(terms) + " }" if terms else None

    def matches(self, event: Mapping[str, Any]) -> bool:
        """The same filter, client-side (endpoints that ignore JSON patterns, and exactness)."""
        extra = event_extra(event)
        if self.log_type is not None and as_text(extra.get("log_type")) != self.log_type:
            return False
        if self.user is not None and as_text(extra.get("user_email")) != self.user:
            return False
        if self.trace_id is not None and str(event.get("trace_id", "")).lower() != self.trace_id:
            return False
        return not (self.level is not None and level_rank(event.get("level")) < level_rank(self.level))


def _pattern_safe(value: str) -> bool:
    return bool(value) and not any(ch in value for ch in '"\\*{}') and len(value) < 512


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
                warn(f"{cap_text(events)}; {more}")
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
